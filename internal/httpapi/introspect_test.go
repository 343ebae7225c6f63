package httpapi_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/lanyard/lanyard/internal/lanyardtest"
)

// serviceClient is a client added as `lanyard clients add` adds one.
type serviceClient struct{ id, secret string }

func newServiceClient(t *testing.T, env *lanyardtest.Env) serviceClient {
	t.Helper()
	id, secret := addClient(t, env, "billing") // token_test.go
	return serviceClient{id, secret}
}

func (c serviceClient) basic() string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(c.id)+":"+url.QueryEscape(c.secret)))
}

// introspect asks what tok is, as client c with HTTP Basic.
func introspect(t *testing.T, env *lanyardtest.Env, c serviceClient, tok string) map[string]any {
	t.Helper()
	r := env.Do("POST", "/api/auth/introspect", lanyardtest.Form(url.Values{"token": {tok}}), "Authorization", c.basic()).Must(t, http.StatusOK)
	if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("introspection Cache-Control = %q; want no-store", cc)
	}
	return r.Map(t)
}

// inactive fails the test unless m is exactly {"active":false}: nothing is said of a
// token that does not hold.
func inactive(t *testing.T, m map[string]any, what string) {
	t.Helper()
	if !reflect.DeepEqual(m, map[string]any{"active": false}) {
		t.Errorf("introspection of %s = %v; want exactly {\"active\":false}", what, m)
	}
}

func active(t *testing.T, m map[string]any, what string) {
	t.Helper()
	if m["active"] != true {
		t.Errorf("introspection of %s = %v; want active", what, m)
	}
}

// oauthErr fails the test unless r is an RFC 6749 §5.2 error of status and code, a
// 401 with a Basic challenge (§5.2 asks for it where the client used the
// Authorization header; introspection, a protected resource, always challenges).
func oauthErr(t *testing.T, r *lanyardtest.Response, what string, status int, code string) {
	t.Helper()
	oauthErrChallenging(t, r, what, status, code, status == http.StatusUnauthorized)
}

// oauthErrChallenging is oauthErr, with a Basic challenge exactly when challenge.
func oauthErrChallenging(t *testing.T, r *lanyardtest.Response, what string, status int, code string, challenge bool) {
	t.Helper()
	var e map[string]any
	if r.Status != status || json.Unmarshal(r.Body, &e) != nil || e["error"] != code {
		t.Errorf("%s = %d %s; want %d {\"error\":%q}", what, r.Status, r.Body, status, code)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("%s: Content-Type %q; want application/json (RFC 6749 §5.2)", what, ct)
	}
	if got := r.Header.Get("WWW-Authenticate"); strings.HasPrefix(got, "Basic") != challenge {
		t.Errorf("%s: WWW-Authenticate %q; want a Basic challenge: %v", what, got, challenge)
	}
}

