package httpapi

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/lanyard/lanyard"
)

// TokenError is an RFC 6749 §5.2 error response: what the token endpoint answers
// instead of a problem document, since OAuth2 clients read only this shape. It never
// carries a submitted value; a 5xx carries the request id.
type TokenError struct {
	Code        string   `json:"error" enum:"invalid_request,invalid_client,invalid_grant,unsupported_grant_type,invalid_scope,temporarily_unavailable,server_error,mfa_required" doc:"RFC 6749 §5.2 error code (temporarily_unavailable and server_error as RFC 6749 §4.1.2.1 has them; mfa_required: the password holds and a second factor must follow, through POST /api/auth/mfa with mfa_token)"`
	Description string   `json:"error_description,omitempty" doc:"What went wrong, for the developer"`
	MFAToken    string   `json:"mfa_token,omitempty" doc:"With mfa_required: the token for POST /api/auth/mfa, good for one try within 300 s"`
	Methods     []string `json:"methods,omitempty" doc:"With mfa_required: the account's second factors"`
	RequestID   string   `json:"request_id,omitempty" doc:"The X-Request-Id of this request, on a 5xx"`
	status      int
}

func (e *TokenError) Error() string { return e.Code + ": " + e.Description }

// GetStatus implements huma.StatusError.
func (e *TokenError) GetStatus() int { return e.status }

// ContentType keeps the body application/json whatever the client accepts.
func (e *TokenError) ContentType(string) string { return "application/json" }

// tokenMapping is a row of tokenTable.
type tokenMapping struct {
	is      func(error) bool
	status  int
	code    string
	detail  string // "" for InvalidError: its fields say what is wrong
	headers map[string]string
}

// tokenTable is the token endpoint's one table from errors to RFC 6749 §5.2 codes,
// beside problem.go's table for everything else. The first matching row wins. Every
// refused credential — a wrong password, an unknown account, one being deleted, a
// spent, unknown or expired refresh token, a replay that ended the session — is one
// invalid_grant with one description, so the answer tells nothing apart. A throttle
// and every 503 of problem.go's table are temporarily_unavailable with their status
// and Retry-After (tokenErrorFor); anything else is a server_error.
var tokenTable = []tokenMapping{
	{isErr(errClientRequired), http.StatusUnauthorized, "invalid_client", "Client authentication is required: HTTP Basic, or client_id and client_secret in the body.", map[string]string{"WWW-Authenticate": `Basic realm="lanyard"`}},
	{both(isErr(lanyard.ErrClientInvalid), isErr(errViaBasic)), http.StatusUnauthorized, "invalid_client", "Client authentication failed.", map[string]string{"WWW-Authenticate": `Basic realm="lanyard"`}},
	{isErr(lanyard.ErrClientInvalid), http.StatusUnauthorized, "invalid_client", "Client authentication failed.", nil},
	{isErr(errUnsupportedGrant), http.StatusBadRequest, "unsupported_grant_type", "grant_type must be password or refresh_token (or authorization_code, where identity providers are configured).", nil},
	{isErr(errInvalidScope), http.StatusBadRequest, "invalid_scope", "scope must be space-separated tokens of printable ASCII without '\"' or '\\' (RFC 6749 §3.3).", nil},
	{asErr[*lanyard.InvalidError](), http.StatusBadRequest, "invalid_request", "", nil},
	{isErr(lanyard.ErrEmailNotVerified), http.StatusBadRequest, "invalid_grant", "The password is right, but the account's email address is not verified yet: follow the link mailed to it (a password reset verifies it too).", nil},
	{isErr(lanyard.ErrBadCredentials), http.StatusBadRequest, "invalid_grant", "The credentials or the refresh token are not valid.", nil},
	// A code that is unknown, spent or expired, or presented with another
	// redirect_uri or a code_verifier that is not its challenge's: one answer.
	{isErr(lanyard.ErrFlowInvalid), http.StatusBadRequest, "invalid_grant", "The authorization code is not valid, or not for this redirect_uri and code_verifier.", nil},
}

func both(a, b func(error) bool) func(error) bool {
	return func(err error) bool { return a(err) && b(err) }
}

// isTokenOperation reports whether hc is a request of an operation that speaks RFC
// 6749 §5.2: the token endpoint, introspection and revocation.
func isTokenOperation(hc huma.Context) bool {
	o := hc.Operation()
	return o != nil && (o.OperationID == tokenOperationID || o.OperationID == introspectOperationID || o.OperationID == revokeOperationID)
}

