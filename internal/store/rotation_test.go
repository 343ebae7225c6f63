package store_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/lanyard/lanyard"
	"github.com/lanyard/lanyard/internal/lanyardtest"
	"github.com/lanyard/lanyard/internal/store"
)

// secretHash is the hash of the n-th made-up secret of a session.
func secretHash(n byte) []byte {
	h := sha256.Sum256([]byte{n})
	return h[:]
}

// newSession stores a session whose current secret is secretHash(0), as a login does.
func newSession(t *testing.T, st *store.Store, now time.Time) lanyard.Session {
	t.Helper()
	now = store.Millis(now)
	ss := lanyard.Session{
		ID: store.NewID(), UserID: store.NewID(), SecretHash: secretHash(0),
		CreatedAt: now, LastUsedAt: now, ExpiresAt: now.Add(time.Hour),
	}
	if err := st.InsertSession(context.Background(), &ss); err != nil {
		t.Fatal(err)
	}
	return ss
}

// TestRotateRefresh_ALateRotationNeverUndoesALaterOne: a request that read the session
// before two rotations and only now tries to spend the secret it read finds it spent,
// and leaves the session where the later rotations put it (the compare-and-set on the
// secret that finishes a claimed rotation).
func TestRotateRefresh_ALateRotationNeverUndoesALaterOne(t *testing.T) {
	t.Parallel()
	st := lanyardtest.OpenStore(t)
	ctx, now := context.Background(), time.Now()
	exp := now.Add(time.Hour)
	read0 := newSession(t, st, now)
	read1, err := st.RotateRefresh(ctx, read0, secretHash(1), now, exp)
	if err != nil {
		t.Fatalf("first rotation: %v", err)
	}
	if _, err := st.RotateRefresh(ctx, read1, secretHash(2), now, exp); err != nil {
		t.Fatalf("second rotation: %v", err)
	}
	late, err := st.RotateRefresh(ctx, read0, secretHash(1), now, exp)
	if !errors.Is(err, store.ErrRefreshSpent) {
		t.Fatalf("late rotation of the first secret = %v; want ErrRefreshSpent", err)
	}
	if !bytes.Equal(late.SecretHash, secretHash(2)) || late.Generation != 2 {
		t.Errorf("late rotation answers generation %d; want the session as it stands, generation 2 on the third secret", late.Generation)
	}
	cur, err := st.SessionByID(ctx, read0.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(cur.SecretHash, secretHash(2)) || cur.Generation != 2 {
		t.Errorf("after the late rotation the session is at generation %d; want 2 on the third secret", cur.Generation)
	}
}

// TestRotateRefresh_OfConcurrentRotationsOfOneSecretExactlyOneWins: twenty requests
// spend the same secret at once; one rotates, the others find it spent, and the
// session moves exactly once.
func TestRotateRefresh_OfConcurrentRotationsOfOneSecretExactlyOneWins(t *testing.T) {
	t.Parallel()
	st := lanyardtest.OpenStore(t)
	ctx, now := context.Background(), time.Now()
	read := newSession(t, st, now)
	const n = 20
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = st.RotateRefresh(ctx, read, secretHash(1), now, now.Add(time.Hour))
		}()
	}
	wg.Wait()
	won := 0
	for i, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, store.ErrRefreshSpent):
			t.Errorf("rotation %d = %v; want success or ErrRefreshSpent", i, err)
		}
	}
	if won != 1 {
		t.Errorf("%d of %d concurrent rotations won; want exactly 1", won, n)
	}
	cur, err := st.SessionByID(ctx, read.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(cur.SecretHash, secretHash(1)) || cur.Generation != 1 {
		t.Errorf("the session is at generation %d; want 1 on the second secret", cur.Generation)
	}
}
