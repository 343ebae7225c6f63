package httpapi_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/lanyard/lanyard/internal/lanyardtest"
)

// currentPasswordCheck is one endpoint that asks for the current password, sent with
// the access token and the X-Forwarded-For given.
type currentPasswordCheck struct {
	name string
	send func(env *lanyardtest.Env, a lanyardtest.Account, pw, xff string) *lanyardtest.Response
	ok   int // the status with the right password
}

// withXFF adds X-Forwarded-For: xff to headers, unless xff is "".
func withXFF(xff string, headers ...string) []string {
	if xff == "" {
		return headers
	}
	return append(headers, "X-Forwarded-For", xff)
}

var currentPasswordChecks = []currentPasswordCheck{
	{"PATCH /api/users/me (email change)", func(env *lanyardtest.Env, a lanyardtest.Account, pw, xff string) *lanyardtest.Response {
		return env.Do("PATCH", "/api/users/me", map[string]any{"email": "new-" + a.Email, "current_password": pw}, withXFF(xff, "Bearer", a.Access)...)
	}, http.StatusOK},
	{"PUT /api/users/me/password", func(env *lanyardtest.Env, a lanyardtest.Account, pw, xff string) *lanyardtest.Response {
		return env.Do("PUT", "/api/users/me/password", map[string]any{"current_password": pw, "new_password": "Quartz-vessel 81 drifts leeward"}, withXFF(xff, "Bearer", a.Access)...)
	}, http.StatusOK},
	{"DELETE /api/users/me", func(env *lanyardtest.Env, a lanyardtest.Account, pw, xff string) *lanyardtest.Response {
		return env.Do("DELETE", "/api/users/me", map[string]any{"password": pw}, withXFF(xff, "Bearer", a.Access)...)
	}, http.StatusOK},
}

// A stolen access token must not guess the password faster than a login can: every
// check of a current password is a login attempt to the throttle, sharing its count.
func TestCurrentPasswordChecks_ShareTheLoginFailureLimitAndAre429PastIt(t *testing.T) {
	t.Parallel()
	const thief = "203.0.113.66"
	for _, c := range currentPasswordChecks {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			env, _ := throttleEnv(t,
				lanyardtest.WithEnv("LANYARD_LOGIN_FAILURE_LIMIT", "3"),
				lanyardtest.WithEnv("LANYARD_TRUSTED_PROXIES", "127.0.0.1/32"))
			a := env.Register("ada") // logs in from the proxy's own address, which the account now knows
			expect(t, loginFrom(env, a.Email, "wrong password", thief), "login with a wrong password", http.StatusUnauthorized)
			for i := range 2 {
				expect(t, c.send(env, a, "wrong password", thief), fmt.Sprintf("%s with a wrong password #%d", c.name, i+1), http.StatusUnprocessableEntity)
			}
			expectThrottled(t, c.send(env, a, a.Password, thief), c.name+" with the right password after 3 failures", 1)
			expectThrottled(t, loginFrom(env, a.Email, a.Password, thief), "login with the right password after 3 failures", 1)
			for _, other := range currentPasswordChecks {
				expectThrottled(t, other.send(env, a, a.Password, thief), other.name+" with the right password after 3 failures", 1)
			}
			// Nothing was changed, and the owner, from the address the account knows, is
			// not locked out by the thief's guesses.
			expect(t, loginWith(env, a.Email, a.Password), "the owner's login from the known address", http.StatusOK)
			expect(t, c.send(env, a, a.Password, ""), c.name+" by the owner from the known address", c.ok)
		})
	}
}
