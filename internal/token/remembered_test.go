package token

import (
	"errors"
	"reflect"
	"testing"
	"time"
)

// TestVerify_ARememberedTokenIsCheckedAgainForTimeAndKey: a token that passed once
// is found again without its signature being verified, yet it still expires on
// time, and it dies with its key.
func TestVerify_ARememberedTokenIsCheckedAgainForTimeAndKey(t *testing.T) {
	now := t0
	s := newSignerWith(t, Options{Issuer: testIssuer, TTL: testTTL, Now: func() time.Time { return now }}, testKey)
	tok, want := issue(t, s)
	for i := range 2 {
		if c, err := s.Verify(tok); err != nil || !reflect.DeepEqual(c, want) {
			t.Fatalf("Verify #%d = %+v, %v; want %+v", i+1, c, err, want)
		}
	}
	now = want.ExpiresAt.Add(-time.Millisecond)
	if _, err := s.Verify(tok); err != nil {
		t.Fatalf("Verify a millisecond before exp = %v; want the claims", err)
	}
	now = want.ExpiresAt
	if _, err := s.Verify(tok); !errors.Is(err, ErrInvalid) {
		t.Errorf("Verify at exp = %v; want ErrInvalid", err)
	}

	now = t0
	if err := s.SetKeys([]Key{keyOf(otherKey, t0.Add(-time.Hour))}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Verify(tok); !errors.Is(err, ErrInvalid) {
		t.Errorf("Verify once its key is gone = %v; want ErrInvalid", err)
	}
}

// TestVerify_OnlyTheIdenticalTokenIsRemembered: a copy of a verified token with one
// character of its signature changed is verified in full, and refused.
func TestVerify_OnlyTheIdenticalTokenIsRemembered(t *testing.T) {
	s := newTestSigner(t, t0)
	tok, _ := issue(t, s)
	if _, err := s.Verify(tok); err != nil {
		t.Fatal(err)
	}
	last := tok[len(tok)-2]
	for _, r := range "AQgw" {
		if byte(r) == last {
			continue
		}
		forged := tok[:len(tok)-2] + string(r) + tok[len(tok)-1:]
		if _, err := s.Verify(forged); !errors.Is(err, ErrInvalid) {
			t.Errorf("Verify(signature changed to %q) = %v; want ErrInvalid", r, err)
		}
	}
}

// TestVerify_ARememberedTokenCostsNoAllocation: what a request pays for its token
// after the first is a map lookup.
func TestVerify_ARememberedTokenCostsNoAllocation(t *testing.T) {
	s := newTestSigner(t, t0)
	tok, _ := issue(t, s)
	if _, err := s.Verify(tok); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = s.Verify(tok) }); n != 0 {
		t.Errorf("Verify of a remembered token allocates %v times; want 0", n)
	}
}

// TestRemembered_KeepsTwoGenerations: past rememberedSize tokens the older
// generation is let go, so memory stays bounded, and the newest are still found.
func TestRemembered_KeepsTwoGenerations(t *testing.T) {
	var r remembered
	key := func(i int) string { return string(rune(i)) + "." }
	for i := range 2*rememberedSize + 1 {
		r.put(key(i), Claims{UserID: key(i)})
	}
	if _, ok := r.get(key(0)); ok {
		t.Error("the first token is still remembered after two generations")
	}
	for _, i := range []int{rememberedSize, 2 * rememberedSize} {
		if c, ok := r.get(key(i)); !ok || c.UserID != key(i) {
			t.Errorf("token %d = %+v, %v; want remembered", i, c, ok)
		}
	}
	if n := len(r.cur) + len(r.prev); n > 2*rememberedSize {
		t.Errorf("remembers %d tokens; want at most %d", n, 2*rememberedSize)
	}
}
