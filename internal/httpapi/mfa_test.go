package httpapi_test

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/base64"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/lanyard/lanyard/internal/lanyardtest"
)

// codeAt is the TOTP code of secret at t, as an authenticator app computes it.
func codeAt(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatalf("totp code: %v", err)
	}
	return c
}

// wrongCode is a six-digit code that no step within the drift of at accepts.
func wrongCode(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	near := map[string]bool{}
	for d := -1; d <= 1; d++ {
		near[codeAt(t, secret, at.Add(time.Duration(d)*30*time.Second))] = true
	}
	for _, c := range []string{"000000", "111111", "222222", "333333"} {
		if !near[c] {
			return c
		}
	}
	t.Fatal("no wrong code found")
	return ""
}

// enrolTOTP starts a's enrolment and returns the secret.
func enrolTOTP(t *testing.T, env *lanyardtest.Env, a lanyardtest.Account) string {
	t.Helper()
	r := env.Do("POST", "/api/users/me/mfa/totp", nil, "Bearer", a.Access)
	expect(t, r, "POST /api/users/me/mfa/totp", http.StatusOK)
	var e struct {
		Secret string `json:"secret"`
		URI    string `json:"otpauth_uri"`
	}
	r.JSON(t, &e)
	if e.Secret == "" || !strings.HasPrefix(e.URI, "otpauth://totp/") || !strings.Contains(e.URI, "secret="+e.Secret) {
		t.Fatalf("enrolment = %s; want a secret and its otpauth://totp/ URI", r.Body)
	}
	return e.Secret
}

// confirmTOTP confirms a's pending enrolment with code.
func confirmTOTP(env *lanyardtest.Env, a lanyardtest.Account, code string) *lanyardtest.Response {
	return env.Do("POST", "/api/users/me/mfa/totp/confirm", map[string]any{"code": code}, "Bearer", a.Access)
}

// enableTOTP turns TOTP on for a and returns the secret and the recovery codes. The
// clock then moves on a step, past the confirmation's, so the next code is fresh.
func enableTOTP(t *testing.T, env *lanyardtest.Env, clock *lanyardtest.Clock, a lanyardtest.Account) (string, []string) {
	t.Helper()
	secret := enrolTOTP(t, env, a)
	r := confirmTOTP(env, a, codeAt(t, secret, clock.Now()))
	expect(t, r, "POST /api/users/me/mfa/totp/confirm", http.StatusOK)
	var out struct {
		Codes []string `json:"recovery_codes"`
	}
	r.JSON(t, &out)
	clock.Advance(30 * time.Second)
	return secret, out.Codes
}

// mfaChallenge is login's answer for an account with a second factor.
type mfaChallenge struct {
	Required  bool     `json:"mfa_required"`
	Token     string   `json:"mfa_token"`
	Methods   []string `json:"methods"`
	ExpiresIn int      `json:"expires_in"`
}

// passwordStep logs a in with the password, expecting mfa_required, and returns the
// mfa_token.
func passwordStep(t *testing.T, env *lanyardtest.Env, a lanyardtest.Account, headers ...string) string {
	t.Helper()
	r := env.Do("POST", "/api/auth/login", map[string]any{"email": a.Email, "password": a.Password}, headers...)
	expect(t, r, "login with the password", http.StatusOK)
	var c mfaChallenge
	r.JSON(t, &c)
	if !c.Required || c.Token == "" {
		t.Fatalf("login of an account with TOTP = %s; want mfa_required and an mfa_token", r.Body)
	}
	return c.Token
}

// mfaStep sends the second step of a login.
func mfaStep(env *lanyardtest.Env, tok, method, code string, headers ...string) *lanyardtest.Response {
	return env.Do("POST", "/api/auth/mfa", map[string]any{"mfa_token": tok, "method": method, "code": code}, headers...)
}

