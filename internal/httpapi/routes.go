package httpapi

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
)

// maxBody is the largest request body read; beyond it the answer is 413 and nothing
// more is read.
const maxBody = 64 << 10

// routes lists every operation of the API, with who may call it (access.go), in one
// place.
func (s *Server) routes(api huma.API) {
	public := []int{http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity, http.StatusServiceUnavailable}
	authed := append([]int{http.StatusUnauthorized}, public...)

	op(s, api, accessPublic, huma.Operation{OperationID: "register", Method: http.MethodPost, Path: "/api/auth/register",
		Summary: "Create an account", DefaultStatus: http.StatusCreated, Tags: []string{"auth"},
		Errors: append([]int{http.StatusConflict, http.StatusTooManyRequests}, public...)}, s.register)
	op(s, api, accessPublic, huma.Operation{OperationID: "signup", Method: http.MethodPost, Path: "/api/auth/signup",
		Summary: "Create an account (alias of register)", DefaultStatus: http.StatusCreated, Tags: []string{"auth"},
		Errors: append([]int{http.StatusConflict, http.StatusTooManyRequests}, public...)}, s.register)
	op(s, api, accessPublic, huma.Operation{OperationID: "login", Method: http.MethodPost, Path: "/api/auth/login",
		Summary: "Log in with email or username and password (JSON or OAuth2 password form)", Tags: []string{"auth"},
		Responses: loginResponses(api), Errors: append([]int{http.StatusUnauthorized, http.StatusForbidden, http.StatusTooManyRequests}, public...)}, s.login)
	op(s, api, accessPublic, huma.Operation{OperationID: "refresh", Method: http.MethodPost, Path: "/api/auth/refresh",
		Summary: "Exchange a refresh token for a new pair", Tags: []string{"auth"},
		Errors: append([]int{http.StatusUnauthorized}, public...)}, s.refresh)
	s.tokenRoute(api) // handlers_token.go: the RFC 6749 token endpoint, with §5.2 errors
	op(s, api, accessAuthenticated, huma.Operation{OperationID: "logout", Method: http.MethodPost, Path: "/api/auth/logout",
		Summary: "End this session, or every session", DefaultStatus: http.StatusNoContent, Tags: []string{"auth"},
		Errors: authed}, s.logout)

	op(s, api, accessAuthenticated, huma.Operation{OperationID: "get-me", Method: http.MethodGet, Path: "/api/users/me",
		Summary: "The caller's account", Tags: []string{"users"}, Errors: authed}, s.getMe)
	op(s, api, accessAuthenticated, huma.Operation{OperationID: "update-me", Method: http.MethodPatch, Path: "/api/users/me",
		Summary: "Change the caller's profile", Tags: []string{"users"},
		Errors: append([]int{http.StatusConflict, http.StatusTooManyRequests}, authed...)}, s.updateMe)
	op(s, api, accessAuthenticated, huma.Operation{OperationID: "change-password", Method: http.MethodPut, Path: "/api/users/me/password",
		Summary: "Change the caller's password; ends every other session", Tags: []string{"users"},
		Errors: append([]int{http.StatusTooManyRequests}, authed...)}, s.changePassword)
	op(s, api, accessSelfOrAdmin, huma.Operation{OperationID: "get-user", Method: http.MethodGet, Path: "/api/users/{user_id}",
		Summary: "One account: yourself, or anyone for admins", Tags: []string{"users"},
		Errors: append([]int{http.StatusForbidden, http.StatusNotFound}, authed...)}, s.getUser)
	op(s, api, accessAdmin, huma.Operation{OperationID: "update-user", Method: http.MethodPatch, Path: "/api/users/{user_id}",
		Summary: "Admin: change an account's app metadata", Tags: []string{"users"},
		Errors: append([]int{http.StatusForbidden, http.StatusNotFound}, authed...)}, s.updateUser) // handlers_admin_users.go

	op(s, api, accessAuthenticated, huma.Operation{OperationID: "link-me", Method: http.MethodPost, Path: "/api/users/me/linked-ids",
		Summary: "Link an external ID to the caller's account", DefaultStatus: http.StatusCreated, Tags: []string{"linked ids"},
		Errors: append([]int{http.StatusConflict, http.StatusTooManyRequests}, authed...)}, s.linkMe)
	op(s, api, accessAuthenticated, huma.Operation{OperationID: "list-my-linked-ids", Method: http.MethodGet, Path: "/api/users/me/linked-ids",
		Summary: "The caller's linked IDs, newest first", Tags: []string{"linked ids"}, Errors: authed}, s.listMine)
	op(s, api, accessAuthenticated, huma.Operation{OperationID: "unlink-me", Method: http.MethodDelete, Path: "/api/users/me/linked-ids/{linked_id}",
		Summary: "Remove one of the caller's linked IDs", DefaultStatus: http.StatusNoContent, Tags: []string{"linked ids"},
		Errors: append([]int{http.StatusNotFound}, authed...)}, s.unlinkMe)
	op(s, api, accessAdmin, huma.Operation{OperationID: "link-user", Method: http.MethodPost, Path: "/api/users/{user_id}/linked-ids",
		Summary: "Admin: link an external ID to an account", DefaultStatus: http.StatusCreated, Tags: []string{"linked ids"},
		Errors: append([]int{http.StatusForbidden, http.StatusNotFound, http.StatusConflict}, authed...)}, s.linkUser)
	op(s, api, accessAdmin, huma.Operation{OperationID: "list-user-linked-ids", Method: http.MethodGet, Path: "/api/users/{user_id}/linked-ids",
		Summary: "Admin: an account's linked IDs", Tags: []string{"linked ids"},
		Errors: append([]int{http.StatusForbidden, http.StatusNotFound}, authed...)}, s.listUser)
	op(s, api, accessAdmin, huma.Operation{OperationID: "unlink-user", Method: http.MethodDelete, Path: "/api/users/{user_id}/linked-ids/{linked_id}",
		Summary: "Admin: remove an account's linked ID", DefaultStatus: http.StatusNoContent, Tags: []string{"linked ids"},
		Errors: append([]int{http.StatusForbidden, http.StatusNotFound}, authed...)}, s.unlinkUser)
	op(s, api, accessAdmin, huma.Operation{OperationID: "resolve-linked-id", Method: http.MethodGet, Path: "/api/linked-ids/resolve",
		Summary: "Admin: which account holds an external ID", Tags: []string{"linked ids"},
		Errors: append([]int{http.StatusForbidden, http.StatusNotFound}, authed...)}, s.resolve)

	s.mfaRoutes(api, public, authed)     // handlers_mfa.go: the second step of a login, TOTP's enrolment and removal
	s.passkeyRoutes(api, public, authed) // handlers_passkeys.go: the caller's passkeys, and sign-in with one
	s.tokenRoutes(api)                   // handlers_introspect.go: introspection and revocation, for service clients
	s.resetRoutes(api, public, authed)   // handlers_reset.go: password reset by mail, and the admin's
	s.relationRoutes(api, authed)        // routes_relations.go: expand-aware reads, the admin list, the registry
	s.deletionRoutes(api, authed)        // routes_deletion.go: chain delete, its plan, the export
	s.verifyRoutes(api, public, authed)  // handlers_verify.go: email verification and the confirmation of an email change
	s.oauthRoutes(api, public, authed)   // handlers_oauth.go: sign-in through identity providers, and linking through one
}

// op registers one operation with the defaults every operation shares and the access
// it declares: the OpenAPI security, and guard and refuse, which enforce it.
func op[I, O any](s *Server, api huma.API, a access, o huma.Operation, h func(context.Context, *I) (*O, error)) {
	o.MaxBodyBytes = maxBody + 1 // Huma answers 413 when it reads exactly this many
	if a != accessPublic {
		o.Security = []map[string][]string{{"bearer": {}}, {"oauth2": {}}}
		o.Middlewares = append(o.Middlewares, s.guard(a))
		h = refuse(h)
	} else {
		o.Security = []map[string][]string{} // says no token is needed, rather than nothing
	}
	huma.Register(api, o, h)
}
