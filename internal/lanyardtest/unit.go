package lanyardtest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/lanyard/lanyard/internal/store"
)

// OpenStore opens a fresh database on the test binary's store for a unit test of a
// domain package, prepared as the service prepares its own (every index; on the
// embedded store serial writes, the SQLite indexes and the _id indexes of the
// built-in collections), and drops it when the test ends. Call lanyardtest.Main from
// the package's TestMain first.
func OpenStore(t testing.TB) *store.Store {
	t.Helper()
	if shared.uri == "" {
		t.Fatal("lanyardtest: no store; call lanyardtest.Main from TestMain")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db := "u_" + randomHex(8)
	sqliteFile := ""
	if shared.embedded != nil {
		sqliteFile = store.SQLiteFile(shared.dir, db)
	}
	st, err := store.Open(ctx, shared.uri, db, store.Options{SerialWrites: sqliteFile != "", SQLiteFile: sqliteFile})
	if err != nil {
		t.Fatalf("lanyardtest: open store: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := st.Drop(ctx); err != nil {
			t.Errorf("lanyardtest: drop database: %v", err)
		}
		_ = st.Close(ctx)
	})
	if err := st.EnsureIndexes(ctx); err != nil {
		t.Fatalf("lanyardtest: indexes: %v", err)
	}
	if err := st.EnsureExpiryIndexes(ctx); err != nil {
		t.Fatalf("lanyardtest: expiry indexes: %v", err)
	}
	if sqliteFile != "" {
		if _, err := store.EnsureIDIndexes(ctx, sqliteFile, store.Collections()); err != nil {
			t.Fatalf("lanyardtest: _id indexes: %v", err)
		}
	}
	return st
}

// Clock is a clock that moves only when the test moves it; give its Now to what a
// test builds.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a Clock at a fixed instant, so that what a test computes from it
// is the same on every run.
func NewClock() *Clock { return NewClockAt(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)) }

// NewClockAt returns a Clock at t.
func NewClockAt(t time.Time) *Clock { return &Clock{now: t} }

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock on by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}