// meMFA is the mfa member of GET /api/users/me.
func meMFA(t *testing.T, env *lanyardtest.Env, access string) map[string]any {
	t.Helper()
	m := env.Do("GET", "/api/users/me", nil, "Bearer", access).Must(t, http.StatusOK).Map(t)
	mfa, ok := m["mfa"].(map[string]any)
	if !ok {
		t.Fatalf("GET /api/users/me = %v; want an mfa object", m)
	}
	return mfa
}

// TestTOTP_EnrolmentIsPendingUntilConfirmedWithTheRightCode: an enrolment changes
// nothing at login until a current code of its secret confirms it; a wrong code is
// 422 and leaves it pending; a second enrolment replaces the first's secret;
// confirmed, the account answers mfa_required with totp and recovery_code, shows
// mfa.totp, and a new enrolment is 409.
func TestTOTP_EnrolmentIsPendingUntilConfirmedWithTheRightCode(t *testing.T) {
	t.Parallel()
	env, clock := throttleEnv(t)
	a := env.Register("ada")
	if got, want := meMFA(t, env, a.Access), map[string]any{"totp": false, "passkeys": float64(0)}; !reflect.DeepEqual(got, want) {
		t.Errorf("mfa of a new account = %v; want %v", got, want)
	}
	first := enrolTOTP(t, env, a)
	if got := meMFA(t, env, a.Access)["totp"]; got != false {
		t.Errorf("mfa.totp while pending = %v; want false", got)
	}
	decodeTokenPair(t, "login while TOTP is pending", loginWith(env, a.Email, a.Password), a.ID)

	second := enrolTOTP(t, env, a)
	if second == first {
		t.Fatal("a second enrolment answered the same secret")
	}
	for what, code := range map[string]string{
		"the replaced secret's code": codeAt(t, first, clock.Now()),
		"a wrong code":               wrongCode(t, second, clock.Now()),
		"letters":                    "abcdef",
	} {
		r := confirmTOTP(env, a, code)
		expect(t, r, "confirm with "+what, http.StatusUnprocessableEntity)
		var p problemDoc
		r.JSON(t, &p)
		if !slices.Equal(p.locations(), []string{"body.code"}) {
			t.Errorf("confirm with %s: errors at %v; want body.code", what, p.locations())
		}
	}
	if got := meMFA(t, env, a.Access)["totp"]; got != false {
		t.Errorf("mfa.totp after wrong confirmations = %v; want false", got)
	}
	decodeTokenPair(t, "login after wrong confirmations", loginWith(env, a.Email, a.Password), a.ID)

	r := confirmTOTP(env, a, codeAt(t, second, clock.Now()))
	expect(t, r, "confirm with the current code", http.StatusOK)
	var out struct {
		Codes []string `json:"recovery_codes"`
	}
	r.JSON(t, &out)
	if len(out.Codes) != 10 {
		t.Errorf("confirmation gave %d recovery codes; want 10", len(out.Codes))
	}
	if slices.Sort(out.Codes); len(slices.Compact(slices.Clone(out.Codes))) != len(out.Codes) {
		t.Errorf("recovery codes repeat: %v", out.Codes)
	}
	if got := meMFA(t, env, a.Access)["totp"]; got != true {
		t.Errorf("mfa.totp after confirmation = %v; want true", got)
	}
	r = loginWith(env, a.Email, a.Password)
	expect(t, r, "login with TOTP on", http.StatusOK)
	var c mfaChallenge
	r.JSON(t, &c)
	if m := r.Map(t); m["access_token"] != nil || m["refresh_token"] != nil {
		t.Errorf("login with TOTP on answered tokens: %s", r.Body)
	}
	if !c.Required || c.Token == "" || !slices.Equal(c.Methods, []string{"totp", "recovery_code"}) || c.ExpiresIn != 300 {
		t.Errorf("login with TOTP on = %s; want mfa_required, an mfa_token, methods [totp recovery_code], expires_in 300", r.Body)
	}
	expect(t, env.Do("POST", "/api/users/me/mfa/totp", nil, "Bearer", a.Access), "enrol with TOTP on", http.StatusConflict)
	expect(t, confirmTOTP(env, a, codeAt(t, second, clock.Now())), "confirm with TOTP on", http.StatusConflict)
	// The confirmation's code is spent: it does not also log in.
	expect(t, mfaStep(env, c.Token, "totp", codeAt(t, second, clock.Now())), "the confirmation's code at login", http.StatusUnauthorized)
}

