package httpapi_test

import (
	"bytes"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/lanyard/lanyard/internal/lanyardtest"
	"github.com/lanyard/lanyard/internal/mail"
)

// mailEnv is a service that sends its mails to a real SMTP server of the test's.
func mailEnv(t *testing.T, opts ...lanyardtest.Option) (*lanyardtest.Env, *lanyardtest.Mailbox) {
	t.Helper()
	mb := lanyardtest.NewMailbox(t)
	return lanyardtest.New(t, append([]lanyardtest.Option{lanyardtest.WithMailbox(mb)}, opts...)...), mb
}

// registered registers an account and takes the verification mail its registration
// sends, so that the mails a test waits for next are its own.
func registered(t *testing.T, env *lanyardtest.Env, mb *lanyardtest.Mailbox, prefix string) lanyardtest.Account {
	t.Helper()
	a := env.Register(prefix)
	mb.WaitFor(t, a.Email)
	return a
}

func requestReset(env *lanyardtest.Env, email string, headers ...string) *lanyardtest.Response {
	return env.Do("POST", "/api/auth/password-reset", map[string]any{"email": email}, headers...)
}

func confirmReset(env *lanyardtest.Env, token, pw string) *lanyardtest.Response {
	return env.Do("POST", "/api/auth/password-reset/confirm", map[string]any{"token": token, "new_password": pw})
}

// resetToken requests a reset for a's email and returns the token of the link that
// arrives by mail.
func resetToken(t *testing.T, env *lanyardtest.Env, mb *lanyardtest.Mailbox, email string) string {
	t.Helper()
	requestReset(env, email).Must(t, http.StatusAccepted)
	return mb.WaitFor(t, email).Token(t)
}

func mustProblem(t *testing.T, what string, r *lanyardtest.Response, status int, typ string) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("%s = %d; want %d; body: %s", what, r.Status, status, r.Body)
	}
	if got := r.Map(t)["type"]; got != typ {
		t.Errorf("%s: type = %v; want %s", what, got, typ)
	}
}

const resetPassword = "a brand new passphrase 77"

func TestPasswordReset_MailedLinkSetsTheNewPasswordAndEndsEveryOtherSession(t *testing.T) {
	t.Parallel()
	env, mb := mailEnv(t)
	a := registered(t, env, mb, "ada")
	other := a
	env.Login(&other) // another device
	bystander := registered(t, env, mb, "bob")

	r := requestReset(env, a.Email).Must(t, http.StatusAccepted)
	if got := string(r.Body); !strings.Contains(got, `"status":"accepted"`) {
		t.Errorf("body = %s", got)
	}
	m := mb.WaitFor(t, a.Email)
	if subj := m.Header.Get("Subject"); subj != "Reset your password" {
		t.Errorf("Subject = %q", subj)
	}
	link := m.Link(t)
	if want := env.Config.PublicURL + "/reset-password?token="; !strings.HasPrefix(link, want) {
		t.Errorf("link = %q; want it under %s", link, want)
	}
	if !strings.Contains(m.HTML, m.Token(t)) {
		t.Errorf("the HTML part has no link with the token")
	}

	p := decodeTokenPair(t, "confirm", confirmReset(env, m.Token(t), resetPassword), a.ID)
	if got, want := amrOf(t, p.AccessToken), []any{"email"}; !reflect.DeepEqual(got, want) {
		t.Errorf("amr of the reset's session = %#v; want %#v", got, want)
	}
	for _, c := range []struct{ name, access, refresh string }{{"the first session", a.Access, a.Refresh}, {"another session", other.Access, other.Refresh}} {
		if got := meStatus(env, c.access); got != http.StatusUnauthorized {
			t.Errorf("GET /api/users/me with the older access token of %s = %d; want 401", c.name, got)
		}
		if got := refreshWith(env, c.refresh).Status; got != http.StatusUnauthorized {
			t.Errorf("refresh of %s = %d; want 401", c.name, got)
		}
	}
	if n := sessionCount(t, env, a.ID); n != 1 {
		t.Errorf("sessions after the reset = %d; want 1, the new one", n)
	}
	if me := env.Do("GET", "/api/users/me", nil, "Bearer", p.AccessToken).Must(t, http.StatusOK).Map(t); me["email_verified"] != true {
		t.Errorf("email_verified after the reset = %v; want true: the link reached the address", me["email_verified"])
	}
	decodeTokenPair(t, "login with the new password", loginWith(env, a.Email, resetPassword), a.ID)
	if got := loginWith(env, a.Email, a.Password).Status; got != http.StatusUnauthorized {
		t.Errorf("login with the old password = %d; want 401", got)
	}
	if got := meStatus(env, bystander.Access); got != http.StatusOK {
		t.Errorf("another user's session = %d; want 200", got)
	}
	mustProblem(t, "the same token again", confirmReset(env, m.Token(t), "yet another passphrase 88"), http.StatusBadRequest, "/problems/token-invalid")
	decodeTokenPair(t, "login after the refused second use", loginWith(env, a.Email, resetPassword), a.ID)
}

