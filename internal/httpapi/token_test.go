package httpapi_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lanyard/lanyard/internal/lanyardtest"
)

// tokenForm sends POST /api/auth/token with these form parameters (name, value
// pairs, a name may repeat) and headers.
func tokenForm(env *lanyardtest.Env, params []string, headers ...string) *lanyardtest.Response {
	v := url.Values{}
	for i := 0; i+1 < len(params); i += 2 {
		v.Add(params[i], params[i+1])
	}
	return env.Do("POST", "/api/auth/token", lanyardtest.Form(v), headers...)
}

// tokenErrorBody is an RFC 6749 §5.2 error response.
type tokenErrorBody struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

// wantTokenError fails the test unless r is an RFC 6749 §5.2 error with this status
// and code — JSON, not a problem document, kept out of caches — and returns it.
func wantTokenError(t *testing.T, r *lanyardtest.Response, what string, status int, code string) tokenErrorBody {
	t.Helper()
	if r.Status != status {
		t.Fatalf("%s = %d; want %d; body: %s", what, r.Status, status, r.Body)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("%s: Content-Type = %q; want application/json", what, ct)
	}
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("%s: body is not JSON: %v; body: %s", what, err, r.Body)
	}
	for _, problemMember := range []string{"type", "title", "status", "detail"} {
		if _, ok := m[problemMember]; ok {
			t.Errorf("%s: body %s has the problem document member %q; want an RFC 6749 §5.2 body", what, r.Body, problemMember)
		}
	}
	var e tokenErrorBody
	r.JSON(t, &e)
	if e.Error != code {
		t.Errorf("%s: error = %q; want %q; body: %s", what, e.Error, code, r.Body)
	}
	if e.Description == "" {
		t.Errorf("%s: no error_description; body: %s", what, r.Body)
	}
	if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("%s: Cache-Control = %q; want no-store", what, cc)
	}
	return e
}

func basic(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
}

