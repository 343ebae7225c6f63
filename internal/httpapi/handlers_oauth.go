package httpapi

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"regexp"

	"github.com/danielgtaylor/huma/v2"

	"github.com/lanyard/lanyard"
	"github.com/lanyard/lanyard/internal/linkid"
	"github.com/lanyard/lanyard/internal/method"
	"github.com/lanyard/lanyard/internal/provider"
)

// oauthRoutes registers the sign-in through identity providers and linking through
// one while signed in.
func (s *Server) oauthRoutes(api huma.API, public, authed []int) {
	origin := huma.Middlewares{func(ctx huma.Context, next func(huma.Context)) {
		scheme := "http"
		if ctx.TLS() != nil {
			scheme = "https"
		}
		next(huma.WithValue(ctx, originKey{}, scheme+"://"+ctx.Host()))
	}}
	op(s, api, accessPublic, huma.Operation{OperationID: "list-providers", Method: http.MethodGet, Path: "/api/auth/providers",
		Summary: "The identity providers people can sign in through", Tags: []string{"auth"}, Errors: public}, s.listProviders)
	op(s, api, accessPublic, huma.Operation{OperationID: "oauth-authorize", Method: http.MethodGet, Path: "/api/auth/oauth/{provider}/authorize",
		Summary: "Sign in through an identity provider: redirects there", Tags: []string{"auth"}, DefaultStatus: http.StatusFound,
		Description: oauthAuthorizeDescription, Middlewares: origin,
		Errors: append([]int{http.StatusNotFound}, public...)}, s.oauthAuthorize)
	op(s, api, accessPublic, huma.Operation{OperationID: "oauth-callback", Method: http.MethodGet, Path: "/api/auth/oauth/{provider}/callback",
		Summary: "Where the identity provider returns: redirects to the application with a code or an error", Tags: []string{"auth"}, DefaultStatus: http.StatusFound,
		Description: oauthCallbackDescription,
		Errors:      public}, s.oauthCallback)
	op(s, api, accessAuthenticated, huma.Operation{OperationID: "link-me-oauth", Method: http.MethodPost, Path: "/api/users/me/linked-ids/oauth/{provider}",
		Summary: "Link an identity provider's ID to the caller's account, proven by signing in there", Tags: []string{"linked ids"},
		Description: oauthLinkDescription, Middlewares: origin,
		Errors: append([]int{http.StatusNotFound}, authed...)}, s.linkMeOAuth)
}

const oauthAuthorizeDescription = "Starts a sign-in through the provider and redirects (302) there, with `state`, a `nonce` and PKCE (S256). " +
	"`redirect_uri` must be exactly one of `LANYARD_REDIRECT_URLS` (otherwise 400, and nobody is redirected); `code_challenge` is the " +
	"application's own PKCE challenge (S256, RFC 7636), whose verifier redeems the code at `POST /api/auth/token`. " +
	"The flow is kept for 10 minutes."

const oauthCallbackDescription = "The provider returns here. Without a `state` of a flow that is still open the answer is 400 " +
	"`/problems/token-invalid`. Otherwise the person is redirected (302) to the application's `redirect_uri`: a sign-in with " +
	"`code` (single use, 60 s; redeem it at `POST /api/auth/token` with `grant_type=authorization_code`), a linking flow with " +
	"`linked_id`, or either with `error` (`access_denied`, `account_exists`, `linked_id_taken`, `temporarily_unavailable`, " +
	"`server_error`) and `error_description`; the application's `state` comes back when it gave one."

const oauthLinkDescription = "Starts a linking flow for the caller and answers the provider's URL to send the browser to. " +
	"When the person has signed in there, the provider's ID is linked to the caller's account with `verified: true` and the " +
	"browser is redirected to `redirect_uri?linked_id=…`; an ID another account holds verified is refused, and the redirect " +
	"then carries `error=linked_id_taken` (the 409 of `POST /api/users/me/linked-ids`)."

type originKey struct{}

// callbackURL is Lanyard's own callback for provider, which the provider must have
// registered: under LANYARD_PUBLIC_URL when that is set, else on the origin the
// request came to.
func (s *Server) callbackURL(ctx context.Context, name string) string {
	origin := s.callback
	if origin == "" {
		origin, _ = ctx.Value(originKey{}).(string)
	}
	return origin + "/api/auth/oauth/" + url.PathEscape(name) + "/callback"
}

