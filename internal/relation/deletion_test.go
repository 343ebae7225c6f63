package relation_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/lanyard/lanyard"
	"github.com/lanyard/lanyard/internal/lanyardtest"
	"github.com/lanyard/lanyard/internal/relation"
)

// The chain delete's specs: what a delete removes, detaches and refuses, that its
// plan agrees, and that an interrupted delete resumes to the same end.

// Moved from httpapi's TestDelete_CascadeRemovesEverythingOfTheUserAndNothingElse:
// the report and what the store holds afterwards.
func TestDelete_CascadeRemovesEverythingOfTheUserAndNothingElse(t *testing.T) {
	t.Parallel()
	e := newEnv(t, appRelations, nil)
	a, b := e.user("google:ada-sub"), e.user("google:bob-sub")
	e.posts(a, 3, 2)
	e.posts(b, 2, 2)
	e.owned(a, "reviews", "user_id", 2)
	e.owned(b, "reviews", "user_id", 1)

	r, err := e.del.Delete(context.Background(), a.ID, a.ID.Hex())
	if err != nil {
		t.Fatalf("Delete = %v", err)
	}
	want := map[string]int64{"posts": 3, "comments": 6, "linked_ids": 1, "sessions": 1, "audit_events": 2, "users": 1}
	if !maps.Equal(r.Deleted, want) {
		t.Errorf("report deleted = %v; want %v", r.Deleted, want)
	}
	if !maps.Equal(r.Nullified, map[string]int64{"reviews": 2}) {
		t.Errorf("report nullified = %v; want reviews 2", r.Nullified)
	}
	var sum int64
	for _, n := range r.Deleted {
		sum += n
	}
	for _, n := range r.Nullified {
		sum += n
	}
	if r.Total != sum || r.UserID != a.ID.Hex() {
		t.Errorf("report total %d user %s; want %d and %s", r.Total, r.UserID, sum, a.ID)
	}
	e.gone(a)
	// Nullified reviews stay, detached; the other user's data is untouched.
	if n := e.count("reviews", bson.D{{Key: "user_id", Value: bson.D{{Key: "$exists", Value: false}}}}); n != 2 {
		t.Errorf("detached reviews = %d; want 2", n)
	}
	bid := oid(b.ID)
	if p, c := e.count("posts", bson.D{{Key: "author_id", Value: bid}}), e.count("comments", nil); p != 2 || c != 4 {
		t.Errorf("other user's posts/comments = %d/%d; want 2/4", p, c)
	}
	for coll, want := range map[string]int64{"reviews": 1, "linked_ids": 1, "sessions": 1, "users": 1} {
		field := "user_id"
		if coll == "users" {
			field = "_id"
		}
		if n := e.count(coll, bson.D{{Key: field, Value: bid}}); n != want {
			t.Errorf("other user's %s = %d; want %d", coll, n, want)
		}
	}
}

// Moved from httpapi's TestDelete_RestrictBlocksWithNothingChanged: the blockers and
// what the store holds after the refusal.
func TestDelete_RestrictBlocksWithNothingChanged(t *testing.T) {
	t.Parallel()
	e := newEnv(t, appRelations, nil)
	a := e.user()
	e.posts(a, 2, 1)
	e.owned(a, "orders", "user_id", 2)
	_, err := e.del.Delete(context.Background(), a.ID, a.ID.Hex())
	var blocked *relation.BlockedError
	if !errors.As(err, &blocked) || !slices.Equal(blocked.Blockers, []relation.Blocker{{Relation: "orders", Count: 2}}) {
		t.Fatalf("Delete with orders = %v; want blocked by [{orders 2}]", err)
	}
	var conflict *lanyard.ConflictError
	if !errors.As(err, &conflict) {
		t.Errorf("Delete blocked = %v; want a conflict to callers that know only the domain's kinds", err)
	}
	if n := e.count("posts", nil); n != 2 {
		t.Errorf("posts after a refused delete = %d; want 2", n)
	}
	if n := e.count("deletion_jobs", nil); n != 0 {
		t.Errorf("deletion jobs after a refused delete = %d; want 0", n)
	}
	if u, err := e.st.UserByID(context.Background(), a.ID); err != nil || u.Status != lanyard.StatusActive || u.TokenVersion != a.TokenVersion {
		t.Errorf("user after a refused delete: status %q, version %d, %v; want active, %d", u.Status, u.TokenVersion, err, a.TokenVersion)
	}
	plan, err := e.del.PlanFor(context.Background(), a.ID)
	if err != nil || !slices.Equal(plan.Blockers, []relation.Blocker{{Relation: "orders", Count: 2}}) {
		t.Errorf("plan blockers = %+v, %v; want [{orders 2}]", plan.Blockers, err)
	}
}