// Introspection answers service clients only: without client authentication, with a
// wrong secret, an unknown or removed client, or a user's bearer token instead, it is
// 401 invalid_client, and says nothing of the token.
func TestIntrospect_RequiresClientAuthentication(t *testing.T) {
	t.Parallel()
	env := lanyardtest.New(t)
	a := env.Register("ada")
	c, other := newServiceClient(t, env), newServiceClient(t, env)
	removed := newServiceClient(t, env)
	if err := env.App.Clients.Remove(context.Background(), removed.id); err != nil {
		t.Fatal(err)
	}
	form := func(v url.Values) lanyardtest.Raw {
		v.Set("token", a.Access)
		return lanyardtest.Form(v)
	}
	wrong := serviceClient{c.id, other.secret}
	tests := []struct {
		name    string
		body    lanyardtest.Raw
		headers []string
	}{
		{"no client authentication", form(url.Values{}), nil},
		{"a user's bearer token", form(url.Values{}), []string{"Bearer", a.Access}},
		{"Basic with another client's secret", form(url.Values{}), []string{"Authorization", wrong.basic()}},
		{"Basic with an unknown client", form(url.Values{}), []string{"Authorization", serviceClient{strings.Repeat("ab", 16), c.secret}.basic()}},
		{"Basic of a removed client", form(url.Values{}), []string{"Authorization", removed.basic()}},
		{"Basic that is not base64", form(url.Values{}), []string{"Authorization", "Basic %%%"}},
		{"Basic without a colon", form(url.Values{}), []string{"Authorization", "Basic " + base64.StdEncoding.EncodeToString([]byte(c.id))}},
		{"a wrong secret in the form", form(url.Values{"client_id": {c.id}, "client_secret": {other.secret}}), nil},
		{"client_id alone in the form", form(url.Values{"client_id": {c.id}}), nil},
	}
	for _, tt := range tests {
		r := env.Do("POST", "/api/auth/introspect", tt.body, tt.headers...)
		oauthErr(t, r, tt.name, http.StatusUnauthorized, "invalid_client")
		if strings.Contains(string(r.Body), a.Access) || strings.Contains(string(r.Body), c.secret) || strings.Contains(string(r.Body), "active") {
			t.Errorf("%s: the body %s echoes a secret or speaks of the token", tt.name, r.Body)
		}
	}

	both := env.Do("POST", "/api/auth/introspect", form(url.Values{"client_id": {c.id}, "client_secret": {c.secret}}), "Authorization", c.basic())
	oauthErr(t, both, "Basic and client_secret at once", http.StatusBadRequest, "invalid_request")
	noToken := env.Do("POST", "/api/auth/introspect", lanyardtest.Form(url.Values{}), "Authorization", c.basic())
	oauthErr(t, noToken, "no token", http.StatusBadRequest, "invalid_request")

	// The same client, right: by Basic, by the form, and as JSON.
	active(t, introspect(t, env, c, a.Access), "by Basic")
	active(t, env.Do("POST", "/api/auth/introspect", form(url.Values{"client_id": {c.id}, "client_secret": {c.secret}})).Must(t, http.StatusOK).Map(t), "by the form")
	active(t, env.Do("POST", "/api/auth/introspect", map[string]any{"token": a.Access, "client_id": c.id, "client_secret": c.secret}).Must(t, http.StatusOK).Map(t), "as JSON")
	// Parameters it does not know are ignored (RFC 6749 §3.2).
	active(t, env.Do("POST", "/api/auth/introspect", form(url.Values{"token_type_hint": {"refresh_token"}, "resource": {"x"}}), "Authorization", c.basic()).Must(t, http.StatusOK).Map(t), "with a wrong hint and an unknown parameter")
}

// A fresh access token and a fresh refresh token are active, with the documented
// claims of their user and session.
func TestIntrospect_ActiveTokensCarryTheirClaims(t *testing.T) {
	t.Parallel()
	env := lanyardtest.New(t)
	c := newServiceClient(t, env)
	a := env.Register("ada")
	sid, _, _ := strings.Cut(a.Refresh, ".")
	for _, tt := range []struct {
		kind, tok string
		ttl       float64
	}{
		{"access_token", a.Access, env.Config.AccessTTL.Seconds()},
		{"refresh_token", a.Refresh, env.Config.RefreshTTL.Seconds()},
	} {
		m := introspect(t, env, c, tt.tok)
		want := map[string]any{"active": true, "token_type": tt.kind, "sub": a.ID, "sid": sid, "iss": env.Config.Issuer, "role": "user", "amr": []any{"pwd"}}
		if tt.kind == "access_token" {
			want["aud"] = env.Config.Issuer // LANYARD_AUDIENCE's default
		}
		for k, v := range want {
			if !reflect.DeepEqual(m[k], v) {
				t.Errorf("%s: %s = %v; want %v (all: %v)", tt.kind, k, m[k], v, m)
			}
		}
		exp, _ := m["exp"].(float64)
		iat, _ := m["iat"].(float64)
		if iat <= 0 || exp-iat < tt.ttl-1 || exp-iat > tt.ttl+1 {
			t.Errorf("%s: iat %v, exp %v; want exp about %v s after iat", tt.kind, m["iat"], m["exp"], tt.ttl)
		}
	}
	env.Promote(a)
	if m := introspect(t, env, c, a.Access); m["role"] != "admin" {
		t.Errorf("role after a promotion = %v; want the user's role now, admin", m["role"])
	}
	for _, junk := range []string{"", "x", "a.b.c", sid + ".AAAA", a.Access + "x", strings.Repeat("0", 24) + "." + strings.Repeat("A", 43)} {
		if junk == "" {
			continue
		}
		inactive(t, introspect(t, env, c, junk), "garbage "+junk)
	}
}

