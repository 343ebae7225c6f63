package httpapi_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/lanyard/lanyard/internal/lanyardtest"
)

// appRelations is the relations file of the deletion tests: posts → comments
// (cascade), orders (restrict), reviews (nullify).
const appRelations = `
relations:
  - {name: posts, collection: posts, parent: users, field: author_id, on_delete: cascade}
  - {name: comments, collection: comments, parent: posts, field: post_id, on_delete: cascade}
  - {name: orders, collection: orders, parent: users, field: user_id, on_delete: restrict}
  - {name: reviews, collection: reviews, parent: users, field: user_id, on_delete: nullify}
`

// seedPosts gives the user posts, each with comments, and returns the post ids.
func seedPosts(t *testing.T, env *lanyardtest.Env, userID string, posts, commentsEach int) []bson.ObjectID {
	t.Helper()
	ctx := context.Background()
	author := oid(t, userID)
	ids := make([]bson.ObjectID, posts)
	docs := make([]any, posts)
	for i := range docs {
		ids[i] = bson.NewObjectID()
		docs[i] = bson.M{"_id": ids[i], "author_id": author, "title": fmt.Sprint("post ", i)}
	}
	insertMany(t, env, "posts", docs)
	var comments []any
	for _, p := range ids {
		for j := range commentsEach {
			comments = append(comments, bson.M{"_id": bson.NewObjectID(), "post_id": p, "text": fmt.Sprint("comment ", j)})
		}
	}
	insertMany(t, env, "comments", comments)
	_ = ctx
	return ids
}

func insertMany(t *testing.T, env *lanyardtest.Env, coll string, docs []any) {
	t.Helper()
	for len(docs) > 0 {
		n := min(len(docs), 1000)
		if _, err := env.DB.Collection(coll).InsertMany(context.Background(), docs[:n]); err != nil {
			t.Fatalf("insert into %s: %v", coll, err)
		}
		docs = docs[n:]
	}
}

func count(t *testing.T, env *lanyardtest.Env, coll string, filter any) int64 {
	t.Helper()
	return lanyardtest.RawCount(t, env.DB, coll, filter)
}

type report struct {
	UserID    string           `json:"user_id"`
	Deleted   map[string]int64 `json:"deleted"`
	Nullified map[string]int64 `json:"nullified"`
	Total     int64            `json:"total"`
	Blockers  []struct {
		Relation string `json:"relation"`
		Count    int64  `json:"count"`
	} `json:"blockers"`
}

func TestDelete_CascadeRemovesEverythingOfTheUserAndNothingElse(t *testing.T) {
	t.Parallel()
	env := lanyardtest.New(t, lanyardtest.WithRelations(t, appRelations))
	a, b := env.Register("ada"), env.Register("bob")
	link(env, a, "google", "ada-sub").Must(t, http.StatusCreated)
	link(env, b, "google", "bob-sub").Must(t, http.StatusCreated)
	seedPosts(t, env, a.ID, 3, 2)
	seedPosts(t, env, b.ID, 2, 2)
	insertMany(t, env, "reviews", []any{
		bson.M{"user_id": oid(t, a.ID), "stars": 5}, bson.M{"user_id": oid(t, a.ID), "stars": 4},
		bson.M{"user_id": oid(t, b.ID), "stars": 3},
	})

	var r report
	env.Do("DELETE", "/api/users/me", map[string]any{"password": a.Password}, "Bearer", a.Access).Must(t, http.StatusOK).JSON(t, &r)
	want := map[string]int64{"posts": 3, "comments": 6, "linked_ids": 1, "users": 1}
	for rel, n := range want {
		if r.Deleted[rel] != n {
			t.Errorf("report deleted[%s] = %d; want %d (report %+v)", rel, r.Deleted[rel], n, r)
		}
	}
	if r.Deleted["sessions"] < 1 || r.Deleted["audit_events"] < 1 {
		t.Errorf("report deleted sessions/audit_events = %d/%d; want at least 1 each", r.Deleted["sessions"], r.Deleted["audit_events"])
	}
	if r.Nullified["reviews"] != 2 {
		t.Errorf("report nullified[reviews] = %d; want 2", r.Nullified["reviews"])
	}
	var sum int64
	for _, n := range r.Deleted {
		sum += n
	}
	for _, n := range r.Nullified {
		sum += n
	}
	if r.Total != sum || r.UserID != a.ID {
		t.Errorf("report total %d user %s; want %d and %s", r.Total, r.UserID, sum, a.ID)
	}

	// What the store holds afterwards (nothing of the user, no orphan, the reviews
	// detached, the other user's documents untouched) is relation's
	// TestDelete_CascadeRemovesEverythingOfTheUserAndNothingElse; here, what the
	// accounts answer.
	env.Do("GET", "/api/users/me", nil, "Bearer", b.Access).Must(t, http.StatusOK)
	env.Do("GET", "/api/users/me/linked-ids", nil, "Bearer", b.Access).Must(t, http.StatusOK)
	// The deleted account is gone for good.
	env.Do("GET", "/api/users/me", nil, "Bearer", a.Access).Must(t, http.StatusUnauthorized)
	env.Do("POST", "/api/auth/login", map[string]any{"email": a.Email, "password": a.Password}).Must(t, http.StatusUnauthorized)
	env.Do("POST", "/api/auth/refresh", map[string]any{"refresh_token": a.Refresh}).Must(t, http.StatusUnauthorized)
}