// TestTOTP_ConfirmWithoutEnrolmentIs404: there is nothing to confirm.
func TestTOTP_ConfirmWithoutEnrolmentIs404(t *testing.T) {
	t.Parallel()
	env := lanyardtest.New(t)
	a := env.Register("ada")
	expect(t, confirmTOTP(env, a, "123456"), "confirm without an enrolment", http.StatusNotFound)
	expect(t, env.Do("DELETE", "/api/users/me/mfa/totp", map[string]any{"code": "123456"}, "Bearer", a.Access), "disable with TOTP off", http.StatusNotFound)
}

// TestLogin_TOTPAcceptsOneStepOfDriftEitherSideAndNoMore: with a test clock, a code of
// the current step or of the step before or after it logs in; two steps off is 401.
func TestLogin_TOTPAcceptsOneStepOfDriftEitherSideAndNoMore(t *testing.T) {
	t.Parallel()
	env, clock := throttleEnv(t)
	for _, c := range []struct {
		offset time.Duration
		want   int
	}{
		{-60 * time.Second, http.StatusUnauthorized},
		{-30 * time.Second, http.StatusOK},
		{0, http.StatusOK},
		{30 * time.Second, http.StatusOK},
		{60 * time.Second, http.StatusUnauthorized},
	} {
		a := env.Register("ada")
		secret, _ := enableTOTP(t, env, clock, a)
		clock.Advance(5 * time.Minute) // far from the confirmation's step
		tok := passwordStep(t, env, a)
		r := mfaStep(env, tok, "totp", codeAt(t, secret, clock.Now().Add(c.offset)))
		if r.Status != c.want {
			t.Errorf("a code %v off = %d; want %d; body: %s", c.offset, r.Status, c.want, r.Body)
		}
	}
}

// TestLogin_ATOTPCodeIsNeverAcceptedTwice: a code that logged in does not log in
// again, nor does a code of an earlier step once a later one was accepted.
func TestLogin_ATOTPCodeIsNeverAcceptedTwice(t *testing.T) {
	t.Parallel()
	env, clock := throttleEnv(t)
	a := env.Register("ada")
	secret, _ := enableTOTP(t, env, clock, a)
	clock.Advance(5 * time.Minute) // no step near now has been used
	code := codeAt(t, secret, clock.Now())
	decodeTokenPair(t, "the code", mfaStep(env, passwordStep(t, env, a), "totp", code), a.ID)
	expect(t, mfaStep(env, passwordStep(t, env, a), "totp", code), "the same code again", http.StatusUnauthorized)
	expect(t, mfaStep(env, passwordStep(t, env, a), "totp", codeAt(t, secret, clock.Now().Add(-30*time.Second))),
		"the previous step's code after the current one", http.StatusUnauthorized)
	decodeTokenPair(t, "the next step's code", mfaStep(env, passwordStep(t, env, a), "totp", codeAt(t, secret, clock.Now().Add(30*time.Second))), a.ID)
	expect(t, mfaStep(env, passwordStep(t, env, a), "totp", code), "the current step's code after the next one", http.StatusUnauthorized)
}

// TestLogin_OneTOTPCodeRacingInConcurrentLoginsLogsInOnce: eight second steps, each
// with its own mfa_token, sent at once with the same code: exactly one session.
func TestLogin_OneTOTPCodeRacingInConcurrentLoginsLogsInOnce(t *testing.T) {
	t.Parallel()
	env, clock := throttleEnv(t)
	a := env.Register("ada")
	secret, _ := enableTOTP(t, env, clock, a)
	const n = 8
	toks := make([]string, n)
	for i := range toks {
		toks[i] = passwordStep(t, env, a)
	}
	code := codeAt(t, secret, clock.Now())
	statuses := make([]int, n)
	lanyardtest.AtOnce(n, func(i int) { statuses[i] = mfaStep(env, toks[i], "totp", code).Status })
	var ok, refused int
	for _, s := range statuses {
		switch s {
		case http.StatusOK:
			ok++
		case http.StatusUnauthorized:
			refused++
		}
	}
	if ok != 1 || refused != n-1 {
		t.Errorf("statuses of %d concurrent uses of one code = %v; want exactly one 200 and the rest 401", n, statuses)
	}
}