// TestToken_EveryErrorAnswersItsRFC6749Code: each way a token request can fail answers
// its §5.2 code and status, as JSON, never a problem document, and never echoing what
// was sent.
func TestToken_EveryErrorAnswersItsRFC6749Code(t *testing.T) {
	t.Parallel()
	env := lanyardtest.New(t)
	svc, _ := addClient(t, env, "svc")
	gone, goneSecret := addClient(t, env, "gone")
	if err := env.App.Clients.Remove(context.Background(), gone); err != nil {
		t.Fatal(err)
	}
	type request struct {
		body    any
		headers []string
	}
	form := func(params ...string) request { return request{body: formOf(params...)} }
	tests := []struct {
		name      string
		req       func(t *testing.T, a lanyardtest.Account) request
		status    int
		code      string
		challenge string // the WWW-Authenticate wanted, "" for none
	}{
		{"missing grant_type", func(t *testing.T, a lanyardtest.Account) request {
			return form("username", a.Email, "password", a.Password)
		}, 400, "invalid_request", ""},
		{"missing grant_type, JSON", func(t *testing.T, a lanyardtest.Account) request {
			return request{body: map[string]any{"username": a.Email, "password": a.Password}}
		}, 400, "invalid_request", ""},
		{"empty grant_type", func(t *testing.T, a lanyardtest.Account) request {
			return form("grant_type", "", "username", a.Email, "password", a.Password)
		}, 400, "invalid_request", ""},
		{"unknown grant", func(t *testing.T, a lanyardtest.Account) request {
			return form("grant_type", "client_credentials")
		}, 400, "unsupported_grant_type", ""},
		{"unknown grant, JSON", func(t *testing.T, a lanyardtest.Account) request {
			return request{body: map[string]any{"grant_type": "authorization_code", "code": "x"}}
		}, 400, "unsupported_grant_type", ""},
		{"missing username", func(t *testing.T, a lanyardtest.Account) request {
			return form("grant_type", "password", "password", a.Password)
		}, 400, "invalid_request", ""},
		{"missing password", func(t *testing.T, a lanyardtest.Account) request {
			return form("grant_type", "password", "username", a.Email)
		}, 400, "invalid_request", ""},
		{"wrong password", func(t *testing.T, a lanyardtest.Account) request {
			return form("grant_type", "password", "username", a.Email, "password", "not the password at all")
		}, 400, "invalid_grant", ""},
		{"unknown account", func(t *testing.T, a lanyardtest.Account) request {
			return form("grant_type", "password", "username", "nobody@example.com", "password", a.Password)
		}, 400, "invalid_grant", ""},
		{"account being deleted", func(t *testing.T, a lanyardtest.Account) request {
			setUserStatus(t, env, a.ID, "deleting")
			return form("grant_type", "password", "username", a.Email, "password", a.Password)
		}, 400, "invalid_grant", ""},
		{"duplicate parameter", func(t *testing.T, a lanyardtest.Account) request {
			return form("grant_type", "password", "grant_type", "password", "username", a.Email, "password", a.Password)
		}, 400, "invalid_request", ""},
		{"duplicate password", func(t *testing.T, a lanyardtest.Account) request {
			return form("grant_type", "password", "username", a.Email, "password", a.Password, "password", a.Password)
		}, 400, "invalid_request", ""},
		{"duplicate key, JSON", func(t *testing.T, a lanyardtest.Account) request {
			return request{body: lanyardtest.Raw{ContentType: "application/json",
				Body: `{"grant_type":"password","username":"` + a.Email + `","password":"x","password":"` + a.Password + `"}`}}
		}, 400, "invalid_request", ""},
		{"malformed form", func(t *testing.T, a lanyardtest.Account) request {
			return request{body: lanyardtest.Raw{ContentType: "application/x-www-form-urlencoded", Body: "grant_type=password&username=%zz&password=x"}}
		}, 400, "invalid_request", ""},
		{"malformed JSON", func(t *testing.T, a lanyardtest.Account) request {
			return request{body: lanyardtest.Raw{ContentType: "application/json", Body: `{"grant_type":"password",`}}
		}, 400, "invalid_request", ""},
		{"JSON that is not an object", func(t *testing.T, a lanyardtest.Account) request {
			return request{body: lanyardtest.Raw{ContentType: "application/json", Body: `["password"]`}}
		}, 400, "invalid_request", ""},
		{"a number for username", func(t *testing.T, a lanyardtest.Account) request {
			return request{body: map[string]any{"grant_type": "password", "username": 5, "password": a.Password}}
		}, 400, "invalid_request", ""},
		{"empty body", func(t *testing.T, a lanyardtest.Account) request {
			return request{body: lanyardtest.Raw{ContentType: "application/x-www-form-urlencoded", Body: ""}}
		}, 400, "invalid_request", ""},
		{"wrong content type", func(t *testing.T, a lanyardtest.Account) request {
			return request{body: lanyardtest.Raw{ContentType: "text/plain", Body: "grant_type=password&username=" + a.Email + "&password=" + a.Password}}
		}, 415, "invalid_request", ""},
		{"body over 64 KiB", func(t *testing.T, a lanyardtest.Account) request {
			return form("grant_type", "password", "username", a.Email, "password", a.Password, "padding", strings.Repeat("x", 70<<10))
		}, 413, "invalid_request", ""},
		{"invalid scope", func(t *testing.T, a lanyardtest.Account) request {
			return form("grant_type", "password", "username", a.Email, "password", a.Password, "scope", `read "all"`)
		}, 400, "invalid_scope", ""},
		{"missing refresh_token", func(t *testing.T, a lanyardtest.Account) request {
			return form("grant_type", "refresh_token")
		}, 400, "invalid_request", ""},
		{"spent refresh token", func(t *testing.T, a lanyardtest.Account) request {
			next := rotate(t, env, "first refresh", a.Refresh, a.ID)
			rotate(t, env, "second refresh", next.RefreshToken, a.ID)
			return form("grant_type", "refresh_token", "refresh_token", a.Refresh)
		}, 400, "invalid_grant", ""},
		{"unknown refresh token", func(t *testing.T, a lanyardtest.Account) request {
			return form("grant_type", "refresh_token", "refresh_token", "0123456789abcdef01234567.bm90IGEgc2VjcmV0")
		}, 400, "invalid_grant", ""},
		{"refresh token of a logged-out session", func(t *testing.T, a lanyardtest.Account) request {
			env.Do("POST", "/api/auth/logout", nil, "Bearer", a.Access).Must(t, http.StatusNoContent)
			return form("grant_type", "refresh_token", "refresh_token", a.Refresh)
		}, 400, "invalid_grant", ""},
		{"bad client secret via Basic", func(t *testing.T, a lanyardtest.Account) request {
			r := form("grant_type", "password", "username", a.Email, "password", a.Password)
			r.headers = []string{"Authorization", basic(svc, "not-its-secret")}
			return r
		}, 401, "invalid_client", "Basic"},
		{"bad client secret in the body", func(t *testing.T, a lanyardtest.Account) request {
			return form("grant_type", "refresh_token", "refresh_token", a.Refresh, "client_id", svc, "client_secret", "not-its-secret")
		}, 401, "invalid_client", ""},
		{"a secret with an unknown client_id via Basic", func(t *testing.T, a lanyardtest.Account) request {
			r := form("grant_type", "password", "username", a.Email, "password", a.Password)
			r.headers = []string{"Authorization", basic("some-client", "not-its-secret")}
			return r
		}, 401, "invalid_client", "Basic"},
		{"a secret with an unknown client_id in the body", func(t *testing.T, a lanyardtest.Account) request {
			return form("grant_type", "password", "username", a.Email, "password", a.Password, "client_id", "some-client", "client_secret", "not-its-secret")
		}, 401, "invalid_client", ""},
		{"a removed client's secret", func(t *testing.T, a lanyardtest.Account) request {
			r := form("grant_type", "password", "username", a.Email, "password", a.Password)
			r.headers = []string{"Authorization", basic(gone, goneSecret)}
			return r
		}, 401, "invalid_client", "Basic"},
		{"client secret without client_id", func(t *testing.T, a lanyardtest.Account) request {
			return form("grant_type", "refresh_token", "refresh_token", a.Refresh, "client_secret", "not-its-secret")
		}, 401, "invalid_client", ""},
		{"malformed Basic credentials", func(t *testing.T, a lanyardtest.Account) request {
			r := form("grant_type", "password", "username", a.Email, "password", a.Password)
			r.headers = []string{"Authorization", "Basic !!!"}
			return r
		}, 401, "invalid_client", "Basic"},
		{"Basic and a secret in the body", func(t *testing.T, a lanyardtest.Account) request {
			r := form("grant_type", "password", "username", a.Email, "password", a.Password, "client_secret", "x")
			r.headers = []string{"Authorization", basic("some-client", "")}
			return r
		}, 400, "invalid_request", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := env.Register("ada")
			req := tt.req(t, a)
			r := env.Do("POST", "/api/auth/token", req.body, req.headers...)
			wantTokenError(t, r, "POST /api/auth/token, "+tt.name, tt.status, tt.code)
			if got := r.Header.Get("WWW-Authenticate"); tt.challenge == "" && got != "" || !strings.HasPrefix(got, tt.challenge) {
				t.Errorf("WWW-Authenticate = %q; want %q", got, tt.challenge)
			}
			for _, secret := range []string{a.Password, a.Refresh, a.Email} {
				if bytes.Contains(r.Body, []byte(secret)) {
					t.Errorf("body %s echoes what was sent", r.Body)
				}
			}
		})
	}
}

