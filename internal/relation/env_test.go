package relation_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/lanyard/lanyard"
	"github.com/lanyard/lanyard/internal/lanyardtest"
	"github.com/lanyard/lanyard/internal/linkid"
	"github.com/lanyard/lanyard/internal/relation"
	"github.com/lanyard/lanyard/internal/store"
)

// env is the small world of relation's deletion specs: a fresh database holding the
// relations of a registry, a Deleter over it with a clock the test moves, and users
// whose documents the test seeds. Nothing of HTTP: what a delete answers over HTTP
// (200, 202, 409, the report as a body) is httpapi's deletion_test.go.
type env struct {
	t      *testing.T
	st     *store.Store
	reg    *relation.Registry
	del    *relation.Deleter
	clock  *lanyardtest.Clock
	links  *linkid.Service
	seeded int
}

// appRelations are posts → comments (cascade), orders (restrict), reviews (nullify).
const appRelations = `
relations:
  - {name: posts, collection: posts, parent: users, field: author_id, on_delete: cascade}
  - {name: comments, collection: comments, parent: posts, field: post_id, on_delete: cascade}
  - {name: orders, collection: orders, parent: users, field: user_id, on_delete: restrict}
  - {name: reviews, collection: reviews, parent: users, field: user_id, on_delete: nullify}
`

