package httpapi_test

import (
	"encoding/json"
	"net/http"
	"reflect"
	"slices"
	"testing"

	"github.com/descope/virtualwebauthn"

	"github.com/lanyard/lanyard/internal/lanyardtest"
)

// mfaAssertion asks for the second step's passkey options of the login tok belongs
// to and answers them with k's credential, without sending the answer.
func (k *softKey) mfaAssertion(t *testing.T, env *lanyardtest.Env, tok string) string {
	t.Helper()
	r := env.Do("POST", "/api/auth/mfa/passkey/options", map[string]any{"mfa_token": tok}).Must(t, http.StatusOK)
	opts, err := virtualwebauthn.ParseAssertionOptions(string(r.Body))
	if err != nil {
		t.Fatalf("second-step options: %v: %s", err, r.Body)
	}
	return virtualwebauthn.CreateAssertionResponse(k.rp, k.auth, k.cred, *opts)
}

func mfaPasskeyStep(env *lanyardtest.Env, tok, assertion string) *lanyardtest.Response {
	return env.Do("POST", "/api/auth/mfa", map[string]any{"mfa_token": tok, "method": "passkey", "credential": json.RawMessage(assertion)})
}

// TestPasskey_AsSecondFactorAnswersMFARequiredAndCompletesTheLogin: once an account
// holds a passkey its password alone gives no session but mfa_required with
// "passkey"; the second step's options allow only the account's own passkeys, and an
// assertion of one gives a TokenPair whose token says amr ["pwd","hwk"].
func TestPasskey_AsSecondFactorAnswersMFARequiredAndCompletesTheLogin(t *testing.T) {
	t.Parallel()
	env := passkeyEnv(t)
	a := env.Register("ada")
	k := newSoftKey()
	k.register(t, env, a, "")

	r := env.Do("POST", "/api/auth/login", map[string]any{"email": a.Email, "password": a.Password}).Must(t, http.StatusOK)
	var c mfaChallenge
	r.JSON(t, &c)
	if !c.Required || c.Token == "" || !slices.Equal(c.Methods, []string{"passkey"}) {
		t.Fatalf("login of an account with a passkey = %s; want mfa_required, an mfa_token and methods [passkey]", r.Body)
	}
	if _, ok := r.Map(t)["access_token"]; ok {
		t.Fatalf("login of an account with a passkey handed out tokens: %s", r.Body)
	}
	opts := env.Do("POST", "/api/auth/mfa/passkey/options", map[string]any{"mfa_token": c.Token}).Must(t, http.StatusOK)
	allowed, _ := publicKeyOf(t, opts)["allowCredentials"].([]any)
	if len(allowed) != 1 {
		t.Errorf("second-step options allow %d credentials; want the account's 1: %s", len(allowed), opts.Body)
	}
	pair := decodeTokenPair(t, "POST /api/auth/mfa (passkey)", mfaPasskeyStep(env, c.Token, k.mfaAssertion(t, env, c.Token)), a.ID)
	if got, want := amrOf(t, pair.AccessToken), []any{"pwd", "hwk"}; !reflect.DeepEqual(got, want) {
		t.Errorf("amr of the two-step login's token = %v; want %v", got, want)
	}
}

// TestPasskey_AsSecondFactorRefusesWhatIsNotTheAccountsOwnFreshAssertion: the
// second step takes only an assertion of the account's own passkey on the options made
// for that login — not another account's passkey, not a sign-in ceremony's assertion,
// not one on the options of another account's login, not a replay, and not without
// an assertion; each refusal spends the mfa_token.
func TestPasskey_AsSecondFactorRefusesWhatIsNotTheAccountsOwnFreshAssertion(t *testing.T) {
	t.Parallel()
	env := passkeyEnv(t)
	a, b := env.Register("ada"), env.Register("bob")
	ka, kb := newSoftKey(), newSoftKey()
	ka.register(t, env, a, "")
	kb.register(t, env, b, "")
	login := func() string {
		t.Helper()
		var c mfaChallenge
		env.Do("POST", "/api/auth/login", map[string]any{"email": a.Email, "password": a.Password}).Must(t, http.StatusOK).JSON(t, &c)
		if !c.Required {
			t.Fatal("login of an account with a passkey did not answer mfa_required")
		}
		return c.Token
	}

	tok := login()
	mustProblem(t, "another account's passkey", mfaPasskeyStep(env, tok, kb.mfaAssertion(t, env, tok)), http.StatusUnauthorized, "/problems/credentials-invalid")
	mustProblem(t, "options for the spent mfa_token", env.Do("POST", "/api/auth/mfa/passkey/options", map[string]any{"mfa_token": tok}), http.StatusBadRequest, "/problems/token-invalid")

	// The account's own passkey, on the options of another account's login.
	var bobs mfaChallenge
	env.Do("POST", "/api/auth/login", map[string]any{"email": b.Email, "password": b.Password}).Must(t, http.StatusOK).JSON(t, &bobs)
	tok = login()
	mustProblem(t, "an assertion on another login's options", mfaPasskeyStep(env, tok, ka.mfaAssertion(t, env, bobs.Token)), http.StatusBadRequest, "/problems/token-invalid")

	tok = login()
	mustProblem(t, "a sign-in ceremony's assertion", mfaPasskeyStep(env, tok, ka.assertion(t, env)), http.StatusBadRequest, "/problems/token-invalid")

	tok = login()
	fresh := ka.mfaAssertion(t, env, tok)
	decodeTokenPair(t, "POST /api/auth/mfa (passkey)", mfaPasskeyStep(env, tok, fresh), a.ID)
	tok = login()
	mustProblem(t, "a replayed assertion", mfaPasskeyStep(env, tok, fresh), http.StatusBadRequest, "/problems/token-invalid")

	tok = login()
	mustProblem(t, "no assertion", env.Do("POST", "/api/auth/mfa", map[string]any{"mfa_token": tok, "method": "passkey"}), http.StatusUnprocessableEntity, "/problems/invalid-input")
	mustProblem(t, "options for a made-up mfa_token", env.Do("POST", "/api/auth/mfa/passkey/options", map[string]any{"mfa_token": "made-up"}), http.StatusBadRequest, "/problems/token-invalid")
}
