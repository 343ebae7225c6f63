package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/lanyard/lanyard/internal/lanyardtest"
)

func TestCORS_OnlyForListedOrigins(t *testing.T) {
	t.Parallel()
	env := lanyardtest.New(t, lanyardtest.WithEnv("LANYARD_CORS_ORIGINS", "https://app.example.com"))
	preflight := func(origin string) *lanyardtest.Response {
		return env.Do("OPTIONS", "/api/auth/login", nil, "Origin", origin, "Access-Control-Request-Method", "POST")
	}
	r := preflight("https://app.example.com")
	if r.Status != http.StatusNoContent || r.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" {
		t.Fatalf("preflight from a listed origin = %d, Allow-Origin %q; want 204 and the origin", r.Status, r.Header.Get("Access-Control-Allow-Origin"))
	}
	if !strings.Contains(r.Header.Get("Access-Control-Allow-Headers"), "Authorization") {
		t.Errorf("Allow-Headers = %q; want Authorization", r.Header.Get("Access-Control-Allow-Headers"))
	}
	if got := preflight("https://evil.example").Header.Get("Access-Control-Allow-Origin"); got != "" {
		t.Errorf("preflight from an unlisted origin got Allow-Origin %q; want none", got)
	}
	got := env.Do("GET", "/healthz", nil, "Origin", "https://app.example.com").Header.Get("Access-Control-Allow-Origin")
	if got != "https://app.example.com" {
		t.Errorf("GET from a listed origin: Allow-Origin %q", got)
	}
}

func TestCORS_NoneByDefault(t *testing.T) {
	t.Parallel()
	env := lanyardtest.New(t)
	r := env.Do("GET", "/healthz", nil, "Origin", "https://app.example.com")
	if got := r.Header.Get("Access-Control-Allow-Origin"); got != "" {
		t.Fatalf("Allow-Origin without LANYARD_CORS_ORIGINS = %q; want none", got)
	}
}

func TestMetrics_ExposeRequestsHashingStoreAndDeletions(t *testing.T) {
	t.Parallel()
	env := lanyardtest.New(t)
	a := env.Register("ada")
	env.Do("POST", "/api/auth/register", map[string]any{"email": a.Email, "password": a.Password}).Must(t, http.StatusConflict)
	body := string(env.Do("GET", "/metrics", nil).Must(t, http.StatusOK).Body)
	for _, want := range []string{
		`lanyard_http_requests_total{method="POST",route="POST /api/auth/register",status="201"} 1`,
		`lanyard_http_requests_total{method="POST",route="POST /api/auth/register",status="409"} 1`,
		`lanyard_http_request_duration_seconds_bucket{route="POST /api/auth/login"`,
		`lanyard_password_hash_seconds_count`,
		`lanyard_password_hash_wait_seconds_count`,
		`lanyard_deletion_jobs_running 0`,
		`lanyard_deletion_jobs_resumed_total 0`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	for _, secret := range []string{a.Password, a.Access, a.Email} {
		if strings.Contains(body, secret) {
			t.Errorf("/metrics contains a secret or identity")
		}
	}
}
