package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/lanyard/lanyard/internal/lanyardtest"
)

// contractAccess is who may call each operation, as API.md says. The route table
// declares the same thing; TestAccess_EveryOperationAnswersItsDeclaredCallers proves
// through HTTP that the two agree, so a wrong declaration fails it.
var contractAccess = map[string]struct {
	access string // public, authenticated, admin, selfOrAdmin
	query  string
	// body is what caller c sends; small enough to change little, valid enough that
	// only validation (a 422, which still proves access was granted) can refuse it.
	body func(c lanyardtest.Account) any
	// client: the body, an object, also carries a service client's client_id and
	// client_secret.
	client bool
}{
	"register": {access: "public", body: freshAccount},
	"signup":   {access: "public", body: freshAccount},
	"login":    {access: "public", body: func(c lanyardtest.Account) any { return map[string]any{"email": c.Email, "password": c.Password} }},
	"refresh":  {access: "public", body: func(c lanyardtest.Account) any { return map[string]any{"refresh_token": c.Refresh} }},
	"token": {access: "public", body: func(c lanyardtest.Account) any {
		return map[string]any{"grant_type": "password", "username": c.Email, "password": c.Password}
	}},
	"request-password-reset": {access: "public", body: func(c lanyardtest.Account) any { return map[string]any{"email": c.Email} }},
	"confirm-password-reset": {access: "public", body: func(lanyardtest.Account) any {
		return map[string]any{"token": "not a token", "new_password": lanyardtest.DefaultPassword}
	}},
	"reset-user-password": {access: "admin"},
	"logout":              {access: "authenticated"},
	"get-me":              {access: "authenticated"},
	"update-me":           {access: "authenticated", body: func(lanyardtest.Account) any { return map[string]any{} }},
	"change-password":     {access: "authenticated", body: wrongPassword("current_password", "new_password")},
	"link-me":             {access: "authenticated", body: func(lanyardtest.Account) any { return map[string]any{} }},
	"list-my-linked-ids":  {access: "authenticated"},
	"unlink-me":           {access: "authenticated"},
	"delete-me":           {access: "authenticated", body: wrongPassword("password")},
	"export-me":           {access: "authenticated"},
	"get-user":            {access: "selfOrAdmin"},
	"deletion-plan":       {access: "selfOrAdmin"},
	"link-user": {access: "admin", body: func(lanyardtest.Account) any {
		return map[string]any{"provider": "google", "external_id": "sub-1"}
	}},
	"update-user":          {access: "admin", body: func(lanyardtest.Account) any { return map[string]any{"app_metadata": map[string]any{}} }},
	"list-user-linked-ids": {access: "admin"},
	"unlink-user":          {access: "admin"},
	"resolve-linked-id":    {access: "admin", query: "?provider=google&external_id=nobody"},
	"list-users":           {access: "admin"},
	"list-relations":       {access: "admin"},
	"delete-user":          {access: "admin"},
	// Service clients' operations: public in the route table (they authenticate a
	// client, not a user); the body carries the test's client credentials.
	"introspect": {access: "public", client: true, body: func(c lanyardtest.Account) any { return map[string]any{"token": c.Access} }},
	"revoke":     {access: "public", body: func(c lanyardtest.Account) any { return map[string]any{"token": c.Refresh} }},
	// Email verification: asking for a link is the caller's; taking one needs only its
	// token (here none that works: 400, which still proves access was granted).
	"request-email-verification": {access: "authenticated"},
	"verify-email":               {access: "public", body: func(lanyardtest.Account) any { return map[string]any{"token": "not-a-token"} }},
	// Signing in through an identity provider (none is configured here: 404).
	"list-providers":  {access: "public"},
	"oauth-authorize": {access: "public"},
	"oauth-callback":  {access: "public"},
	"link-me-oauth":   {access: "authenticated", body: func(lanyardtest.Account) any { return map[string]any{"redirect_uri": "https://app.example/done"} }},
	// Passkeys: bodies that validation refuses (no credential), so nothing is added or
	// removed; the options change nothing but a flow.
	"passkey-creation-options": {access: "authenticated"},
	"add-passkey":              {access: "authenticated", body: func(lanyardtest.Account) any { return map[string]any{} }},
	"list-my-passkeys":         {access: "authenticated"},
	"remove-passkey":           {access: "authenticated", body: wrongPassword("current_password")},
	"passkey-request-options":  {access: "public"},
	"passkey-login":            {access: "public", body: func(lanyardtest.Account) any { return map[string]any{} }},
	// The second step of a login, and TOTP (mfa_test.go): bodies that change nothing.
	"login-mfa":                 {access: "public", body: func(lanyardtest.Account) any { return map[string]any{} }},
	"login-mfa-passkey-options": {access: "public", body: func(lanyardtest.Account) any { return map[string]any{} }},
	"enrol-totp":                {access: "authenticated"},
	"confirm-totp":              {access: "authenticated", body: func(lanyardtest.Account) any { return map[string]any{"code": "000000"} }},
	"disable-totp":              {access: "authenticated", body: func(lanyardtest.Account) any { return map[string]any{"code": "000000"} }},
}