// addClient registers a service client and returns its id and secret.
func addClient(t *testing.T, env *lanyardtest.Env, name string) (id, secret string) {
	t.Helper()
	c, s, err := env.App.Clients.Add(context.Background(), name)
	if err != nil {
		t.Fatalf("add client: %v", err)
	}
	return c.ID, string(s)
}

// formOf is a form body of name, value pairs; a name may repeat.
func formOf(params ...string) lanyardtest.Raw {
	var parts []string
	for i := 0; i+1 < len(params); i += 2 {
		parts = append(parts, url.QueryEscape(params[i])+"="+url.QueryEscape(params[i+1]))
	}
	return lanyardtest.Raw{ContentType: "application/x-www-form-urlencoded", Body: strings.Join(parts, "&")}
}

// TestToken_RefusedCredentialsAreOneAnswer: a wrong password, an unknown email or
// username, an account being deleted, and a spent, unknown or expired refresh token
// all answer the very same body, so nothing tells an account's existence apart.
func TestToken_RefusedCredentialsAreOneAnswer(t *testing.T) {
	t.Parallel()
	clock := lanyardtest.NewClockAt(clockStart)
	env := lanyardtest.New(t, lanyardtest.WithClock(clock.Now))
	a, gone, old := env.Register("ada"), env.Register("gone"), env.Register("old")
	setUserStatus(t, env, gone.ID, "deleting")
	next := rotate(t, env, "first refresh", a.Refresh, a.ID)
	rotate(t, env, "second refresh", next.RefreshToken, a.ID)

	answers := map[string]*lanyardtest.Response{
		"wrong password":          tokenForm(env, []string{"grant_type", "password", "username", a.Email, "password", "not the password at all"}),
		"unknown email":           tokenForm(env, []string{"grant_type", "password", "username", "nobody@example.com", "password", a.Password}),
		"unknown username":        tokenForm(env, []string{"grant_type", "password", "username", "nobody", "password", a.Password}),
		"account being deleted":   tokenForm(env, []string{"grant_type", "password", "username", gone.Email, "password", gone.Password}),
		"unknown refresh token":   tokenForm(env, []string{"grant_type", "refresh_token", "refresh_token", "not-a-token"}),
		"wrong password, as JSON": env.Do("POST", "/api/auth/token", map[string]any{"grant_type": "password", "username": a.Email, "password": "nope nope nope"}),
	}
	clock.Set(clockStart.Add(31 * 24 * time.Hour))
	answers["expired refresh token"] = tokenForm(env, []string{"grant_type", "refresh_token", "refresh_token", old.Refresh})
	answers["spent refresh token"] = tokenForm(env, []string{"grant_type", "refresh_token", "refresh_token", a.Refresh})

	want := string(answers["wrong password"].Body)
	for what, r := range answers {
		wantTokenError(t, r, "POST /api/auth/token, "+what, http.StatusBadRequest, "invalid_grant")
		if string(r.Body) != want {
			t.Errorf("%s answers %s; a wrong password answers %s: want the same body", what, r.Body, want)
		}
	}
}