// Introspection reflects at once what ends tokens: logout, logout-all, reuse
// detection (a replay of a spent refresh token), a password change and the account's
// deletion — for the access token and the refresh token each. It changes nothing
// itself: introspecting a token, a spent one included, spends and ends nothing.
func TestIntrospect_InactiveRightAfterTheTokensEnd(t *testing.T) {
	t.Parallel()
	env := lanyardtest.New(t, lanyardtest.WithEnv("LANYARD_REFRESH_REUSE_GRACE", "0s"))
	c := newServiceClient(t, env)
	tests := []struct {
		name string
		end  func(t *testing.T, a *lanyardtest.Account)
	}{
		{"logout", func(t *testing.T, a *lanyardtest.Account) {
			env.Do("POST", "/api/auth/logout", nil, "Bearer", a.Access).Must(t, http.StatusNoContent)
		}},
		{"logout-all", func(t *testing.T, a *lanyardtest.Account) {
			env.Do("POST", "/api/auth/logout", map[string]any{"all": true}, "Bearer", a.Access).Must(t, http.StatusNoContent)
		}},
		{"reuse detection", func(t *testing.T, a *lanyardtest.Account) {
			spent := a.Refresh
			m := env.Do("POST", "/api/auth/refresh", map[string]any{"refresh_token": spent}).Must(t, http.StatusOK).Map(t)
			a.Access, a.Refresh = m["access_token"].(string), m["refresh_token"].(string)
			active(t, introspect(t, env, c, a.Refresh), "the successor before the replay")
			inactive(t, introspect(t, env, c, spent), "the spent token")
			active(t, introspect(t, env, c, a.Refresh), "the successor after the spent one was introspected")
			env.Do("POST", "/api/auth/refresh", map[string]any{"refresh_token": spent}).Must(t, http.StatusUnauthorized)
		}},
		{"password change", func(t *testing.T, a *lanyardtest.Account) {
			m := env.Do("PUT", "/api/users/me/password", map[string]any{"current_password": a.Password, "new_password": "another horse battery staple"}, "Bearer", a.Access).Must(t, http.StatusOK).Map(t)
			active(t, introspect(t, env, c, m["access_token"].(string)), "the new session's access token")
			active(t, introspect(t, env, c, m["refresh_token"].(string)), "the new session's refresh token")
		}},
		{"account deletion", func(t *testing.T, a *lanyardtest.Account) {
			env.Do("DELETE", "/api/users/me", map[string]any{"password": a.Password}, "Bearer", a.Access).Must(t, http.StatusOK)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := env.Register("ada")
			active(t, introspect(t, env, c, a.Access), "the access token before "+tt.name)
			active(t, introspect(t, env, c, a.Refresh), "the refresh token before "+tt.name)
			tt.end(t, &a)
			inactive(t, introspect(t, env, c, a.Access), "the access token after "+tt.name)
			inactive(t, introspect(t, env, c, a.Refresh), "the refresh token after "+tt.name)
		})
	}
}

// revoke revokes tok with no client authentication, as a public client may.
func revoke(t *testing.T, env *lanyardtest.Env, tok string, headers ...string) {
	t.Helper()
	r := env.Do("POST", "/api/auth/revoke", lanyardtest.Form(url.Values{"token": {tok}}), headers...)
	if r.Status != http.StatusOK {
		t.Fatalf("revoke = %d %s; want 200", r.Status, r.Body)
	}
}

// Revoking a refresh token or an access token ends its session at once: the refresh
// token no longer refreshes, the access token is refused, and introspection says both
// are inactive. The user's other session goes on.
func TestRevoke_EndsTheTokensSession(t *testing.T) {
	t.Parallel()
	env := lanyardtest.New(t)
	c := newServiceClient(t, env)
	for _, kind := range []string{"refresh token", "access token", "refresh token, client authenticated", "access token, client authenticated"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			a := env.Register("ada")
			other := a
			env.Login(&other)
			tok := a.Refresh
			if strings.HasPrefix(kind, "access") {
				tok = a.Access
			}
			var headers []string
			if strings.HasSuffix(kind, "authenticated") {
				headers = []string{"Authorization", c.basic()}
			}
			revoke(t, env, tok, headers...)
			env.Do("GET", "/api/users/me", nil, "Bearer", a.Access).Must(t, http.StatusUnauthorized)
			env.Do("POST", "/api/auth/refresh", map[string]any{"refresh_token": a.Refresh}).Must(t, http.StatusUnauthorized)
			inactive(t, introspect(t, env, c, a.Access), "the revoked session's access token")
			inactive(t, introspect(t, env, c, a.Refresh), "the revoked session's refresh token")
			revoke(t, env, tok, headers...) // again: still 200
			env.Do("GET", "/api/users/me", nil, "Bearer", other.Access).Must(t, http.StatusOK)
			env.Do("POST", "/api/auth/refresh", map[string]any{"refresh_token": other.Refresh}).Must(t, http.StatusOK)
		})
	}
}

