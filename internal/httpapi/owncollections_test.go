package httpapi_test

import (
	"context"
	"net/http"
	"slices"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/lanyard/lanyard/internal/store"
)

// The relations file may not name a collection Lanyard keeps (relation.Parse asks
// store.Collections()); that only holds while the list names every collection
// Lanyard writes, which this test checks after one of each kind of write.
func TestStoreCollections_NameEveryCollectionLanyardWrites(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	a := env.Register("own")
	b := env.Register("gone")
	signUpWithUsername(t, env, "named@example.com", "named_one", goodPassword)
	expect(t, link(env, a, "google", "123"), "POST /api/users/me/linked-ids", http.StatusCreated)
	expect(t, env.Do("POST", "/api/auth/refresh", map[string]any{"refresh_token": a.Refresh}), "POST /api/auth/refresh", http.StatusOK)
	failLogins(t, env, a.Email, 1)
	failLogins(t, env, "nobody@example.com", 1)
	expect(t, env.Do("POST", "/api/auth/logout", map[string]any{"all": false}, "Bearer", b.Access), "POST /api/auth/logout", http.StatusNoContent)
	env.Login(&b)
	expect(t, env.Do("DELETE", "/api/users/me", map[string]any{"password": b.Password}, "Bearer", b.Access), "DELETE /api/users/me", http.StatusOK)

	names, err := env.DB.ListCollectionNames(context.Background(), bson.D{})
	if err != nil {
		t.Fatalf("list collections: %v", err)
	}
	own := store.Collections()
	for _, n := range names {
		if !slices.Contains(own, n) {
			t.Errorf("collection %q was written but is not in store.Collections() %q: a relations file could name it", n, own)
		}
	}
	for _, n := range []string{"users", "user_keys", "linked_ids", "linked_id_keys", "sessions", "throttle"} {
		if !slices.Contains(names, n) {
			t.Errorf("collection %q was not written; collections: %q", n, names)
		}
	}
}
