package httpapi_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/lanyard/lanyard/internal/app"
	"github.com/lanyard/lanyard/internal/lanyardtest"
	"github.com/lanyard/lanyard/internal/password"
	"github.com/lanyard/lanyard/internal/store"
)

func TestEmbeddedStore_IDLookupsUseLanyardsIndex(t *testing.T) {
	t.Parallel()
	if !lanyardtest.Embedded() {
		t.Skip("inspects the embedded store's SQLite file; not applicable to LANYARD_TEST_MONGODB_URI")
	}
	env := lanyardtest.New(t)
	env.Register("ada") // users, sessions exist now
	ctx := context.Background()
	for _, coll := range []string{"users", "sessions"} {
		plan, err := store.IDLookupPlan(ctx, env.SQLiteFile, coll)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(plan, "USING INDEX lanyard_id_") {
			t.Errorf("plan of FerretDB's _id lookup on %s:\n%s\nwant it to use Lanyard's _id index", coll, plan)
		}
	}
	// A collection Lanyard does not know shows what FerretDB does alone: a scan.
	if _, err := env.DB.Collection("elsewhere").InsertOne(ctx, bson.M{"x": 1}); err != nil {
		t.Fatal(err)
	}
	plan, err := store.IDLookupPlan(ctx, env.SQLiteFile, "elsewhere")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(plan, "SCAN") {
		t.Errorf("plan on a collection without the index:\n%s\nwant a SCAN (otherwise this test proves nothing)", plan)
	}
	// Adding the index is idempotent and picks up collections created later.
	if n, err := store.EnsureIDIndexes(ctx, env.SQLiteFile, []string{"users", "elsewhere"}); err != nil || n != 1 {
		t.Fatalf("EnsureIDIndexes = %d, %v; want exactly the new collection's index", n, err)
	}
	if plan, _ := store.IDLookupPlan(ctx, env.SQLiteFile, "elsewhere"); !strings.Contains(plan, "USING INDEX") {
		t.Errorf("after EnsureIDIndexes the plan is still:\n%s", plan)
	}
}

// On the embedded store every relation query — children by the relation's field,
// declared and built-in, the admin list's pages by _id, by email and by provider —
// is answered by SQLite through an index, never by reading a table whole.
func TestEmbeddedStore_RelationLookupsUseIndexes(t *testing.T) {
	t.Parallel()
	if !lanyardtest.Embedded() {
		t.Skip("inspects the embedded store's SQLite file; not applicable to LANYARD_TEST_MONGODB_URI")
	}
	env := newEnv(t, lanyardtest.WithRelations(t, postsAndComments))
	a := env.Register("ada")
	link(env, a, "google", "sub-1").Must(t, 201)
	env.Do("POST", "/api/auth/refresh", map[string]any{"refresh_token": a.Refresh}).Must(t, 200)                     // refresh_claims
	env.Do("POST", "/api/auth/login", map[string]any{"email": a.Email, "password": "not the password"}).Must(t, 401) // throttle
	env.Do("POST", "/api/auth/password-reset", map[string]any{"email": a.Email}).Must(t, 202)                        // mail_outbox
	posts := insertDocs(t, env, "posts", 3, func(int) bson.D { return bson.D{{Key: "author_id", Value: oid(t, a.ID)}} })
	insertDocs(t, env, "comments", 3, func(i int) bson.D { return bson.D{{Key: "post_id", Value: posts[i]}} })
	insertDocs(t, env, "audit_events", 1, func(int) bson.D { return bson.D{{Key: "user_id", Value: oid(t, a.ID)}} })

	plans, err := env.App.Store.IndexPlans(t.Context(), [][2]string{{"posts", "author_id"}, {"comments", "post_id"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{
		"users page", "users by ids", "users by email", "users with provider", "holds provider", "other admin",
		"posts.author_id", "comments.post_id",
		"sessions.user_id", "linked_ids.user_id", "linked_id_keys.user_id", "audit_events.user_id",
		"sessions expired", "refresh_claims expired", "throttle expired", "due mails",
	} {
		plan := plans[name]
		if plan == "" || strings.Contains(plan, "SCAN") || !strings.Contains(plan, "INDEX lanyard_") {
			t.Errorf("plan of %s:\n%s\nwant a search through one of Lanyard's indexes, no SCAN", name, plan)
		}
	}
}

// A child whose parent field holds the other id format than its relation declares is
// never found by expand or chain delete (as a MongoDB query would not find it either):
// start-up says so instead of leaving it orphaned unseen.
func TestStartup_ReportsChildrenHoldingTheOtherIDFormat(t *testing.T) {
	t.Parallel()
	env := newEnv(t, lanyardtest.WithRelations(t, postsAndComments))
	a := env.Register("ada")
	insertDocs(t, env, "posts", 2, func(int) bson.D { return bson.D{{Key: "author_id", Value: oid(t, a.ID)}} })
	insertDocs(t, env, "posts", 3, func(int) bson.D { return bson.D{{Key: "author_id", Value: a.ID}} }) // hex strings

	var logs bytes.Buffer
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	second, err := app.New(ctx, env.Config, env.StoreURI, app.Options{
		Hash: password.Cheap, SQLiteFile: env.SQLiteFile, ResumeInterval: time.Hour,
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close(context.Background())
	out := logs.String()
	if !strings.Contains(out, "other format") || !strings.Contains(out, "relation=posts") || !strings.Contains(out, "documents=3") {
		t.Errorf("start-up log:\n%s\nwant a warning naming relation posts and its 3 documents of the other format", out)
	}
	if strings.Contains(out, "relation=comments") {
		t.Errorf("start-up log:\n%s\nwarns of comments, which hold no other format", out)
	}
}