func TestDelete_RestrictBlocksWithNothingChanged(t *testing.T) {
	t.Parallel()
	env := lanyardtest.New(t, lanyardtest.WithRelations(t, appRelations))
	a := env.Register("ada")
	seedPosts(t, env, a.ID, 2, 1)
	insertMany(t, env, "orders", []any{bson.M{"user_id": oid(t, a.ID)}, bson.M{"user_id": oid(t, a.ID)}})

	r := env.Do("DELETE", "/api/users/me", map[string]any{"password": a.Password}, "Bearer", a.Access)
	if r.Status != http.StatusConflict {
		t.Fatalf("DELETE /api/users/me with orders = %d; want 409; body %s", r.Status, r.Body)
	}
	var p report
	r.JSON(t, &p)
	if len(p.Blockers) != 1 || p.Blockers[0].Relation != "orders" || p.Blockers[0].Count != 2 {
		t.Fatalf("blockers = %+v; want [{orders 2}]", p.Blockers)
	}
	// That the store is unchanged (posts, no job) is relation's
	// TestDelete_RestrictBlocksWithNothingChanged; here, what the account answers.
	me := env.Do("GET", "/api/users/me", nil, "Bearer", a.Access).Must(t, http.StatusOK).Map(t)
	if me["status"] != "active" {
		t.Errorf("status after a refused delete = %v; want active", me["status"])
	}
	var plan report
	env.Do("GET", "/api/users/me/deletion-plan", nil, "Bearer", a.Access).Must(t, http.StatusOK).JSON(t, &plan)
	if len(plan.Blockers) != 1 || plan.Blockers[0].Relation != "orders" {
		t.Errorf("plan blockers = %+v; want orders", plan.Blockers)
	}
}

func TestDelete_WrongPasswordChangesNothing(t *testing.T) {
	t.Parallel()
	env := lanyardtest.New(t, lanyardtest.WithRelations(t, appRelations))
	a := env.Register("ada")
	r := env.Do("DELETE", "/api/users/me", map[string]any{"password": "not it at all"}, "Bearer", a.Access)
	if r.Status != http.StatusUnprocessableEntity {
		t.Fatalf("DELETE /api/users/me with a wrong password = %d; want 422", r.Status)
	}
	env.Do("GET", "/api/users/me", nil, "Bearer", a.Access).Must(t, http.StatusOK)
}