// TestDelete_OnDeleteRules walks each rule where it sits in a chain: a restrict
// relation blocks wherever cascades reach it, and nowhere else; nullify detaches
// and stops there; string ids are matched as strings.
func TestDelete_OnDeleteRules(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name      string
		relations string
		seed      func(e *env, u lanyard.User)
		blockers  []relation.Blocker
		deleted   map[string]int64 // of the declared relations; nil: blocked
		nullified map[string]int64
		left      map[string]int64 // documents left in each collection
		check     func(t *testing.T, e *env, u lanyard.User)
	}{
		{
			name: "a restrict below a cascade blocks",
			relations: `
relations:
  - {name: posts, collection: posts, parent: users, field: author_id}
  - {name: attachments, collection: attachments, parent: posts, field: post_id, on_delete: restrict}
`,
			seed: func(e *env, u lanyard.User) {
				for _, p := range e.posts(u, 2, 0) {
					e.insert("attachments", []any{bson.M{"post_id": p}, bson.M{"post_id": p}})
				}
			},
			blockers: []relation.Blocker{{Relation: "attachments", Count: 4}},
			left:     map[string]int64{"posts": 2, "attachments": 4},
		},
		{
			name: "a restrict below a nullify does not block",
			relations: `
relations:
  - {name: reviews, collection: reviews, parent: users, field: user_id, on_delete: nullify}
  - {name: replies, collection: replies, parent: reviews, field: review_id, on_delete: restrict}
`,
			seed: func(e *env, u lanyard.User) {
				id := bson.NewObjectID()
				e.insert("reviews", []any{bson.M{"_id": id, "user_id": oid(u.ID)}})
				e.insert("replies", []any{bson.M{"review_id": id}})
			},
			deleted:   map[string]int64{},
			nullified: map[string]int64{"reviews": 1},
			left:      map[string]int64{"reviews": 1, "replies": 1},
		},
		{
			name: "a nullify below a cascade detaches the grandchildren",
			relations: `
relations:
  - {name: posts, collection: posts, parent: users, field: author_id}
  - {name: likes, collection: likes, parent: posts, field: post_id, on_delete: nullify}
`,
			seed: func(e *env, u lanyard.User) {
				for _, p := range e.posts(u, 3, 0) {
					e.insert("likes", []any{bson.M{"post_id": p}})
				}
			},
			deleted:   map[string]int64{"posts": 3},
			nullified: map[string]int64{"likes": 3},
			left:      map[string]int64{"posts": 0, "likes": 3},
		},
		{
			name: "a cascade three deep removes every level",
			relations: `
relations:
  - {name: posts, collection: posts, parent: users, field: author_id}
  - {name: comments, collection: comments, parent: posts, field: post_id}
  - {name: votes, collection: votes, parent: comments, field: comment_id}
`,
			seed: func(e *env, u lanyard.User) {
				e.posts(u, 2, 3)
				for _, c := range e.docs("comments") {
					e.insert("votes", []any{bson.M{"comment_id": c["_id"]}, bson.M{"comment_id": c["_id"]}})
				}
			},
			deleted: map[string]int64{"posts": 2, "comments": 6, "votes": 12},
			left:    map[string]int64{"posts": 0, "comments": 0, "votes": 0},
		},
		{
			name: "string ids are matched as strings, ObjectIds are not",
			relations: `
relations:
  - {name: carts, collection: carts, parent: users, field: user_ref, id_format: string}
`,
			seed: func(e *env, u lanyard.User) {
				e.insert("carts", []any{bson.M{"user_ref": u.ID.Hex()}, bson.M{"user_ref": oid(u.ID)}})
			},
			deleted: map[string]int64{"carts": 1},
			left:    map[string]int64{"carts": 1},
			check: func(t *testing.T, e *env, u lanyard.User) {
				if n := e.count("carts", bson.D{{Key: "user_ref", Value: oid(u.ID)}}); n != 1 {
					t.Errorf("carts naming the user by ObjectId: %d; want 1, left alone", n)
				}
			},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, c.relations, nil)
			u := e.user()
			c.seed(e, u)
			plan, err := e.del.PlanFor(context.Background(), u.ID)
			if err != nil {
				t.Fatalf("PlanFor = %v", err)
			}
			r, err := e.del.Delete(context.Background(), u.ID, "")
			var blocked *relation.BlockedError
			switch {
			case c.deleted == nil:
				if !errors.As(err, &blocked) || !slices.Equal(blocked.Blockers, c.blockers) {
					t.Fatalf("Delete = %v; want blocked by %v", err, c.blockers)
				}
				if !slices.Equal(plan.Blockers, c.blockers) {
					t.Errorf("plan blockers = %v; want %v", plan.Blockers, c.blockers)
				}
			case err != nil:
				t.Fatalf("Delete = %v", err)
			default:
				for _, rel := range e.reg.Declared() {
					if r.Deleted[rel.Name] != c.deleted[rel.Name] || plan.Deleted[rel.Name] != c.deleted[rel.Name] {
						t.Errorf("%s deleted: %d, plan %d; want %d", rel.Name, r.Deleted[rel.Name], plan.Deleted[rel.Name], c.deleted[rel.Name])
					}
					if r.Nullified[rel.Name] != c.nullified[rel.Name] || plan.Nullified[rel.Name] != c.nullified[rel.Name] {
						t.Errorf("%s nullified: %d, plan %d; want %d", rel.Name, r.Nullified[rel.Name], plan.Nullified[rel.Name], c.nullified[rel.Name])
					}
				}
				if len(plan.Blockers) != 0 {
					t.Errorf("plan blockers = %v; want none", plan.Blockers)
				}
				e.gone(u)
			}
			for coll, want := range c.left {
				if n := e.count(coll, nil); n != want {
					t.Errorf("%s left: %d; want %d", coll, n, want)
				}
			}
			if c.check != nil {
				c.check(t, e, u)
			}
		})
	}
}

