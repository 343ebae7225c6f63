package httpapi_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/lanyard/lanyard/internal/lanyardtest"
)

// TestProblems_TypeNamesAPageOfItsKind: a problem document's type is the stable
// /problems/<kind> of what went wrong, and a GET of it is a small HTML page under the
// API's strict CSP that describes that kind; an unknown kind is 404.
func TestProblems_TypeNamesAPageOfItsKind(t *testing.T) {
	t.Parallel()
	env := lanyardtest.New(t)
	a := env.Register("problems")
	tests := []struct {
		name, method, path string
		body               any
		headers            []string
		status             int
		kind               string
	}{
		{"wrong password", "POST", "/api/auth/login", map[string]any{"email": a.Email, "password": "not the password at all"}, nil, 401, "credentials-invalid"},
		{"email taken", "POST", "/api/auth/register", map[string]any{"email": a.Email, "password": lanyardtest.DefaultPassword}, nil, 409, "email-taken"},
		{"invalid fields", "POST", "/api/auth/register", map[string]any{"email": "nope", "password": "x"}, nil, 422, "invalid-input"},
		{"unknown field", "POST", "/api/auth/register", map[string]any{"email": "x@example.com", "password": lanyardtest.DefaultPassword, "role": "admin"}, nil, 422, "invalid-input"},
		{"no token", "GET", "/api/users/me", nil, nil, 401, "token-required"},
		{"bad token", "GET", "/api/users/me", nil, []string{"Bearer", "not-a-token"}, 401, "access-token-invalid"},
		{"not an admin", "GET", "/api/users", nil, []string{"Bearer", a.Access}, 403, "forbidden"},
		{"no such linked id", "DELETE", "/api/users/me/linked-ids/0123456789abcdef01234567", nil, []string{"Bearer", a.Access}, 404, "not-found"},
		{"no such route", "GET", "/api/nothing-here", nil, nil, 404, "not-found"},
		{"wrong method", "PUT", "/api/auth/login", nil, nil, 405, "method-not-allowed"},
		{"not JSON", "POST", "/api/auth/login", lanyardtest.Raw{ContentType: "application/json", Body: "{"}, nil, 400, "bad-request"},
		{"a form where JSON belongs", "POST", "/api/auth/register", lanyardtest.Form(url.Values{"email": {"x@example.com"}}), nil, 415, "unsupported-media-type"},
		{"too large", "POST", "/api/auth/login", lanyardtest.Raw{ContentType: "application/json", Body: `{"email":"` + strings.Repeat("a", 70<<10) + `"}`}, nil, 413, "body-too-large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := problem(t, env.Do(tt.method, tt.path, tt.body, tt.headers...), tt.method+" "+tt.path, tt.status)
			if want := "/problems/" + tt.kind; p.Type != want {
				t.Fatalf("%s %s: type %q; want %q", tt.method, tt.path, p.Type, want)
			}
			r := env.Do("GET", p.Type, nil).Must(t, http.StatusOK)
			if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
				t.Errorf("GET %s: Content-Type %q; want text/html", p.Type, ct)
			}
			if csp := r.Header.Get("Content-Security-Policy"); !strings.HasPrefix(csp, "default-src 'none'") {
				t.Errorf("GET %s: CSP %q; want default-src 'none'", p.Type, csp)
			}
			if body := string(r.Body); !strings.Contains(body, "<code>"+p.Type+"</code>") || strings.Contains(body, "<script") || strings.Contains(body, "http://") || strings.Contains(body, "https://") {
				t.Errorf("GET %s: a page that does not name its type, or loads something: %s", p.Type, body)
			}
		})
	}
	t.Run("unknown kind", func(t *testing.T) {
		t.Parallel()
		problem(t, env.Do("GET", "/problems/no-such-kind", nil), "GET /problems/no-such-kind", http.StatusNotFound)
	})
}