func TestDeletionPlanAndExport_AgreeWithWhatTheDeleteRemoves(t *testing.T) {
	t.Parallel()
	env := lanyardtest.New(t, lanyardtest.WithRelations(t, appRelations))
	a, admin := env.Register("ada"), env.Register("root")
	env.Promote(admin)
	link(env, a, "crm", "C-1").Must(t, http.StatusCreated)
	seedPosts(t, env, a.ID, 4, 3)
	insertMany(t, env, "reviews", []any{bson.M{"user_id": oid(t, a.ID)}})

	var plan report
	env.Do("GET", "/api/users/"+a.ID+"/deletion-plan", nil, "Bearer", admin.Access).Must(t, http.StatusOK).JSON(t, &plan)
	env.Do("GET", "/api/users/"+a.ID+"/deletion-plan", nil, "Bearer", env.Register("eve").Access).Must(t, http.StatusForbidden)

	ex := env.Do("GET", "/api/users/me/export", nil, "Bearer", a.Access).Must(t, http.StatusOK)
	if cd := ex.Header.Get("Content-Disposition"); cd != `attachment; filename="lanyard-export-`+a.ID+`.json"` {
		t.Errorf("Content-Disposition = %q", cd)
	}
	var export struct {
		User      map[string]any              `json:"user"`
		Relations map[string][]map[string]any `json:"relations"`
	}
	ex.JSON(t, &export)
	if export.User["id"] != a.ID {
		t.Errorf("export user = %v", export.User)
	}
	if ids := export.Relations["linked_ids"]; len(ids) != 1 || ids[0]["external_id"] != "C-1" {
		t.Errorf("exported linked ids = %v; want C-1 decrypted", ids)
	}
	for _, s := range export.Relations["sessions"] {
		for _, secret := range []string{"secret_hash", "previous_hash"} {
			if _, ok := s[secret]; ok {
				t.Errorf("exported session has %s", secret)
			}
		}
	}
	if _, ok := export.User["password_hash"]; ok {
		t.Error("exported user has password_hash")
	}

	var done report
	env.Do("DELETE", "/api/users/"+a.ID, nil, "Bearer", admin.Access).Must(t, http.StatusOK).JSON(t, &done)
	for _, rel := range []string{"posts", "comments", "linked_ids"} {
		if plan.Deleted[rel] != done.Deleted[rel] || int64(len(export.Relations[rel])) != done.Deleted[rel] {
			t.Errorf("%s: plan %d, export %d, delete %d; want all equal", rel, plan.Deleted[rel], len(export.Relations[rel]), done.Deleted[rel])
		}
	}
	if plan.Nullified["reviews"] != 1 || done.Nullified["reviews"] != 1 || len(export.Relations["reviews"]) != 1 {
		t.Errorf("reviews: plan %d, export %d, delete %d; want 1", plan.Nullified["reviews"], len(export.Relations["reviews"]), done.Nullified["reviews"])
	}
	env.Do("DELETE", "/api/users/"+a.ID, nil, "Bearer", admin.Access).Must(t, http.StatusNotFound)
	env.Do("GET", "/api/users/"+a.ID+"/deletion-plan", nil, "Bearer", admin.Access).Must(t, http.StatusNotFound)
}

var errCrash = errors.New("injected crash")

func TestDelete_InterruptedPartWayIs500LocksTheAccountOutAndIsResumed(t *testing.T) {
	t.Parallel()
	var now atomic.Int64
	now.Store(time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC).UnixNano())
	clock := func() time.Time { return time.Unix(0, now.Load()).UTC() }
	var crashAt atomic.Int64
	crashAt.Store(3)
	env := lanyardtest.New(t, lanyardtest.WithRelations(t, appRelations), lanyardtest.WithClock(clock),
		lanyardtest.WithDeleteHook(func(rel string, batch int) error {
			if int64(batch) == crashAt.Load() {
				return errCrash
			}
			return nil
		}))
	a, b, admin := env.Register("ada"), env.Register("bob"), env.Register("root")
	env.Promote(admin)
	seedPosts(t, env, a.ID, 1500, 2) // 1,500 posts, 3,000 comments: several batches
	seedPosts(t, env, b.ID, 3, 1)

	r := env.Do("DELETE", "/api/users/"+a.ID, nil, "Bearer", admin.Access)
	if r.Status != http.StatusInternalServerError {
		t.Fatalf("DELETE interrupted by a crash = %d; want 500; body %s", r.Status, r.Body)
	}
	// What the crash leaves in the store (part-way, no orphan, the user marked
	// deleting) and what resuming leaves (nothing of the user, the other user's
	// documents) is relation's TestDelete_InterruptedAfterAnyBatchResumesToTheSameEndWithNoOrphans,
	// after every batch; here, what the accounts answer meanwhile and afterwards.
	env.Do("POST", "/api/auth/login", map[string]any{"email": a.Email, "password": a.Password}).Must(t, http.StatusUnauthorized)
	env.Do("GET", "/api/users/me", nil, "Bearer", a.Access).Must(t, http.StatusUnauthorized)

	// Before the lease lapses nobody takes the job over; after it, any instance does.
	if n, err := env.App.Deleter.ResumeExpired(context.Background()); err != nil || n != 0 {
		t.Fatalf("ResumeExpired within the lease = %d, %v; want 0", n, err)
	}
	crashAt.Store(-1)
	now.Add(int64(61 * time.Second))
	if n, err := env.App.Deleter.ResumeExpired(context.Background()); err != nil || n != 1 {
		t.Fatalf("ResumeExpired after the lease = %d, %v; want 1", n, err)
	}
	env.App.Deleter.Wait()
	env.Do("GET", "/api/users/"+b.ID, nil, "Bearer", admin.Access).Must(t, http.StatusOK)
	env.Do("DELETE", "/api/users/"+a.ID, nil, "Bearer", admin.Access).Must(t, http.StatusNotFound)
}