// TestToken_GrantsAnswerRFC6749Section51: both grants, form-encoded and JSON, answer
// §5.1's JSON — the pair login and refresh answer, the same user object, the scope
// asked for — kept out of caches, and the tokens work.
func TestToken_GrantsAnswerRFC6749Section51(t *testing.T) {
	t.Parallel()
	env := lanyardtest.New(t)
	svc, secret := addClient(t, env, "svc")
	tests := []struct {
		name    string
		refresh bool
		json    bool
		scope   string
		extra   []string // more parameters
		headers []string
		byName  bool // username rather than email
	}{
		{name: "password, form"},
		{name: "password, form, by username", byName: true},
		{name: "password, JSON", json: true},
		{name: "password, form, with scope", scope: "openid profile"},
		{name: "password, JSON, with scope", json: true, scope: "read"},
		{name: "password, public client_id", extra: []string{"client_id", "my-spa"}},
		{name: "password, public client by Basic", headers: []string{"Authorization", basic("my-spa", "")}},
		{name: "password, Basic with neither id nor secret, as Swagger UI sends", headers: []string{"Authorization", "Basic Og=="}, extra: []string{"scope", ""}},
		{name: "password, registered client by Basic", headers: []string{"Authorization", basic(svc, secret)}},
		{name: "password, registered client in the body", json: true, extra: []string{"client_id", svc, "client_secret", secret}},
		{name: "password, a registered client_id without its secret is a public client", extra: []string{"client_id", svc}},
		{name: "refresh_token, registered client by Basic", refresh: true, headers: []string{"Authorization", basic(svc, secret)}},
		{name: "password, unknown parameters ignored", extra: []string{"audience", "x", "nonce", "y"}},
		{name: "refresh_token, form", refresh: true},
		{name: "refresh_token, JSON", refresh: true, json: true},
		{name: "refresh_token, with scope", refresh: true, scope: "read write"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := env.Register("ada")
			username := "u" + strings.ReplaceAll(a.ID[16:], "-", "")
			env.Do("PATCH", "/api/users/me", map[string]any{"username": username}, "Bearer", a.Access).Must(t, http.StatusOK)
			login := env.Do("POST", "/api/auth/login", map[string]any{"email": a.Email, "password": a.Password}).Must(t, http.StatusOK)
			var loginPair tokenPairBody
			login.JSON(t, &loginPair)

			params := []string{"grant_type", "password", "username", a.Email, "password", a.Password}
			if tt.byName {
				params[3] = username
			}
			if tt.refresh {
				params = []string{"grant_type", "refresh_token", "refresh_token", loginPair.RefreshToken}
			}
			if tt.scope != "" {
				params = append(params, "scope", tt.scope)
			}
			params = append(params, tt.extra...)
			var r *lanyardtest.Response
			if tt.json {
				m := map[string]any{}
				for i := 0; i+1 < len(params); i += 2 {
					m[params[i]] = params[i+1]
				}
				r = env.Do("POST", "/api/auth/token", m, tt.headers...)
			} else {
				r = tokenForm(env, params, tt.headers...)
			}
			p := decodeTokenPair(t, "POST /api/auth/token, "+tt.name, r, a.ID)
			if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type = %q; want application/json", ct)
			}
			if got := r.Header.Get("Pragma"); got != "no-cache" {
				t.Errorf("Pragma = %q; want no-cache", got)
			}
			m := r.Map(t)
			if got, ok := m["scope"]; tt.scope == "" && ok || tt.scope != "" && got != tt.scope {
				t.Errorf("scope = %v (present %v); want %q", got, ok, tt.scope)
			}
			if !reflect.DeepEqual(p.User, loginPair.User) {
				t.Errorf("user = %v; login's user = %v; want the same object", p.User, loginPair.User)
			}
			if got := meStatus(env, p.AccessToken); got != http.StatusOK {
				t.Errorf("GET /api/users/me with the access token = %d; want 200", got)
			}
			// The refresh token is the session's, for either endpoint.
			rotate(t, env, "POST /api/auth/refresh with the token endpoint's refresh token", p.RefreshToken, a.ID)
		})
	}
}