// The plan's side of httpapi's TestDeletionPlanAndExport_AgreeWithWhatTheDeleteRemoves,
// which keeps the export and the answers over HTTP: the plan counts what the delete
// then removes, and removes nothing itself.
func TestDeletionPlan_AgreesWithWhatTheDeleteRemovesAndChangesNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t, appRelations, nil)
	a := e.user("crm:C-1")
	e.posts(a, 4, 3)
	e.owned(a, "reviews", "user_id", 1)
	plan, err := e.del.PlanFor(context.Background(), a.ID)
	if err != nil {
		t.Fatalf("PlanFor = %v", err)
	}
	if n := e.count("posts", nil) + e.count("comments", nil); n != 16 {
		t.Fatalf("after the plan %d posts and comments; want all 16", n)
	}
	done, err := e.del.Delete(context.Background(), a.ID, "")
	if err != nil {
		t.Fatalf("Delete = %v", err)
	}
	for _, rel := range []string{"posts", "comments", "linked_ids", "sessions", "audit_events", "users"} {
		if plan.Deleted[rel] != done.Deleted[rel] || done.Deleted[rel] == 0 {
			t.Errorf("%s: plan %d, delete %d; want equal, not 0", rel, plan.Deleted[rel], done.Deleted[rel])
		}
	}
	if plan.Nullified["reviews"] != 1 || done.Nullified["reviews"] != 1 || plan.Total != done.Total {
		t.Errorf("reviews: plan %d, delete %d; totals %d, %d; want 1, 1 and equal totals", plan.Nullified["reviews"], done.Nullified["reviews"], plan.Total, done.Total)
	}
}