func freshAccount(c lanyardtest.Account) any {
	return map[string]any{"email": "new-" + c.Email, "password": lanyardtest.DefaultPassword}
}

// wrongPassword fills the named fields with a password that is not the caller's: 422,
// nothing changed.
func wrongPassword(fields ...string) func(lanyardtest.Account) any {
	return func(lanyardtest.Account) any {
		m := map[string]any{}
		for _, f := range fields {
			m[f] = "not the password at all"
		}
		return m
	}
}

type walkedOperation struct {
	id, method, path string
	security         []map[string][]string
}

// operations lists every operation the OpenAPI document describes, which is every
// operation registered with Huma.
func operations(t *testing.T, env *lanyardtest.Env) []walkedOperation {
	t.Helper()
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	env.Do("GET", "/openapi.json", nil).Must(t, http.StatusOK).JSON(t, &doc)
	var ops []walkedOperation
	for path, item := range doc.Paths {
		for method, raw := range item {
			method = strings.ToUpper(method)
			if !slices.Contains([]string{"GET", "PUT", "POST", "DELETE", "OPTIONS", "HEAD", "PATCH", "TRACE"}, method) {
				continue
			}
			var o struct {
				OperationID string                `json:"operationId"`
				Security    []map[string][]string `json:"security"`
			}
			if err := json.Unmarshal(raw, &o); err != nil {
				t.Fatalf("%s %s: %v", method, path, err)
			}
			ops = append(ops, walkedOperation{id: o.OperationID, method: method, path: path, security: o.Security})
		}
	}
	return ops
}

