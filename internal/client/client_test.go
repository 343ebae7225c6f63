package client_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"os"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/lanyard/lanyard"
	"github.com/lanyard/lanyard/internal/client"
	"github.com/lanyard/lanyard/internal/lanyardtest"
	"github.com/lanyard/lanyard/internal/store"
)

func TestMain(m *testing.M) { os.Exit(lanyardtest.Main(m)) }

func setup(t *testing.T) (*store.Store, *client.Service) {
	t.Helper()
	st := lanyardtest.OpenStore(t)
	return st, client.New(st, lanyardtest.NewClock().Now)
}

func add(t *testing.T, s *client.Service, name string) (lanyard.Client, string) {
	t.Helper()
	c, secret, err := s.Add(context.Background(), name)
	if err != nil {
		t.Fatalf("Add(%q): %v", name, err)
	}
	return c, string(secret)
}

// An unknown id, a malformed one, another client's secret, a wrong or malformed
// secret and a removed client's secret are one error, word for word: a refusal says
// nothing of which client ids exist.
func TestAuthenticate_RefusesUnknownIDAndWrongSecretAlike(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, s := setup(t)
	billing, secret := add(t, s, "billing")
	_, otherSecret := add(t, s, "reports")
	removed, removedSecret := add(t, s, "old")
	if err := s.Remove(ctx, removed.ID); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Authenticate(ctx, billing.ID, secret); err != nil || got.ID != billing.ID || got.Name != "billing" {
		t.Fatalf("Authenticate with the right secret = %+v, %v; want billing", got, err)
	}
	wrong := base64.RawURLEncoding.EncodeToString(make([]byte, 32))
	tests := []struct{ name, id, secret string }{
		{"unknown id", strings.Repeat("ab", 16), secret},
		{"malformed id", "billing", secret},
		{"empty id", "", secret},
		{"wrong secret", billing.ID, wrong},
		{"another client's secret", billing.ID, otherSecret},
		{"malformed secret", billing.ID, secret + "x"},
		{"empty secret", billing.ID, ""},
		{"removed client", removed.ID, removedSecret},
	}
	var first string
	for _, tt := range tests {
		got, err := s.Authenticate(ctx, tt.id, tt.secret)
		if !errors.Is(err, lanyard.ErrClientInvalid) || got.ID != "" {
			t.Errorf("%s: Authenticate = %+v, %v; want lanyard.ErrClientInvalid and no client", tt.name, got, err)
			continue
		}
		if first == "" {
			first = err.Error()
		} else if err.Error() != first {
			t.Errorf("%s: error %q; want the same as every refusal, %q", tt.name, err, first)
		}
	}
}

// The store keeps the secret's SHA-256, never the secret; ids and secrets are fresh
// for every client.
func TestAdd_StoresOnlyTheSecretsHash(t *testing.T) {
	t.Parallel()
	st, s := setup(t)
	c1, secret1 := add(t, s, "  billing  ")
	c2, secret2 := add(t, s, "billing")
	if c1.ID == c2.ID || secret1 == secret2 {
		t.Fatalf("two clients share id or secret: %s/%s", c1.ID, c2.ID)
	}
	if c1.Name != "billing" {
		t.Errorf("name = %q; want it trimmed to billing", c1.Name)
	}
	var doc bson.M
	if !lanyardtest.RawDoc(t, st.Raw(), "clients", bson.D{{Key: "_id", Value: c1.ID}}, &doc) {
		t.Fatal("no clients document under the client id")
	}
	raw, _ := base64.RawURLEncoding.DecodeString(secret1)
	sum := sha256.Sum256(raw)
	if h, ok := doc["secret_hash"].(bson.Binary); !ok || string(h.Data) != string(sum[:]) {
		t.Errorf("secret_hash = %v; want the SHA-256 of the secret", doc["secret_hash"])
	}
	for k, v := range doc {
		if s, ok := v.(string); ok && strings.Contains(s, secret1) {
			t.Errorf("field %s holds the secret", k)
		}
	}
}

func TestAdd_RefusesABadNameAndStoresNothing(t *testing.T) {
	t.Parallel()
	st, s := setup(t)
	for _, name := range []string{"", "   ", strings.Repeat("x", client.MaxName+1), "bad\x00name", "bad\nname"} {
		_, secret, err := s.Add(context.Background(), name)
		var inv *lanyard.InvalidError
		if !errors.As(err, &inv) || secret != "" {
			t.Errorf("Add(%q) = %q, %v; want an InvalidError", name, secret, err)
		}
	}
	if n := lanyardtest.RawCount(t, st.Raw(), "clients", nil); n != 0 {
		t.Errorf("%d clients stored; want none", n)
	}
}

// List shows every client by id; Remove takes one away, and a second Remove of it
// (or of an id that never was) is lanyard.ErrNotFound.
func TestListAndRemove(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, s := setup(t)
	a, _ := add(t, s, "a")
	b, _ := add(t, s, "b")
	ids := func() []string {
		t.Helper()
		cs, err := s.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, c := range cs {
			if len(c.SecretHash) != sha256.Size {
				t.Errorf("listed client %s has no hash", c.ID)
			}
			out = append(out, c.ID+"="+c.Name)
		}
		return out
	}
	want := []string{a.ID + "=a", b.ID + "=b"}
	if a.ID > b.ID {
		want[0], want[1] = want[1], want[0]
	}
	if got := ids(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("List = %v; want %v", got, want)
	}
	if err := s.Remove(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if got := ids(); strings.Join(got, ",") != b.ID+"=b" {
		t.Errorf("List after Remove = %v; want only b", got)
	}
	for _, id := range []string{a.ID, strings.Repeat("cd", 16), "nope"} {
		if err := s.Remove(ctx, id); !errors.Is(err, lanyard.ErrNotFound) {
			t.Errorf("Remove(%q) = %v; want lanyard.ErrNotFound", id, err)
		}
	}
}
