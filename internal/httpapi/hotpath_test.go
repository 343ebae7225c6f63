package httpapi_test

import (
	"fmt"
	"net/http"
	"net/url"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/lanyard/lanyard/internal/lanyardtest"
	"github.com/lanyard/lanyard/internal/store"
)

// onlyIDFilters fails the test unless every filter the service sent is exactly
// {_id: <value>}: the one shape the embedded store answers without reading a whole
// collection. It returns how many filters it saw, so a path that sent none is noticed.
// It looks at Lanyard's own collections and at the application's collections named.
func onlyIDFilters(t *testing.T, env *lanyardtest.Env, path string, appColls ...string) int {
	t.Helper()
	seen := 0
	for _, coll := range append(store.Collections(), appColls...) {
		for _, f := range env.Commands.Filters(coll) {
			seen++
			els, err := f.Elements()
			if err != nil || len(els) != 1 || els[0].Key() != "_id" || els[0].Value().Type == bson.TypeEmbeddedDocument {
				t.Errorf("%s: filter on %s is %s; want exactly {_id: value}", path, coll, f)
			}
		}
	}
	return seen
}

func TestHotPaths_FilterOnlyByID(t *testing.T) {
	t.Parallel()
	env := lanyardtest.New(t, lanyardtest.WithEnv("LANYARD_LOGIN_FAILURE_LIMIT", "10"))
	admin := env.Register("root")
	env.Promote(admin)
	env.Login(&admin)
	a := env.Register("ada")
	env.Do("PATCH", "/api/users/me", map[string]any{"username": "ada_l"}, "Bearer", a.Access).Must(t, http.StatusOK)
	env.App.Sessions.Wait()

	var linkID, refresh string
	steps := []struct {
		name string
		run  func()
	}{
		{"login by email", func() {
			env.Do("POST", "/api/auth/login", map[string]any{"email": a.Email, "password": a.Password}).Must(t, http.StatusOK)
		}},
		{"login by username", func() {
			m := env.Do("POST", "/api/auth/login", map[string]any{"login": "ADA_L", "password": a.Password}).Must(t, http.StatusOK).Map(t)
			refresh = m["refresh_token"].(string)
		}},
		{"failed login, unknown account", func() {
			env.Do("POST", "/api/auth/login", map[string]any{"email": "nobody@example.com", "password": a.Password}).Must(t, http.StatusUnauthorized)
		}},
		{"failed login, wrong password", func() {
			env.Do("POST", "/api/auth/login", map[string]any{"email": a.Email, "password": "not the password"}).Must(t, http.StatusUnauthorized)
		}},
		{"auth load", func() { env.Do("GET", "/api/users/me", nil, "Bearer", a.Access).Must(t, http.StatusOK) }},
		{"refresh", func() {
			m := env.Do("POST", "/api/auth/refresh", map[string]any{"refresh_token": refresh}).Must(t, http.StatusOK).Map(t)
			refresh = m["refresh_token"].(string)
		}},
		{"link", func() {
			linkID = link(env, a, "google", "sub-1").Must(t, http.StatusCreated).Map(t)["id"].(string)
		}},
		{"link taken", func() { link(env, admin, "google", "sub-1").Must(t, http.StatusConflict) }},
		{"list linked ids", func() { env.Do("GET", "/api/users/me/linked-ids", nil, "Bearer", a.Access).Must(t, http.StatusOK) }},
		{"resolve", func() {
			q := url.Values{"provider": {"google"}, "external_id": {"sub-1"}}
			env.Do("GET", "/api/linked-ids/resolve?"+q.Encode(), nil, "Bearer", admin.Access).Must(t, http.StatusOK)
		}},
		{"unlink", func() {
			env.Do("DELETE", "/api/users/me/linked-ids/"+linkID, nil, "Bearer", a.Access).Must(t, http.StatusNoContent)
		}},
		{"logout", func() { env.Do("POST", "/api/auth/logout", nil, "Bearer", a.Access).Must(t, http.StatusNoContent) }},
		{"logout all", func() {
			env.Login(&a)
			env.Commands.Reset()
			env.Do("POST", "/api/auth/logout", map[string]any{"all": true}, "Bearer", a.Access).Must(t, http.StatusNoContent)
		}},
	}
	for _, s := range steps {
		env.Commands.Reset()
		s.run()
		if n := onlyIDFilters(t, env, s.name); n == 0 {
			t.Errorf("%s: no filtered command seen; the check would prove nothing", s.name)
		}
		env.App.Sessions.Wait() // background tidying is not the request's cost
	}
}

// On the embedded store this process's keyed writes go through one connection, one at
// a time, so concurrent requests queue in the driver instead of colliding on SQLite's
// write lock and sleeping in its busy handler; reads keep their own connections.
func TestEmbeddedStore_ConcurrentKeyedWritesShareOneConnection(t *testing.T) {
	t.Parallel()
	env := lanyardtest.New(t)
	if env.SQLiteFile == "" {
		t.Skip("writes are serialised only on the embedded store (SQLite)")
	}
	accounts := make([]lanyardtest.Account, 8)
	for i := range accounts {
		accounts[i] = env.Register(fmt.Sprintf("w%d", i))
	}
	env.App.Sessions.Wait()
	env.Commands.Reset()
	lanyardtest.AtOnce(len(accounts), func(i int) {
		a := accounts[i]
		env.Do("POST", "/api/auth/register", map[string]any{"email": fmt.Sprintf("new%d-%s", i, a.Email), "password": a.Password}).Must(t, http.StatusCreated)
		env.Do("POST", "/api/auth/login", map[string]any{"email": a.Email, "password": a.Password}).Must(t, http.StatusOK)
		link(env, a, "google", "sub-"+a.ID).Must(t, http.StatusCreated)
		// Enough reads that some overlap whatever the scheduling, so the pool grows.
		for range 20 {
			env.Do("GET", "/api/users/me", nil, "Bearer", a.Access).Must(t, http.StatusOK)
		}
	})
	if n := env.Commands.Connections("insert", "update", "delete", "findAndModify"); n != 1 {
		t.Errorf("concurrent keyed writes went through %d connections; want 1", n)
	}
	if n := env.Commands.Connections("find"); n < 2 {
		t.Errorf("concurrent reads went through %d connection(s); want them spread over several", n)
	}
}