func TestPasswordReset_RefusesAnExpiredUnknownOrMalformedToken(t *testing.T) {
	t.Parallel()
	clock := lanyardtest.NewClock()
	env, mb := mailEnv(t, lanyardtest.WithClock(clock.Now))
	a := registered(t, env, mb, "ada")
	tok := resetToken(t, env, mb, a.Email)
	clock.Advance(env.Config.ResetTTL)
	mustProblem(t, "confirm after the TTL", confirmReset(env, tok, resetPassword), http.StatusBadRequest, "/problems/token-invalid")
	for _, bad := range []string{strings.Repeat("A", 43), "not a token", tok + "x"} {
		mustProblem(t, fmt.Sprintf("confirm with %q", bad), confirmReset(env, bad, resetPassword), http.StatusBadRequest, "/problems/token-invalid")
	}
	decodeTokenPair(t, "login with the old password", loginWith(env, a.Email, a.Password), a.ID)

	// Just before the TTL the link works.
	clock.Advance(time.Hour) // a new hour for the mail limit
	tok = resetToken(t, env, mb, a.Email)
	clock.Advance(env.Config.ResetTTL - time.Second)
	decodeTokenPair(t, "confirm within the TTL", confirmReset(env, tok, resetPassword), a.ID)
}

func TestPasswordReset_RefusedPasswordIs422AndKeepsTheLink(t *testing.T) {
	t.Parallel()
	env, mb := mailEnv(t)
	a := registered(t, env, mb, "ada")
	tok := resetToken(t, env, mb, a.Email)
	r := confirmReset(env, tok, "password")
	if r.Status != http.StatusUnprocessableEntity || !strings.Contains(string(r.Body), "body.new_password") {
		t.Fatalf("confirm with a weak password = %d %s; want 422 on body.new_password", r.Status, r.Body)
	}
	r = env.Do("POST", "/api/auth/password-reset/confirm", map[string]any{})
	if r.Status != http.StatusUnprocessableEntity || !strings.Contains(string(r.Body), "body.token") || !strings.Contains(string(r.Body), "body.new_password") {
		t.Fatalf("confirm with nothing = %d %s; want 422 naming both fields", r.Status, r.Body)
	}
	if got := meStatus(env, a.Access); got != http.StatusOK {
		t.Errorf("the session after a refused confirmation = %d; want 200, nothing changed", got)
	}
	decodeTokenPair(t, "confirm with a good password", confirmReset(env, tok, resetPassword), a.ID)
}

func TestPasswordReset_ConcurrentConfirmationsOfOneLinkSucceedOnce(t *testing.T) {
	t.Parallel()
	env, mb := mailEnv(t)
	a := registered(t, env, mb, "ada")
	tok := resetToken(t, env, mb, a.Email)
	var ok, invalid atomic.Int32
	lanyardtest.AtOnce(6, func(i int) {
		switch r := confirmReset(env, tok, fmt.Sprintf("%s %d", resetPassword, i)); r.Status {
		case http.StatusOK:
			ok.Add(1)
		case http.StatusBadRequest:
			invalid.Add(1)
		default:
			t.Errorf("confirm = %d %s", r.Status, r.Body)
		}
	})
	if ok.Load() != 1 || invalid.Load() != 5 {
		t.Fatalf("confirmations: %d succeeded, %d refused; want 1 and 5", ok.Load(), invalid.Load())
	}
}

