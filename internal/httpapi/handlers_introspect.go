package httpapi

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/lanyard/lanyard"
	"github.com/lanyard/lanyard/internal/session"
)

// The operations of service clients, whose errors are RFC 6749 §5.2 bodies as the
// token endpoint's are (problem_token.go).
const (
	introspectOperationID = "introspect"
	revokeOperationID     = "revoke"
)

// errClientRequired: introspection without client authentication.
var errClientRequired = errors.New("introspect: client authentication is required")

// tokenRoutes are introspection (RFC 7662) and revocation (RFC 7009). Both are public
// in the route table: they authenticate service clients (internal/client), not users.
func (s *Server) tokenRoutes(api huma.API) {
	reg := api.OpenAPI().Components.Schemas
	body := reg.Schema(reflect.TypeFor[tokenQuery](), true, "TokenQuery")
	errBody := &huma.MediaType{Schema: reg.Schema(reflect.TypeFor[TokenError](), true, "TokenError")}
	retry := map[string]*huma.Param{"Retry-After": {Description: "Seconds to wait", Schema: &huma.Schema{Type: "integer"}}}
	responses := func(unauthorized string) map[string]*huma.Response {
		return map[string]*huma.Response{
			"400": {Description: "invalid_request: no token, a malformed body, or two client authentications at once", Content: map[string]*huma.MediaType{"application/json": errBody}},
			"401": {Description: unauthorized, Content: map[string]*huma.MediaType{"application/json": errBody}},
			"413": {Description: "invalid_request: the body exceeds 64 KiB", Content: map[string]*huma.MediaType{"application/json": errBody}},
			"415": {Description: "invalid_request: the body is neither form-encoded nor JSON", Content: map[string]*huma.MediaType{"application/json": errBody}},
			"500": {Description: "server_error, with the request id only", Content: map[string]*huma.MediaType{"application/json": errBody}},
			"503": {Description: "temporarily_unavailable: the store is unavailable", Headers: retry, Content: map[string]*huma.MediaType{"application/json": errBody}},
		}
	}
	requestBody := func() *huma.RequestBody {
		return &huma.RequestBody{Required: true, Content: map[string]*huma.MediaType{
			"application/x-www-form-urlencoded": {Schema: body},
			"application/json":                  {Schema: body},
		}}
	}
	op(s, api, accessPublic, huma.Operation{OperationID: introspectOperationID, Method: http.MethodPost, Path: "/api/auth/introspect",
		Summary:     "Introspect an access or refresh token (RFC 7662); service clients only",
		Description: "Client authentication is required: HTTP Basic with the client_id and client_secret of `lanyard clients add`, or both in the body. The answer reflects logout, logout-all, reuse detection, a password change and an account's deletion at once; a token that does not hold is `{\"active\":false}`.",
		Tags:        []string{"auth"}, RequestBody: requestBody(), Middlewares: huma.Middlewares{withAuthorization},
		Responses: responses("invalid_client: no client authentication, an unknown client or a wrong secret (WWW-Authenticate: Basic)"),
	}, s.introspect)
	op(s, api, accessPublic, huma.Operation{OperationID: revokeOperationID, Method: http.MethodPost, Path: "/api/auth/revoke",
		Summary:     "Revoke a refresh or access token: its session ends (RFC 7009)",
		Description: "A refresh token, or an access token, ends its session with every token of it. The answer is 200 whether or not the token was valid. Client authentication is optional (public clients revoke their own tokens), but a client secret that is given must hold.",
		Tags:        []string{"auth"}, DefaultStatus: http.StatusOK, RequestBody: requestBody(), Middlewares: huma.Middlewares{withAuthorization},
		Responses: responses("invalid_client: an unknown client or a wrong secret (WWW-Authenticate: Basic when it came by HTTP Basic)"),
	}, s.revoke)
}

// withAuthorization hands the Authorization header to the handler, where a client's
// HTTP Basic credentials are checked against the body's (one way or the other, RFC
// 6749 §2.3; authenticateClient).
func withAuthorization(ctx huma.Context, next func(huma.Context)) {
	next(huma.WithValue(ctx, authorizationKey{}, ctx.Header("Authorization")))
}

