package httpapi_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"

	"github.com/lanyard/lanyard/internal/lanyardtest"
)

// openAPIDoc fetches the document the service serves.
func openAPIDoc(t *testing.T) []byte {
	t.Helper()
	return lanyardtest.New(t).Do("GET", "/openapi.json", nil).Must(t, http.StatusOK).Body
}

// TestOpenAPI_DocumentValidatesAgainstTheSpecification validates /openapi.json with
// libopenapi-validator against the OpenAPI 3.1 specification's schema: zero errors.
// With LANYARD_TEST_OPENAPI_OUT set it also writes the document there, for
// scripts/test.sh to lint with @redocly/cli.
func TestOpenAPI_DocumentValidatesAgainstTheSpecification(t *testing.T) {
	t.Parallel()
	raw := openAPIDoc(t)
	if out := os.Getenv("LANYARD_TEST_OPENAPI_OUT"); out != "" {
		if err := os.WriteFile(out, raw, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	doc, err := libopenapi.NewDocument(raw)
	if err != nil {
		t.Fatalf("libopenapi cannot read /openapi.json: %v", err)
	}
	v, errs := validator.NewValidator(doc)
	if len(errs) > 0 {
		t.Fatalf("libopenapi-validator cannot build a validator: %v", errs)
	}
	if ok, verrs := v.ValidateDocument(); !ok || len(verrs) > 0 {
		for _, e := range verrs {
			t.Errorf("%s: %s", e.Message, e.Reason)
			for _, se := range e.SchemaValidationErrors {
				t.Errorf("  at %s: %s", se.FieldPath, se.Reason)
			}
		}
		t.Fatalf("/openapi.json has %d validation errors", len(verrs))
	}
}

// schemaKeywords is every keyword a schema of the document may hold: JSON Schema
// 2020-12's (core, applicator, validation, meta-data, format, content, unevaluated)
// and OpenAPI 3.1's own. Anything else is a non-standard keyword that linters
// (redocly's struct rule) reject.
var schemaKeywords = func() map[string]bool {
	m := map[string]bool{}
	for _, k := range strings.Fields(`$schema $id $ref $anchor $dynamicRef $dynamicAnchor $defs $comment $vocabulary
		allOf anyOf oneOf not if then else dependentSchemas prefixItems items contains properties patternProperties
		additionalProperties propertyNames unevaluatedItems unevaluatedProperties
		type enum const multipleOf maximum exclusiveMaximum minimum exclusiveMinimum maxLength minLength pattern
		maxItems minItems uniqueItems maxContains minContains maxProperties minProperties required dependentRequired
		title description default deprecated readOnly writeOnly examples format
		contentEncoding contentMediaType contentSchema
		discriminator xml externalDocs example`) {
		m[k] = true
	}
	return m
}()

// nonStandardKeywords lists, by JSON pointer, every key of a schema anywhere in the
// document v (under components/schemas, and every "schema" of a parameter, header
// or media type) that is neither a schemaKeyword nor an extension (x-…).
func nonStandardKeywords(path string, v any, out *[]string) {
	switch v := v.(type) {
	case map[string]any:
		for k, sub := range v {
			switch p := path + "/" + k; {
			case k == "schema":
				schemaKeys(p, sub, out)
			case path == "/components/schemas":
				schemaKeys(p, sub, out)
			default:
				nonStandardKeywords(p, sub, out)
			}
		}
	case []any:
		for i, sub := range v {
			nonStandardKeywords(path+"/"+strconv.Itoa(i), sub, out)
		}
	}
}

func schemaKeys(path string, v any, out *[]string) {
	s, ok := v.(map[string]any)
	if !ok {
		return
	}
	for k, sub := range s {
		p := path + "/" + k
		if !schemaKeywords[k] && !strings.HasPrefix(k, "x-") {
			*out = append(*out, p)
			continue
		}
		switch k {
		case "properties", "patternProperties", "$defs", "dependentSchemas":
			if m, ok := sub.(map[string]any); ok {
				for name, child := range m {
					schemaKeys(p+"/"+name, child, out)
				}
			}
		case "items", "additionalProperties", "not", "if", "then", "else", "contains", "propertyNames",
			"unevaluatedItems", "unevaluatedProperties", "contentSchema":
			schemaKeys(p, sub, out)
		case "allOf", "anyOf", "oneOf", "prefixItems":
			if l, ok := sub.([]any); ok {
				for i, child := range l {
					schemaKeys(p+"/"+strconv.Itoa(i), child, out)
				}
			}
		}
	}
}

type openAPIOperation struct {
	OperationID string                `json:"operationId"`
	Security    []map[string][]string `json:"security"`
	RequestBody *struct {
		Required bool `json:"required"`
		Content  map[string]struct {
			Schema map[string]any `json:"schema"`
		} `json:"content"`
	} `json:"requestBody"`
	Responses map[string]struct {
		Headers map[string]struct {
			Required bool           `json:"required"`
			Schema   map[string]any `json:"schema"`
		} `json:"headers"`
		Content map[string]struct {
			Schema map[string]any `json:"schema"`
		} `json:"content"`
	} `json:"responses"`
}

// optionalBodies are the operations whose every body field is optional: logout
// (no body at all ends this session), a profile change (any subset) and a passkey's
// removal (one of two proofs, either).
var optionalBodies = map[string]bool{"logout": true, "update-me": true, "remove-passkey": true}

// TestOpenAPI_DeclaresWhatClientsNeed holds the document to what a generated client
// and the documentation page need, for every operation, the ones added later
// included: servers; security on every operation (an empty list on public ones);
// required bodies with their required fields; a typed body for every success; 415,
// 500 and 503 everywhere; Retry-After on every 429 and 503; no non-standard
// keyword in any schema.
func TestOpenAPI_DeclaresWhatClientsNeed(t *testing.T) {
	t.Parallel()
	raw := openAPIDoc(t)
	var doc struct {
		Servers    []struct{ URL string } `json:"servers"`
		Paths      map[string]map[string]json.RawMessage
		Components struct {
			Schemas         map[string]map[string]any `json:"schemas"`
			SecuritySchemes map[string]any            `json:"securitySchemes"`
		} `json:"components"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Servers) == 0 || doc.Servers[0].URL == "" {
		t.Errorf("servers = %+v; want at least one with a url", doc.Servers)
	}
	var whole any
	_ = json.Unmarshal(raw, &whole)
	var bad []string
	nonStandardKeywords("", whole, &bad)
	for _, b := range bad {
		t.Errorf("non-standard schema keyword at %s", b)
	}

	resolve := func(s map[string]any) map[string]any {
		if ref, ok := s["$ref"].(string); ok {
			return doc.Components.Schemas[strings.TrimPrefix(ref, "#/components/schemas/")]
		}
		return s
	}
	for path, item := range doc.Paths {
		for method, rawOp := range item {
			if !slices.Contains([]string{"get", "put", "post", "delete", "patch"}, method) {
				continue
			}
			var o openAPIOperation
			if err := json.Unmarshal(rawOp, &o); err != nil {
				t.Fatal(err)
			}
			name := strings.ToUpper(method) + " " + path + " (" + o.OperationID + ")"
			if o.Security == nil {
				t.Errorf("%s declares no security: an empty list for a public operation, else its scheme", name)
			}
			if access, ok := contractAccess[o.OperationID]; ok && (access.access == "public") != (len(o.Security) == 0) {
				t.Errorf("%s: security %v; want [] exactly when public (%s)", name, o.Security, access.access)
			}
			if rb := o.RequestBody; rb != nil {
				if !rb.Required && !optionalBodies[o.OperationID] {
					t.Errorf("%s: requestBody is not required", name)
				}
				for ct, mt := range rb.Content {
					s := resolve(mt.Schema)
					req, _ := s["required"].([]any)
					if len(req) == 0 && !optionalBodies[o.OperationID] {
						t.Errorf("%s: the %s body declares no required field", name, ct)
					}
				}
			}
			for _, code := range []string{"415", "500", "503"} {
				if _, ok := o.Responses[code]; !ok {
					t.Errorf("%s declares no %s", name, code)
				}
			}
			for code, r := range o.Responses {
				if code == "429" || code == "503" {
					if h, ok := r.Headers["Retry-After"]; !ok || h.Schema["type"] != "integer" {
						t.Errorf("%s: %s declares no integer Retry-After header", name, code)
					}
				}
				if code[0] == '2' && code != "204" {
					if len(r.Content) == 0 {
						t.Errorf("%s: %s has no body", name, code)
					}
					for ct, mt := range r.Content {
						if len(mt.Schema) == 0 {
							t.Errorf("%s: the %s %s body has an empty schema (unknown to a client)", name, code, ct)
						}
					}
				}
				if code[0] == '4' || code[0] == '5' {
					// Problem documents everywhere; RFC 6749 §5.2 errors on the
					// token endpoint, introspection and revocation, which OAuth2
					// clients read.
					want, ct := "#/components/schemas/Problem", "application/problem+json"
					if o.OperationID == "token" || o.OperationID == "introspect" || o.OperationID == "revoke" {
						want, ct = "#/components/schemas/TokenError", "application/json"
					}
					if ref, _ := r.Content[ct].Schema["$ref"].(string); ref != want {
						t.Errorf("%s: %s is not a %s: %+v", name, code, want, r.Content)
					}
				}
			}
		}
	}
	var schemes struct {
		OAuth2 struct {
			Type  string `json:"type"`
			Flows struct {
				Password *struct {
					TokenURL string `json:"tokenUrl"`
				} `json:"password"`
			} `json:"flows"`
		} `json:"oauth2"`
	}
	b, _ := json.Marshal(doc.Components.SecuritySchemes)
	_ = json.Unmarshal(b, &schemes)
	if pw := schemes.OAuth2.Flows.Password; schemes.OAuth2.Type != "oauth2" || pw == nil || pw.TokenURL != "/api/auth/token" {
		t.Errorf("securitySchemes.oauth2 = %+v; want the OAuth2 password flow with tokenUrl /api/auth/token", schemes.OAuth2)
	} else if _, ok := doc.Paths[pw.TokenURL]["post"]; !ok {
		t.Errorf("the password flow's tokenUrl %s is no operation of the document", pw.TokenURL)
	}
	login := doc.Paths["/api/auth/login"]["post"]
	var o openAPIOperation
	_ = json.Unmarshal(login, &o)
	if _, ok := o.RequestBody.Content["application/x-www-form-urlencoded"]; !ok {
		t.Errorf("login declares no application/x-www-form-urlencoded body (the OAuth2 password form)")
	}
	for _, op := range []string{"/api/users/me", "/api/users/{user_id}"} {
		_ = json.Unmarshal(doc.Paths[op]["delete"], &o)
		if _, ok := o.Responses["202"]; !ok {
			t.Errorf("DELETE %s declares no 202 (a delete outliving its request)", op)
		}
	}
}

// TestOpenAPI_PasswordFlowLogsInAsSwaggerUIDoes follows the document's OAuth2 password
// flow as /docs' Authorize dialog (Swagger UI 5, authorizePassword) does: a form POST to
// the declared tokenUrl with grant_type, an empty scope, username and password, and
// the client credentials, with no client id, either as HTTP Basic (the dialog's
// default, "Basic Og==") or left out of the body; the access token it answers then
// authorizes an operation that declares the oauth2 scheme.
func TestOpenAPI_PasswordFlowLogsInAsSwaggerUIDoes(t *testing.T) {
	t.Parallel()
	env := lanyardtest.New(t)
	var doc struct {
		Paths      map[string]map[string]openAPIOperation `json:"paths"`
		Components struct {
			SecuritySchemes map[string]struct {
				Flows struct {
					Password *struct {
						TokenURL string `json:"tokenUrl"`
					} `json:"password"`
				} `json:"flows"`
			} `json:"securitySchemes"`
		} `json:"components"`
	}
	env.Do("GET", "/openapi.json", nil).Must(t, http.StatusOK).JSON(t, &doc)
	pw := doc.Components.SecuritySchemes["oauth2"].Flows.Password
	if pw == nil {
		t.Fatalf("the document declares no oauth2 password flow")
	}
	if !slices.ContainsFunc(doc.Paths["/api/users/me"]["get"].Security, func(s map[string][]string) bool { _, ok := s["oauth2"]; return ok }) {
		t.Fatalf("GET /api/users/me does not accept the oauth2 scheme: %v", doc.Paths["/api/users/me"]["get"].Security)
	}
	a := env.Register("swagger")
	for _, location := range []string{"basic", "request-body"} {
		t.Run(location, func(t *testing.T) {
			form := url.Values{"grant_type": {"password"}, "scope": {""}, "username": {a.Email}, "password": {a.Password}}
			var headers []string
			if location == "basic" {
				headers = []string{"Authorization", "Basic " + base64.StdEncoding.EncodeToString([]byte(":"))}
			}
			var tok struct {
				AccessToken string `json:"access_token"`
				TokenType   string `json:"token_type"`
			}
			env.Do("POST", pw.TokenURL, lanyardtest.Form(form), headers...).Must(t, http.StatusOK).JSON(t, &tok)
			if tok.TokenType != "Bearer" || tok.AccessToken == "" {
				t.Fatalf("token answer %+v; want a Bearer access token", tok)
			}
			env.Do("GET", "/api/users/me", nil, "Bearer", tok.AccessToken).Must(t, http.StatusOK)
		})
	}
}

// TestOpenAPI_BodyExamplesWorkAsShipped sends the request body examples of the
// document, in the order a newcomer on /docs would (register, then log in), to a fresh
// service: each is accepted.
func TestOpenAPI_BodyExamplesWorkAsShipped(t *testing.T) {
	t.Parallel()
	env := lanyardtest.New(t)
	var doc struct {
		Paths map[string]map[string]struct {
			OperationID string `json:"operationId"`
			RequestBody *struct {
				Content map[string]struct {
					Example any `json:"example"`
				} `json:"content"`
			} `json:"requestBody"`
		} `json:"paths"`
	}
	env.Do("GET", "/openapi.json", nil).Must(t, http.StatusOK).JSON(t, &doc)
	for _, c := range []struct {
		method, path string
		want         int
	}{
		{"POST", "/api/auth/register", http.StatusCreated},
		{"POST", "/api/auth/signup", http.StatusCreated},
		{"POST", "/api/auth/login", http.StatusOK},
	} {
		o := doc.Paths[c.path][strings.ToLower(c.method)]
		if o.RequestBody == nil || o.RequestBody.Content["application/json"].Example == nil {
			t.Errorf("%s %s has no body example", c.method, c.path)
			continue
		}
		env.Do(c.method, c.path, o.RequestBody.Content["application/json"].Example).Must(t, c.want)
	}
}