func TestPasswordReset_ALinkFromBeforeAPasswordChangeIsRefused(t *testing.T) {
	t.Parallel()
	env, mb := mailEnv(t)
	a := registered(t, env, mb, "ada")
	tok := resetToken(t, env, mb, a.Email)
	changePassword(env, a.Access, a.Password, "a changed passphrase 55").Must(t, http.StatusOK)
	mustProblem(t, "confirm after a password change", confirmReset(env, tok, resetPassword), http.StatusBadRequest, "/problems/token-invalid")
}

// An unknown email, a known one and one being deleted answer the same 202 with the
// same body; only the known, active account gets a mail.
func TestPasswordReset_AnswersAlikeForUnknownAndKnownEmails(t *testing.T) {
	t.Parallel()
	env, mb := mailEnv(t)
	a := registered(t, env, mb, "ada")
	known := requestReset(env, a.Email).Must(t, http.StatusAccepted)
	unknown := requestReset(env, "nobody-"+a.Email).Must(t, http.StatusAccepted)
	if !bytes.Equal(known.Body, unknown.Body) {
		t.Errorf("bodies differ: known %s, unknown %s", known.Body, unknown.Body)
	}
	for _, h := range []string{"Content-Type", "Content-Length", "Cache-Control"} {
		if known.Header.Get(h) != unknown.Header.Get(h) {
			t.Errorf("%s: known %q, unknown %q", h, known.Header.Get(h), unknown.Header.Get(h))
		}
	}
	mb.WaitFor(t, a.Email)
	sentinel := registered(t, env, mb, "zed")
	requestReset(env, sentinel.Email).Must(t, http.StatusAccepted)
	mb.WaitFor(t, sentinel.Email) // sent after the unknown's request: had that sent one, it would be here
	resets := 0
	for _, m := range mb.All() {
		if m.Header.Get("Subject") == "Reset your password" {
			resets++
		}
	}
	if resets != 2 {
		t.Errorf("reset mails = %d; want 2 (ada's, zed's): none for the unknown email", resets)
	}
}

func TestPasswordReset_AtMostThreeMailsPerAccountPerHour(t *testing.T) {
	t.Parallel()
	clock := lanyardtest.NewClock()
	env, mb := mailEnv(t, lanyardtest.WithClock(clock.Now))
	a := registered(t, env, mb, "ada")
	first := requestReset(env, a.Email).Must(t, http.StatusAccepted)
	for i := 2; i <= 5; i++ {
		if r := requestReset(env, a.Email).Must(t, http.StatusAccepted); !bytes.Equal(r.Body, first.Body) {
			t.Errorf("request %d body = %s; want %s", i, r.Body, first.Body)
		}
	}
	for range 3 {
		mb.WaitFor(t, a.Email)
	}
	sentinel := registered(t, env, mb, "zed")
	requestReset(env, sentinel.Email).Must(t, http.StatusAccepted)
	mb.WaitFor(t, sentinel.Email)
	mb.None(t, a.Email) // the 4th and 5th sent nothing
	clock.Advance(time.Hour)
	requestReset(env, a.Email).Must(t, http.StatusAccepted)
	mb.WaitFor(t, a.Email) // a new hour, a new mail
}

func TestPasswordReset_TooManyRequestsFromOneAddressIs429(t *testing.T) {
	t.Parallel()
	env, _ := mailEnv(t, lanyardtest.WithEnv("LANYARD_TRUSTED_PROXIES", "127.0.0.1/32"))
	from := func(ip string) []string { return []string{"X-Forwarded-For", ip} }
	for i := range 20 {
		requestReset(env, fmt.Sprintf("nobody%d@example.com", i), from("203.0.113.7")...).Must(t, http.StatusAccepted)
	}
	r := requestReset(env, "nobody@example.com", from("203.0.113.7")...)
	mustProblem(t, "the 21st request from one address", r, http.StatusTooManyRequests, "/problems/throttled")
	if r.Header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	requestReset(env, "nobody@example.com", from("203.0.113.8")...).Must(t, http.StatusAccepted)
}