// ProviderInfo is one identity provider.
type ProviderInfo struct {
	Name string `json:"name" doc:"The provider's name: the path segment of its operations, the provider of the linked IDs it proves, and the amr of the sessions it starts"`
	Type string `json:"type" enum:"oidc,github"`
}

type providersOutput struct {
	Body struct {
		Items []ProviderInfo `json:"items" nullable:"false"`
	}
}

func (s *Server) listProviders(ctx context.Context, _ *struct{}) (*providersOutput, error) {
	out := &providersOutput{}
	out.Body.Items = []ProviderInfo{}
	for _, c := range s.oauth.List() {
		out.Body.Items = append(out.Body.Items, ProviderInfo{Name: c.Name(), Type: c.Type()})
	}
	return out, nil
}

type authorizeInput struct {
	Provider            string `path:"provider" maxLength:"64"`
	RedirectURI         string `query:"redirect_uri" maxLength:"2048" doc:"Required. Exactly one of LANYARD_REDIRECT_URLS."`
	CodeChallenge       string `query:"code_challenge" maxLength:"256" doc:"Required. The application's PKCE challenge: BASE64URL(SHA256(code_verifier)), 43 characters."`
	CodeChallengeMethod string `query:"code_challenge_method" maxLength:"16" doc:"Required: S256."`
	State               string `query:"state" maxLength:"512" doc:"Optional. The application's own state, handed back with the redirect."`
}

type redirectOutput struct {
	Status   int
	Location string `header:"Location"`
}

