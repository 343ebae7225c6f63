package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/lanyard/lanyard/internal/lanyardtest"
)

// The application's ids, as its code wrote them.
var (
	appAda = bson.NewObjectID()
	appBob = "u-2" // the other app's string _ids
)

// fillApp writes an application's users and linked_ids as a FastAPI + PyMongo app
// does — bcrypt as bytes and as a string, ObjectId and string _ids, its own email_1
// index — into db.
func fillApp(ctx context.Context, db *mongo.Database) error {
	users := db.Collection("users")
	if _, err := users.InsertMany(ctx, []any{
		bson.D{{Key: "_id", Value: appAda}, {Key: "username", Value: "ada"}, {Key: "email", Value: "ada@example.com"},
			{Key: "password", Value: bson.Binary{Data: []byte("$2b$12$C6UzMDM.H6dfI/f/IKcEeO5dtkSqUxZyCk7D6zn.MZ4wT1ZXxmSLi")}}},
		bson.D{{Key: "_id", Value: appBob}, {Key: "username", Value: "bob"}, {Key: "email", Value: "bob@example.com"},
			{Key: "password", Value: "$2b$12$KIXQJ1dQfVQ8xk5o6p2yXOPbVhQvWQ3H7v1bqM3y0o9nT1Z5u6a8C"}, {Key: "bio", Value: "hi"}},
	}); err != nil {
		return err
	}
	if _, err := users.Indexes().CreateOne(ctx, mongo.IndexModel{Keys: bson.D{{Key: "email", Value: 1}}, Options: options.Index().SetName("email_1").SetUnique(true)}); err != nil {
		return err
	}
	_, err := db.Collection("linked_ids").InsertMany(ctx, []any{
		bson.D{{Key: "_id", Value: bson.NewObjectID()}, {Key: "user_id", Value: appAda}, {Key: "linked_id", Value: "legacy-1"}},
		bson.D{{Key: "_id", Value: bson.NewObjectID()}, {Key: "user_id", Value: appBob}, {Key: "linked_id", Value: "legacy-2"}},
	})
	return err
}

// snapshot is every document of coll in _id order and every index, as stored.
func snapshot(t *testing.T, db *mongo.Database, coll string) []byte {
	t.Helper()
	ctx := context.Background()
	var out bytes.Buffer
	cur, err := db.Collection(coll).Find(ctx, bson.D{}, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		t.Fatalf("read %s: %v", coll, err)
	}
	for cur.Next(ctx) {
		out.Write(cur.Current)
	}
	if err := cur.Err(); err != nil {
		t.Fatalf("read %s: %v", coll, err)
	}
	ix, err := db.Collection(coll).Indexes().List(ctx)
	if err != nil {
		t.Fatalf("indexes of %s: %v", coll, err)
	}
	for ix.Next(ctx) {
		out.Write(ix.Current)
	}
	return out.Bytes()
}