// TestToken_ReplayOfASpentRefreshTokenEndsTheSession: reuse detection holds through
// the token endpoint: a token spent before the last ends the session, its newest
// refresh token and its access tokens.
func TestToken_ReplayOfASpentRefreshTokenEndsTheSession(t *testing.T) {
	t.Parallel()
	env := lanyardtest.New(t)
	a := env.Register("ada")
	refresh := func(tok string) *lanyardtest.Response {
		return tokenForm(env, []string{"grant_type", "refresh_token", "refresh_token", tok})
	}
	b := decodeTokenPair(t, "first refresh", refresh(a.Refresh), a.ID)
	c := decodeTokenPair(t, "second refresh", refresh(b.RefreshToken), a.ID)

	wantTokenError(t, refresh(a.Refresh), "replay of the login's refresh token", http.StatusBadRequest, "invalid_grant")
	wantTokenError(t, refresh(c.RefreshToken), "the newest refresh token after the replay", http.StatusBadRequest, "invalid_grant")
	if got := meStatus(env, c.AccessToken); got != http.StatusUnauthorized {
		t.Errorf("GET /api/users/me with the newest access token after the replay = %d; want 401", got)
	}
	if n := sessionCount(t, env, a.ID); n != 0 {
		t.Errorf("sessions after the replay = %d; want 0", n)
	}
}

