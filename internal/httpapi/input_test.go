package httpapi_test

import (
	"cmp"
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

// identifierCases are the emails, usernames and names that an attack run used to
// make lookalike accounts or names (issue 12, item 5), and the spellings the rules
// must keep accepting. want is the status; rendered is how an accepted value reads
// back ("" when it reads back as sent).
var identifierCases = []struct {
	name     string
	field    string
	value    string
	want     int
	rendered string
}{
	{"email: Cyrillic а among Latin letters", "email", "p\u0430ypal@example.com", 422, ""},
	{"email: Greek ο among Latin letters", "email", "g\u03bfogle@example.com", 422, ""},
	{"email: zero-width space", "email", "ada\u200b@example.com", 422, ""},
	{"email: zero-width joiner", "email", "ad\u200da@example.com", 422, ""},
	{"email: right-to-left override", "email", "ada\u202e@example.com", 422, ""},
	{"email: byte order mark", "email", "\ufeffada@example.com", 422, ""},
	{"email: soft hyphen", "email", "ada\u00ad@example.com", 422, ""},
	{"email: word joiner", "email", "ada\u2060@example.com", 422, ""},
	{"email: mathematical bold a", "email", "\U0001D41Ada@example.com", 422, ""},
	{"email: circled a", "email", "\u24d0da@example.com", 422, ""},
	{"email: small capital A", "email", "\u1d00da@example.com", 422, ""},
	{"email: small capital I from IPA", "email", "\u026ada@example.com", 422, ""},
	{"email: superscript two", "email", "ada\u00b2@example.com", 422, ""},
	{"email: no-break space", "email", "ada\u00a0@example.com", 422, ""},
	{"email: thin space", "email", "ada\u2009x@example.com", 422, ""},
	{"email: Braille blank", "email", "ada\u2800@example.com", 422, ""},
	{"email: Unicode hyphen", "email", "ada\u2010lovelace@example.com", 422, ""},
	{"email: modifier letter apostrophe", "email", "o\u02bcbrien@example.com", 422, ""},
	{"email: fullwidth letters", "email", "ｆｕｌｌ.ａｄａ@example.com", 201, "full.ada@example.com"},
	{"email: fullwidth throughout", "email", "ＧＲＡＣＥ＠ＥＸＡＭＰＬＥ．ＣＯＭ", 201, "grace@example.com"},
	{"email: NFD é", "email", "jose\u0301@example.com", 201, "jos\u00e9@example.com"},
	{"email: Cyrillic only", "email", "алиса@example.com", 201, ""},
	{"email: Cyrillic and digits", "email", "алиса2000@example.com", 201, ""},
	{"email: Japanese", "email", "たなか太郎@example.jp", 201, ""},
	{"email: Japanese with a prolonged sound mark", "email", "コーヒー@example.jp", 201, ""},
	{"email: German sharp s", "email", "straße@example.de", 201, ""},
	{"email: Vietnamese", "email", "nguy\u1ec5n@example.vn", 201, ""},
	{"email: Greek only", "email", "αλέξης@example.gr", 201, ""},
	{"username: fullwidth", "username", "ａｄａ_ｆｗ", 201, "ada_fw"},
	{"username: fullwidth capitals", "username", "ＧＲＡＣＥ_Ｈ", 201, "GRACE_H"},
	{"username: ASCII", "username", "Ada.L-9", 201, ""},
	{"first name: right-to-left override", "first_name", "Ada\u202eecalevoL", 422, ""},
	{"first name: left-to-right isolate", "first_name", "\u2066Ada\u2069", 422, ""},
	{"first name: byte order mark", "first_name", "\ufeffAda", 422, ""},
	{"last name: zero-width space", "last_name", "Love\u200blace", 422, ""},
	{"last name: Hangul filler", "last_name", "\u3164", 422, ""},
	{"first name: Persian with zero-width non-joiner", "first_name", "علی\u200cرضا", 201, ""},
	{"first name: accents", "first_name", "Zoë-Ångström", 201, ""},
}

func TestRegister_RefusesInvisibleAndMixedScriptIdentifiers(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	for i, tt := range identifierCases {
		t.Run(tt.name, func(t *testing.T) {
			body := map[string]any{"email": fmt.Sprintf("ident%d@example.com", i), "password": goodPassword}
			body[tt.field] = tt.value
			r := env.Do("POST", "/api/auth/register", body)
			if tt.want != http.StatusCreated {
				p := problem(t, r, "POST /api/auth/register", tt.want)
				wantLocations(t, p, "POST /api/auth/register", "body."+tt.field)
				return
			}
			expect(t, r, "POST /api/auth/register", http.StatusCreated)
			want := cmp.Or(tt.rendered, tt.value)
			if got := r.Map(t)[tt.field]; got != want {
				t.Errorf("POST /api/auth/register: %s = %q; want %q", tt.field, got, want)
			}
		})
	}
}

func TestUpdateMe_RefusesInvisibleAndMixedScriptIdentifiers(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	a := env.Register("ident")
	for _, tt := range identifierCases {
		t.Run(tt.name, func(t *testing.T) {
			before := me(t, env, a)
			body := map[string]any{tt.field: tt.value}
			if tt.field == "email" {
				body["current_password"] = a.Password
			}
			want := tt.want
			if want == http.StatusCreated {
				want = http.StatusOK
			}
			r := patchMe(t, env, a, body, want)
			if want != http.StatusOK {
				p := problem(t, r, "PATCH /api/users/me", want)
				wantLocations(t, p, "PATCH /api/users/me", "body."+tt.field)
				if got := me(t, env, a)[tt.field]; got != before[tt.field] {
					t.Errorf("after a refused PATCH /api/users/me: %s = %q; want %q as before", tt.field, got, before[tt.field])
				}
				if got := me(t, env, a)["pending_email"]; got != before["pending_email"] {
					t.Errorf("after a refused PATCH /api/users/me: pending_email = %q; want %q as before", got, before["pending_email"])
				}
				return
			}
			wantValue := cmp.Or(tt.rendered, tt.value)
			// A new email waits for its confirmation as the pending email.
			field := tt.field
			if field == "email" {
				field = "pending_email"
			}
			if got := r.Map(t)[field]; got != wantValue {
				t.Errorf("PATCH /api/users/me: %s = %q; want %q", field, got, wantValue)
			}
		})
	}
}

func TestRegister_LookalikeSpellingsOfAnAccountCollideAndLogIntoIt(t *testing.T) {
	t.Parallel()
	const (
		nfc = "jos\u00e9@example.com"
		nfd = "jose\u0301@example.com"
	)
	spellings := []struct {
		name, login string
	}{
		{"NFC é", nfc},
		{"NFD é", nfd},
		{"fullwidth letters", "ｊｏｓ\u00e9@example.com"},
		{"fullwidth throughout", "ＪＯＳ\u00c9＠ＥＸＡＭＰＬＥ．ＣＯＭ"},
		{"fullwidth and NFD", "ｊｏｓｅ\u0301@example.com"},
	}
	// Whichever spelling registers first, the others are the same account.
	for _, first := range []string{nfc, nfd} {
		t.Run("first "+map[string]string{nfc: "NFC", nfd: "NFD"}[first], func(t *testing.T) {
			t.Parallel()
			env := newEnv(t)
			id := signUpWithUsername(t, env, first, "ada_l", goodPassword)
			for _, s := range spellings {
				r := env.Do("POST", "/api/auth/register", map[string]any{"email": s.login, "password": goodPassword})
				p := problem(t, r, "POST /api/auth/register with the email spelt "+s.name, http.StatusConflict)
				wantLocations(t, p, "POST /api/auth/register", "body.email")
				decodeTokenPair(t, "POST /api/auth/login with the email spelt "+s.name,
					env.Do("POST", "/api/auth/login", map[string]any{"login": s.login, "password": goodPassword}), id)
			}
			for _, u := range []string{"ada_l", "ADA_L", "ａｄａ_ｌ", "ＡＤＡ_Ｌ"} {
				r := env.Do("POST", "/api/auth/register", map[string]any{"email": "other@example.com", "username": u, "password": goodPassword})
				p := problem(t, r, fmt.Sprintf("POST /api/auth/register with username %q", u), http.StatusConflict)
				wantLocations(t, p, "POST /api/auth/register", "body.username")
				decodeTokenPair(t, fmt.Sprintf("POST /api/auth/login with username %q", u),
					env.Do("POST", "/api/auth/login", map[string]any{"login": u, "password": goodPassword}), id)
			}
			// And another account cannot move onto them.
			b := env.Register("bob")
			for _, s := range spellings {
				r := patchMe(t, env, b, map[string]any{"email": s.login, "current_password": b.Password}, http.StatusConflict)
				wantLocations(t, problem(t, r, "PATCH /api/users/me with the email spelt "+s.name, http.StatusConflict), "PATCH /api/users/me", "body.email")
			}
			r := patchMe(t, env, b, map[string]any{"username": "ＡＤＡ_Ｌ"}, http.StatusConflict)
			wantLocations(t, problem(t, r, "PATCH /api/users/me with a fullwidth username", http.StatusConflict), "PATCH /api/users/me", "body.username")
			if n := userCount(t, env); n != 2 {
				t.Errorf("after lookalike registrations: %d users; want 2", n)
			}
		})
	}
}