// Revoking garbage, a forged token or a secret the session never issued (knowing a
// session id, which every access token carries, is not enough) answers 200 and
// changes nothing; a wrong client secret is 401 invalid_client and changes nothing.
func TestRevoke_AnInvalidTokenIs200AndChangesNothing(t *testing.T) {
	t.Parallel()
	env := lanyardtest.New(t)
	c, other := newServiceClient(t, env), newServiceClient(t, env)
	a := env.Register("ada")
	sid, _, _ := strings.Cut(a.Refresh, ".")
	head, _, _ := strings.Cut(a.Access, ".")
	for _, junk := range []string{"x", "a.b.c", sid + "." + strings.Repeat("A", 43), head + ".e30.AAAA", strings.Repeat("0", 24) + "." + strings.Repeat("A", 43)} {
		revoke(t, env, junk)
	}
	r := env.Do("POST", "/api/auth/revoke", lanyardtest.Form(url.Values{"token": {a.Refresh}}), "Authorization", serviceClient{c.id, other.secret}.basic())
	oauthErr(t, r, "revoke with a wrong client secret", http.StatusUnauthorized, "invalid_client")
	r = env.Do("POST", "/api/auth/revoke", lanyardtest.Form(url.Values{"token": {a.Access}, "client_id": {c.id}, "client_secret": {other.secret}}))
	oauthErrChallenging(t, r, "revoke with a wrong client_secret in the form", http.StatusUnauthorized, "invalid_client", false)
	oauthErr(t, env.Do("POST", "/api/auth/revoke", lanyardtest.Form(url.Values{})), "revoke without a token", http.StatusBadRequest, "invalid_request")

	active(t, introspect(t, env, c, a.Access), "the access token")
	active(t, introspect(t, env, c, a.Refresh), "the refresh token")
	env.Do("GET", "/api/users/me", nil, "Bearer", a.Access).Must(t, http.StatusOK)
	env.Do("POST", "/api/auth/refresh", map[string]any{"refresh_token": a.Refresh}).Must(t, http.StatusOK)
}

// A token past its lifetime is inactive: an access token after LANYARD_ACCESS_TTL, a
// refresh token after LANYARD_REFRESH_TTL, stored or not.
func TestIntrospect_ExpiredTokensAreInactive(t *testing.T) {
	t.Parallel()
	clock := lanyardtest.NewClock()
	env := lanyardtest.New(t, lanyardtest.WithClock(clock.Now))
	c := newServiceClient(t, env)
	a := env.Register("ada")
	clock.Advance(env.Config.AccessTTL + time.Second)
	inactive(t, introspect(t, env, c, a.Access), "an access token past its lifetime")
	active(t, introspect(t, env, c, a.Refresh), "the refresh token once the access token expired")
	clock.Advance(env.Config.RefreshTTL)
	inactive(t, introspect(t, env, c, a.Refresh), "a refresh token past its lifetime")
}

// RFC 8414 metadata names introspection and revocation, with the client
// authentication each takes, and what it names answers there.
func TestIntrospect_MetadataNamesBothEndpoints(t *testing.T) {
	t.Parallel()
	env := lanyardtest.New(t)
	c := newServiceClient(t, env)
	a := env.Register("ada")
	m := env.Do("GET", "/.well-known/oauth-authorization-server", nil).Must(t, http.StatusOK).Map(t)
	want := map[string]any{
		"introspection_endpoint":                        env.URL + "/api/auth/introspect",
		"introspection_endpoint_auth_methods_supported": []any{"client_secret_basic", "client_secret_post"},
		"revocation_endpoint":                           env.URL + "/api/auth/revoke",
		"revocation_endpoint_auth_methods_supported":    []any{"client_secret_basic", "client_secret_post", "none"},
	}
	for k, v := range want {
		if !reflect.DeepEqual(m[k], v) {
			t.Errorf("metadata %s = %v; want %v", k, m[k], v)
		}
	}
	introspection, _ := m["introspection_endpoint"].(string)
	revocation, _ := m["revocation_endpoint"].(string)
	path := func(u string) string { return strings.TrimPrefix(u, env.URL) }
	active(t, env.Do("POST", path(introspection), lanyardtest.Form(url.Values{"token": {a.Access}}), "Authorization", c.basic()).Must(t, http.StatusOK).Map(t), "at introspection_endpoint")
	env.Do("POST", path(revocation), lanyardtest.Form(url.Values{"token": {a.Refresh}})).Must(t, http.StatusOK)
	inactive(t, introspect(t, env, c, a.Refresh), "a refresh token revoked at revocation_endpoint")
}