func TestAdminPasswordReset_MailsTheAccountALinkThatWorks(t *testing.T) {
	t.Parallel()
	env, mb := mailEnv(t)
	admin := registered(t, env, mb, "root")
	env.Promote(admin)
	env.Login(&admin)
	a := registered(t, env, mb, "ada")
	r := env.Do("POST", "/api/users/"+a.ID+"/password-reset", nil, "Bearer", admin.Access).Must(t, http.StatusAccepted)
	if !strings.Contains(string(r.Body), `"status":"accepted"`) {
		t.Errorf("body = %s", r.Body)
	}
	tok := mb.WaitFor(t, a.Email).Token(t)
	decodeTokenPair(t, "confirm", confirmReset(env, tok, resetPassword), a.ID)
	if got := meStatus(env, a.Access); got != http.StatusUnauthorized {
		t.Errorf("the account's old session after the reset = %d; want 401", got)
	}
	mustProblem(t, "an unknown account", env.Do("POST", "/api/users/"+strings.Repeat("0", 24)+"/password-reset", nil, "Bearer", admin.Access),
		http.StatusNotFound, "/problems/not-found")
	bob := registered(t, env, mb, "bob")
	mustProblem(t, "another user's call", env.Do("POST", "/api/users/"+a.ID+"/password-reset", nil, "Bearer", bob.Access),
		http.StatusForbidden, "/problems/forbidden")
}

// With the SMTP server down the request is answered all the same; the mail waits in
// the outbox and arrives once the server is back.
func TestPasswordReset_MailWaitsForTheSMTPServerToComeBack(t *testing.T) {
	t.Parallel()
	clock := lanyardtest.NewClock()
	env, mb := mailEnv(t, lanyardtest.WithClock(clock.Now), lanyardtest.WithMailPoll(20*time.Millisecond))
	a := registered(t, env, mb, "ada")
	// The verification mail is delivered once it is out of the outbox, and only then
	// is the server stopped: stopped at the end of its delivery, the server could
	// leave that mail to be tried again.
	waitUntil(t, "the verification mail out of the outbox", func() bool { return lanyardtest.RawCount(t, env.DB, "mail_outbox", bson.D{}) == 0 })
	mb.Stop()
	requestReset(env, a.Email).Must(t, http.StatusAccepted)
	waitUntil(t, "a failed attempt", func() bool {
		var m bson.M
		return lanyardtest.RawDoc(t, env.DB, "mail_outbox", bson.D{}, &m) && m["attempts"] == int32(1) && m["last_error"] != nil
	})
	mb.Start()
	clock.Advance(mail.FirstRetry)
	tok := mb.WaitFor(t, a.Email).Token(t)
	decodeTokenPair(t, "confirm", confirmReset(env, tok, resetPassword), a.ID)
	waitUntil(t, "an empty outbox", func() bool { return lanyardtest.RawCount(t, env.DB, "mail_outbox", bson.D{}) == 0 })
}

