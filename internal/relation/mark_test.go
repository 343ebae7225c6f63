package relation_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/lanyard/lanyard"
	"github.com/lanyard/lanyard/internal/lanyardtest"
	"github.com/lanyard/lanyard/internal/relation"
	"github.com/lanyard/lanyard/internal/store"
)

// A chain delete starts by marking its user deleting with a new token version, so
// every token it holds dies while the walk runs; a job that resumes finds its user
// marked already and leaves the version alone. The marking is the Deleter's decision;
// the store only applies the typed change.
func TestDelete_MarksItsUserDeletingWithANewTokenVersionOnce(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name   string
		marked bool // the user is marked already, as a resumed job finds it
		want   int64
	}{
		{name: "an active user", want: 4},
		{name: "a user marked by an earlier run", marked: true, want: 3},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			st, clock := lanyardtest.OpenStore(t), lanyardtest.NewClock()
			u := markUser(t, st, clock.Now(), 3)
			if tt.marked {
				deleting := lanyard.StatusDeleting
				if _, err := st.UpdateUser(ctx, u.ID, store.UserChange{Status: &deleting}, clock.Now()); err != nil {
					t.Fatal(err)
				}
			}
			// The user's session is the walk's one batch; after it the user is still there
			// to be read, as marked.
			if err := st.InsertSession(ctx, &lanyard.Session{ID: store.NewID(), UserID: u.ID, SecretHash: []byte("h"),
				CreatedAt: clock.Now(), LastUsedAt: clock.Now(), ExpiresAt: clock.Now().Add(time.Hour)}); err != nil {
				t.Fatal(err)
			}
			var during lanyard.User
			d := relation.NewDeleter(st, markRegistry(t), relation.DeleterOptions{Now: clock.Now, AfterBatch: func(string, int) error {
				var err error
				during, err = st.UserByID(ctx, u.ID)
				return err
			}})
			t.Cleanup(d.Wait)
			if _, err := d.Delete(ctx, u.ID, u.ID.Hex()); err != nil {
				t.Fatalf("Delete = %v", err)
			}
			if during.Status != lanyard.StatusDeleting || during.TokenVersion != tt.want {
				t.Errorf("user during the delete: status %q, token version %d; want %q, %d", during.Status, during.TokenVersion, lanyard.StatusDeleting, tt.want)
			}
		})
	}
}

// A job whose user an earlier run already erased (it crashed after the user, before
// the job was finished) marks no one and finishes.
func TestDelete_OfAUserAlreadyGoneFinishes(t *testing.T) {
	t.Parallel()
	st, clock := lanyardtest.OpenStore(t), lanyardtest.NewClock()
	d := relation.NewDeleter(st, markRegistry(t), relation.DeleterOptions{Now: clock.Now})
	t.Cleanup(d.Wait)
	gone := store.NewID()
	r, err := d.Delete(context.Background(), gone, gone.Hex())
	if err != nil {
		t.Fatalf("Delete of a user already gone = %v; want its report", err)
	}
	if r.Deleted[relation.Users] != 1 {
		t.Errorf("report = %+v; want the user counted as deleted", r)
	}
	if _, err := st.UserByID(context.Background(), gone); !errors.Is(err, lanyard.ErrNotFound) {
		t.Errorf("UserByID after the delete = %v; want ErrNotFound", err)
	}
}

// markUser stores an active user whose token version is version.
func markUser(t *testing.T, st *store.Store, now time.Time, version int64) lanyard.User {
	t.Helper()
	u := lanyard.User{ID: store.NewID(), Email: "ada@example.com", PasswordHash: "-", Role: lanyard.RoleUser, Status: lanyard.StatusActive,
		TokenVersion: version, CreatedAt: now, UpdatedAt: now}
	if err := st.InsertUser(context.Background(), &u, now); err != nil {
		t.Fatalf("InsertUser = %v", err)
	}
	return u
}

// markRegistry is the built-in relations alone.
func markRegistry(t *testing.T) *relation.Registry {
	t.Helper()
	r, err := relation.Parse([]byte("relations: []"))
	if err != nil {
		t.Fatalf("Parse = %v", err)
	}
	return r
}