// An admin's delete that fails gives the role back; when that fails too (here the
// store goes away mid-delete), the account stays demoted, and the request's log line
// must say so beside the delete's own error.
func TestDelete_AFailedRestoreOfTheAdminRoleIsLogged(t *testing.T) {
	t.Parallel()
	if !lanyardtest.Embedded() {
		t.Skip("stops the embedded store; not possible against LANYARD_TEST_MONGODB_URI")
	}
	logs := &lockedBuffer{}
	var env *lanyardtest.Env
	var once atomic.Bool
	env = lanyardtest.New(t, lanyardtest.WithRelations(t, appRelations), lanyardtest.WithOwnStore(), lanyardtest.WithLog(logs),
		lanyardtest.WithDeleteHook(func(string, int) error {
			if once.CompareAndSwap(false, true) {
				env.Store.Stop()
				return errCrash
			}
			return nil
		}))
	ada, root := env.Register("ada"), env.Register("root")
	env.Promote(ada)
	env.Promote(root)
	seedPosts(t, env, ada.ID, 3, 1)

	r := env.Do("DELETE", "/api/users/"+ada.ID, nil, "Bearer", root.Access, "X-Request-Id", "restore-fails")
	if r.Status < 500 {
		t.Fatalf("DELETE with the store gone mid-delete = %d; want 5xx; body %s", r.Status, r.Body)
	}
	var line string
	for deadline := time.Now().Add(20 * time.Second); line == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		for l := range strings.Lines(logs.String()) {
			if strings.Contains(l, "request_id=restore-fails") {
				line = l
			}
		}
	}
	if !strings.Contains(line, errCrash.Error()) || !strings.Contains(line, "admin role") {
		t.Errorf("log line of the failed delete = %q; want the delete's error and the failed restore of the admin role", line)
	}

	env.StartStore()
}

func TestDelete_OutlivingTheRequestAnswers202AndFinishesInTheBackground(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	var once atomic.Bool
	env := lanyardtest.New(t, lanyardtest.WithRelations(t, appRelations), lanyardtest.WithRequestTimeout(time.Second),
		lanyardtest.WithDeleteHook(func(string, int) error {
			if once.CompareAndSwap(false, true) {
				<-release
			}
			return nil
		}))
	a, admin := env.Register("ada"), env.Register("root")
	env.Promote(admin)
	seedPosts(t, env, a.ID, 5, 1)
	r := env.Do("DELETE", "/api/users/"+a.ID, nil, "Bearer", admin.Access).Must(t, http.StatusAccepted)
	if m := r.Map(t); m["status"] != "in_progress" {
		t.Fatalf("202 body = %s; want status in_progress", r.Body)
	}
	// A second request while it runs is also in progress, and starts nothing new.
	env.Do("DELETE", "/api/users/"+a.ID, nil, "Bearer", admin.Access).Must(t, http.StatusAccepted)
	close(release)
	env.App.Deleter.Wait()
	env.Do("GET", "/api/users/"+a.ID, nil, "Bearer", admin.Access).Must(t, http.StatusNotFound)
	env.Do("DELETE", "/api/users/"+a.ID, nil, "Bearer", admin.Access).Must(t, http.StatusNotFound)
	if n := count(t, env, "posts", bson.D{}); n != 0 {
		t.Errorf("posts after the background delete = %d; want 0", n)
	}
}