// TestLogin_RecoveryCodesEachLogInOnce: each of the ten codes logs in once (any case,
// with or without its dash), with amr pwd and otp; used, each is refused.
func TestLogin_RecoveryCodesEachLogInOnce(t *testing.T) {
	t.Parallel()
	env, clock := throttleEnv(t)
	a := env.Register("ada")
	_, codes := enableTOTP(t, env, clock, a)
	for i, code := range codes {
		spelt := code
		switch i % 3 {
		case 1:
			spelt = strings.ToUpper(code)
		case 2:
			spelt = strings.ReplaceAll(code, "-", "")
		}
		p := decodeTokenPair(t, "recovery code "+spelt, mfaStep(env, passwordStep(t, env, a), "recovery_code", spelt), a.ID)
		if got, want := amrOf(t, p.AccessToken), []any{"pwd", "otp"}; !reflect.DeepEqual(got, want) {
			t.Errorf("amr after a recovery code = %v; want %v", got, want)
		}
	}
	for _, code := range codes {
		expect(t, mfaStep(env, passwordStep(t, env, a), "recovery_code", code), "recovery code "+code+" again", http.StatusUnauthorized)
	}
	// A recovery code is no TOTP, and a TOTP-shaped guess no recovery code.
	expect(t, mfaStep(env, passwordStep(t, env, a), "recovery_code", "123456"), "a six-digit recovery code", http.StatusUnauthorized)
}

// TestLogin_ARecoveryCodeRacingInConcurrentLoginsLogsInOnce: the same recovery code
// sent in eight concurrent second steps gives exactly one session.
func TestLogin_ARecoveryCodeRacingInConcurrentLoginsLogsInOnce(t *testing.T) {
	t.Parallel()
	env, clock := throttleEnv(t)
	a := env.Register("ada")
	_, codes := enableTOTP(t, env, clock, a)
	const n = 8
	toks := make([]string, n)
	for i := range toks {
		toks[i] = passwordStep(t, env, a)
	}
	var ok atomic.Int32
	lanyardtest.AtOnce(n, func(i int) {
		if mfaStep(env, toks[i], "recovery_code", codes[0]).Status == http.StatusOK {
			ok.Add(1)
		}
	})
	if got := ok.Load(); got != 1 {
		t.Errorf("%d of %d concurrent uses of one recovery code logged in; want exactly 1", got, n)
	}
}

