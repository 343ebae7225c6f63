package httpapi_test

import (
	"strings"
	"testing"

	"github.com/lanyard/lanyard/internal/lanyardtest"
)

func TestDocs_EveryAnswerCarriesTheDocsCSP(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	tests := []struct {
		path string
		want int
	}{
		{"/docs", 200},
		{"/docs/lanyard-init.js", 200},
		{"/docs/swagger-ui-bundle.js", 200},
		{"/docs/swagger-ui.css", 200},
		{"/docs/swagger-ui-standalone-preset.js", 200},
		{"/docs/index.html", 200},
		{"/docs/swagger-initializer.js", 200},
		{"/docs/", 200}, // the bundle's own index.html: its demo fetch from the internet is blocked
		{"/docs/no-such-asset.js", 404},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			r := env.Do("GET", tt.path, nil)
			expect(t, r, "GET "+tt.path, tt.want)
			csp := r.Header.Get("Content-Security-Policy")
			for _, d := range []string{"default-src 'self'", "frame-ancestors 'none'", "object-src 'none'", "base-uri 'none'"} {
				if !strings.Contains(csp, d) {
					t.Errorf("GET %s: Content-Security-Policy = %q; want %s in it", tt.path, csp, d)
				}
			}
			for _, d := range []string{"unsafe-eval", "script-src", "*", "http:", "https:"} {
				if strings.Contains(csp, d) {
					t.Errorf("GET %s: Content-Security-Policy = %q; want no %s (scripts from this origin only)", tt.path, csp, d)
				}
			}
		})
	}
	// A path that only starts like /docs is not the documentation.
	r := env.Do("GET", "/docsx", nil)
	if csp := r.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("GET /docsx: Content-Security-Policy = %q; want default-src 'none'", csp)
	}
}

func TestUserResponses_AreNotStored(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	admin := env.Register("admin")
	env.Promote(admin)
	env.Login(&admin)
	a := env.Register("cache")
	tests := []struct {
		name string
		do   func() *lanyardtest.Response
		want int
	}{
		{"POST /api/auth/register", func() *lanyardtest.Response {
			return env.Do("POST", "/api/auth/register", map[string]any{"email": "fresh@example.com", "password": goodPassword})
		}, 201},
		{"POST /api/auth/register refused", func() *lanyardtest.Response {
			return env.Do("POST", "/api/auth/register", map[string]any{"email": "fresh@example.com", "password": goodPassword})
		}, 409},
		{"GET /api/users/me", func() *lanyardtest.Response { return env.Do("GET", "/api/users/me", nil, "Bearer", a.Access) }, 200},
		{"GET /api/users/me?expand=linked_ids", func() *lanyardtest.Response {
			return env.Do("GET", "/api/users/me?expand=linked_ids", nil, "Bearer", a.Access)
		}, 200},
		{"PATCH /api/users/me", func() *lanyardtest.Response {
			return env.Do("PATCH", "/api/users/me", map[string]any{"first_name": "Ada"}, "Bearer", a.Access)
		}, 200},
		{"GET /api/users/{id} by itself", func() *lanyardtest.Response { return env.Do("GET", "/api/users/"+a.ID, nil, "Bearer", a.Access) }, 200},
		{"GET /api/users/{id} by an admin", func() *lanyardtest.Response {
			return env.Do("GET", "/api/users/"+a.ID, nil, "Bearer", admin.Access)
		}, 200},
		{"GET /api/users", func() *lanyardtest.Response { return env.Do("GET", "/api/users", nil, "Bearer", admin.Access) }, 200},
		{"GET /api/users?email=", func() *lanyardtest.Response {
			return env.Do("GET", "/api/users?email="+a.Email, nil, "Bearer", admin.Access)
		}, 200},
		{"GET /api/users/me/linked-ids", func() *lanyardtest.Response {
			return env.Do("GET", "/api/users/me/linked-ids", nil, "Bearer", a.Access)
		}, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.do()
			expect(t, r, tt.name, tt.want)
			if got := r.Header.Get("Cache-Control"); got != "no-store" {
				t.Errorf("%s: Cache-Control = %q; want no-store", tt.name, got)
			}
		})
	}
}