func TestDelete_DocumentsAttachedWhileItRunsAreSweptToo(t *testing.T) {
	t.Parallel()
	var e *env
	var u lanyard.User
	var once atomic.Bool
	e = newEnv(t, appRelations, func(rel string, batch int) error {
		if rel == "reviews" && once.CompareAndSwap(false, true) {
			// The application attaches a post (with a comment) and a review after the
			// walk has passed posts and reviews.
			e.posts(u, 1, 1)
			e.owned(u, "reviews", "user_id", 1)
		}
		return nil
	})
	u = e.user()
	e.posts(u, 2, 1)
	e.owned(u, "reviews", "user_id", 1)
	if _, err := e.del.Delete(context.Background(), u.ID, ""); err != nil {
		t.Fatalf("Delete = %v", err)
	}
	e.gone(u)
	if n := e.count("comments", nil); n != 0 {
		t.Errorf("comments left: %d; want 0", n)
	}
	if !once.Load() {
		t.Fatal("the hook never attached anything; the test proves nothing")
	}
}

func TestDelete_ASecondDeleteWhileOneRunsIsInProgressAndStartsNothing(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	var batches atomic.Int64
	e := newEnv(t, appRelations, func(string, int) error {
		if batches.Add(1) == 1 {
			<-release
		}
		return nil
	})
	var releaseOnce sync.Once
	free := func() { releaseOnce.Do(func() { close(release) }) }
	t.Cleanup(free) // before the env's: a failed test must not leave the job waiting
	u := e.user()
	e.posts(u, 5, 1)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if _, err := e.del.Delete(ctx, u.ID, ""); !errors.Is(err, relation.ErrInProgress) {
		t.Fatalf("Delete outliving its context = %v; want ErrInProgress", err)
	}
	ctx2, cancel2 := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel2()
	if _, err := e.del.Delete(ctx2, u.ID, ""); !errors.Is(err, relation.ErrInProgress) {
		t.Fatalf("a second Delete while the first runs = %v; want ErrInProgress", err)
	}
	if n := e.del.Running(); n != 1 {
		t.Errorf("%d deletes running; want 1", n)
	}
	free()
	e.del.Wait()
	e.gone(u)
}

var errCrash = errors.New("injected crash")

