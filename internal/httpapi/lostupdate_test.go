package httpapi_test

import (
	"net/http"
	"testing"

	"github.com/lanyard/lanyard/internal/lanyardtest"
)

// The embedded store applies an update as read-change-write; without the store's own
// serialisation, concurrent updates of one user would overwrite each other.
func TestUpdateMe_ConcurrentChangesOfDifferentFieldsAllLand(t *testing.T) {
	t.Parallel()
	env := lanyardtest.New(t)
	a := env.Register("ada")
	changes := []map[string]any{
		{"first_name": "Ada"}, {"last_name": "Lovelace"}, {"contact": "+44 1234 567890"},
		{"birthday": "1990-12-10"}, {"username": "ada_l"},
	}
	for round := range 4 {
		lanyardtest.AtOnce(len(changes), func(i int) {
			if r := env.Do("PATCH", "/api/users/me", changes[i], "Bearer", a.Access); r.Status != http.StatusOK {
				t.Errorf("round %d: PATCH %v = %d; want 200", round, changes[i], r.Status)
			}
		})
		me := env.Do("GET", "/api/users/me", nil, "Bearer", a.Access).Must(t, http.StatusOK).Map(t)
		for _, want := range []struct{ field, value string }{
			{"first_name", "Ada"}, {"last_name", "Lovelace"}, {"contact", "+441234567890"},
			{"birthday", "1990-12-10"}, {"username", "ada_l"},
		} {
			if me[want.field] != want.value {
				t.Fatalf("round %d: after concurrent PATCHes %s = %v; want %q (an update was lost)", round, want.field, me[want.field], want.value)
			}
		}
		// Reset for the next round so every round starts from absent fields.
		env.Do("PATCH", "/api/users/me", map[string]any{"first_name": nil, "last_name": nil, "contact": nil, "birthday": nil, "username": nil}, "Bearer", a.Access).Must(t, http.StatusOK)
	}
}