// TestTOTP_DisablingNeedsAValidCode: no code or a wrong one is 422 and leaves TOTP
// on; a current code turns it off (login is one step again); a recovery code does too.
func TestTOTP_DisablingNeedsAValidCode(t *testing.T) {
	t.Parallel()
	env, clock := throttleEnv(t)
	disable := func(a lanyardtest.Account, body any) *lanyardtest.Response {
		return env.Do("DELETE", "/api/users/me/mfa/totp", body, "Bearer", a.Access)
	}
	a := env.Register("ada")
	secret, codes := enableTOTP(t, env, clock, a)
	for what, body := range map[string]any{
		"no code":                    map[string]any{},
		"a wrong TOTP code":          map[string]any{"code": wrongCode(t, secret, clock.Now())},
		"a wrong recovery code":      map[string]any{"code": "aaaaa-bbbbb"},
		"the confirmation's code":    map[string]any{"code": codeAt(t, secret, clock.Now().Add(-30*time.Second))},
		"a recovery code of another": map[string]any{"code": "zzzzz-zzzzz"},
	} {
		r := disable(a, body)
		expect(t, r, "disable with "+what, http.StatusUnprocessableEntity)
		var p problemDoc
		r.JSON(t, &p)
		if !slices.Equal(p.locations(), []string{"body.code"}) {
			t.Errorf("disable with %s: errors at %v; want body.code", what, p.locations())
		}
	}
	if got := meMFA(t, env, a.Access)["totp"]; got != true {
		t.Fatalf("mfa.totp after refused disables = %v; want true", got)
	}
	expect(t, disable(a, map[string]any{"code": codeAt(t, secret, clock.Now())}), "disable with a current code", http.StatusNoContent)
	if got := meMFA(t, env, a.Access)["totp"]; got != false {
		t.Errorf("mfa.totp after disabling = %v; want false", got)
	}
	decodeTokenPair(t, "login after disabling", loginWith(env, a.Email, a.Password), a.ID)
	expect(t, disable(a, map[string]any{"code": codes[0]}), "disable again", http.StatusNotFound)

	b := env.Register("bob")
	_, bcodes := enableTOTP(t, env, clock, b)
	expect(t, disable(b, map[string]any{"code": bcodes[3]}), "disable with a recovery code", http.StatusNoContent)
	decodeTokenPair(t, "bob's login after disabling", loginWith(env, b.Email, b.Password), b.ID)

	// Audit: enabling and disabling are events of the account.
	var types []string
	for _, d := range lanyardtest.RawDocs(t, env.DB, "audit_events", bson.D{{Key: "user_id", Value: oid(t, b.ID)}}) {
		types = append(types, d["type"].(string))
		if d["type"] == "mfa.totp_disabled" {
			var with any
			switch detail := d["detail"].(type) {
			case bson.M:
				with = detail["with"]
			case bson.D:
				for _, e := range detail {
					if e.Key == "with" {
						with = e.Value
					}
				}
			}
			if with != "recovery_code" {
				t.Errorf("mfa.totp_disabled detail = %v; want with: recovery_code", d["detail"])
			}
		}
	}
	slices.Sort(types)
	if !slices.Equal(types, []string{"mfa.totp_disabled", "mfa.totp_enabled"}) {
		t.Errorf("bob's audit events = %v; want mfa.totp_enabled and mfa.totp_disabled", types)
	}
}

// TestMFA_WrongCodesCountWithWrongPasswordsInOneThrottle: with a limit of 3 from a
// stranger's address, two wrong passwords and one wrong code block the account: the
// right password and a right code are then 429, and so is a wrong code to disable
// TOTP, which counts the same. A right password does not forget the failures.
func TestMFA_WrongCodesCountWithWrongPasswordsInOneThrottle(t *testing.T) {
	t.Parallel()
	env, clock := knownEnv(t) // limit 3, X-Forwarded-For trusted
	a := registerOnly(t, env, "ada")
	a.Access = decodeTokenPair(t, "login from home", loginFrom(env, a.Email, a.Password, home), a.ID).AccessToken
	secret, _ := enableTOTP(t, env, clock, a)

	const stranger = newPlace
	xff := []string{"X-Forwarded-For", stranger}
	expect(t, loginFrom(env, a.Email, "wrong password", stranger), "a wrong password", http.StatusUnauthorized)
	first := passwordStep(t, env, a, xff...)
	second := passwordStep(t, env, a, xff...)
	expect(t, loginFrom(env, a.Email, "wrong password", stranger), "a second wrong password", http.StatusUnauthorized)
	third := passwordStep(t, env, a, xff...) // a right password forgets nothing
	expect(t, mfaStep(env, first, "totp", wrongCode(t, secret, clock.Now()), xff...), "a wrong code", http.StatusUnauthorized)
	expectThrottled(t, mfaStep(env, second, "totp", codeAt(t, secret, clock.Now()), xff...), "the right code past the limit", 1)
	expectThrottled(t, loginFrom(env, a.Email, a.Password, stranger), "the right password past the limit", 1)

	clock.Advance(2 * time.Second) // the first block is over; the next failure blocks for 2 s
	expect(t, mfaStep(env, third, "recovery_code", "aaaaa-bbbbb", xff...), "a wrong recovery code", http.StatusUnauthorized)
	expectThrottled(t, loginFrom(env, a.Email, a.Password, stranger), "the right password after another wrong code", 2)

	// Wrong codes to disable TOTP are failed logins too.
	clock.Advance(3 * time.Second)
	r := env.Do("DELETE", "/api/users/me/mfa/totp", map[string]any{"code": wrongCode(t, secret, clock.Now())}, "Bearer", a.Access, "X-Forwarded-For", stranger)
	expect(t, r, "disable with a wrong code", http.StatusUnprocessableEntity)
	expectThrottled(t, loginFrom(env, a.Email, a.Password, stranger), "the right password after a wrong disabling code", 4)
}

