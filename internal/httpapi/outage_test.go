package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/lanyard/lanyard/internal/lanyardtest"
)

func TestStoreDown_Answers503WithRetryAfterAndNoDriverDetails(t *testing.T) {
	t.Parallel()
	if !lanyardtest.Embedded() {
		t.Skip("stops the embedded store; not possible against LANYARD_TEST_MONGODB_URI")
	}
	env := lanyardtest.New(t, lanyardtest.WithOwnStore())
	a := env.Register("ada")

	env.Store.Stop()
	checks := []struct {
		name, method, path string
		body               any
		headers            []string
	}{
		{"me", "GET", "/api/users/me", nil, []string{"Bearer", a.Access}},
		{"login", "POST", "/api/auth/login", map[string]any{"email": a.Email, "password": a.Password}, nil},
		{"register", "POST", "/api/auth/register", map[string]any{"email": "bob@example.com", "password": lanyardtest.DefaultPassword}, nil},
		{"readyz", "GET", "/readyz", nil, nil},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			r := env.Do(c.method, c.path, c.body, c.headers...)
			if r.Status != http.StatusServiceUnavailable {
				t.Fatalf("%s %s with the store down = %d; want 503; body %s", c.method, c.path, r.Status, r.Body)
			}
			if r.Header.Get("Retry-After") == "" {
				t.Errorf("%s %s: no Retry-After", c.method, c.path)
			}
			body := strings.ToLower(string(r.Body))
			for _, leak := range []string{"mongodb://", "server selection", "connection refused", "127.0.0.1", "topology", "dial tcp"} {
				if strings.Contains(body, leak) {
					t.Errorf("%s %s body %s reveals %q", c.method, c.path, r.Body, leak)
				}
			}
		})
	}

	if m := string(env.Do("GET", "/metrics", nil).Must(t, http.StatusOK).Body); !strings.Contains(m, `lanyard_store_errors_total{op="user by id"}`) {
		t.Errorf("/metrics counts no store error for the failed auth load")
	}

	env.Store.Start()
	env.Do("GET", "/api/users/me", nil, "Bearer", a.Access).Must(t, http.StatusOK)
	env.Do("GET", "/readyz", nil).Must(t, http.StatusOK)
}