func TestDelete_CommandsGrowWithBatchesNotDocuments(t *testing.T) {
	t.Parallel()
	measure := func(posts int) (commands, batches int64) {
		// The whole delete must finish within the request, or it answers 202.
		env := lanyardtest.New(t, lanyardtest.WithRelations(t, appRelations), lanyardtest.WithRequestTimeout(time.Minute))
		a, admin := env.Register("ada"), env.Register("root")
		env.Promote(admin)
		seedPosts(t, env, a.ID, posts, 1)
		before := env.App.Deleter.Batches()
		env.Commands.Reset()
		env.Do("DELETE", "/api/users/"+a.ID, nil, "Bearer", admin.Access).Must(t, http.StatusOK)
		return int64(env.Commands.Total()), env.App.Deleter.Batches() - before
	}
	smallCmds, smallBatches := measure(10)
	bigCmds, bigBatches := measure(5000) // 10,000 related documents
	t.Logf("10 posts + 10 comments: %d commands, %d batches; 5,000 posts + 5,000 comments: %d commands, %d batches",
		smallCmds, smallBatches, bigCmds, bigBatches)
	// Each batch costs a fixed handful of commands (read ids, delete, record progress,
	// check the lease), so commands per batch stay bounded as documents grow 500-fold.
	if bigBatches > 20 {
		t.Errorf("10,000 documents took %d batches; want about 10 (1,000 per batch)", bigBatches)
	}
	if per := float64(bigCmds) / float64(bigBatches); per > 12 {
		t.Errorf("%.1f commands per batch at 10,000 documents; want a small constant", per)
	}
	if bigCmds > 10*smallCmds {
		t.Errorf("commands grew from %d to %d for 500× the documents; want growth with batches only", smallCmds, bigCmds)
	}
}

// A chain delete, its plan and the export cost what the user owns, whatever else the
// store holds: the same commands with or without thousands of other users' documents,
// and on the embedded store each of them addresses documents only by _id.
func TestDelete_PlanExportAndDeleteCostWhatTheUserOwnsNotWhatTheStoreHolds(t *testing.T) {
	t.Parallel()
	type costs struct{ plan, export, del int }
	measure := func(otherPosts int) costs {
		env := lanyardtest.New(t, lanyardtest.WithRelations(t, appRelations), lanyardtest.WithRequestTimeout(time.Minute))
		a, admin := env.Register("ada"), env.Register("root")
		env.Promote(admin)
		link(env, a, "crm", "C-1").Must(t, http.StatusCreated)
		seedPosts(t, env, a.ID, 20, 3)
		insertMany(t, env, "reviews", []any{bson.M{"user_id": oid(t, a.ID)}})
		if otherPosts > 0 {
			seedPosts(t, env, admin.ID, otherPosts, 1)
		}
		// Each request once unmeasured first, so the collections are known to the store.
		env.Do("GET", "/api/users/"+a.ID+"/deletion-plan", nil, "Bearer", admin.Access).Must(t, http.StatusOK)
		env.App.Sessions.Wait()

		var c costs
		step := func(name string, n *int, run func()) {
			env.Commands.Reset()
			run()
			*n = env.Commands.Total()
			if env.SQLiteFile != "" {
				if seen := onlyIDFilters(t, env, name, "posts", "comments", "reviews", "orders"); seen == 0 {
					t.Errorf("%s: no filtered command seen; the check would prove nothing", name)
				}
			}
		}
		step("deletion plan", &c.plan, func() {
			env.Do("GET", "/api/users/"+a.ID+"/deletion-plan", nil, "Bearer", admin.Access).Must(t, http.StatusOK)
		})
		step("export", &c.export, func() {
			env.Do("GET", "/api/users/me/export", nil, "Bearer", a.Access).Must(t, http.StatusOK)
		})
		var done report
		step("delete", &c.del, func() {
			env.Do("DELETE", "/api/users/"+a.ID, nil, "Bearer", admin.Access).Must(t, http.StatusOK).JSON(t, &done)
		})
		if done.Deleted["posts"] != 20 || done.Deleted["comments"] != 60 || done.Nullified["reviews"] != 1 {
			t.Errorf("with %d other posts: report %+v; want 20 posts, 60 comments, 1 review detached", otherPosts, done)
		}
		if n := count(t, env, "posts", bson.M{"author_id": oid(t, a.ID)}); n != 0 {
			t.Errorf("with %d other posts: %d of the user's posts remain", otherPosts, n)
		}
		if n := count(t, env, "posts", bson.M{}); n != int64(otherPosts) {
			t.Errorf("%d posts remain; want the other user's %d", n, otherPosts)
		}
		return c
	}
	alone, crowded := measure(0), measure(3000)
	if alone != crowded {
		t.Errorf("commands (plan, export, delete) = %+v alone, %+v among 3,000 other posts; want the same", alone, crowded)
	}
}