// TestMFA_TokenIsSingleUseExpiresAndCannotBeForged: an mfa_token buys one check —
// after a right or a wrong code it is 400 token-invalid —, expires after 300 s, and a
// made-up one is refused; a missing field or an unknown method is 422 and spends
// nothing.
func TestMFA_TokenIsSingleUseExpiresAndCannotBeForged(t *testing.T) {
	t.Parallel()
	env, clock := throttleEnv(t)
	a := env.Register("ada")
	secret, _ := enableTOTP(t, env, clock, a)
	invalid := func(r *lanyardtest.Response, what string) {
		t.Helper()
		expect(t, r, what, http.StatusBadRequest)
		var p problemDoc
		r.JSON(t, &p)
		if p.Type != "/problems/token-invalid" {
			t.Errorf("%s: type %q; want /problems/token-invalid", what, p.Type)
		}
	}

	tok := passwordStep(t, env, a)
	for what, body := range map[string]map[string]any{
		"no mfa_token":      {"method": "totp", "code": "123456"},
		"no method":         {"mfa_token": tok, "code": "123456"},
		"an unknown method": {"mfa_token": tok, "method": "sms", "code": "123456"},
		"no code":           {"mfa_token": tok, "method": "totp"},
	} {
		expect(t, env.Do("POST", "/api/auth/mfa", body), what, http.StatusUnprocessableEntity)
	}
	decodeTokenPair(t, "the token after refused bodies", mfaStep(env, tok, "totp", codeAt(t, secret, clock.Now())), a.ID)
	invalid(mfaStep(env, tok, "totp", codeAt(t, secret, clock.Now().Add(30*time.Second))), "the token again, with a fresh code")

	tok = passwordStep(t, env, a)
	expect(t, mfaStep(env, tok, "totp", wrongCode(t, secret, clock.Now())), "a wrong code", http.StatusUnauthorized)
	invalid(mfaStep(env, tok, "totp", codeAt(t, secret, clock.Now().Add(30*time.Second))), "the token after a wrong code")

	tok = passwordStep(t, env, a)
	clock.Advance(300 * time.Second)
	invalid(mfaStep(env, tok, "totp", codeAt(t, secret, clock.Now())), "the token after 300 s")

	raw := make([]byte, 32)
	rand.Read(raw)
	invalid(mfaStep(env, base64.RawURLEncoding.EncodeToString(raw), "totp", codeAt(t, secret, clock.Now())), "a made-up token")
	invalid(mfaStep(env, "not-a-token", "totp", codeAt(t, secret, clock.Now())), "a malformed token")
	decodeTokenPair(t, "a fresh token still works", mfaStep(env, passwordStep(t, env, a), "totp", codeAt(t, secret, clock.Now())), a.ID)
}