// TestToken_TwoConcurrentRefreshesWithinTheGraceGetTheSameSuccessor: two tabs
// refreshing one token at once through the token endpoint both get 200 with one
// successor, which is then the session's one valid token.
func TestToken_TwoConcurrentRefreshesWithinTheGraceGetTheSameSuccessor(t *testing.T) {
	t.Parallel()
	env := lanyardtest.New(t)
	a := env.Register("ada")

	answers := make([]*lanyardtest.Response, 2)
	lanyardtest.AtOnce(2, func(i int) {
		answers[i] = tokenForm(env, []string{"grant_type", "refresh_token", "refresh_token", a.Refresh})
	})
	first := decodeTokenPair(t, "concurrent refresh 1", answers[0], a.ID)
	second := decodeTokenPair(t, "concurrent refresh 2", answers[1], a.ID)
	if first.RefreshToken != second.RefreshToken {
		t.Fatalf("two concurrent refreshes returned two refresh tokens; want the same successor")
	}
	for i, p := range []tokenPairBody{first, second} {
		if got := meStatus(env, p.AccessToken); got != http.StatusOK {
			t.Errorf("GET /api/users/me with refresh %d's access token = %d; want 200", i+1, got)
		}
	}
	next := decodeTokenPair(t, "refresh of the shared successor", tokenForm(env, []string{"grant_type", "refresh_token", "refresh_token", first.RefreshToken}), a.ID)
	wantTokenError(t, tokenForm(env, []string{"grant_type", "refresh_token", "refresh_token", a.Refresh}), "the original token, two rotations old", http.StatusBadRequest, "invalid_grant")
	if got := meStatus(env, next.AccessToken); got != http.StatusUnauthorized {
		t.Errorf("GET /api/users/me after the replay ended the session = %d; want 401", got)
	}
}

// TestToken_ThrottledAsLoginIs: the password grant is the login's method, so its
// failures and login's count together, and past the limit both are refused — the
// token endpoint with 429 temporarily_unavailable and Retry-After.
func TestToken_ThrottledAsLoginIs(t *testing.T) {
	t.Parallel()
	env, _ := throttleEnv(t, lanyardtest.WithEnv("LANYARD_LOGIN_FAILURE_LIMIT", "3"))
	a := registerOnly(t, env, "ada")
	grant := func(pw string) *lanyardtest.Response {
		return tokenForm(env, []string{"grant_type", "password", "username", a.Email, "password", pw})
	}
	wantTokenError(t, grant("wrong password"), "token with a wrong password", http.StatusBadRequest, "invalid_grant")
	wantTokenError(t, grant("wrong password"), "token with a wrong password", http.StatusBadRequest, "invalid_grant")
	expect(t, loginWith(env, a.Email, "wrong password"), "login with a wrong password", http.StatusUnauthorized)

	r := grant(a.Password)
	wantTokenError(t, r, "token with the right password after 3 failures", http.StatusTooManyRequests, "temporarily_unavailable")
	if got := r.Header.Get("Retry-After"); got != "1" {
		t.Errorf("Retry-After = %q; want 1", got)
	}
	expectThrottled(t, loginWith(env, a.Email, a.Password), "login with the right password after 3 failures", 1)
}

// TestToken_StoreDownIs503TemporarilyUnavailable: an outage answers §5.2's
// temporarily_unavailable with Retry-After, and nothing of the driver.
func TestToken_StoreDownIs503TemporarilyUnavailable(t *testing.T) {
	t.Parallel()
	if !lanyardtest.Embedded() {
		t.Skip("stops the embedded store; not possible against LANYARD_TEST_MONGODB_URI")
	}
	env := lanyardtest.New(t, lanyardtest.WithOwnStore())
	a := env.Register("ada")
	env.Store.Stop()
	for what, params := range map[string][]string{
		"password grant": {"grant_type", "password", "username", a.Email, "password", a.Password},
		"refresh grant":  {"grant_type", "refresh_token", "refresh_token", a.Refresh},
	} {
		r := tokenForm(env, params)
		wantTokenError(t, r, "POST /api/auth/token, "+what+", with the store down", http.StatusServiceUnavailable, "temporarily_unavailable")
		if r.Header.Get("Retry-After") == "" {
			t.Errorf("%s with the store down: no Retry-After", what)
		}
		for _, leak := range []string{"mongodb://", "server selection", "connection refused", "127.0.0.1", "dial tcp"} {
			if strings.Contains(strings.ToLower(string(r.Body)), leak) {
				t.Errorf("%s: body %s reveals %q", what, r.Body, leak)
			}
		}
	}
	env.StartStore()
}

