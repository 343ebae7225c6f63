package httpapi_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/lanyard/lanyard"
	"github.com/lanyard/lanyard/internal/lanyardtest"
	"github.com/lanyard/lanyard/internal/store"
)

// markVerified marks an account's email verified through the store, as following
// its verification link does.
func markVerified(t *testing.T, env *lanyardtest.Env, userID string) {
	t.Helper()
	id, err := lanyard.ParseID(userID)
	if err != nil {
		t.Fatal(err)
	}
	yes := true
	if _, err := env.App.Store.UpdateUser(context.Background(), id, store.UserChange{EmailVerified: &yes}, time.Now()); err != nil {
		t.Fatal(err)
	}
}

// With LANYARD_REQUIRE_VERIFIED_EMAIL, the right password of an unverified account is
// 403 /problems/email-not-verified in every shape login takes, while a wrong password
// of that same account still gets the one 401 an unknown account gets; once the
// email is verified the password logs in.
func TestLogin_RequireVerifiedEmailRefusesOnlyTheRightPasswordOfAnUnverifiedAccount(t *testing.T) {
	t.Parallel()
	env := newEnv(t, lanyardtest.WithEnv("LANYARD_REQUIRE_VERIFIED_EMAIL", "true"))
	const pw = lanyardtest.DefaultPassword
	id := signUpWithUsername(t, env, "unverified@example.com", "unverified", pw)

	ref := env.Do("POST", "/api/auth/login", map[string]any{"email": "nobody@example.com", "password": pw})
	expect(t, ref, "POST /api/auth/login for an unknown email", http.StatusUnauthorized)
	unknown := bodyWithoutRequestID(t, ref)

	refused := []struct {
		name string
		body any
	}{
		{"by email", map[string]any{"email": "unverified@example.com", "password": pw}},
		{"by username", map[string]any{"login": "unverified", "password": pw}},
		{"OAuth2 form", lanyardtest.Form(url.Values{"username": {"unverified@example.com"}, "password": {pw}})},
	}
	for _, tt := range refused {
		r := env.Do("POST", "/api/auth/login", tt.body)
		p := problem(t, r, "POST /api/auth/login, right password, "+tt.name, http.StatusForbidden)
		if p.Type != "/problems/email-not-verified" {
			t.Errorf("POST /api/auth/login, right password, %s: type %q; want /problems/email-not-verified", tt.name, p.Type)
		}
		if strings.Contains(string(r.Body), "access_token") || strings.Contains(string(r.Body), pw) {
			t.Errorf("POST /api/auth/login, right password, %s: body %s holds a token or the password", tt.name, r.Body)
		}
	}
	wrong := env.Do("POST", "/api/auth/login", map[string]any{"email": "unverified@example.com", "password": pw + "!"})
	expect(t, wrong, "POST /api/auth/login, wrong password of the unverified account", http.StatusUnauthorized)
	if got := bodyWithoutRequestID(t, wrong); got != unknown {
		t.Errorf("wrong password of the unverified account answers\n%s\nan unknown email answers\n%s\nwant the same", got, unknown)
	}

	markVerified(t, env, id)
	env.Do("POST", "/api/auth/login", map[string]any{"email": "unverified@example.com", "password": pw}).Must(t, http.StatusOK)
}

// The token endpoint answers an unverified account's right password with RFC 6749's
// invalid_grant, whose description says why (unlike the one a wrong password gets,
// which stays the unknown account's).
func TestToken_RequireVerifiedEmailIsInvalidGrantSayingWhy(t *testing.T) {
	t.Parallel()
	env := newEnv(t, lanyardtest.WithEnv("LANYARD_REQUIRE_VERIFIED_EMAIL", "true"))
	const pw = lanyardtest.DefaultPassword
	signUpWithUsername(t, env, "unverified@example.com", "unverified", pw)

	right := tokenForm(env, []string{"grant_type", "password", "username", "unverified@example.com", "password", pw})
	e := wantTokenError(t, right, "POST /api/auth/token, right password, unverified", http.StatusBadRequest, "invalid_grant")
	if !strings.Contains(e.Description, "not verified") {
		t.Errorf("invalid_grant description %q; want it to say the email is not verified", e.Description)
	}
	wrong := tokenForm(env, []string{"grant_type", "password", "username", "unverified@example.com", "password", "not the password at all"})
	unknown := tokenForm(env, []string{"grant_type", "password", "username", "nobody@example.com", "password", pw})
	wantTokenError(t, wrong, "POST /api/auth/token, wrong password, unverified", http.StatusBadRequest, "invalid_grant")
	if string(wrong.Body) != string(unknown.Body) {
		t.Errorf("wrong password answers %s; unknown account answers %s; want the same", wrong.Body, unknown.Body)
	}
	if string(right.Body) == string(wrong.Body) {
		t.Errorf("right password of an unverified account answers as a wrong one: %s", right.Body)
	}
}

// Without LANYARD_REQUIRE_VERIFIED_EMAIL (the default) an unverified account logs in.
func TestLogin_UnverifiedAccountLogsInByDefault(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	r := env.Do("POST", "/api/auth/register", map[string]any{"email": "fresh@example.com", "password": lanyardtest.DefaultPassword}).Must(t, http.StatusCreated)
	if r.Map(t)["email_verified"] != false {
		t.Fatalf("registered user %s; want email_verified false", r.Body)
	}
	env.Do("POST", "/api/auth/login", map[string]any{"email": "fresh@example.com", "password": lanyardtest.DefaultPassword}).Must(t, http.StatusOK)
}

// End to end: under LANYARD_REQUIRE_VERIFIED_EMAIL a new account's login waits for the
// link its registration mailed; once followed, the password logs in.
func TestLogin_RequireVerifiedEmailLogsInOnceTheMailedLinkIsFollowed(t *testing.T) {
	t.Parallel()
	env, mb, _ := verifyEnv(t, lanyardtest.WithEnv("LANYARD_REQUIRE_VERIFIED_EMAIL", "true"))
	const pw = lanyardtest.DefaultPassword
	env.Do("POST", "/api/auth/register", map[string]any{"email": "ada@example.com", "password": pw}).Must(t, http.StatusCreated)
	login := func() *lanyardtest.Response {
		return env.Do("POST", "/api/auth/login", map[string]any{"email": "ada@example.com", "password": pw})
	}
	if p := problem(t, login(), "POST /api/auth/login before verifying", http.StatusForbidden); p.Type != "/problems/email-not-verified" {
		t.Errorf("before verifying: type %q; want /problems/email-not-verified", p.Type)
	}
	verifyToken(env, mb.WaitFor(t, "ada@example.com").Token(t)).Must(t, http.StatusOK)
	login().Must(t, http.StatusOK)
}