// authorization is the request's Authorization header, as withAuthorization kept it.
func authorization(ctx context.Context) string {
	h, _ := ctx.Value(authorizationKey{}).(string)
	return strings.TrimSpace(h)
}

// tokenQuery is the body of introspection and revocation: a form, as the RFCs have
// it, or the same fields as JSON. A missing token is invalid_request, as every request
// Huma refuses there (tokenRequestError), and parameters it does not know are ignored
// (RFC 6749 §3.2).
type tokenQuery struct {
	Token         string   `json:"token" required:"true" doc:"An access token or a refresh token." maxLength:"4096"`
	TokenTypeHint string   `json:"token_type_hint,omitempty" doc:"access_token or refresh_token; only a hint, the token's form says what it is." maxLength:"64"`
	ClientID      string   `json:"client_id,omitempty" doc:"The client's id, when not sent by HTTP Basic." maxLength:"1024"`
	ClientSecret  string   `json:"client_secret,omitempty" doc:"The client's secret, when not sent by HTTP Basic (not both)." maxLength:"1024"`
	_             struct{} `additionalProperties:"true"`
}

type tokenQueryInput struct {
	Body tokenQuery
}

// Introspection is RFC 7662's answer. An inactive token is {"active":false} and nothing else.
type Introspection struct {
	Active    bool     `json:"active" doc:"Whether the token is active now"`
	TokenType string   `json:"token_type,omitempty" enum:"access_token,refresh_token"`
	Sub       string   `json:"sub,omitempty" doc:"The user id"`
	Sid       string   `json:"sid,omitempty" doc:"The session id"`
	Exp       int64    `json:"exp,omitempty" doc:"When the token expires, seconds since 1970"`
	Iat       int64    `json:"iat,omitempty" doc:"When it was issued (for a refresh token, its session's last rotation or start), seconds since 1970"`
	Iss       string   `json:"iss,omitempty"`
	Aud       string   `json:"aud,omitempty" doc:"The access token's audience"`
	Role      string   `json:"role,omitempty" enum:"user,admin" doc:"The user's role now"`
	AMR       []string `json:"amr,omitempty" doc:"How the user proved themselves for the session (RFC 8176)"`
}

type introspectOutput struct {
	Body Introspection
}

func (s *Server) introspect(ctx context.Context, in *tokenQueryInput) (*introspectOutput, error) {
	b := in.Body
	ok, err := s.authenticateClient(ctx, authorization(ctx), b.ClientID, b.ClientSecret)
	switch {
	case errors.Is(err, lanyard.ErrClientInvalid) && !errors.Is(err, errViaBasic):
		// A protected resource's refusal challenges however the client tried.
		return nil, joinErr(errViaBasic, err)
	case err != nil:
		return nil, err
	case !ok:
		return nil, errClientRequired
	}
	if b.Token == "" {
		return nil, tokenRequired()
	}
	i, err := s.sessions.Introspect(ctx, b.Token)
	if err != nil {
		return nil, err
	}
	return &introspectOutput{Body: renderIntrospection(i)}, nil
}

func renderIntrospection(i session.Introspection) Introspection {
	if !i.Active {
		return Introspection{}
	}
	return Introspection{
		Active: true, TokenType: string(i.Kind), Sub: i.UserID.Hex(), Sid: i.SessionID.Hex(),
		Exp: i.ExpiresAt.Unix(), Iat: i.IssuedAt.Unix(), Iss: i.Issuer, Aud: i.Audience, Role: string(i.Role), AMR: i.AMR,
	}
}

// revokeOutput is revocation's answer, an empty object: RFC 7009 says all in the status.
type revokeOutput struct {
	Body struct{}
}

func (s *Server) revoke(ctx context.Context, in *tokenQueryInput) (*revokeOutput, error) {
	b := in.Body
	// A public client names itself with client_id alone, or not at all.
	if _, err := s.authenticateClient(ctx, authorization(ctx), b.ClientID, b.ClientSecret); err != nil {
		return nil, err
	}
	if b.Token == "" {
		return nil, tokenRequired()
	}
	if err := s.sessions.Revoke(ctx, b.Token); err != nil {
		return nil, err
	}
	return &revokeOutput{}, nil
}

func tokenRequired() error {
	bad := &lanyard.InvalidError{}
	bad.Add("token", "is required")
	return bad
}
