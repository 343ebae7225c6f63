package httpapi_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/lanyard/lanyard"
	"github.com/lanyard/lanyard/internal/lanyardtest"
	"github.com/lanyard/lanyard/internal/store"
)

// An account stored without email_verified (every account before verification
// existed, and a new registration) reads as not verified; the store's typed change
// sets and clears both fields, and the User view shows them.
func TestUser_EmailVerifiedAndPendingEmailFollowTheStoredDocument(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	a := env.Register("fields")
	id, err := lanyard.ParseID(a.ID)
	if err != nil {
		t.Fatal(err)
	}
	var raw bson.M
	if !lanyardtest.RawDoc(t, env.DB, "users", bson.D{{Key: "_id", Value: bson.ObjectID(id)}}, &raw) {
		t.Fatal("registered user not stored")
	}
	for _, f := range []string{"email_verified", "pending_email"} {
		if v, ok := raw[f]; ok {
			t.Errorf("stored user has %s = %v; want it absent", f, v)
		}
	}
	me := func() map[string]any {
		t.Helper()
		return env.Do("GET", "/api/users/me", nil, "Bearer", a.Access).Must(t, http.StatusOK).Map(t)
	}
	if m := me(); m["email_verified"] != false || m["pending_email"] != nil {
		t.Errorf("GET /api/users/me = %v; want email_verified false and no pending_email", m)
	}

	yes, pending := true, "fields-new@example.com"
	if _, err := env.App.Store.UpdateUser(context.Background(), id, store.UserChange{EmailVerified: &yes, PendingEmail: &pending}, time.Now()); err != nil {
		t.Fatal(err)
	}
	if m := me(); m["email_verified"] != true || m["pending_email"] != pending || m["email"] != a.Email {
		t.Errorf("GET /api/users/me = %v; want email_verified true, pending_email %q, email %q", m, pending, a.Email)
	}
	none := ""
	if _, err := env.App.Store.UpdateUser(context.Background(), id, store.UserChange{PendingEmail: &none}, time.Now()); err != nil {
		t.Fatal(err)
	}
	if m := me(); m["email_verified"] != true || m["pending_email"] != nil {
		t.Errorf("GET /api/users/me = %v; want email_verified true and pending_email gone", m)
	}
}