// newEnv builds an env for the relations file doc; afterBatch, unless nil, runs after
// each batch of a delete (an error stops the job there, as a crash would).
func newEnv(t *testing.T, doc string, afterBatch func(rel string, batch int) error) *env {
	t.Helper()
	reg, err := relation.Parse([]byte(doc))
	if err != nil {
		t.Fatalf("relations: %v", err)
	}
	e := &env{t: t, st: lanyardtest.OpenStore(t), reg: reg, clock: lanyardtest.NewClock()}
	for _, r := range reg.Declared() {
		if err := e.st.EnsureRelationIndex(context.Background(), r.Collection, r.Field); err != nil {
			t.Fatalf("relation index: %v", err)
		}
	}
	e.del = relation.NewDeleter(e.st, reg, relation.DeleterOptions{Now: e.clock.Now, AfterBatch: afterBatch})
	t.Cleanup(e.del.Shutdown) // no job may write after the drop
	keys, err := linkid.NewKeys([]byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	e.links = linkid.New(e.st, keys, e.clock.Now)
	return e
}

// user stores a user with a session, an audit event and the linked IDs named, each
// given as provider:external-id.
func (e *env) user(links ...string) lanyard.User {
	e.t.Helper()
	ctx := context.Background()
	e.seeded++
	now := store.Millis(e.clock.Now())
	u := lanyard.User{ID: store.NewID(), Email: fmt.Sprintf("user%d@example.com", e.seeded), PasswordHash: "x",
		Role: lanyard.RoleUser, Status: lanyard.StatusActive, CreatedAt: now, UpdatedAt: now}
	if err := e.st.InsertUser(ctx, &u, now); err != nil {
		e.t.Fatalf("insert user: %v", err)
	}
	ss := lanyard.Session{ID: store.NewID(), UserID: u.ID, SecretHash: []byte("h"), CreatedAt: now, LastUsedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := e.st.InsertSession(ctx, &ss); err != nil {
		e.t.Fatalf("insert session: %v", err)
	}
	if err := e.st.InsertAudit(ctx, &lanyard.AuditEvent{ID: store.NewID(), UserID: u.ID, Type: "test"}, now); err != nil {
		e.t.Fatalf("insert audit event: %v", err)
	}
	for _, l := range links {
		provider, id, _ := strings.Cut(l, ":")
		if _, err := e.links.Link(ctx, u, provider, id, "", linkid.Actor{UserID: u.ID.Hex()}); err != nil {
			e.t.Fatalf("link %s: %v", l, err)
		}
		var err error
		if u, err = e.st.UserByID(ctx, u.ID); err != nil {
			e.t.Fatal(err)
		}
	}
	return u
}

func oid(id lanyard.ID) bson.ObjectID { return bson.ObjectID(id) }

// insert stores docs in coll, a thousand at a time.
func (e *env) insert(coll string, docs []any) {
	e.t.Helper()
	for len(docs) > 0 {
		n := min(len(docs), 1000)
		if _, err := e.st.Raw().Collection(coll).InsertMany(context.Background(), docs[:n]); err != nil {
			e.t.Fatalf("insert into %s: %v", coll, err)
		}
		docs = docs[n:]
	}
}

// posts gives the user n posts with commentsEach comments each, and returns the
// post ids.
func (e *env) posts(u lanyard.User, n, commentsEach int) []bson.ObjectID {
	e.t.Helper()
	ids := make([]bson.ObjectID, n)
	posts := make([]any, n)
	var comments []any
	for i := range posts {
		ids[i] = bson.NewObjectID()
		posts[i] = bson.M{"_id": ids[i], "author_id": oid(u.ID), "title": fmt.Sprint("post ", i)}
		for j := range commentsEach {
			comments = append(comments, bson.M{"_id": bson.NewObjectID(), "post_id": ids[i], "text": fmt.Sprint("comment ", j)})
		}
	}
	e.insert("posts", posts)
	e.insert("comments", comments)
	return ids
}

// owned gives the user n documents in coll whose field names it.
func (e *env) owned(u lanyard.User, coll, field string, n int) {
	e.t.Helper()
	docs := make([]any, n)
	for i := range docs {
		docs[i] = bson.M{"_id": bson.NewObjectID(), field: oid(u.ID), "n": i}
	}
	e.insert(coll, docs)
}

func (e *env) docs(coll string) []bson.M {
	e.t.Helper()
	return lanyardtest.RawDocs(e.t, e.st.Raw(), coll, nil)
}

func (e *env) count(coll string, filter any) int64 {
	e.t.Helper()
	return lanyardtest.RawCount(e.t, e.st.Raw(), coll, filter)
}

// orphans counts comments whose post no longer exists: what a wrong order of
// deletion would leave behind.
func (e *env) orphans() int64 {
	e.t.Helper()
	posts := e.ids("posts", nil)
	var n int64
	for _, c := range e.docs("comments") {
		if !posts[c["post_id"]] {
			n++
		}
	}
	return n
}

// owns counts u's document and those that name u or one of its posts: what a chain
// delete of u has left to do.
func (e *env) owns(u lanyard.User) int64 {
	e.t.Helper()
	id := oid(u.ID)
	n := e.count("users", bson.D{{Key: "_id", Value: id}}) + e.count("reviews", bson.D{{Key: "user_id", Value: id}})
	for _, coll := range []string{"linked_ids", "sessions", "audit_events"} {
		n += e.count(coll, bson.D{{Key: "user_id", Value: id}})
	}
	posts := e.ids("posts", bson.D{{Key: "author_id", Value: id}})
	n += int64(len(posts))
	for _, c := range e.docs("comments") {
		if posts[c["post_id"]] {
			n++
		}
	}
	return n
}

// ids is the set of the _ids of coll's documents that match filter.
func (e *env) ids(coll string, filter any) map[any]bool {
	e.t.Helper()
	set := map[any]bool{}
	for _, d := range lanyardtest.RawDocs(e.t, e.st.Raw(), coll, filter) {
		set[d["_id"]] = true
	}
	return set
}

// gone fails the test unless nothing of user u is left in the built-in collections
// and in the declared ones that hang off it directly.
func (e *env) gone(u lanyard.User) {
	e.t.Helper()
	id := oid(u.ID)
	for _, c := range []struct {
		coll   string
		filter bson.D
	}{
		{"users", bson.D{{Key: "_id", Value: id}}},
		{"user_keys", bson.D{{Key: "user_id", Value: id}}},
		{"linked_ids", bson.D{{Key: "user_id", Value: id}}},
		{"linked_id_keys", bson.D{{Key: "user_id", Value: id}}},
		{"sessions", bson.D{{Key: "user_id", Value: id}}},
		{"audit_events", bson.D{{Key: "user_id", Value: id}}},
		{"posts", bson.D{{Key: "author_id", Value: id}}},
		{"reviews", bson.D{{Key: "user_id", Value: id}}},
		{"deletion_jobs", bson.D{}},
		{"deletion_claims", bson.D{}},
	} {
		if n := e.count(c.coll, c.filter); n != 0 {
			e.t.Errorf("%s of the deleted user left: %d", c.coll, n)
		}
	}
	if n := e.orphans(); n != 0 {
		e.t.Errorf("%d orphaned comments", n)
	}
}
