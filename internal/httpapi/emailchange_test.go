package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/lanyard/lanyard/internal/lanyardtest"
)

func changeEmail(env *lanyardtest.Env, a lanyardtest.Account, email string) *lanyardtest.Response {
	return env.Do("PATCH", "/api/users/me", map[string]any{"email": email, "current_password": a.Password}, "Bearer", a.Access)
}

// An email change waits for the link mailed to the new address; the old address is
// told; confirming makes the new address the login, verified, and frees the old one.
func TestEmailChange_TheNewAddressConfirmsAndTheOldIsTold(t *testing.T) {
	t.Parallel()
	env, mb, _ := verifyEnv(t)
	a := registerWithMail(t, env, "ada@example.com")
	mb.WaitFor(t, "ada@example.com") // the registration's verification mail

	r := changeEmail(env, a, " Ada.New@Example.com ").Must(t, http.StatusOK)
	if u := r.Map(t); u["email"] != "ada@example.com" || u["pending_email"] != "ada.new@example.com" || u["email_verified"] != false {
		t.Fatalf("PATCH /api/users/me email = %s; want email unchanged, pending_email ada.new@example.com", r.Body)
	}
	// Until it is confirmed, the old address is the login.
	env.Do("POST", "/api/auth/login", map[string]any{"email": "ada@example.com", "password": a.Password}).Must(t, http.StatusOK)
	problem(t, env.Do("POST", "/api/auth/login", map[string]any{"email": "ada.new@example.com", "password": a.Password}), "login with the pending email", http.StatusUnauthorized)

	notice := mb.WaitFor(t, "ada@example.com")
	if !strings.Contains(notice.Text, "ada.new@example.com") {
		t.Errorf("the notice to the old address does not name the new one: %q", notice.Text)
	}
	if strings.Contains(notice.Text, "token=") {
		t.Errorf("the notice to the old address carries a link with a token: %q", notice.Text)
	}
	confirm := mb.WaitFor(t, "ada.new@example.com")
	mailLinkPath(t, env, confirm, "/verify-email")

	r = verifyToken(env, confirm.Token(t)).Must(t, http.StatusOK)
	if u := r.Map(t); u["email"] != "ada.new@example.com" || u["pending_email"] != nil || u["email_verified"] != true {
		t.Fatalf("POST /api/auth/verify-email = %s; want email ada.new@example.com, verified, nothing pending", r.Body)
	}
	env.Do("POST", "/api/auth/login", map[string]any{"email": "ada.new@example.com", "password": a.Password}).Must(t, http.StatusOK)
	problem(t, env.Do("POST", "/api/auth/login", map[string]any{"email": "ada@example.com", "password": a.Password}), "login with the old email", http.StatusUnauthorized)
	env.Do("POST", "/api/auth/register", map[string]any{"email": "ada@example.com", "password": a.Password}).Must(t, http.StatusCreated)
	problem(t, verifyToken(env, confirm.Token(t)), "the confirmation again", http.StatusBadRequest)
}

// An address pending for one account is not held by it: another may register it, and
// the confirmation then is 409 email-taken; the account keeps its email and the change
// is dropped.
func TestEmailChange_TakenMeanwhileIs409AndChangesNothing(t *testing.T) {
	t.Parallel()
	env, mb, _ := verifyEnv(t)
	a := registerWithMail(t, env, "ada@example.com")
	changeEmail(env, a, "wanted@example.com").Must(t, http.StatusOK)
	confirm := mb.WaitFor(t, "wanted@example.com")

	env.Do("POST", "/api/auth/register", map[string]any{"email": "wanted@example.com", "password": a.Password}).Must(t, http.StatusCreated)
	p := problem(t, verifyToken(env, confirm.Token(t)), "POST /api/auth/verify-email of an address taken meanwhile", http.StatusConflict)
	if p.Type != "/problems/email-taken" {
		t.Errorf("taken meanwhile: type %q; want /problems/email-taken", p.Type)
	}
	me := env.Do("GET", "/api/users/me", nil, "Bearer", a.Access).Must(t, http.StatusOK).Map(t)
	if me["email"] != "ada@example.com" || me["pending_email"] != nil {
		t.Errorf("after the refused confirmation: %v; want email ada@example.com, nothing pending", me)
	}
	env.Do("POST", "/api/auth/login", map[string]any{"email": "ada@example.com", "password": a.Password}).Must(t, http.StatusOK)
}

// A later change replaces a pending one, whose link then no longer works; changing
// back to the current address drops what was pending.
func TestEmailChange_ALaterChangeReplacesThePendingOne(t *testing.T) {
	t.Parallel()
	env, mb, _ := verifyEnv(t)
	a := registerWithMail(t, env, "ada@example.com")
	changeEmail(env, a, "first@example.com").Must(t, http.StatusOK)
	first := mb.WaitFor(t, "first@example.com")
	changeEmail(env, a, "second@example.com").Must(t, http.StatusOK)
	second := mb.WaitFor(t, "second@example.com")

	problem(t, verifyToken(env, first.Token(t)), "the replaced change's link", http.StatusBadRequest)
	if u := verifyToken(env, second.Token(t)).Must(t, http.StatusOK).Map(t); u["email"] != "second@example.com" {
		t.Errorf("the later change's link: email %v; want second@example.com", u["email"])
	}

	changeEmail(env, a, "third@example.com").Must(t, http.StatusOK)
	third := mb.WaitFor(t, "third@example.com")
	if u := changeEmail(env, a, "second@example.com").Must(t, http.StatusOK).Map(t); u["pending_email"] != nil {
		t.Errorf("a change back to the current address: pending_email %v; want none", u["pending_email"])
	}
	problem(t, verifyToken(env, third.Token(t)), "the link of a change dropped", http.StatusBadRequest)
}
