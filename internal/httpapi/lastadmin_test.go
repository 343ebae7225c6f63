package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/lanyard/lanyard/internal/lanyardtest"
)

// The last admin cannot delete itself, by either route: 409 with a problem that says
// why, and the account stays, still an admin. Once another admin exists, it can.
func TestDelete_TheLastAdminIsRefused(t *testing.T) {
	t.Parallel()
	for _, route := range []string{"me", "id"} {
		t.Run(route, func(t *testing.T) {
			t.Parallel()
			env := lanyardtest.New(t)
			root := env.Register("root")
			env.Promote(root)
			del := func(a lanyardtest.Account) *lanyardtest.Response {
				if route == "me" {
					return env.Do("DELETE", "/api/users/me", map[string]any{"password": a.Password}, "Bearer", a.Access)
				}
				return env.Do("DELETE", "/api/users/"+a.ID, nil, "Bearer", a.Access)
			}

			r := del(root).Must(t, http.StatusConflict)
			if p := r.Map(t); !strings.Contains(p["detail"].(string), "last admin") {
				t.Errorf("problem %s does not say it is the last admin", r.Body)
			}
			me := env.Do("GET", "/api/users/me", nil, "Bearer", root.Access).Must(t, http.StatusOK).Map(t)
			if me["role"] != "admin" || me["status"] != "active" {
				t.Fatalf("the last admin after the refused delete: role %v, status %v; want an active admin", me["role"], me["status"])
			}

			second := env.Register("second")
			env.Promote(second)
			del(root).Must(t, http.StatusOK)
			del(second).Must(t, http.StatusConflict) // now the last one
		})
	}
}

// An admin deletes another admin while more than one exist; a refused delete (a
// restrict relation holding documents) leaves the admin an admin.
func TestDelete_AnAdminKeepsTheRoleWhenItsDeleteIsRefused(t *testing.T) {
	t.Parallel()
	env := lanyardtest.New(t, lanyardtest.WithRelations(t, `relations:
  - {name: orders, collection: orders, parent: users, field: user_id, on_delete: restrict}
`))
	root, other := env.Register("root"), env.Register("other")
	env.Promote(root)
	env.Promote(other)
	insertMany(t, env, "orders", []any{bson.M{"user_id": oid(t, other.ID)}})
	env.Do("DELETE", "/api/users/"+other.ID, nil, "Bearer", root.Access).Must(t, http.StatusConflict)
	got := env.Do("GET", "/api/users/"+other.ID, nil, "Bearer", root.Access).Must(t, http.StatusOK).Map(t)
	if got["role"] != "admin" {
		t.Fatalf("role after a delete refused by a restrict relation = %v; want admin", got["role"])
	}
}