// tokenErrorFor is the token endpoint's tokenTable lookup for an error its handler
// returned, setting the answer's headers on h.
func tokenErrorFor(ctx context.Context, h headerSetter, err error) *TokenError {
	var mfa *mfaRequiredError
	if errors.As(err, &mfa) {
		return &TokenError{Code: "mfa_required", Description: "The password holds; a second factor must follow: POST /api/auth/mfa with mfa_token, a method and its code.",
			MFAToken: string(mfa.ch.Token), Methods: mfa.ch.Methods, status: http.StatusBadRequest}
	}
	for _, m := range tokenTable {
		if !m.is(err) {
			continue
		}
		for k, v := range m.headers {
			h.SetHeader(k, v)
		}
		e := &TokenError{Code: m.code, Description: m.detail, status: m.status}
		var inv *lanyard.InvalidError
		if errors.As(err, &inv) {
			e.Description = fieldsDescription(inv.Fields)
		}
		return e
	}
	// Throttles and outages answer as problem.go's table has them, status and
	// Retry-After included, in §5.2's words.
	hs := headerMap{}
	if p := problemFor(ctx, hs, err); p.Status == http.StatusTooManyRequests || p.Status == http.StatusServiceUnavailable {
		for k, v := range hs {
			h.SetHeader(k, v)
		}
		e := &TokenError{Code: "temporarily_unavailable", Description: p.Detail, status: p.Status}
		if p.Status >= 500 {
			e.RequestID = requestID(ctx)
		}
		return e
	}
	noteCause(ctx, err)
	return &TokenError{Code: "server_error", Description: "Something went wrong on our side.", RequestID: requestID(ctx), status: http.StatusInternalServerError}
}

// headerMap collects the headers problemFor would set.
type headerMap map[string]string

func (h headerMap) SetHeader(k, v string) { h[k] = v }

// tokenRequestError is the §5.2 answer to a request Huma refused before the handler
// ran: a body that is not one form or JSON object (400), repeats a parameter (400),
// has a parameter of the wrong type or length (422 to Huma), is too large (413) or of
// another media type (415). All are invalid_request; 413 and 415 keep their status.
// The description never quotes the body or a parameter name the client chose.
func tokenRequestError(ctx context.Context, status int, msg string, errs []error) *TokenError {
	e := &TokenError{Code: "invalid_request", status: http.StatusBadRequest}
	var details []huma.ErrorDetail
	for _, err := range errs {
		var d huma.ErrorDetailer
		if errors.As(err, &d) {
			details = append(details, *d.ErrorDetail())
		}
	}
	switch {
	case status == http.StatusRequestEntityTooLarge:
		e.status, e.Description = status, "The request body exceeds 64 KiB."
	case status == http.StatusUnsupportedMediaType:
		e.status, e.Description = status, "Send the parameters as application/x-www-form-urlencoded (or application/json)."
	case status == http.StatusUnprocessableEntity:
		fs := make([]lanyard.FieldError, 0, len(details))
		for _, d := range details {
			fs = append(fs, lanyard.FieldError{Location: publicLocation(d.Location), Message: d.Message})
		}
		e.Description = fieldsDescription(fs)
	case status >= 500:
		noteCause(ctx, errors.Join(errs...))
		e.Code, e.status, e.Description, e.RequestID = "server_error", http.StatusInternalServerError, "Something went wrong on our side.", requestID(ctx)
	case len(details) > 0 && repeated(details[0].Message):
		e.Description = "A parameter is included more than once (RFC 6749 §3.2)."
	case strings.Contains(msg, "required"):
		e.Description = "The request has no body: send the parameters form-encoded."
	default:
		e.Description = "The body is not a form-encoded (or JSON) object."
	}
	return e
}

// repeated reports whether a body decoder's message says a parameter came twice.
func repeated(msg string) bool {
	return msg == errBodyDuplicate.Error() || strings.HasPrefix(msg, "form field ") && strings.HasSuffix(msg, " is repeated")
}

// fieldsDescription says what is wrong with which parameters, e.g. "username is
// required; password is required".
func fieldsDescription(fs []lanyard.FieldError) string {
	parts := make([]string, len(fs))
	for i, f := range fs {
		loc := strings.TrimPrefix(f.Location, "body.")
		if loc == "body" || loc == "" {
			parts[i] = "the body: " + f.Message
			continue
		}
		parts[i] = loc + " " + f.Message
	}
	if len(parts) == 0 {
		return "The request is not valid."
	}
	return strings.Join(parts, "; ")
}
