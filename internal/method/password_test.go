package method_test

import (
	"context"
	"crypto/rand"
	"errors"
	"os"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lanyard/lanyard"
	"github.com/lanyard/lanyard/internal/account"
	"github.com/lanyard/lanyard/internal/lanyardtest"
	"github.com/lanyard/lanyard/internal/method"
	"github.com/lanyard/lanyard/internal/password"
	"github.com/lanyard/lanyard/internal/store"
	"github.com/lanyard/lanyard/internal/throttle"
)

func TestMain(m *testing.M) { os.Exit(lanyardtest.Main(m)) }

const pw = "correct horse battery staple"

// rig is the password method on a fresh database, with what a test looks at.
type rig struct {
	st     *store.Store
	m      *method.Password
	clock  *lanyardtest.Clock
	hashes atomic.Int32 // hashes and verifications run
	ada    lanyard.User // registered with pw, username "ada"
}

func setup(t *testing.T, failureLimit int) *rig {
	t.Helper()
	r := &rig{st: lanyardtest.OpenStore(t), clock: lanyardtest.NewClock()}
	hasher := password.NewHasher(password.Options{Params: password.Cheap, Concurrency: 4,
		Observe: func(time.Duration, time.Duration) { r.hashes.Add(1) }})
	key := make([]byte, 32)
	rand.Read(key)
	lim, err := throttle.New(throttle.Options{Store: r.st, LoginFailureLimit: failureLimit, RegisterLimit: 1000, DataKey: key, Now: r.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	name := "ada"
	r.ada, err = account.New(r.st, hasher, r.clock.Now).Register(context.Background(), account.Registration{Email: "ada@example.com", Password: pw, Username: &name})
	if err != nil {
		t.Fatal(err)
	}
	r.m = method.NewPassword(r.st, hasher, lim, r.clock.Now)
	return r
}

func TestProve_SaysWhoAndHowByEmailOrUsername(t *testing.T) {
	t.Parallel()
	r := setup(t, 5)
	for _, login := range []string{"ada@example.com", " ADA@example.com ", "ada", "Ada"} {
		p, err := r.m.Prove(context.Background(), login, pw, "192.0.2.1")
		if err != nil {
			t.Fatalf("Prove(%q) = %v; want a proof", login, err)
		}
		if p.User.ID != r.ada.ID || !reflect.DeepEqual(p.AMR, []string{"pwd"}) {
			t.Errorf("Prove(%q) = user %s, amr %q; want %s, [pwd]", login, p.User.ID, p.AMR, r.ada.ID)
		}
		// The address becomes one the throttle knows, for the session's write to record.
		if len(p.KnownAddrs) != 1 {
			t.Errorf("Prove(%q) known addresses = %d; want 1 (this one)", login, len(p.KnownAddrs))
		}
	}
}

// TestProve_RefusesAlikeAfterTheSameHashing: an unknown account, a wrong password and
// an account being deleted are one answer, each after exactly one hash.
func TestProve_RefusesAlikeAfterTheSameHashing(t *testing.T) {
	t.Parallel()
	r := setup(t, 100)
	deleting := setup(t, 100)
	status := lanyard.StatusDeleting // as a chain delete marks its user
	if _, err := deleting.st.UpdateUser(context.Background(), deleting.ada.ID, store.UserChange{Status: &status, BumpVersion: true}, deleting.clock.Now()); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name        string
		r           *rig
		login, pass string
	}{
		{"unknown email", r, "nobody@example.com", pw},
		{"unknown username", r, "nobody", pw},
		{"wrong password", r, "ada@example.com", pw + "!"},
		{"empty password", r, "ada", ""},
		{"empty login", r, "", pw},
		{"account being deleted", deleting, "ada@example.com", pw},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := tt.r.hashes.Load()
			_, err := tt.r.m.Prove(context.Background(), tt.login, tt.pass, "192.0.2.1")
			if !errors.Is(err, lanyard.ErrBadCredentials) {
				t.Errorf("Prove(%q) = %v; want ErrBadCredentials", tt.login, err)
			}
			if n := tt.r.hashes.Load() - before; n != 1 {
				t.Errorf("Prove(%q) ran %d hashes; want 1, as for a right password", tt.login, n)
			}
		})
	}
}

// TestProve_ThrottleDecidesBeforeAnyHashing: past the account's failure limit even the
// right password is refused, and costs no hashing.
func TestProve_ThrottleDecidesBeforeAnyHashing(t *testing.T) {
	t.Parallel()
	r := setup(t, 2)
	for range 2 {
		if _, err := r.m.Prove(context.Background(), "ada", "wrong password", "192.0.2.1"); !errors.Is(err, lanyard.ErrBadCredentials) {
			t.Fatalf("Prove(wrong password) = %v; want ErrBadCredentials", err)
		}
	}
	before := r.hashes.Load()
	_, err := r.m.Prove(context.Background(), "ada", pw, "198.51.100.7")
	var th *lanyard.ThrottledError
	if !errors.As(err, &th) {
		t.Fatalf("Prove(right password, past the limit) = %v; want a *lanyard.ThrottledError", err)
	}
	if n := r.hashes.Load() - before; n != 0 {
		t.Errorf("a throttled Prove ran %d hashes; want 0", n)
	}
}

// TestProve_ReplacesAnOldHash: a hash with other parameters than the current ones is
// replaced by a current one at the next proof, and the proof's user holds it.
func TestProve_ReplacesAnOldHash(t *testing.T) {
	t.Parallel()
	r := setup(t, 5)
	old := password.NewHasher(password.Options{Params: password.Params{Memory: 32, Time: 1, Threads: 1}})
	hash, err := old.Hash(context.Background(), pw)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.st.UpdateUser(context.Background(), r.ada.ID, store.UserChange{PasswordHash: &hash}, r.clock.Now()); err != nil {
		t.Fatal(err)
	}
	p, err := r.m.Prove(context.Background(), "ada", pw, "192.0.2.1")
	if err != nil {
		t.Fatalf("Prove = %v; want a proof", err)
	}
	stored, err := r.st.UserByID(context.Background(), r.ada.ID)
	if err != nil {
		t.Fatal(err)
	}
	if stored.PasswordHash == hash || p.User.PasswordHash != stored.PasswordHash {
		t.Errorf("after Prove the stored hash is %s the old one (proof's user: %s); want a new one, in the proof too",
			map[bool]string{true: "still", false: "not"}[stored.PasswordHash == hash], map[bool]string{true: "the stored", false: "another"}[p.User.PasswordHash == stored.PasswordHash])
	}
	if _, err := r.m.Prove(context.Background(), "ada", pw, "192.0.2.1"); err != nil {
		t.Errorf("Prove with the upgraded hash = %v; want a proof", err)
	}
}