// waitUntil waits for cond, which background work makes true, for at most 15 s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for i := 0; !cond(); i++ {
		if i == 1500 {
			t.Fatalf("no %s within 15s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// The timing of a request for an unknown email and for a known one, run in
// interleaved pairs (each known request for an account of its own, so each queues a
// real mail): the median of the pairs' ratios, each pair run moments apart and so
// under the same load, must be near 1. The sender is held, so that no delivery in the
// background lands on the next request's time. It is the one test here that does not
// run in parallel: other tests' bursts would land on single requests and spread the
// ratios.
func TestPasswordReset_UnknownAndKnownEmailsTakeSimilarTime(t *testing.T) {
	env := lanyardtest.New(t, lanyardtest.WithEnv("LANYARD_TRUSTED_PROXIES", "127.0.0.1/32"), lanyardtest.WithEnv("LANYARD_TEST_MAIL_HOLD", "1"))
	const pairs = 61
	accounts := make([]lanyardtest.Account, pairs)
	for i := range accounts {
		accounts[i] = env.Register(fmt.Sprintf("t%d", i))
	}
	timed := func(email string, i int) time.Duration {
		start := time.Now()
		requestReset(env, email, "X-Forwarded-For", fmt.Sprintf("198.51.100.%d", i)).Must(t, http.StatusAccepted)
		return time.Since(start)
	}
	ratios := make([]float64, pairs)
	for i := range pairs {
		var known, unknown time.Duration
		if i%2 == 0 { // either goes first as often
			known = timed(accounts[i].Email, i)
			unknown = timed(fmt.Sprintf("nobody%d@example.com", i), i)
		} else {
			unknown = timed(fmt.Sprintf("nobody%d@example.com", i), i)
			known = timed(accounts[i].Email, i)
		}
		ratios[i] = float64(known) / float64(unknown)
	}
	if n := lanyardtest.RawCount(t, env.DB, "mail_outbox", bson.D{{Key: "kind", Value: "password_reset"}}); n != pairs {
		t.Fatalf("mails queued = %d; want %d, one per known account", n, pairs)
	}
	slices.Sort(ratios)
	ratio := ratios[pairs/2]
	t.Logf("median of known/unknown over %d pairs: %.2f (quartiles %.2f, %.2f)", pairs, ratio, ratios[pairs/4], ratios[3*pairs/4])
	if ratio < 0.67 || ratio > 1.5 {
		t.Errorf("median time of a known email's request / an unknown's = %.2f; want within 0.67-1.5", ratio)
	}
}

// The store work of a request for an unknown email and for a known one is the same,
// command for command: a count, unlike a time, holds exactly.
func TestPasswordReset_UnknownAndKnownEmailsCostTheSameStoreCommands(t *testing.T) {
	t.Parallel()
	env := lanyardtest.New(t, lanyardtest.WithEnv("LANYARD_TEST_MAIL_HOLD", "1"))
	a := env.Register("ada")
	counts := func(email string) map[string]int {
		env.Commands.Reset()
		requestReset(env, email).Must(t, http.StatusAccepted)
		out := map[string]int{"total": env.Commands.Total()}
		for _, name := range []string{"find", "findAndModify", "insert", "update", "delete", "aggregate", "count"} {
			out[name] = env.Commands.Count(name)
		}
		return out
	}
	known, unknown := counts(a.Email), counts("nobody-"+a.Email)
	if !reflect.DeepEqual(known, unknown) {
		t.Errorf("store commands: known email %v, unknown email %v; want the same", known, unknown)
	}
	if over := counts(a.Email); !reflect.DeepEqual(over, known) { // still under the 3 an hour
		t.Errorf("store commands of a second request %v; want %v", over, known)
	}
	counts(a.Email)
	if over := counts(a.Email); !reflect.DeepEqual(over, known) { // the 4th: no mail
		t.Errorf("store commands of a request over the account's limit %v; want %v", over, known)
	}
}

// TestPasswordReset_OfAnAccountWithASecondFactorStillAsksForIt: the link proves the
// mailbox, not the authenticator. Confirmed, it sets the password but answers
// mfa_required, as a login does, and only a code finishes it (amr email and otp);
// the reset page starts no session at all.
func TestPasswordReset_OfAnAccountWithASecondFactorStillAsksForIt(t *testing.T) {
	t.Parallel()
	clock := lanyardtest.NewClock()
	env, mb := mailEnv(t, lanyardtest.WithClock(clock.Now))
	a := registered(t, env, mb, "ada")
	secret, _ := enableTOTP(t, env, clock, a)

	requestReset(env, a.Email).Must(t, http.StatusAccepted)
	r := confirmReset(env, mb.WaitFor(t, a.Email).Token(t), resetPassword).Must(t, http.StatusOK)
	var c mfaChallenge
	r.JSON(t, &c)
	if !c.Required || c.Token == "" || !slices.Contains(c.Methods, "totp") {
		t.Fatalf("confirm of an account with TOTP = %s; want mfa_required with totp", r.Body)
	}
	if _, ok := r.Map(t)["access_token"]; ok {
		t.Fatalf("confirm of an account with TOTP handed out tokens: %s", r.Body)
	}
	if n := sessionCount(t, env, a.ID); n != 0 {
		t.Errorf("sessions after the confirm = %d; want 0 until the second factor", n)
	}
	p := decodeTokenPair(t, "POST /api/auth/mfa", mfaStep(env, c.Token, "totp", codeAt(t, secret, clock.Now())), a.ID)
	if got, want := amrOf(t, p.AccessToken), []any{"email", "otp"}; !reflect.DeepEqual(got, want) {
		t.Errorf("amr after the reset and the code = %v; want %v", got, want)
	}
}