// TestToken_LogsHoldNoPasswordOrToken: the token endpoint's requests, answered or
// refused, log no password, token or email.
func TestToken_LogsHoldNoPasswordOrToken(t *testing.T) {
	t.Parallel()
	log := &lockedBuffer{}
	env := lanyardtest.New(t, lanyardtest.WithLog(log))
	a := env.Register("ada")
	p := decodeTokenPair(t, "password grant", tokenForm(env, []string{"grant_type", "password", "username", a.Email, "password", a.Password}), a.ID)
	q := decodeTokenPair(t, "refresh grant", tokenForm(env, []string{"grant_type", "refresh_token", "refresh_token", p.RefreshToken}), a.ID)
	wantTokenError(t, tokenForm(env, []string{"grant_type", "password", "username", a.Email, "password", "hunter2 hunter2"}), "wrong password", http.StatusBadRequest, "invalid_grant")
	wantTokenError(t, tokenForm(env, []string{"grant_type", "password", "password", "hunter2 hunter2", "password", "x"}), "repeated password", http.StatusBadRequest, "invalid_request")
	wantTokenError(t, tokenForm(env, []string{"grant_type", "password", "username", a.Email, "password", a.Password, "client_secret", "s3cr3t-value"}), "client secret", http.StatusUnauthorized, "invalid_client")
	text := log.String()
	if !strings.Contains(text, "/api/auth/token") {
		t.Fatalf("the log has no line of the token endpoint:\n%s", text)
	}
	for _, secret := range []string{a.Password, "hunter2", "s3cr3t-value", a.Email, p.AccessToken, p.RefreshToken, q.RefreshToken, q.AccessToken} {
		if strings.Contains(text, secret) {
			t.Errorf("the log holds %q", secret)
		}
	}
}

// TestToken_OpenAPIDescribesFormJSONAndRFC6749Errors: the OpenAPI document offers
// both media types and describes the errors as §5.2 bodies.
func TestToken_OpenAPIDescribesFormJSONAndRFC6749Errors(t *testing.T) {
	t.Parallel()
	env := lanyardtest.New(t)
	var doc struct {
		Paths map[string]map[string]struct {
			Security    []map[string][]string `json:"security"`
			RequestBody struct {
				Content map[string]struct {
					Schema map[string]any `json:"schema"`
				} `json:"content"`
			} `json:"requestBody"`
			Responses map[string]struct {
				Content map[string]struct {
					Schema map[string]any `json:"schema"`
				} `json:"content"`
			} `json:"responses"`
		} `json:"paths"`
		Components struct {
			Schemas map[string]struct {
				Required []string `json:"required"`
			} `json:"schemas"`
		} `json:"components"`
	}
	env.Do("GET", "/openapi.json", nil).Must(t, http.StatusOK).JSON(t, &doc)
	if req := doc.Components.Schemas["TokenRequest"].Required; !slices.Equal(req, []string{"grant_type"}) {
		t.Errorf("TokenRequest requires %q; want grant_type only", req)
	}
	op, ok := doc.Paths["/api/auth/token"]["post"]
	if !ok {
		t.Fatal("the OpenAPI document has no POST /api/auth/token")
	}
	for _, ct := range []string{"application/x-www-form-urlencoded", "application/json"} {
		if _, ok := op.RequestBody.Content[ct]; !ok {
			t.Errorf("POST /api/auth/token: no %s request body", ct)
		}
	}
	for _, status := range []string{"400", "401", "429", "503"} {
		if ref := op.Responses[status].Content["application/json"].Schema["$ref"]; ref != "#/components/schemas/TokenError" {
			t.Errorf("POST /api/auth/token %s: schema %v; want the TokenError", status, ref)
		}
	}
}
