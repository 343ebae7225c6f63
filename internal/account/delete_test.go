package account_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/lanyard/lanyard"
	"github.com/lanyard/lanyard/internal/account"
	"github.com/lanyard/lanyard/internal/lanyardtest"
	"github.com/lanyard/lanyard/internal/password"
	"github.com/lanyard/lanyard/internal/relation"
	"github.com/lanyard/lanyard/internal/store"
	"github.com/lanyard/lanyard/internal/throttle"
)

// The rules of an account's deletion, against the real store: the password that a
// self-delete needs, and the admin's step-down around the chain delete. What the
// chain delete removes is relation's; how a delete answers over HTTP (200, 202, 409,
// 422) is httpapi's deletion_test.go and lastadmin_test.go.

// deletion is an account.Service that deletes through a relation.Deleter, on a fresh
// database whose registry holds a restrict relation, orders.
type deletion struct {
	svc *account.Service
	st  *store.Store
}

// newDeletion builds it; loginLimit is the throttle's failed-login limit (0: none a
// test reaches).
func newDeletion(t *testing.T, loginLimit int) deletion {
	t.Helper()
	if loginLimit == 0 {
		loginLimit = 100000
	}
	st, clock := lanyardtest.OpenStore(t), lanyardtest.NewClock()
	l, err := throttle.New(throttle.Options{Store: st, LoginFailureLimit: loginLimit, RegisterLimit: 100000,
		DataKey: []byte(strings.Repeat("d", 32)), Now: clock.Now})
	if err != nil {
		t.Fatalf("throttle.New: %v", err)
	}
	reg, err := relation.Parse([]byte(`relations: [{name: orders, collection: orders, parent: users, field: user_id, on_delete: restrict}]`))
	if err != nil {
		t.Fatalf("relation.Parse: %v", err)
	}
	if err := st.EnsureRelationIndex(context.Background(), "orders", "user_id"); err != nil {
		t.Fatalf("EnsureRelationIndex: %v", err)
	}
	d := relation.NewDeleter(st, reg, relation.DeleterOptions{Now: clock.Now})
	t.Cleanup(d.Wait)
	svc := account.New(st, password.NewHasher(password.Options{Params: password.Cheap, Concurrency: 4}), clock.Now)
	svc.UseLimiter(l)
	svc.UseDeleter(d)
	return deletion{svc: svc, st: st}
}

// user registers email, an admin when admin is set.
func (f deletion) user(t *testing.T, email string, admin bool) lanyard.User {
	t.Helper()
	ctx := context.Background()
	u, err := f.svc.Register(ctx, account.Registration{Email: email, Password: lanyardtest.DefaultPassword})
	if err != nil {
		t.Fatalf("Register(%q) = %v", email, err)
	}
	if admin {
		if u, err = f.svc.Promote(ctx, email); err != nil {
			t.Fatalf("Promote(%q) = %v", email, err)
		}
	}
	return u
}

// stored is u as stored now; ok is false once it is gone.
func (f deletion) stored(t *testing.T, u lanyard.User) (_ lanyard.User, ok bool) {
	t.Helper()
	got, err := f.st.UserByID(context.Background(), u.ID)
	if errors.Is(err, lanyard.ErrNotFound) {
		return lanyard.User{}, false
	}
	if err != nil {
		t.Fatalf("UserByID: %v", err)
	}
	return got, true
}

// order makes u hold a document of the restrict relation, which blocks its delete.
func (f deletion) order(t *testing.T, u lanyard.User) {
	t.Helper()
	if _, err := f.st.Raw().Collection("orders").InsertOne(context.Background(), bson.D{{Key: "user_id", Value: bson.ObjectID(u.ID)}}); err != nil {
		t.Fatalf("insert order: %v", err)
	}
}

func TestDeleteSelf_NeedsTheAccountsPasswordReportedOnPasswordAndChangesNothingWithout(t *testing.T) {
	t.Parallel()
	for _, pw := range []string{"", "not it at all", strings.ToUpper(lanyardtest.DefaultPassword)} {
		t.Run(pw, func(t *testing.T) {
			t.Parallel()
			f := newDeletion(t, 0)
			u := f.user(t, "ada@example.com", false)
			_, err := f.svc.DeleteSelf(context.Background(), u, pw, "192.0.2.1")
			var inv *lanyard.InvalidError
			if !errors.As(err, &inv) || len(inv.Fields) != 1 || inv.Fields[0] != (lanyard.FieldError{Location: "password", Message: "is not correct"}) {
				t.Fatalf("DeleteSelf(%q) = %v; want an InvalidError on password only", pw, err)
			}
			if got, ok := f.stored(t, u); !ok || got.Status != lanyard.StatusActive || got.TokenVersion != u.TokenVersion {
				t.Errorf("user after DeleteSelf(%q) = %+v (stored %v); want it active and unchanged", pw, got, ok)
			}
			if n := lanyardtest.RawCount(t, f.st.Raw(), "deletion_jobs", nil); n != 0 {
				t.Errorf("deletion jobs after DeleteSelf(%q) = %d; want 0", pw, n)
			}
		})
	}
}