// With LANYARD_COLLECTION_PREFIX, Lanyard starts in a database that already holds an
// application's users and linked_ids (with its email_1 index), runs a whole account's
// life — register, log in, link, expand, export, the admin list, resolve, chain
// delete — in its own prefixed collections, and leaves the application's byte for
// byte as they were.
func TestCollectionPrefix_SharesADatabaseAndLeavesTheApplicationsCollectionsUntouched(t *testing.T) {
	t.Parallel()
	var before map[string][]byte
	env := newEnv(t, lanyardtest.WithEnv("LANYARD_COLLECTION_PREFIX", "lanyard_"), lanyardtest.WithExisting(func(ctx context.Context, db *mongo.Database) error {
		return fillApp(ctx, db)
	}))
	before = map[string][]byte{"users": snapshot(t, env.DB, "users"), "linked_ids": snapshot(t, env.DB, "linked_ids")}

	// The application's ada has an account of her own here, with the same email.
	a := env.Register("ada")
	r := env.Do("PATCH", "/api/users/me", map[string]any{"username": "ada"}, "Bearer", a.Access)
	expect(t, r, "PATCH username ada", http.StatusOK)
	admin := env.Register("root")
	env.Promote(admin)
	env.Login(&admin)
	r = env.Do("POST", "/api/users/me/linked-ids", map[string]any{"provider": "legacy", "external_id": "legacy-1"}, "Bearer", a.Access)
	expect(t, r, "link legacy-1", http.StatusCreated)

	r = env.Do("GET", "/api/users/me?expand=linked_ids,sessions", nil, "Bearer", a.Access)
	expect(t, r, "GET me with expand", http.StatusOK)
	exp, _ := r.Map(t)["expand"].(map[string]any)
	if links, _ := exp["linked_ids"].([]any); len(links) != 1 {
		t.Errorf("expand linked_ids = %v; want exactly the link made here", exp["linked_ids"])
	}
	if sessions, _ := exp["sessions"].([]any); len(sessions) != 1 {
		t.Errorf("expand sessions = %v; want the one session", exp["sessions"])
	}
	r = env.Do("GET", "/api/users/me/export", nil, "Bearer", a.Access)
	expect(t, r, "export", http.StatusOK)
	rels, _ := r.Map(t)["relations"].(map[string]any)
	if links, _ := rels["linked_ids"].([]any); len(links) != 1 {
		t.Errorf("export linked_ids = %v; want exactly the link made here", rels["linked_ids"])
	}
	r = env.Do("GET", "/api/users?limit=100", nil, "Bearer", admin.Access)
	expect(t, r, "admin list", http.StatusOK)
	if users, _ := r.Map(t)["items"].([]any); len(users) != 2 {
		t.Errorf("admin list = %s; want Lanyard's two accounts only", r.Body)
	}
	r = env.Do("GET", "/api/linked-ids/resolve?provider=legacy&external_id=legacy-1", nil, "Bearer", admin.Access)
	expect(t, r, "resolve", http.StatusOK)
	if !strings.Contains(string(r.Body), a.ID) {
		t.Errorf("resolve = %s; want %s", r.Body, a.ID)
	}
	for _, c := range []string{"lanyard_users", "lanyard_user_keys", "lanyard_sessions", "lanyard_linked_ids", "lanyard_linked_id_keys"} {
		if n := lanyardtest.RawCount(t, env.DB, c, nil); n == 0 {
			t.Errorf("%s holds nothing; want Lanyard's documents there", c)
		}
	}
	r = env.Do("DELETE", "/api/users/me", map[string]any{"password": a.Password}, "Bearer", a.Access)
	expect(t, r, "chain delete", http.StatusOK)
	if n := lanyardtest.RawCount(t, env.DB, "lanyard_linked_ids", nil); n != 0 {
		t.Errorf("after the chain delete lanyard_linked_ids holds %d; want 0", n)
	}

	for coll, b := range before {
		if after := snapshot(t, env.DB, coll); !bytes.Equal(after, b) {
			t.Errorf("the application's %s changed:\nbefore %q\nafter  %q", coll, b, after)
		}
	}
}

// emailIndexes lists the indexes of coll whose keys are exactly {email: 1}.
func emailIndexes(t *testing.T, db *mongo.Database, coll string) []string {
	t.Helper()
	cur, err := db.Collection(coll).Indexes().List(context.Background())
	if err != nil {
		t.Fatalf("indexes of %s: %v", coll, err)
	}
	var names []string
	for cur.Next(context.Background()) {
		keys, _ := cur.Current.Lookup("key").Document().Elements()
		if len(keys) == 1 && keys[0].Key() == "email" {
			names = append(names, cur.Current.Lookup("name").StringValue())
		}
	}
	return names
}

