package httpapi_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/lanyard/lanyard/internal/lanyardtest"
)

// An answer that a value is taken tells the prober that someone holds it. Each account
// gets 20 such answers an hour; past them, any change that could be one is a 429,
// taken or not, so the refusal tells nothing either.
func TestConflicts_TwentyAnHourPerAccountThen429WhetherTakenOrNot(t *testing.T) {
	t.Parallel()
	type probe func(env *lanyardtest.Env, prober lanyardtest.Account, i int) *lanyardtest.Response
	patch := func(field string, taken func(victim lanyardtest.Account) string, free func(i int) string) func(victim lanyardtest.Account) (probe, probe) {
		return func(victim lanyardtest.Account) (probe, probe) {
			send := func(env *lanyardtest.Env, p lanyardtest.Account, v string) *lanyardtest.Response {
				body := map[string]any{field: v}
				if field == "email" {
					body["current_password"] = p.Password
				}
				return env.Do("PATCH", "/api/users/me", body, "Bearer", p.Access)
			}
			return func(env *lanyardtest.Env, p lanyardtest.Account, _ int) *lanyardtest.Response {
					return send(env, p, taken(victim))
				},
				func(env *lanyardtest.Env, p lanyardtest.Account, i int) *lanyardtest.Response {
					return send(env, p, free(i))
				}
		}
	}
	linkProbe := func(victim lanyardtest.Account) (probe, probe) {
		return func(env *lanyardtest.Env, p lanyardtest.Account, _ int) *lanyardtest.Response {
				return link(env, p, "google", "victim-subject")
			},
			func(env *lanyardtest.Env, p lanyardtest.Account, i int) *lanyardtest.Response {
				return link(env, p, "google", fmt.Sprintf("own-subject-%d", i))
			}
	}
	tests := []struct {
		name   string
		probes func(victim lanyardtest.Account) (taken, free probe)
		ok     int // the status of a change to a free value
	}{
		{"PATCH /api/users/me username", patch("username", func(lanyardtest.Account) string { return "Victim" }, func(i int) string { return fmt.Sprintf("prober_%d", i) }), http.StatusOK},
		{"PATCH /api/users/me email", patch("email", func(v lanyardtest.Account) string { return v.Email }, func(i int) string { return fmt.Sprintf("prober-%d@example.com", i) }), http.StatusOK},
		{"POST /api/users/me/linked-ids", linkProbe, http.StatusCreated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env, clock := throttleEnv(t)
			victim := env.Register("victim")
			env.Do("PATCH", "/api/users/me", map[string]any{"username": "victim"}, "Bearer", victim.Access).Must(t, http.StatusOK)
			link(env, victim, "google", "victim-subject").Must(t, http.StatusCreated)
			prober := env.Register("prober")
			taken, free := tt.probes(victim)

			// Changes to free values do not count.
			for i := range 5 {
				expect(t, free(env, prober, i), "change to a free value", tt.ok)
			}
			for i := range 20 {
				expect(t, taken(env, prober, i), fmt.Sprintf("taken value #%d", i+1), http.StatusConflict)
			}
			expectThrottled(t, taken(env, prober, 20), "taken value #21", 3600)
			expectThrottled(t, free(env, prober, 20), "free value after 20 conflicts", 3600)
			// Other accounts are not concerned.
			expect(t, taken(env, env.Register("other"), 0), "another account's first taken value", http.StatusConflict)

			clock.Advance(time.Hour)
			prober.Access = refreshWith(env, prober.Refresh).Must(t, http.StatusOK).Map(t)["access_token"].(string)
			expect(t, taken(env, prober, 21), "taken value an hour later", http.StatusConflict)
			expect(t, free(env, prober, 21), "free value an hour later", tt.ok)
		})
	}
}

// An admin can ask resolve who holds an external ID, so linking for other accounts
// hides nothing from them and is not limited.
func TestConflicts_AdminLinkingForAnotherAccountIsNotLimited(t *testing.T) {
	t.Parallel()
	env, _ := throttleEnv(t)
	admin := env.Register("root")
	env.Promote(admin)
	env.Login(&admin)
	holder := env.Register("holder")
	link(env, holder, "google", "held").Must(t, http.StatusCreated)
	target := env.Register("target")
	for i := range 25 {
		expect(t, env.Do("POST", "/api/users/"+target.ID+"/linked-ids", map[string]any{"provider": "google", "external_id": "held"}, "Bearer", admin.Access),
			fmt.Sprintf("admin link of a taken id #%d", i+1), http.StatusConflict)
	}
}
