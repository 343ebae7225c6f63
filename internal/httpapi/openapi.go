package httpapi

import (
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/danielgtaylor/huma/v2"
)

// oauth2Description tells how the documentation page's Authorize dialog logs in.
const oauth2Description = "The OAuth2 password grant of POST /api/auth/token (RFC 6749 §4.3): the access token it " +
	"answers is the bearer token. On /docs, Authorize with your email or username and password; leave client_id " +
	"and client_secret empty (a public client), in either client credentials location."

// documentOperation completes each operation's OpenAPI description with what Huma
// does not derive from the types: every problem an operation can answer (415 for a
// content type it does not take, which the format check and formOnlyForLogin
// answer on every operation), the headers that come with 401, 429 and 503, the
// problem types each status carries, and the form body where formPath takes one.
// An operation that documents its own error answers (the token endpoint's RFC 6749
// §5.2 errors) keeps them; only Retry-After is added wherever it is sent. It runs
// as Huma adds the operation (OpenAPI.OnAddOperation), after the operation's
// validation is built, and changes only the document.
func documentOperation(oapi *huma.OpenAPI, op *huma.Operation) {
	problem := oapi.Components.Schemas.Schema(reflect.TypeFor[Problem](), true, "Problem")
	if op.Responses[strconv.Itoa(http.StatusUnsupportedMediaType)] == nil {
		op.Responses[strconv.Itoa(http.StatusUnsupportedMediaType)] = &huma.Response{
			Content: map[string]*huma.MediaType{"application/problem+json": {Schema: problem}},
		}
	}
	for code, r := range op.Responses {
		status, err := strconv.Atoi(code)
		if err != nil || status < 400 {
			continue
		}
		if r.Headers == nil {
			r.Headers = map[string]*huma.Header{}
		}
		if status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable {
			r.Headers["Retry-After"] = &huma.Header{
				Description: "Seconds to wait before retrying.",
				Required:    true,
				Schema:      &huma.Schema{Type: huma.TypeInteger, Minimum: ptr(1.0)},
			}
		}
		if r.Content["application/problem+json"] == nil {
			continue
		}
		r.Description = problemsDescription(status)
		if status == http.StatusUnauthorized {
			r.Headers["WWW-Authenticate"] = &huma.Header{
				Description: `The Bearer challenge (RFC 6750), e.g. Bearer realm="lanyard".`,
				Required:    true,
				Schema:      &huma.Schema{Type: huma.TypeString},
			}
		}
	}
	// patternDescription words Huma's validation message; it is no JSON Schema
	// keyword, so it stays out of the document. The message was built with the
	// schema (PrecomputeMessages) and keeps it.
	for _, p := range op.Parameters {
		if p.Schema != nil {
			p.Schema.PatternDescription = ""
		}
	}
	if ex, ok := bodyExamples[op.OperationID]; ok && op.RequestBody != nil {
		if mt := op.RequestBody.Content["application/json"]; mt != nil {
			mt.Example = ex
		}
	}
	if formPath(op.Path) && op.RequestBody != nil && op.RequestBody.Content["application/x-www-form-urlencoded"] == nil {
		if mt := op.RequestBody.Content["application/json"]; mt != nil {
			op.RequestBody.Content["application/x-www-form-urlencoded"] = &huma.MediaType{Schema: mt.Schema}
		}
	}
}

// bodyExamples are the request bodies /docs' "Try it out" fills in, each one that the
// operation accepts as shipped (a fresh database): without one, Swagger UI sends every
// property as "string", which no rule accepts. TestOpenAPI_BodyExamplesWorkAsShipped
// sends them.
var bodyExamples = map[string]any{
	"register":               map[string]any{"email": "ada@example.com", "password": "correct horse battery 9", "username": "ada", "first_name": "Ada", "last_name": "Lovelace"},
	"signup":                 map[string]any{"email": "grace@example.com", "password": "correct horse battery 9"},
	"login":                  map[string]any{"login": "ada@example.com", "password": "correct horse battery 9"},
	"request-password-reset": map[string]any{"email": "ada@example.com"},
}

// problemsDescription describes an error status by the problem types it carries.
func problemsDescription(status int) string {
	var kinds []string
	for name, k := range problemKinds {
		if k.status == status {
			kinds = append(kinds, "`"+problemType(name)+"`")
		}
	}
	slices.Sort(kinds)
	d := http.StatusText(status)
	if len(kinds) > 0 {
		d += ": a problem document of type " + strings.Join(kinds, ", ")
	}
	return d
}

// bodyRequired are the fields each request body must hold, for the document only.
// The handlers check them, with every other field, so that one 422 lists every
// failing field at once; a `required` Huma enforced would answer before them with
// the missing field alone. Huma's validation reads the set it computed when the
// schema was built (requiredMap), so these appear in the document and nowhere else.
var bodyRequired = map[string][]string{
	"RegisterInputBody":      {"email", "password"},
	"LoginInputBody":         {"password"},
	"LinkBody":               {"provider", "external_id"},
	"PasswordResetInputBody": {"email"},
	"ConfirmResetInputBody":  {"token", "new_password"},
	"VerifyEmailInputBody":   {"token"},
	"MfaInputBody":           {"mfa_token", "method", "code"},
	"TotpCodeInputBody":      {"code"},
	"TotpDisableInputBody":   {"code"},
}

// documentBodies adds bodyRequired to the schemas once every operation is
// registered (a later registration would recompute the validation from them).
func documentBodies(oapi *huma.OpenAPI) {
	schemas := oapi.Components.Schemas.Map()
	for name, fields := range bodyRequired {
		s := schemas[name]
		if s == nil {
			panic("documentBodies: no schema " + name)
		}
		for _, f := range fields {
			if !slices.Contains(s.Required, f) {
				s.Required = append(s.Required, f)
			}
		}
	}
}