// An index the database already has that is equivalent to one Lanyard needs (the same
// keys, unique), under another name, is used as it is: Lanyard starts, creates no
// second index on the same keys, and the index still decides duplicates. One on the
// same keys with other rules stops the start, naming it.
func TestEnsureIndexes_AcceptsAnEquivalentExistingIndexUnderAnyName(t *testing.T) {
	t.Parallel()
	existing := func(unique bool) lanyardtest.Option {
		return lanyardtest.WithExisting(func(ctx context.Context, db *mongo.Database) error {
			_, err := db.Collection("users").Indexes().CreateOne(ctx, mongo.IndexModel{
				Keys: bson.D{{Key: "email", Value: 1}}, Options: options.Index().SetName("email_1").SetUnique(unique)})
			return err
		})
	}
	t.Run("equivalent", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t, existing(true))
		if got := emailIndexes(t, env.DB, "users"); len(got) != 1 || got[0] != "email_1" {
			t.Errorf("indexes on users.email = %q; want only the existing email_1", got)
		}
		a := env.Register("ada")
		r := env.Do("POST", "/api/auth/register", map[string]any{"email": a.Email, "password": lanyardtest.DefaultPassword})
		expect(t, r, "register a taken email", http.StatusConflict)
	})
	t.Run("same keys, other rules", func(t *testing.T) {
		t.Parallel()
		_, err := lanyardtest.TryNew(t, existing(false))
		if err == nil || !strings.Contains(err.Error(), `"email_1"`) {
			t.Fatalf("start over a non-unique email_1 = %v; want an error naming email_1", err)
		}
	})
}

// Under a prefix the prefixed names are Lanyard's collections, and the relations file
// may not name them (nor the bare names, which the store prefixes); without one they
// are names like any other.
func TestCollectionPrefix_RelationsMayNotNameLanyardsPrefixedCollections(t *testing.T) {
	t.Parallel()
	rel := func(coll string) string {
		return `relations: [{name: mine, collection: ` + coll + `, parent: users, field: user_id}]`
	}
	for _, c := range []struct {
		name, prefix, coll string
		refused            bool
	}{
		{"a prefixed name under the prefix", "lanyard_", "lanyard_sessions", true},
		{"a bare name under the prefix", "lanyard_", "linked_ids", true},
		{"the prefixed name without a prefix", "", "lanyard_sessions", false},
		{"an application's collection under the prefix", "lanyard_", "posts", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, err := lanyardtest.TryNew(t, lanyardtest.WithEnv("LANYARD_COLLECTION_PREFIX", c.prefix), lanyardtest.WithRelations(t, rel(c.coll)))
			if c.refused != (err != nil) || err != nil && !strings.Contains(err.Error(), `"`+c.coll+`" is Lanyard's own`) {
				t.Errorf("start with a relation on %s (prefix %q) = %v; want refused %v", c.coll, c.prefix, err, c.refused)
			}
		})
	}
}

