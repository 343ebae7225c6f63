package linkid

import (
	"bytes"
	"errors"
	"testing"
)

func testKeys(t *testing.T, fill byte) *Keys {
	t.Helper()
	k, err := NewKeys(bytes.Repeat([]byte{fill}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestSeal_OpensOnlyForTheSameUserAndProvider(t *testing.T) {
	k := testKeys(t, 1)
	sealed := k.Seal("user-a", "google", "1234567890")
	if got, err := k.Open("user-a", "google", sealed); err != nil || got != "1234567890" {
		t.Fatalf("Open(same place) = %q, %v; want the external id", got, err)
	}
	for _, c := range []struct{ user, provider string }{{"user-b", "google"}, {"user-a", "github"}} {
		if got, err := k.Open(c.user, c.provider, sealed); !errors.Is(err, ErrDecrypt) {
			t.Errorf("Open(%s, %s) = %q, %v; want ErrDecrypt", c.user, c.provider, got, err)
		}
	}
	if _, err := testKeys(t, 2).Open("user-a", "google", sealed); !errors.Is(err, ErrDecrypt) {
		t.Errorf("Open under another root key = %v; want ErrDecrypt", err)
	}
	if _, err := k.Open("user-a", "google", sealed[:5]); !errors.Is(err, ErrDecrypt) {
		t.Errorf("Open(truncated) = %v; want ErrDecrypt", err)
	}
}

func TestSeal_UsesAFreshNonceEachTime(t *testing.T) {
	k := testKeys(t, 1)
	if a, b := k.Seal("u", "p", "x"), k.Seal("u", "p", "x"); bytes.Equal(a, b) {
		t.Fatal("two seals of one value are equal; the nonce is not fresh")
	}
}

func TestLookup_IsKeyedAndSeparatesProviderFromID(t *testing.T) {
	k := testKeys(t, 1)
	if k.Lookup("ab", "c") == k.Lookup("a", "bc") {
		t.Error("Lookup(ab, c) == Lookup(a, bc)")
	}
	if k.Lookup("google", "1") != k.Lookup("google", "1") {
		t.Error("Lookup is not deterministic")
	}
	if k.Lookup("google", "1") == testKeys(t, 2).Lookup("google", "1") {
		t.Error("Lookup does not depend on the key")
	}
}

func TestCanonical(t *testing.T) {
	cases := []struct {
		provider, id  string
		wantP, wantID string
		wantBad       []string
	}{
		{"Google", " 123 ", "google", "123", nil},
		{"crm.v2", "e\u0301", "crm.v2", "\u00e9", nil}, // decomposed é becomes composed
		{"g", "x", "", "", []string{"provider"}},
		{"1abc", "x", "", "", []string{"provider"}},
		{"google", "   ", "", "", []string{"external_id"}},
		{"google", "a\x00b", "", "", []string{"external_id"}},
		{"google", string(bytes.Repeat([]byte("x"), 257)), "", "", []string{"external_id"}},
		{"", "", "", "", []string{"provider", "external_id"}},
	}
	for _, c := range cases {
		p, id, err := Canonical(c.provider, c.id)
		if c.wantBad == nil {
			if err != nil || p != c.wantP || id != c.wantID {
				t.Errorf("Canonical(%q, %q) = %q, %q, %v; want %q, %q", c.provider, c.id, p, id, err, c.wantP, c.wantID)
			}
			continue
		}
		var bad interface{ Error() string }
		if err == nil {
			t.Errorf("Canonical(%q, %q) accepted; want problems with %v", c.provider, c.id, c.wantBad)
			continue
		}
		bad = err
		for _, f := range c.wantBad {
			if !bytes.Contains([]byte(bad.Error()), []byte(f+":")) {
				t.Errorf("Canonical(%q, %q) = %v; want a problem with %s", c.provider, c.id, err, f)
			}
		}
	}
}
