package httpapi_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/lanyard/lanyard/internal/lanyardtest"
	"github.com/lanyard/lanyard/internal/linkid"
)

// These tests leave in the store exactly what a crash between two steps of a write
// leaves, and check that it blocks nobody for longer than the grace period.

func TestCrash_RegistrationInterruptedAfterItsKeyLeavesTheEmailFree(t *testing.T) {
	t.Parallel()
	clock := lanyardtest.NewClockAt(clockStart)
	env := lanyardtest.New(t, lanyardtest.WithClock(clock.Now))
	// A registration wrote its email key, then died before writing the user.
	_, err := env.DB.Collection("user_keys").InsertOne(context.Background(), bson.M{
		"_id": "email:ada@example.com", "user_id": bson.NewObjectID(), "created_at": clockStart,
	})
	if err != nil {
		t.Fatal(err)
	}
	body := map[string]any{"email": "ada@example.com", "password": lanyardtest.DefaultPassword}
	// Within the grace period the key may belong to a registration still under way.
	env.Do("POST", "/api/auth/register", body).Must(t, http.StatusConflict)
	clock.Set(clockStart.Add(2 * time.Minute))
	env.Do("POST", "/api/auth/register", body).Must(t, http.StatusCreated)
	env.Do("POST", "/api/auth/login", map[string]any{"email": "ada@example.com", "password": lanyardtest.DefaultPassword}).Must(t, http.StatusOK)
}

func TestCrash_EmailChangeInterruptedLeavesBothEmailsUsable(t *testing.T) {
	t.Parallel()
	clock := lanyardtest.NewClockAt(clockStart)
	env := lanyardtest.New(t, lanyardtest.WithClock(clock.Now))
	a := env.Register("ada")
	// Ada's change to new@example.com claimed the new key, then died before changing
	// the user: she still logs in with her old email, and the new one is free later.
	_, err := env.DB.Collection("user_keys").InsertOne(context.Background(), bson.M{
		"_id": "email:new@example.com", "user_id": oid(t, a.ID), "created_at": clockStart,
	})
	if err != nil {
		t.Fatal(err)
	}
	env.Login(&a)
	clock.Set(clockStart.Add(2 * time.Minute))
	env.Do("POST", "/api/auth/register", map[string]any{"email": "new@example.com", "password": lanyardtest.DefaultPassword}).Must(t, http.StatusCreated)
}

func TestCrash_LinkInterruptedAfterItsKeyLeavesTheIDFree(t *testing.T) {
	t.Parallel()
	env := lanyardtest.New(t)
	a, b := env.Register("ada"), env.Register("bob")
	keys, err := linkid.NewKeys(env.Config.DataKey)
	if err != nil {
		t.Fatal(err)
	}
	// Ada's link claimed the key, then died before storing the link; her own list no
	// longer names it (the failed link took it back), so nothing holds the ID.
	_, err = env.DB.Collection("linked_id_keys").InsertOne(context.Background(), bson.M{
		"_id": keys.Lookup("google", "sub-1"), "user_id": oid(t, a.ID), "linked_id": bson.NewObjectID(), "created_at": time.Now(),
	})
	if err != nil {
		t.Fatal(err)
	}
	link(env, b, "google", "sub-1").Must(t, http.StatusCreated)
	q := "/api/linked-ids/resolve?provider=google&external_id=sub-1"
	admin := env.Register("root")
	env.Promote(admin)
	if got := env.Do("GET", q, nil, "Bearer", admin.Access).Must(t, http.StatusOK).Map(t)["user_id"]; got != b.ID {
		t.Fatalf("resolve after taking over a stale key = %v; want %s", got, b.ID)
	}
}

func TestCrash_LinkInterruptedAfterListingNeitherShowsNorBlocks(t *testing.T) {
	t.Parallel()
	clock := lanyardtest.NewClockAt(clockStart)
	env := lanyardtest.New(t, lanyardtest.WithClock(clock.Now))
	a := env.Register("ada")
	// A link put its id in Ada's list, then died before its key and document.
	dangling := bson.NewObjectIDFromTimestamp(clockStart)
	if _, err := env.DB.Collection("users").UpdateOne(context.Background(), bson.M{"_id": oid(t, a.ID)},
		bson.M{"$push": bson.M{"linked": dangling}}); err != nil {
		t.Fatal(err)
	}
	var list struct{ Items []any }
	env.Do("GET", "/api/users/me/linked-ids", nil, "Bearer", a.Access).Must(t, http.StatusOK).JSON(t, &list)
	if len(list.Items) != 0 {
		t.Fatalf("list with a dangling id = %v; want empty", list.Items)
	}
	// Once it is older than the grace period, listing drops it for good.
	clock.Set(clockStart.Add(2 * time.Minute))
	env.Do("GET", "/api/users/me/linked-ids", nil, "Bearer", a.Access).Must(t, http.StatusOK)
	var u struct {
		Linked []bson.ObjectID `bson:"linked"`
	}
	if !lanyardtest.RawDoc(t, env.DB, "users", bson.M{"_id": oid(t, a.ID)}, &u) {
		t.Fatal("user not stored")
	}
	if len(u.Linked) != 0 {
		t.Fatalf("user's list after the grace period = %v; want the dangling id dropped", u.Linked)
	}
}

func TestCrash_ChainDeleteFreesTheUsersEmailAndLinkedIDsAtOnce(t *testing.T) {
	t.Parallel()
	env := lanyardtest.New(t)
	a, b := env.Register("ada"), env.Register("bob")
	link(env, a, "google", "sub-9").Must(t, http.StatusCreated)
	env.Do("DELETE", "/api/users/me", map[string]any{"password": a.Password}, "Bearer", a.Access).Must(t, http.StatusOK)
	link(env, b, "google", "sub-9").Must(t, http.StatusCreated)
	env.Do("POST", "/api/auth/register", map[string]any{"email": a.Email, "password": lanyardtest.DefaultPassword}).Must(t, http.StatusCreated)
}
