package httpapi_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/lanyard/lanyard/internal/lanyardtest"
)

// The account whose own data the password cases lean on.
const (
	policyEmail    = "zephyrine.quackenbush@example.com"
	policyUsername = "zephyrine_q"
)

// passwordCases are the passwords an attack run registered (issue 12, item 4) and
// the ones the rule must keep accepting, for an account with policyEmail and
// policyUsername.
var passwordCases = []struct {
	name string
	pw   string
	want int
}{
	{"password123", "password123", 422},
	{"Password1!", "Password1!", 422},
	{"P@ssw0rd", "P@ssw0rd", 422},
	{"Welcome1!", "Welcome1!", 422},
	{"Summer2024!", "Summer2024!", 422},
	{"Qwerty123!", "Qwerty123!", 422},
	{"the email's local part + 123", "zephyrine.quackenbush123", 422},
	{"the username + 123", policyUsername + "123", 422},
	{"the email", policyEmail, 422},
	{"eight spaces", strings.Repeat(" ", 8), 422},
	{"eight zero-width spaces", strings.Repeat("\u200b", 8), 422},
	{"fullwidth password123", "ｐａｓｓｗｏｒｄ１２３", 422},
	{"a×128", strings.Repeat("a", 128), 422},
	{"a passphrase", "correct horse battery 9", 201},
}

// tooEasyMessage is what every refused case says; it never names a list or a pattern.
func checkTooEasy(t *testing.T, req string, r *lanyardtest.Response, pw, loc string, seen *string) {
	t.Helper()
	p := problem(t, r, req, http.StatusUnprocessableEntity)
	wantLocations(t, p, req, loc)
	msg := p.Errors[0].Message
	if !strings.Contains(msg, "too easy to guess") {
		t.Errorf("%s: %s says %q; want it to say the password is too easy to guess", req, loc, msg)
	}
	for _, leak := range []string{"common", "list", "dictionary", "email", "username", "name", "keyboard", "repeat", "sequence", "date"} {
		if strings.Contains(strings.ToLower(msg), leak) {
			t.Errorf("%s: %s says %q; it must not say why (%q)", req, loc, msg, leak)
		}
	}
	if *seen != "" && msg != *seen {
		t.Errorf("%s: %s says %q, another case %q; want one message for every refusal", req, loc, msg, *seen)
	}
	*seen = msg
	if strings.TrimSpace(pw) != "" && strings.Contains(string(r.Body), pw) {
		t.Errorf("%s: problem %s echoes the password", req, r.Body)
	}
}

func TestRegister_RefusesEasyToGuessPasswords(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	var seen string
	for i, tt := range passwordCases {
		t.Run(tt.name, func(t *testing.T) {
			// Each case has an account of its own (the same local part, names and
			// username, on another domain), so one acceptance cannot hide another.
			email := strings.Replace(policyEmail, "@", fmt.Sprintf("@d%d.", i), 1)
			username := fmt.Sprintf("%s%c", policyUsername, 'a'+i)
			if strings.Contains(tt.pw, policyUsername) {
				username = policyUsername
			}
			r := env.Do("POST", "/api/auth/register", map[string]any{
				"email": email, "username": username, "password": tt.pw,
				"first_name": "Zephyrine", "last_name": "Quackenbush",
			})
			if tt.want == http.StatusCreated {
				expect(t, r, "POST /api/auth/register", http.StatusCreated)
				return
			}
			checkTooEasy(t, "POST /api/auth/register", r, tt.pw, "body.password", &seen)
		})
	}
}

func TestChangePassword_RefusesEasyToGuessPasswords(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	pw := lanyardtest.DefaultPassword
	id := signUpWithUsername(t, env, policyEmail, policyUsername, pw)
	a := lanyardtest.Account{ID: id, Email: policyEmail, Username: policyUsername, Password: pw}
	env.Login(&a)
	var seen string
	for _, tt := range passwordCases {
		t.Run(tt.name, func(t *testing.T) {
			r := changePassword(env, a.Access, pw, tt.pw)
			if r.Status == http.StatusOK {
				// Carry on with the new session, so one acceptance cannot hide another.
				pw, a.Access = tt.pw, decodeTokenPair(t, "PUT /api/users/me/password", r, id).AccessToken
			}
			if tt.want == http.StatusCreated {
				expect(t, r, "PUT /api/users/me/password", http.StatusOK)
				return
			}
			checkTooEasy(t, "PUT /api/users/me/password", r, tt.pw, "body.new_password", &seen)
		})
	}
}

func TestRegister_PasswordMinScoreIsConfigurable(t *testing.T) {
	t.Parallel()
	// At 0 every password of the right length passes; at 4 a score-3 password does not.
	lax := newEnv(t, lanyardtest.WithEnv("LANYARD_PASSWORD_MIN_SCORE", "0"))
	expect(t, lax.Do("POST", "/api/auth/register", map[string]any{"email": "lax@example.com", "password": "password123"}),
		"POST /api/auth/register with LANYARD_PASSWORD_MIN_SCORE=0", http.StatusCreated)
	strict := newEnv(t, lanyardtest.WithEnv("LANYARD_PASSWORD_MIN_SCORE", "4"))
	r := strict.Do("POST", "/api/auth/register", map[string]any{"email": "strict@example.com", "password": "a brand new password"})
	p := problem(t, r, "POST /api/auth/register with LANYARD_PASSWORD_MIN_SCORE=4", http.StatusUnprocessableEntity)
	wantLocations(t, p, "POST /api/auth/register", "body.password")
}
