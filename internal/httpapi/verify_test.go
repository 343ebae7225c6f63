package httpapi_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/lanyard/lanyard/internal/lanyardtest"
)

// verifyEnv is the service sending its mail to a mailbox of the test's, on a clock the
// test moves.
func verifyEnv(t *testing.T, opts ...lanyardtest.Option) (*lanyardtest.Env, *lanyardtest.Mailbox, *lanyardtest.Clock) {
	t.Helper()
	mb := lanyardtest.NewMailbox(t)
	clock := lanyardtest.NewClockAt(clockStart)
	env := lanyardtest.New(t, append([]lanyardtest.Option{lanyardtest.WithMailbox(mb), lanyardtest.WithClock(clock.Now)}, opts...)...)
	return env, mb, clock
}

// mailLinkPath is the path and query of a mail's link, to follow it on the test's
// server (the link itself names LANYARD_PUBLIC_URL).
func mailLinkPath(t *testing.T, env *lanyardtest.Env, m *lanyardtest.Received, page string) string {
	t.Helper()
	link := m.Link(t)
	if want := env.Config.PublicURL + page + "?token="; !strings.HasPrefix(link, want) {
		t.Fatalf("the mail's link starts %.40q…; want %q", link, want)
	}
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	return u.RequestURI()
}

func verifyToken(env *lanyardtest.Env, tok string) *lanyardtest.Response {
	return env.Do("POST", "/api/auth/verify-email", map[string]any{"token": tok})
}

// registerWithMail registers email and logs in, without reading its mail.
func registerWithMail(t *testing.T, env *lanyardtest.Env, email string) lanyardtest.Account {
	t.Helper()
	a := lanyardtest.Account{Email: email, Password: lanyardtest.DefaultPassword}
	r := env.Do("POST", "/api/auth/register", map[string]any{"email": email, "password": a.Password}).Must(t, http.StatusCreated)
	a.ID, _ = r.Map(t)["id"].(string)
	env.Login(&a)
	return a
}

func TestVerification_TheMailOfARegistrationVerifiesTheEmailOnce(t *testing.T) {
	t.Parallel()
	env, mb, _ := verifyEnv(t)
	a := registerWithMail(t, env, "ada@example.com")
	m := mb.WaitFor(t, "ada@example.com")
	if got := m.Header.Get("Subject"); got == "" {
		t.Errorf("verification mail has no subject")
	}
	path := mailLinkPath(t, env, m, "/verify-email")

	// Following the link shows a page and spends nothing.
	for range 2 {
		env.Do("GET", path, nil).Must(t, http.StatusOK)
	}
	if me := env.Do("GET", "/api/users/me", nil, "Bearer", a.Access).Must(t, http.StatusOK).Map(t); me["email_verified"] != false {
		t.Fatalf("after GET of the link: email_verified = %v; want false", me["email_verified"])
	}

	r := verifyToken(env, m.Token(t)).Must(t, http.StatusOK)
	if u := r.Map(t); u["email_verified"] != true || u["id"] != a.ID || u["email"] != a.Email {
		t.Errorf("POST /api/auth/verify-email = %s; want the user, email_verified true", r.Body)
	}
	if me := env.Do("GET", "/api/users/me", nil, "Bearer", a.Access).Must(t, http.StatusOK).Map(t); me["email_verified"] != true {
		t.Errorf("GET /api/users/me after verifying: email_verified = %v; want true", me["email_verified"])
	}

	again := problem(t, verifyToken(env, m.Token(t)), "POST /api/auth/verify-email with the spent token", http.StatusBadRequest)
	if again.Type != "/problems/token-invalid" {
		t.Errorf("spent token: type %q; want /problems/token-invalid", again.Type)
	}
	p := problem(t, env.Do("POST", "/api/users/me/email-verification", nil, "Bearer", a.Access), "POST /api/users/me/email-verification when verified", http.StatusConflict)
	if p.Type != "/problems/email-already-verified" {
		t.Errorf("already verified: type %q; want /problems/email-already-verified", p.Type)
	}
}

func TestVerification_ANewLinkOnRequestAndExpiredOrForeignTokensRefused(t *testing.T) {
	t.Parallel()
	env, mb, clock := verifyEnv(t)
	a := registerWithMail(t, env, "ada@example.com")
	first := mb.WaitFor(t, "ada@example.com")

	r := env.Do("POST", "/api/users/me/email-verification", nil, "Bearer", a.Access)
	expect(t, r, "POST /api/users/me/email-verification", http.StatusAccepted)
	if got := r.Map(t)["status"]; got != "queued" {
		t.Errorf("POST /api/users/me/email-verification = %s; want status queued", r.Body)
	}
	second := mb.WaitFor(t, "ada@example.com")
	if first.Token(t) == second.Token(t) {
		t.Fatalf("the new mail carries the same token")
	}

	// Beyond the verification's lifetime both links are refused.
	clock.Advance(24*time.Hour + time.Millisecond)
	for name, m := range map[string]*lanyardtest.Received{"first": first, "second": second} {
		p := problem(t, verifyToken(env, m.Token(t)), "POST /api/auth/verify-email, "+name+" link expired", http.StatusBadRequest)
		if p.Type != "/problems/token-invalid" {
			t.Errorf("%s link expired: type %q; want /problems/token-invalid", name, p.Type)
		}
	}
	for name, tok := range map[string]string{"unknown": strings.Repeat("A", 43), "malformed": "not a token"} {
		p := problem(t, verifyToken(env, tok), "POST /api/auth/verify-email, "+name+" token", http.StatusBadRequest)
		if p.Type != "/problems/token-invalid" || strings.Contains(p.Detail, tok) {
			t.Errorf("%s token: %+v; want /problems/token-invalid, the token not echoed", name, p)
		}
	}
	problem(t, env.Do("POST", "/api/auth/verify-email", map[string]any{}), "POST /api/auth/verify-email without a token", http.StatusUnprocessableEntity)

	// A link asked for within the lifetime works.
	clock.Advance(time.Minute)
	env.Login(&a)
	env.Do("POST", "/api/users/me/email-verification", nil, "Bearer", a.Access).Must(t, http.StatusAccepted)
	third := mb.WaitFor(t, "ada@example.com")
	clock.Advance(24*time.Hour - time.Second)
	if u := verifyToken(env, third.Token(t)).Must(t, http.StatusOK).Map(t); u["email_verified"] != true {
		t.Errorf("verify with a link within its lifetime: %v; want email_verified true", u)
	}
}

func TestVerification_RequestsAreLimitedPerAccount(t *testing.T) {
	t.Parallel()
	env, mb, clock := verifyEnv(t)
	a := registerWithMail(t, env, "ada@example.com")
	mb.WaitFor(t, "ada@example.com")
	for i := range 10 {
		env.Do("POST", "/api/users/me/email-verification", nil, "Bearer", a.Access).Must(t, http.StatusAccepted)
		mb.WaitFor(t, "ada@example.com")
		_ = i
	}
	expectThrottled(t, env.Do("POST", "/api/users/me/email-verification", nil, "Bearer", a.Access), "the 11th request within the hour", 3600)
	// Another account is not concerned.
	b := registerWithMail(t, env, "bob@example.com")
	mb.WaitFor(t, "bob@example.com")
	env.Do("POST", "/api/users/me/email-verification", nil, "Bearer", b.Access).Must(t, http.StatusAccepted)
	clock.Advance(time.Hour)
	env.Login(&a)
	env.Do("POST", "/api/users/me/email-verification", nil, "Bearer", a.Access).Must(t, http.StatusAccepted)
}