func TestAccess_EveryOperationAnswersItsDeclaredCallers(t *testing.T) {
	t.Parallel()
	env := lanyardtest.New(t)
	ops := operations(t, env)
	svc, secret, err := env.App.Clients.Add(context.Background(), "access test")
	if err != nil {
		t.Fatal(err)
	}
	if len(ops) < len(contractAccess) {
		t.Fatalf("the OpenAPI document lists %d operations; the contract names %d", len(ops), len(contractAccess))
	}
	seen := map[string]bool{}
	for _, o := range ops {
		seen[o.id] = true
		want, ok := contractAccess[o.id]
		if !ok {
			t.Errorf("operation %s (%s %s) has no access in contractAccess: say who may call it", o.id, o.method, o.path)
			continue
		}
		t.Run(o.id, func(t *testing.T) {
			t.Parallel()
			if bearer := slices.ContainsFunc(o.security, func(s map[string][]string) bool { _, ok := s["bearer"]; return ok }); bearer != (want.access != "public") {
				t.Errorf("%s %s: OpenAPI security %v; want bearer exactly when not public (%s)", o.method, o.path, o.security, want.access)
			}
			stranger, user, other, admin := env.Register("stranger"), env.Register("user"), env.Register("other"), env.Register("admin")
			env.Promote(admin)
			const absent = "0123456789abcdef01234567"
			call := func(caller lanyardtest.Account, token, userID string) *lanyardtest.Response {
				t.Helper()
				path := strings.NewReplacer("{user_id}", userID, "{linked_id}", absent).Replace(o.path) + want.query
				var body any
				if want.body != nil {
					body = want.body(caller)
				}
				if m, ok := body.(map[string]any); ok && want.client {
					m["client_id"], m["client_secret"] = svc.ID, string(secret)
				}
				if token == "" {
					return env.Do(o.method, path, body)
				}
				return env.Do(o.method, path, body, "Bearer", token)
			}
			namesUser := strings.Contains(o.path, "{user_id}")
			granted := func(r *lanyardtest.Response, who string) {
				t.Helper()
				if r.Status == http.StatusUnauthorized || r.Status == http.StatusForbidden {
					t.Errorf("%s %s as %s = %d; want access granted (%s); body: %s", o.method, o.path, who, r.Status, want.access, r.Body)
				}
			}
			refused := func(r *lanyardtest.Response, who string, status int) {
				t.Helper()
				if r.Status != status {
					t.Errorf("%s %s as %s = %d; want %d (%s); body: %s", o.method, o.path, who, r.Status, status, want.access, r.Body)
				}
			}

			// Anonymous: only public operations answer without a token.
			r := call(stranger, "", other.ID)
			if want.access == "public" {
				granted(r, "anonymous")
			} else {
				refused(r, "anonymous", http.StatusUnauthorized)
				if !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer") {
					t.Errorf("%s %s as anonymous: WWW-Authenticate %q; want a Bearer challenge", o.method, o.path, r.Header.Get("WWW-Authenticate"))
				}
			}

			// A plain user: refused admin operations whatever they name, and another
			// account's (existing or not) where only the account itself may.
			switch want.access {
			case "public", "authenticated":
				granted(call(user, user.Access, other.ID), "a user")
			case "admin":
				if !namesUser {
					refused(call(user, user.Access, ""), "a user", http.StatusForbidden)
					break
				}
				refused(call(user, user.Access, other.ID), "a user naming another", http.StatusForbidden)
				refused(call(user, user.Access, user.ID), "a user naming itself", http.StatusForbidden)
			case "selfOrAdmin":
				refused(call(user, user.Access, other.ID), "a user naming another", http.StatusForbidden)
				refused(call(user, user.Access, absent), "a user naming no one", http.StatusForbidden)
				granted(call(user, user.Access, user.ID), "a user naming itself")
			}

			// An admin: every operation, and 404 for an account that does not exist.
			granted(call(admin, admin.Access, other.ID), "an admin")
			if namesUser {
				refused(call(admin, admin.Access, absent), "an admin naming no one", http.StatusNotFound)
			}
		})
	}
	for id := range contractAccess {
		if !seen[id] {
			t.Errorf("contractAccess names %s, which the OpenAPI document does not list", id)
		}
	}
}

// Access is refused where the handlers used to refuse it, after Huma has validated the
// input: a non-admin's invalid input is 422 before it is 403, as it always was.
func TestAccess_RefusedCallersInvalidInputIsStill422(t *testing.T) {
	t.Parallel()
	env := lanyardtest.New(t)
	user, other := env.Register("user"), env.Register("other")
	tests := []struct {
		name, method, path string
		body               any
	}{
		{"admin list with limit 0", "GET", "/api/users?limit=0", nil},
		{"another's account with an overlong expand", "GET", "/api/users/" + other.ID + "?expand=" + strings.Repeat("x", 2049), nil},
		{"admin link with a number for provider", "POST", "/api/users/" + other.ID + "/linked-ids", map[string]any{"provider": 5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			problem(t, env.Do(tt.method, tt.path, tt.body, "Bearer", user.Access), tt.method+" "+tt.path+" as a user", http.StatusUnprocessableEntity)
		})
	}
}