// TestToken_PasswordGrantOfAnAccountWithTOTPIsMFARequired: the token endpoint answers
// RFC 6749 §5.2's shape with error mfa_required and the mfa_token, which POST
// /api/auth/mfa takes.
func TestToken_PasswordGrantOfAnAccountWithTOTPIsMFARequired(t *testing.T) {
	t.Parallel()
	env, clock := throttleEnv(t)
	a := env.Register("ada")
	secret, _ := enableTOTP(t, env, clock, a)
	r := tokenForm(env, []string{"grant_type", "password", "username", a.Email, "password", a.Password})
	wantTokenError(t, r, "password grant with TOTP on", http.StatusBadRequest, "mfa_required")
	m := r.Map(t)
	tok, _ := m["mfa_token"].(string)
	if tok == "" || m["access_token"] != nil {
		t.Fatalf("password grant with TOTP on = %s; want an mfa_token and no access token", r.Body)
	}
	if got, want := m["methods"], []any{"totp", "recovery_code"}; !reflect.DeepEqual(got, want) {
		t.Errorf("methods = %v; want %v", got, want)
	}
	decodeTokenPair(t, "the second step", mfaStep(env, tok, "totp", codeAt(t, secret, clock.Now())), a.ID)
	wantTokenError(t, tokenForm(env, []string{"grant_type", "password", "username", a.Email, "password", "wrong password"}), "a wrong password", http.StatusBadRequest, "invalid_grant")
}

// TestMFA_AMRIsPasswordAndOTPInTheTokenRefreshAndIntrospection: the session a second
// factor starts says ["pwd","otp"] in its access tokens, after refreshes, and in the
// introspection of either token.
func TestMFA_AMRIsPasswordAndOTPInTheTokenRefreshAndIntrospection(t *testing.T) {
	t.Parallel()
	env, clock := throttleEnv(t)
	a := env.Register("ada")
	secret, _ := enableTOTP(t, env, clock, a)
	want := []any{"pwd", "otp"}
	p := decodeTokenPair(t, "login with TOTP", mfaStep(env, passwordStep(t, env, a), "totp", codeAt(t, secret, clock.Now())), a.ID)
	if got := amrOf(t, p.AccessToken); !reflect.DeepEqual(got, want) {
		t.Errorf("amr of the access token = %v; want %v", got, want)
	}
	q := decodeTokenPair(t, "refresh", refreshWith(env, p.RefreshToken), a.ID)
	if got := amrOf(t, q.AccessToken); !reflect.DeepEqual(got, want) {
		t.Errorf("amr after a refresh = %v; want %v", got, want)
	}
	c := newServiceClient(t, env)
	for what, tok := range map[string]string{"access token": q.AccessToken, "refresh token": q.RefreshToken} {
		m := introspect(t, env, c, tok)
		active(t, m, what)
		if got := m["amr"]; !reflect.DeepEqual(got, want) {
			t.Errorf("introspection of the %s: amr = %v; want %v", what, got, want)
		}
	}
}

// TestTOTP_SecretAndRecoveryCodesAreNotStoredInClear: the user document holds the
// secret sealed (neither its base32 nor its bytes appear) and the recovery codes as
// keyed hashes, pending and confirmed.
func TestTOTP_SecretAndRecoveryCodesAreNotStoredInClear(t *testing.T) {
	t.Parallel()
	env, clock := throttleEnv(t)
	a := env.Register("ada")
	raw := func() []byte {
		var doc bson.Raw
		if !lanyardtest.RawDoc(t, env.DB, "users", bson.D{{Key: "_id", Value: oid(t, a.ID)}}, &doc) {
			t.Fatal("the user is not stored")
		}
		return doc
	}
	leaks := func(doc []byte, secret string, codes []string) {
		t.Helper()
		key, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(secret)
		if err != nil {
			t.Fatal(err)
		}
		lower := strings.ToLower(string(doc))
		if strings.Contains(lower, strings.ToLower(secret)) {
			t.Error("the user document holds the TOTP secret in base32")
		}
		if strings.Contains(string(doc), string(key)) {
			t.Error("the user document holds the TOTP secret's bytes")
		}
		for _, c := range codes {
			if strings.Contains(lower, c) || strings.Contains(lower, strings.ReplaceAll(c, "-", "")) {
				t.Errorf("the user document holds recovery code %s", c)
			}
		}
	}
	pending := enrolTOTP(t, env, a)
	doc := raw()
	if !strings.Contains(bson.Raw(doc).String(), "pending") {
		t.Fatalf("no pending secret in the user document: %s", bson.Raw(doc))
	}
	leaks(doc, pending, nil)
	secret, codes := enableTOTP(t, env, clock, a)
	leaks(raw(), secret, codes)
}
