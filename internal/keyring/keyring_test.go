package keyring_test

import (
	"bytes"
	"context"
	"os"
	"testing"
	"time"

	"github.com/lanyard/lanyard/internal/keyring"
	"github.com/lanyard/lanyard/internal/lanyardtest"
	"github.com/lanyard/lanyard/internal/store"
	"github.com/lanyard/lanyard/internal/token"
)

func TestMain(m *testing.M) { os.Exit(lanyardtest.Main(m)) }

var dataKey = bytes.Repeat([]byte{7}, 32)

// ring is one instance's keyring on st, with its own Signer.
func ring(t *testing.T, st *store.Store, key []byte, clock *lanyardtest.Clock) (*keyring.Ring, *token.Signer) {
	t.Helper()
	s, err := token.NewSigner(token.Options{Issuer: "lanyard", TTL: 15 * time.Minute, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	r, err := keyring.New(keyring.Options{Store: st, DataKey: key, Signer: s, PublishDelay: 10 * time.Minute, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return r, s
}

// TestStart_InstancesStartingAtOnceAgreeOnOneKey: of instances starting together
// on an empty store, one adds the first key and every one signs with it.
func TestStart_InstancesStartingAtOnceAgreeOnOneKey(t *testing.T) {
	t.Parallel()
	st, clock := lanyardtest.OpenStore(t), lanyardtest.NewClock()
	const n = 8
	signers, errs := make([]*token.Signer, n), make([]error, n)
	rings := make([]*keyring.Ring, n)
	for i := range n {
		rings[i], signers[i] = ring(t, st, dataKey, clock)
	}
	lanyardtest.AtOnce(n, func(i int) { errs[i] = rings[i].Start(context.Background()) })
	for i, err := range errs {
		if err != nil {
			t.Fatalf("instance %d: Start = %v", i, err)
		}
	}
	keys, err := st.SigningKeys(context.Background())
	if err != nil || len(keys) != 1 {
		t.Fatalf("stored keys = %d, %v; want exactly 1", len(keys), err)
	}
	for i, s := range signers {
		if s.CurrentKeyID() != keys[0].KID {
			t.Errorf("instance %d signs with %q; want the one stored key %s", i, s.CurrentKeyID(), keys[0].KID)
		}
	}
}

// TestRotate_ConcurrentRotationsEachAddAKey: rotations at once take places one
// after another, none lost.
func TestRotate_ConcurrentRotationsEachAddAKey(t *testing.T) {
	t.Parallel()
	st, clock := lanyardtest.OpenStore(t), lanyardtest.NewClock()
	r, _ := ring(t, st, dataKey, clock)
	if err := r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	const n = 4
	errs := make([]error, n)
	lanyardtest.AtOnce(n, func(i int) { _, errs[i] = r.Rotate(context.Background()) })
	for i, err := range errs {
		if err != nil {
			t.Errorf("rotation %d = %v", i, err)
		}
	}
	list, err := r.List(context.Background())
	if err != nil || len(list) != 1+n {
		t.Fatalf("keys = %d, %v; want %d", len(list), err, 1+n)
	}
}

// TestStart_RefusesKeysThatDoNotOpen: keys sealed under another data key, or a
// document whose kid names another key, stop the start instead of signing.
func TestStart_RefusesKeysThatDoNotOpen(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, clock := lanyardtest.OpenStore(t), lanyardtest.NewClock()
	r, _ := ring(t, st, dataKey, clock)
	if err := r.Start(ctx); err != nil {
		t.Fatal(err)
	}
	other, _ := ring(t, st, bytes.Repeat([]byte{8}, 32), clock)
	if err := other.Start(ctx); err == nil {
		t.Error("Start with another data key = nil; want an error")
	}

	keys, err := st.SigningKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The first store's sealed key copied under another kid, as a second key.
	forged := keys[0]
	forged.Seq, forged.KID = 2, "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0MjQyNDI"
	if err := st.AddSigningKey(ctx, forged); err != nil {
		t.Fatal(err)
	}
	if err := r.Load(ctx); err == nil {
		t.Error("Load with a key under a kid not its own = nil; want an error")
	}
}
