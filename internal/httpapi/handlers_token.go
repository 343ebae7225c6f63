package httpapi

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/lanyard/lanyard"
	"github.com/lanyard/lanyard/internal/method"
)

// tokenOperationID names the RFC 6749 token endpoint, the one operation whose errors
// are RFC 6749 §5.2 bodies rather than problem documents (tokenErrorFor).
const tokenOperationID = "token"

// tokenRequest is an RFC 6749 token request, form-encoded (as §3.2 says) or JSON.
// Only grant_type is required by the schema: which others a grant needs is the
// handler's to say, as invalid_request, and parameters it does not know are ignored
// (§3.2: "MUST ignore unrecognized request parameters").
type tokenRequest struct {
	GrantType    string   `json:"grant_type" required:"true" doc:"password, refresh_token or authorization_code; any other is unsupported_grant_type." maxLength:"1024"`
	Username     string   `json:"username,omitempty" doc:"password grant: the email or username." maxLength:"1024"`
	Password     string   `json:"password,omitempty" doc:"password grant: the password." maxLength:"1024"`
	Scope        string   `json:"scope,omitempty" doc:"Optional; RFC 6749 §3.3 syntax. Lanyard has no scopes: it is echoed back and changes nothing." maxLength:"1024"`
	RefreshToken string   `json:"refresh_token,omitempty" doc:"refresh_token grant: the refresh token." maxLength:"1024"`
	Code         string   `json:"code,omitempty" doc:"authorization_code grant: the code a sign-in through an identity provider redirected with (single use, 60 s)." maxLength:"1024"`
	CodeVerifier string   `json:"code_verifier,omitempty" doc:"authorization_code grant: the PKCE verifier (RFC 7636) of the code_challenge the sign-in began with." maxLength:"1024"`
	RedirectURI  string   `json:"redirect_uri,omitempty" doc:"authorization_code grant: the redirect_uri the sign-in began with, exactly." maxLength:"2048"`
	ClientID     string   `json:"client_id,omitempty" doc:"Optional. Without client_secret, a public client: accepted and not checked." maxLength:"1024"`
	ClientSecret string   `json:"client_secret,omitempty" doc:"Client authentication in the body (or use HTTP Basic, not both): checked against the registered clients." maxLength:"1024"`
	_            struct{} `additionalProperties:"true"`
}

type tokenInput struct {
	Body tokenRequest
}

// TokenResponse is RFC 6749 §5.1's answer: a token pair, with the scope asked for.
type TokenResponse struct {
	TokenPair
	Scope string `json:"scope,omitempty" doc:"The scope the request named, echoed back"`
}

type tokenGrantOutput struct {
	CacheControl string `header:"Cache-Control"`
	Pragma       string `header:"Pragma"`
	Body         TokenResponse
}

// tokenRoute registers the token endpoint. Its request body is documented as both
// media types it reads, and its errors as RFC 6749 §5.2 bodies.
func (s *Server) tokenRoute(api huma.API) {
	reg := api.OpenAPI().Components.Schemas
	body := reg.Schema(reflect.TypeFor[tokenRequest](), true, "TokenRequest")
	errBody := &huma.MediaType{Schema: reg.Schema(reflect.TypeFor[TokenError](), true, "TokenError")}
	retry := map[string]*huma.Param{"Retry-After": {Description: "Seconds to wait", Schema: &huma.Schema{Type: "integer"}}}
	responses := map[string]*huma.Response{
		"400": {Description: "RFC 6749 §5.2: invalid_request, invalid_grant, unsupported_grant_type or invalid_scope", Content: map[string]*huma.MediaType{"application/json": errBody}},
		"401": {Description: "invalid_client: the client's secret is not valid (WWW-Authenticate: Basic when it came by HTTP Basic)", Content: map[string]*huma.MediaType{"application/json": errBody}},
		"413": {Description: "invalid_request: the body exceeds 64 KiB", Content: map[string]*huma.MediaType{"application/json": errBody}},
		"415": {Description: "invalid_request: the body is neither form-encoded nor JSON", Content: map[string]*huma.MediaType{"application/json": errBody}},
		"429": {Description: "temporarily_unavailable: throttled as a login is", Headers: retry, Content: map[string]*huma.MediaType{"application/json": errBody}},
		"500": {Description: "server_error, with the request id only", Content: map[string]*huma.MediaType{"application/json": errBody}},
		"503": {Description: "temporarily_unavailable: the store or password hashing is unavailable", Headers: retry, Content: map[string]*huma.MediaType{"application/json": errBody}},
	}
	op(s, api, accessPublic, huma.Operation{OperationID: tokenOperationID, Method: http.MethodPost, Path: "/api/auth/token",
		Summary: "OAuth2 token endpoint (RFC 6749): password, refresh_token and authorization_code grants, form-encoded or JSON", Tags: []string{"auth"},
		RequestBody: &huma.RequestBody{Required: true, Content: map[string]*huma.MediaType{
			"application/x-www-form-urlencoded": {Schema: body},
			"application/json":                  {Schema: body},
		}},
		Responses: responses,
		Middlewares: huma.Middlewares{func(ctx huma.Context, next func(huma.Context)) {
			next(huma.WithValue(ctx, authorizationKey{}, ctx.Header("Authorization")))
		}},
	}, s.token)
}

// authorizationKey carries the token request's Authorization header (HTTP Basic
// client authentication) to the handler; it is not an OpenAPI parameter, which
// OpenAPI would ignore.
type authorizationKey struct{}

// Errors of the token request itself, which tokenTable maps to §5.2 codes.
var (
	errUnsupportedGrant = fmt.Errorf("token: unsupported grant_type")
	errInvalidScope     = fmt.Errorf("token: scope is not RFC 6749 §3.3 syntax")
	// errViaBasic marks a client authentication that came by HTTP Basic, whose
	// refusal carries a Basic challenge (RFC 6749 §5.2).
	errViaBasic = fmt.Errorf("token: client authentication by HTTP Basic")
)