// Moved from httpapi's TestDelete_InterruptedPartWayResumesWithNoOrphans, and made a
// table over the batch the crash follows: whatever was erased, the rest is still
// reachable from the user, nothing is orphaned, the user can no longer sign in, and
// once the lease lapses the resumer finishes the job to the same end.
func TestDelete_InterruptedAfterAnyBatchResumesToTheSameEndWithNoOrphans(t *testing.T) {
	t.Parallel()
	// The walk erases the user's linked ID, session and audit events (batches 1-3),
	// comments 1-1000 and posts 1-1000 (4, 5), comments and posts 1001-1200 (6, 7),
	// and detaches the three reviews (8).
	for crashAt := 1; crashAt <= 8; crashAt++ {
		t.Run(fmt.Sprintf("after batch %d", crashAt), func(t *testing.T) {
			t.Parallel()
			var crashing atomic.Bool
			crashing.Store(true)
			e := newEnv(t, appRelations, func(rel string, batch int) error {
				if crashing.Load() && batch == crashAt {
					return errCrash
				}
				return nil
			})
			a, b := e.user("google:ada"), e.user()
			e.posts(a, 1200, 1)
			e.owned(a, "reviews", "user_id", 3)
			e.posts(b, 3, 1)
			// Part-way: something was erased, the rest is still reachable from the user.
			uid := oid(a.ID)
			before, crashed := e.owns(a), e.clock.Now()
			if _, err := e.del.Delete(context.Background(), a.ID, ""); !errors.Is(err, errCrash) {
				t.Fatalf("Delete interrupted = %v; want the crash", err)
			}
			if left := e.owns(a); left == 0 || left >= before {
				t.Fatalf("after the crash %d of the user's %d documents left; want a delete stopped part-way", left, before)
			}
			if n := e.orphans(); n != 0 {
				t.Fatalf("after the crash: %d comments whose post is gone", n)
			}
			u, err := e.st.UserByID(context.Background(), a.ID)
			if err != nil || u.Status != lanyard.StatusDeleting || u.TokenVersion == a.TokenVersion {
				t.Fatalf("user after the crash: status %q, version %d (was %d), %v; want deleting, with a new version", u.Status, u.TokenVersion, a.TokenVersion, err)
			}
			// Before the lease lapses nobody takes the job over; after it, any instance does.
			for _, wait := range []time.Duration{0, 60 * time.Second} {
				e.clock.Advance(wait)
				if n, err := e.del.ResumeExpired(context.Background()); err != nil || n != 0 {
					t.Fatalf("ResumeExpired %v into the lease of 60s = %d, %v; want 0", e.clock.Now().Sub(crashed), n, err)
				}
			}
			crashing.Store(false)
			e.clock.Advance(time.Millisecond)
			if n, err := e.del.ResumeExpired(context.Background()); err != nil || n != 1 {
				t.Fatalf("ResumeExpired after the lease = %d, %v; want 1", n, err)
			}
			e.del.Wait()
			e.gone(a)
			if n := e.count("reviews", bson.D{{Key: "user_id", Value: uid}}); n != 0 {
				t.Errorf("reviews still naming the user: %d", n)
			}
			if n := e.count("reviews", nil); n != 3 {
				t.Errorf("reviews = %d; want the 3, detached", n)
			}
			if p, c := e.count("posts", nil), e.count("comments", nil); p != 3 || c != 3 {
				t.Errorf("other user's posts/comments = %d/%d; want 3/3", p, c)
			}
			if n, err := e.del.ResumeExpired(context.Background()); err != nil || n != 0 {
				t.Errorf("ResumeExpired once finished = %d, %v; want 0", n, err)
			}
		})
	}
}

func TestResumeExpired_TakesALapsedJobOnceWhicheverInstanceAsks(t *testing.T) {
	t.Parallel()
	var crashing atomic.Bool
	crashing.Store(true)
	hook := func(string, int) error {
		if crashing.Load() {
			return errCrash
		}
		return nil
	}
	e := newEnv(t, appRelations, hook)
	u := e.user()
	e.posts(u, 3, 1)
	if _, err := e.del.Delete(context.Background(), u.ID, ""); !errors.Is(err, errCrash) {
		t.Fatalf("Delete interrupted = %v; want the crash", err)
	}
	crashing.Store(false)
	e.clock.Advance(61 * time.Second)
	others := make([]*relation.Deleter, 4)
	for i := range others {
		others[i] = relation.NewDeleter(e.st, e.reg, relation.DeleterOptions{Now: e.clock.Now, AfterBatch: hook})
	}
	started := make([]int, len(others))
	errs := make([]error, len(others))
	lanyardtest.AtOnce(len(others), func(i int) { started[i], errs[i] = others[i].ResumeExpired(context.Background()) })
	total := 0
	for i, d := range others {
		d.Wait()
		if errs[i] != nil {
			t.Errorf("instance %d: ResumeExpired = %v", i, errs[i])
		}
		total += started[i]
	}
	if total != 1 {
		t.Fatalf("instances resumed the lapsed job %d times (%v); want exactly once", total, started)
	}
	e.gone(u)
}