// s256Challenge is an S256 PKCE challenge: 32 bytes in unpadded base64url.
var s256Challenge = regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`)

func (s *Server) oauthAuthorize(ctx context.Context, in *authorizeInput) (*redirectOutput, error) {
	if _, ok := s.providerNamed(in.Provider); !ok {
		return nil, lanyard.ErrNotFound
	}
	bad := &lanyard.InvalidError{}
	if in.CodeChallengeMethod != "S256" {
		bad.Add("query.code_challenge_method", "must be S256")
	}
	if !s256Challenge.MatchString(in.CodeChallenge) {
		bad.Add("query.code_challenge", "must be the S256 challenge of a code verifier: 43 characters of unpadded base64url")
	}
	if in.RedirectURI == "" {
		bad.Add("query.redirect_uri", "is required")
	}
	if in.RedirectURI != "" && !s.redirectAllowed(in.RedirectURI) {
		return nil, method.ErrRedirectNotAllowed
	}
	if err := bad.Err(); err != nil {
		return nil, err
	}
	to, err := s.oauth.Begin(ctx, method.Start{
		Provider: in.Provider, Callback: s.callbackURL(ctx, in.Provider),
		RedirectURI: in.RedirectURI, CodeChallenge: in.CodeChallenge, AppState: in.State,
	})
	if err != nil {
		return nil, err
	}
	return &redirectOutput{Status: http.StatusFound, Location: to}, nil
}

func (s *Server) providerNamed(name string) (*provider.Client, bool) {
	for _, c := range s.oauth.List() {
		if c.Name() == name {
			return c, true
		}
	}
	return nil, false
}

func (s *Server) redirectAllowed(uri string) bool {
	return s.oauth.Allows(uri)
}

type callbackInput struct {
	Provider         string `path:"provider" maxLength:"64"`
	Code             string `query:"code" maxLength:"4096"`
	State            string `query:"state" maxLength:"256"`
	Error            string `query:"error" maxLength:"256"`
	ErrorDescription string `query:"error_description" maxLength:"4096"`
}

func (s *Server) oauthCallback(ctx context.Context, in *callbackInput) (*redirectOutput, error) {
	c := clientOf(ctx)
	by := s.anonymousActor(ctx)
	res, err := s.oauth.Finish(ctx, in.Provider, in.State, in.Code, in.Error, c.IP, by)
	if res.RedirectURI == "" {
		// No flow: there is nowhere known to send anyone.
		if err == nil {
			err = lanyard.ErrFlowInvalid
		}
		return nil, err
	}
	q := url.Values{}
	switch {
	case err != nil:
		code, desc := oauthError(err)
		if code == "server_error" || code == "temporarily_unavailable" {
			s.log.WarnContext(ctx, "sign-in through an identity provider failed", "provider", in.Provider, "request_id", requestID(ctx), "error", err.Error())
		}
		q.Set("error", code)
		q.Set("error_description", desc)
	case res.Linked != nil:
		q.Set("linked_id", res.Linked.ID)
	default:
		q.Set("code", string(res.Code))
	}
	if res.AppState != "" {
		q.Set("state", res.AppState)
	}
	return &redirectOutput{Status: http.StatusFound, Location: withQuery(res.RedirectURI, q)}, nil
}

// anonymousActor is the audit's actor of a request without a principal: the
// callback acts for whoever the flow proves.
func (s *Server) anonymousActor(ctx context.Context) linkid.Actor {
	c := clientOf(ctx)
	return linkid.Actor{IP: c.IP, UserAgent: c.UserAgent}
}

// withQuery adds q to uri's own query.
func withQuery(uri string, q url.Values) string {
	u, err := url.Parse(uri)
	if err != nil {
		return uri // an allowed redirect URL parsed when it was configured
	}
	have := u.Query()
	for k, vs := range q {
		have[k] = vs
	}
	u.RawQuery = have.Encode()
	return u.String()
}

// oauthError is the error code (RFC 6749 §4.1.2.1, and account_exists and
// linked_id_taken of Lanyard's contract) and description a failed flow reports to
// the application. Nothing in it comes from the provider or the person.
func oauthError(err error) (code, description string) {
	var pe *method.ProviderError
	var conflict *lanyard.ConflictError
	switch {
	case errors.As(err, &pe) && (pe.Code == "access_denied" || pe.Code == "temporarily_unavailable"):
		return pe.Code, "The identity provider answered " + pe.Code + "."
	case errors.As(err, &pe):
		return "server_error", "The identity provider refused the request; its configuration may be wrong."
	case errors.Is(err, method.ErrAccountExists):
		return "account_exists", "An account with this email exists. Sign in to it as before, then link the provider."
	case errors.Is(err, method.ErrSignupClosed):
		return "access_denied", "No account is linked to this identity, and sign-up through this provider is closed."
	case errors.Is(err, method.ErrNoEmail):
		return "access_denied", "The identity provider shared no email address to sign up with."
	case errors.Is(err, provider.ErrNotProven):
		return "access_denied", "The identity provider's answer could not be verified."
	case errors.Is(err, lanyard.ErrBadCredentials):
		return "access_denied", "The account cannot sign in."
	case conflictOn("external_id")(err):
		return "linked_id_taken", "This identity is already linked to another account."
	case errors.As(err, &conflict):
		return "access_denied", "The account cannot take this link: it holds the most linked IDs allowed, or it is being deleted."
	case errors.Is(err, lanyard.ErrNotFound):
		return "access_denied", "The account no longer exists."
	case errors.Is(err, provider.ErrUnreachable), errors.Is(err, lanyard.ErrUnavailable), errors.Is(err, lanyard.ErrBusy),
		errors.Is(err, context.DeadlineExceeded):
		return "temporarily_unavailable", "The service or the identity provider is unavailable; try again."
	}
	var th *lanyard.ThrottledError
	if errors.As(err, &th) {
		return "temporarily_unavailable", "Too many attempts; try again later."
	}
	return "server_error", "Something went wrong on our side."
}

type linkOAuthInput struct {
	Provider string `path:"provider" maxLength:"64"`
	Body     struct {
		RedirectURI string `json:"redirect_uri" required:"true" maxLength:"2048" doc:"Exactly one of LANYARD_REDIRECT_URLS: where the browser returns, with linked_id or error."`
		State       string `json:"state,omitempty" maxLength:"512" doc:"Optional. The application's own state, handed back with the redirect."`
	}
}

type linkOAuthOutput struct {
	Body struct {
		AuthorizeURL string `json:"authorize_url" doc:"The identity provider's page to send the browser to"`
	}
}

func (s *Server) linkMeOAuth(ctx context.Context, in *linkOAuthInput) (*linkOAuthOutput, error) {
	if _, ok := s.providerNamed(in.Provider); !ok {
		return nil, lanyard.ErrNotFound
	}
	if !s.redirectAllowed(in.Body.RedirectURI) {
		return nil, method.ErrRedirectNotAllowed
	}
	u := principal(ctx).User
	to, err := s.oauth.Begin(ctx, method.Start{
		Provider: in.Provider, Callback: s.callbackURL(ctx, in.Provider),
		RedirectURI: in.Body.RedirectURI, AppState: in.Body.State, Link: u.ID,
	})
	if err != nil {
		return nil, err
	}
	out := &linkOAuthOutput{}
	out.Body.AuthorizeURL = to
	return out, nil
}