func (s *Server) token(ctx context.Context, in *tokenInput) (*tokenGrantOutput, error) {
	b := in.Body
	authz, _ := ctx.Value(authorizationKey{}).(string)
	if _, err := s.authenticateClient(ctx, authz, b.ClientID, b.ClientSecret); err != nil {
		return nil, err
	}
	if b.Scope != "" && !validScope(b.Scope) {
		return nil, errInvalidScope
	}
	bad := &lanyard.InvalidError{}
	c := clientOf(ctx)
	var out *tokenOutput
	switch b.GrantType {
	case "":
		bad.Add("grant_type", "is required")
		return nil, bad
	case "password":
		login := strings.TrimSpace(b.Username)
		if login == "" {
			bad.Add("username", "is required")
		}
		if b.Password == "" {
			bad.Add("password", "is required")
		}
		if err := bad.Err(); err != nil {
			return nil, err
		}
		proof, err := s.password.Prove(ctx, login, b.Password, c.IP)
		if err != nil {
			return nil, err
		}
		var ch *method.Challenge
		if out, ch, err = s.issueOrChallenge(ctx, proof, c); err != nil {
			return nil, err
		} else if ch != nil {
			return nil, &mfaRequiredError{ch}
		}
	case "refresh_token":
		if b.RefreshToken == "" {
			bad.Add("refresh_token", "is required")
			return nil, bad
		}
		pair, err := s.sessions.Refresh(ctx, b.RefreshToken, c)
		if err != nil {
			return nil, err
		}
		out = renderPair(pair)
	case "authorization_code":
		if len(s.oauth.List()) == 0 {
			// Codes come only from sign-ins through identity providers.
			return nil, errUnsupportedGrant
		}
		for _, f := range []struct{ name, v string }{{"code", b.Code}, {"code_verifier", b.CodeVerifier}, {"redirect_uri", b.RedirectURI}} {
			if f.v == "" {
				bad.Add(f.name, "is required")
			}
		}
		if err := bad.Err(); err != nil {
			return nil, err
		}
		proof, err := s.oauth.Redeem(ctx, b.Code, b.CodeVerifier, b.RedirectURI)
		if err != nil {
			return nil, err
		}
		pair, err := s.sessions.Issue(ctx, proof, c)
		if err != nil {
			return nil, err
		}
		out = renderPair(pair)
	default:
		return nil, errUnsupportedGrant
	}
	return &tokenGrantOutput{CacheControl: out.CacheControl, Pragma: out.Pragma,
		Body: TokenResponse{TokenPair: out.Body, Scope: b.Scope}}, nil
}

// authenticateClient checks the client authentication a request carries (the token
// endpoint's, introspection's, revocation's): HTTP Basic (RFC 6749 §2.3.1, id and
// secret form-encoded inside) or client_id and client_secret in the body, never both.
// A client that presents no secret is a public client, its client_id a label (not
// looked up): it gets no more than the user's own credentials get it, and ok is
// false. A secret is checked against the registered clients
// (client.Service.Authenticate): ok is true, or a refusal is lanyard.ErrClientInvalid
// (with errViaBasic when it came by HTTP Basic).
func (s *Server) authenticateClient(ctx context.Context, authz, bodyID, bodySecret string) (ok bool, err error) {
	scheme, cred, _ := strings.Cut(authz, " ")
	if !strings.EqualFold(scheme, "Basic") {
		if bodySecret == "" {
			return false, nil
		}
		if _, err := s.clients.Authenticate(ctx, bodyID, bodySecret); err != nil {
			return false, err
		}
		return true, nil
	}
	id, secret, wellFormed := basicCredentials(strings.TrimSpace(cred))
	switch {
	case !wellFormed:
		return false, fmt.Errorf("token: malformed Basic credentials: %w", joinErr(errViaBasic, lanyard.ErrClientInvalid))
	case bodySecret != "" || bodyID != "" && bodyID != id:
		bad := &lanyard.InvalidError{}
		bad.Add("client_id", "give the client's credentials by HTTP Basic or in the body, not both")
		return false, bad
	case secret == "":
		return false, nil
	}
	if _, err := s.clients.Authenticate(ctx, id, secret); err != nil {
		return false, joinErr(errViaBasic, err)
	}
	return true, nil
}

func joinErr(a, b error) error { return fmt.Errorf("%w: %w", a, b) }

// basicCredentials decodes HTTP Basic credentials whose id and secret are
// form-encoded, as RFC 6749 §2.3.1 has clients send them. Both may be empty: Swagger
// UI's password flow sends "Basic Og==" (":") when no client is filled in, which is a
// public client.
func basicCredentials(cred string) (id, secret string, ok bool) {
	raw, err := base64.StdEncoding.DecodeString(cred)
	if err != nil {
		return "", "", false
	}
	encID, encSecret, found := strings.Cut(string(raw), ":")
	if !found {
		return "", "", false
	}
	id, err1 := url.QueryUnescape(encID)
	secret, err2 := url.QueryUnescape(encSecret)
	if err1 != nil || err2 != nil {
		return "", "", false
	}
	return id, secret, true
}

// validScope reports whether scope is RFC 6749 §3.3 syntax: tokens of %x21 / %x23-5B /
// %x5D-7E separated by single spaces.
func validScope(scope string) bool {
	for _, tok := range strings.Split(scope, " ") {
		if tok == "" {
			return false
		}
		for i := 0; i < len(tok); i++ {
			if c := tok[i]; c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
				return false
			}
		}
	}
	return true
}