func TestDeleteSelf_WithThePasswordDeletesTheAccount(t *testing.T) {
	t.Parallel()
	f := newDeletion(t, 0)
	u := f.user(t, "ada@example.com", false)
	r, err := f.svc.DeleteSelf(context.Background(), u, lanyardtest.DefaultPassword, "192.0.2.1")
	if err != nil {
		t.Fatalf("DeleteSelf with the password = %v", err)
	}
	if r.UserID != u.ID.Hex() || r.Deleted[relation.Users] != 1 {
		t.Errorf("report = %+v; want the user deleted", r)
	}
	if _, ok := f.stored(t, u); ok {
		t.Error("the user is still stored")
	}
}

// A stolen access token must not guess the password faster than a login can.
func TestDeleteSelf_AWrongPasswordIsAFailedLoginAndPastTheLimitEvenTheRightOneIsRefused(t *testing.T) {
	t.Parallel()
	f := newDeletion(t, 2)
	u := f.user(t, "ada@example.com", false)
	ctx := context.Background()
	for i := range 2 {
		if _, err := f.svc.DeleteSelf(ctx, u, "not it at all", "203.0.113.66"); !errors.As(err, new(*lanyard.InvalidError)) {
			t.Fatalf("DeleteSelf with a wrong password #%d = %v; want an InvalidError", i+1, err)
		}
	}
	_, err := f.svc.DeleteSelf(ctx, u, lanyardtest.DefaultPassword, "203.0.113.66")
	if !errors.As(err, new(*lanyard.ThrottledError)) {
		t.Fatalf("DeleteSelf with the password after 2 failures = %v; want a *lanyard.ThrottledError", err)
	}
	if _, ok := f.stored(t, u); !ok {
		t.Error("a throttled DeleteSelf deleted the user")
	}
}

// The admin steps down before the chain delete, so the last admin is refused, and
// gets the role back unless the delete goes ahead.
func TestDelete_AnAdminStepsDownFirstAndGetsTheRoleBackUnlessTheDeleteGoesAhead(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name     string
		other    bool   // another admin exists
		blocked  bool   // the user holds an order, which restricts its delete
		underway bool   // a delete of the user is already under way
		want     string // the error's kind; "" for none
		deleted  bool
		role     lanyard.Role // the role afterwards, if not deleted
	}{
		{name: "another admin exists", other: true, deleted: true},
		{name: "the last admin", want: "last admin", role: lanyard.RoleAdmin},
		{name: "blocked by a restrict relation", other: true, blocked: true, want: "blocked", role: lanyard.RoleAdmin},
		{name: "already under way", other: true, underway: true, want: "in progress", role: lanyard.RoleUser},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newDeletion(t, 0)
			ctx := context.Background()
			u := f.user(t, "root@example.com", true)
			if tt.other {
				f.user(t, "other@example.com", true)
			}
			if tt.blocked {
				f.order(t, u)
			}
			if tt.underway {
				if err := f.st.InsertJob(ctx, &store.DeletionJob{UserID: u.ID, LeaseOwner: "elsewhere"}); err != nil {
					t.Fatalf("InsertJob: %v", err)
				}
			}
			_, err := f.svc.Delete(ctx, u, u.ID)
			if kind := deleteErrKind(err); kind != tt.want {
				t.Fatalf("Delete = %v (%q); want %q", err, kind, tt.want)
			}
			got, ok := f.stored(t, u)
			if ok == tt.deleted {
				t.Fatalf("after Delete the user is stored: %v; want %v", ok, !tt.deleted)
			}
			if ok && got.Role != tt.role {
				t.Errorf("role after Delete = %q; want %q", got.Role, tt.role)
			}
		})
	}
}

// deleteErrKind names the kind of a Delete's error: "" for none, "other" for one the
// tests do not expect.
func deleteErrKind(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, lanyard.ErrLastAdmin):
		return "last admin"
	case errors.As(err, new(*relation.BlockedError)):
		return "blocked"
	case errors.Is(err, relation.ErrInProgress):
		return "in progress"
	}
	return "other"
}