// Documents that are not Lanyard's in its own collections — what an application
// sharing the database without a prefix leaves there, hanging off a Lanyard user by
// user_id — are skipped and counted wherever they are read: expand, export, the admin
// list, linked IDs, resolve, the chain delete; never a 500, and the log names only the
// collection.
func TestForeignDocuments_AreSkippedAndCountedNeverA500(t *testing.T) {
	t.Parallel()
	var log bytes.Buffer
	var logMu sync.Mutex
	env := newEnv(t, lanyardtest.WithLog(lockedWriter{&logMu, &log}))
	a := env.Register("ada")
	admin := env.Register("root")
	env.Promote(admin)
	env.Login(&admin)
	r := env.Do("POST", "/api/users/me/linked-ids", map[string]any{"provider": "legacy", "external_id": "mine"}, "Bearer", a.Access)
	expect(t, r, "link", http.StatusCreated)
	uid, _ := bson.ObjectIDFromHex(a.ID)
	ctx := context.Background()
	for coll, docs := range map[string][]any{
		// The application's own shapes, hanging off the Lanyard user.
		"linked_ids":   {bson.D{{Key: "_id", Value: bson.NewObjectID()}, {Key: "user_id", Value: uid}, {Key: "linked_id", Value: "secret-legacy-id"}}},
		"sessions":     {bson.D{{Key: "_id", Value: bson.NewObjectID()}, {Key: "user_id", Value: uid}, {Key: "token", Value: "secret-token"}}},
		"audit_events": {bson.D{{Key: "_id", Value: bson.NewObjectID()}, {Key: "user_id", Value: uid}, {Key: "at", Value: "yesterday"}}},
		"users": {bson.D{{Key: "_id", Value: bson.NewObjectID()}, {Key: "email", Value: "app-user@example.com"}, {Key: "password", Value: bson.Binary{Data: []byte("$2b$12$x")}}},
			bson.D{{Key: "_id", Value: "string-id"}, {Key: "email", Value: 42}}},
	} {
		if _, err := env.DB.Collection(coll).InsertMany(ctx, docs); err != nil {
			t.Fatalf("insert into %s: %v", coll, err)
		}
	}

	for _, c := range []struct {
		name, path string
		as         lanyardtest.Account
		check      func(m map[string]any) bool
	}{
		{"expand", "/api/users/me?expand=linked_ids,sessions,audit_events", a, func(m map[string]any) bool {
			e, _ := m["expand"].(map[string]any)
			l, _ := e["linked_ids"].([]any)
			s, _ := e["sessions"].([]any)
			return len(l) == 1 && len(s) == 1
		}},
		{"export", "/api/users/me/export", a, func(m map[string]any) bool {
			e, _ := m["relations"].(map[string]any)
			l, _ := e["linked_ids"].([]any)
			s, _ := e["sessions"].([]any)
			return len(l) == 1 && len(s) == 1
		}},
		{"admin list", "/api/users?limit=100", admin, func(m map[string]any) bool { items, _ := m["items"].([]any); return len(items) == 2 }},
		{"admin expand", "/api/users/" + a.ID + "?expand=linked_ids,sessions", admin, func(m map[string]any) bool {
			e, _ := m["expand"].(map[string]any)
			l, _ := e["linked_ids"].([]any)
			return len(l) == 1
		}},
		{"linked ids", "/api/users/me/linked-ids", a, func(map[string]any) bool { return true }},
		{"resolve", "/api/linked-ids/resolve?provider=legacy&external_id=mine", admin, func(m map[string]any) bool { return m["user_id"] == a.ID }},
	} {
		r := env.Do("GET", c.path, nil, "Bearer", c.as.Access)
		expect(t, r, c.name+" GET "+c.path, http.StatusOK)
		var m map[string]any
		_ = json.Unmarshal(r.Body, &m)
		if !c.check(m) {
			t.Errorf("%s: %s; want only Lanyard's documents", c.name, r.Body)
		}
		for _, secret := range []string{"secret-legacy-id", "secret-token", "app-user@example.com"} {
			if bytes.Contains(r.Body, []byte(secret)) {
				t.Errorf("%s hands out a foreign document's %q: %s", c.name, secret, r.Body)
			}
		}
	}
	m := env.Do("GET", "/metrics", nil)
	for _, coll := range []string{"linked_ids", "sessions", "audit_events", "users"} {
		if !strings.Contains(string(m.Body), `lanyard_foreign_documents_total{collection="`+coll+`"}`) {
			t.Errorf("/metrics counts no foreign document of %s", coll)
		}
	}
	r = env.Do("DELETE", "/api/users/me", map[string]any{"password": a.Password}, "Bearer", a.Access)
	expect(t, r, "chain delete", http.StatusOK)
	logMu.Lock()
	defer logMu.Unlock()
	if !strings.Contains(log.String(), "not Lanyard's") {
		t.Errorf("the log does not warn of the foreign documents")
	}
	for _, secret := range []string{"secret-legacy-id", "secret-token", "app-user@example.com", "string-id"} {
		if strings.Contains(log.String(), secret) {
			t.Errorf("the log holds a foreign document's %q", secret)
		}
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
