package token

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"math"
	"strings"
	"testing"
)

// refreshWith builds a refresh token from a session id and raw secret bytes.
func refreshWith(sessionID string, secret []byte) string {
	return sessionID + "." + base64.RawURLEncoding.EncodeToString(secret)
}

func TestNewRefresh_ParsesBackToItsSessionAndHash(t *testing.T) {
	tok, hash, err := NewRefresh(testSession)
	if err != nil {
		t.Fatalf("NewRefresh(%q) = %v", testSession, err)
	}
	sid, gotHash, err := ParseRefresh(tok)
	if err != nil {
		t.Fatalf("ParseRefresh(NewRefresh token) = %v; want nil", err)
	}
	if sid != testSession {
		t.Errorf("ParseRefresh session = %q; want %q", sid, testSession)
	}
	if !bytes.Equal(gotHash, hash) {
		t.Errorf("ParseRefresh hash = %x; want NewRefresh's %x", gotHash, hash)
	}
	// The stored hash is SHA-256 of the decoded secret, not of its text.
	secret, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(tok, testSession+"."))
	if err != nil || len(secret) != 32 {
		t.Fatalf("secret part decodes to %d bytes, %v; want 32 bytes", len(secret), err)
	}
	if want := sha256.Sum256(secret); !bytes.Equal(hash, want[:]) {
		t.Errorf("hash = %x; want SHA-256 of the secret %x", hash, want)
	}
}

func TestNewRefresh_SecretsDiffer(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		tok, _, err := NewRefresh(testSession)
		if err != nil {
			t.Fatal(err)
		}
		if seen[tok] {
			t.Fatalf("NewRefresh returned %q twice", tok)
		}
		seen[tok] = true
	}
}

func TestNewRefresh_RejectsMalformedSessionID(t *testing.T) {
	for _, sid := range []string{"", testSession[:23], strings.ToUpper(testSession), testSession + "."} {
		if tok, _, err := NewRefresh(sid); err == nil {
			t.Errorf("NewRefresh(%q) = %q, nil; want an error", sid, tok)
		}
	}
}

func TestParseRefresh_AcceptsKnownSecret(t *testing.T) {
	secret := bytes.Repeat([]byte{0xab}, 32)
	sid, hash, err := ParseRefresh(refreshWith(testSession, secret))
	want := sha256.Sum256(secret)
	if err != nil || sid != testSession || !bytes.Equal(hash, want[:]) {
		t.Errorf("ParseRefresh = %q, %x, %v; want %q, %x, nil", sid, hash, err, testSession, want)
	}
}

func TestParseRefresh_Rejects(t *testing.T) {
	valid, _, err := NewRefresh(testSession)
	if err != nil {
		t.Fatal(err)
	}
	secret := strings.TrimPrefix(valid, testSession+".")
	jwtTok, _ := issue(t, newTestSigner(t, t0))
	secret32 := bytes.Repeat([]byte{0x5a}, 32)

	tests := []struct {
		name string
		tok  string
	}{
		{"empty", ""},
		{"session id uppercase", strings.ToUpper(testSession) + "." + secret},
		{"session id not hex", "g" + testSession[1:] + "." + secret},
		{"session id 23 chars", testSession[:23] + "." + secret + "A"},
		{"session id 25 chars", testSession + "0." + secret[1:]},
		{"session id empty", "." + secret},
		{"secret 31 bytes", refreshWith(testSession, secret32[:31])},
		{"secret 33 bytes", refreshWith(testSession, append(secret32, 0))},
		{"secret empty", testSession + "."},
		{"secret padded", testSession + "." + base64.URLEncoding.EncodeToString(secret32)},
		{"secret in standard base64", testSession + "." + strings.Repeat("+", 42) + "A"},
		{"secret with non-zero trailing bits", testSession + "." + secret[:42] + "B"},
		{"secret with a space", testSession + "." + secret[:42] + " "},
		{"secret with a newline", testSession + "." + secret[:21] + "\n" + secret[22:]},
		{"missing dot", testSession + "x" + secret},
		{"missing dot, shorter", testSession + secret},
		{"extra dot in the secret", testSession + "." + secret[:20] + "." + secret[21:]},
		{"extra dot at the end", valid[:len(valid)-1] + "."},
		{"extra trailing segment", valid + ".x"},
		{"dots only", strings.Repeat(".", len(valid))},
		{"JWT", jwtTok},
		{"JWT cut to refresh length", jwtTok[:len(valid)]},
		{"whitespace around", " " + valid + " "},
		{"non-UTF-8", testSession + "." + string(bytes.Repeat([]byte{0xff}, 43))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sid, hash, err := ParseRefresh(tt.tok)
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("ParseRefresh(%q) = %q, %x, %v; want ErrInvalid", tt.tok, sid, hash, err)
			}
			if sid != "" || hash != nil {
				t.Errorf("ParseRefresh(%q) = %q, %x; want zero values on failure", tt.tok, sid, hash)
			}
			if secret := strings.TrimPrefix(tt.tok, testSession+"."); len(secret) > 4 && strings.Contains(err.Error(), secret) {
				t.Errorf("ParseRefresh error %q quotes the secret", err)
			}
		})
	}
}

// FuzzParseRefresh checks that ParseRefresh never panics and that whatever it
// accepts is a canonical token: a well-formed session id and the SHA-256 of
// the one secret the text spells.
func FuzzParseRefresh(f *testing.F) {
	valid, _, err := NewRefresh(testSession)
	if err != nil {
		f.Fatal(err)
	}
	jwtTok, _ := issue(f, newTestSigner(f, t0))
	for _, seed := range []string{
		valid,
		refreshWith(testSession, make([]byte, 32)),
		refreshWith(testSession, make([]byte, 31)),
		valid[:len(valid)-1] + ".",
		strings.Replace(valid, ".", "", 1),
		jwtTok,
		"",
		".",
		strings.Repeat("a", 68),
	} {
		f.Add(seed)
	}

	f.Fuzz(func(t *testing.T, tok string) {
		sid, hash, err := ParseRefresh(tok)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("ParseRefresh(%q) = %v; want an error wrapping ErrInvalid", tok, err)
			}
			return
		}
		if !isID(sid) {
			t.Fatalf("ParseRefresh(%q) session = %q; want 24 lowercase hex characters", tok, sid)
		}
		if len(hash) != sha256.Size {
			t.Fatalf("ParseRefresh(%q) hash is %d bytes; want %d", tok, len(hash), sha256.Size)
		}
		// Re-encoding the secret must give back the input exactly: one
		// token, one spelling.
		secret, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(tok, sid+"."))
		if err != nil {
			t.Fatalf("ParseRefresh(%q) accepted a secret that does not decode: %v", tok, err)
		}
		if again := refreshWith(sid, secret); again != tok {
			t.Fatalf("ParseRefresh accepted %q, which re-encodes as %q", tok, again)
		}
		if want := sha256.Sum256(secret); !bytes.Equal(hash, want[:]) {
			t.Fatalf("ParseRefresh(%q) hash = %x; want %x", tok, hash, want)
		}
	})
}

func BenchmarkNewRefresh(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := NewRefresh(testSession); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseRefresh(b *testing.B) {
	tok, _, err := NewRefresh(testSession)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := ParseRefresh(tok); err != nil {
			b.Fatal(err)
		}
	}
}

func newTestRefresher(t testing.TB, root byte) *Refresher {
	t.Helper()
	r, err := NewRefresher(bytes.Repeat([]byte{root}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestNewRefresher_RejectsARootKeyOfTheWrongLength(t *testing.T) {
	for _, n := range []int{0, 16, 31, 33, 64} {
		if r, err := NewRefresher(make([]byte, n)); err == nil {
			t.Errorf("NewRefresher(%d bytes) = %v, nil; want an error", n, r)
		}
	}
}

func TestRefresherNext_IsDeterministicPerKeyAndSession(t *testing.T) {
	r := newTestRefresher(t, 1)
	first, firstHash, err := NewRefresh(testSession)
	if err != nil {
		t.Fatal(err)
	}
	next, nextHash, err := r.Next(first)
	if err != nil {
		t.Fatalf("Next(fresh token) = %v", err)
	}
	again, againHash, _ := r.Next(first)
	if next != again || !bytes.Equal(nextHash, againHash) {
		t.Errorf("Next gave %q, then %q; want the same successor every time", next, again)
	}
	sid, parsedHash, err := ParseRefresh(next)
	if err != nil || sid != testSession || !bytes.Equal(parsedHash, nextHash) {
		t.Errorf("ParseRefresh(successor) = %q, %x, %v; want %q, %x, nil", sid, parsedHash, err, testSession, nextHash)
	}
	if next == first || bytes.Equal(nextHash, firstHash) {
		t.Errorf("Next returned the token it was given")
	}
	// Another key, or the same secret under another session id, leads elsewhere.
	if other, _, _ := newTestRefresher(t, 2).Next(first); other == next {
		t.Errorf("two chain keys gave the same successor")
	}
	otherSession := "fedcba9876543210fedcba98"
	moved := otherSession + first[idLen:]
	if other, _, _ := r.Next(moved); other[idLen:] == next[idLen:] {
		t.Errorf("the same secret under two session ids gave the same successor secret")
	}
}

func TestRefresherNext_RejectsMalformedTokens(t *testing.T) {
	r := newTestRefresher(t, 1)
	for _, tok := range []string{"", "x", testSession + ".", strings.Repeat("a", refreshTokenLen)} {
		if next, _, err := r.Next(tok); !errors.Is(err, ErrInvalid) {
			t.Errorf("Next(%q) = %q, %v; want ErrInvalid", tok, next, err)
		}
	}
}

func TestRefresherStepsTo_CountsRotationsToTheCurrentSecret(t *testing.T) {
	r := newTestRefresher(t, 1)
	tok, _, err := NewRefresh(testSession)
	if err != nil {
		t.Fatal(err)
	}
	chain := []string{tok}
	var current []byte
	for range 50 {
		next, hash, err := r.Next(chain[len(chain)-1])
		if err != nil {
			t.Fatal(err)
		}
		chain, current = append(chain, next), hash
	}
	generation := int64(len(chain) - 1)
	for i, spent := range chain[:len(chain)-1] {
		want := generation - int64(i)
		if got := steps(t, r, spent, current, generation); got != want {
			t.Errorf("StepsTo(token %d of %d) = %d; want %d", i, generation, got, want)
		}
	}
	// The walk stops at max: a token further back than the session's generation
	// cannot be one it issued.
	if got := steps(t, r, chain[0], current, generation-1); got != 0 {
		t.Errorf("StepsTo(first token, max %d) = %d; want 0", generation-1, got)
	}
	// The current token itself, a guess, another key's chain and garbage never reach it.
	guess := refreshWith(testSession, bytes.Repeat([]byte{7}, 32))
	for name, tok := range map[string]string{"current": chain[len(chain)-1], "guess": guess, "garbage": "not a token"} {
		if got := steps(t, r, tok, current, generation); got != 0 {
			t.Errorf("StepsTo(%s) = %d; want 0", name, got)
		}
	}
	if got := steps(t, newTestRefresher(t, 2), chain[0], current, generation); got != 0 {
		t.Errorf("StepsTo under another key = %d; want 0", got)
	}
}

// steps is r.StepsTo with a context that never ends, failing the test on an error.
func steps(t *testing.T, r *Refresher, tok string, current []byte, generation int64) int64 {
	t.Helper()
	k, err := r.StepsTo(context.Background(), tok, current, generation)
	if err != nil {
		t.Fatalf("StepsTo = %v", err)
	}
	return k
}

// chainOf returns tok and its n successors.
func chainOf(t testing.TB, r *Refresher, tok string, n int) []string {
	t.Helper()
	chain := []string{tok}
	for range n {
		next, _, err := r.Next(chain[len(chain)-1])
		if err != nil {
			t.Fatal(err)
		}
		chain = append(chain, next)
	}
	return chain
}

// TestRefresherStepsTo_WalksAtMostMaxRotations: however large the generation a
// session claims, a secret is walked at most MaxRotations steps, so one exactly that
// far back is still found and one further back is not.
func TestRefresherStepsTo_WalksAtMostMaxRotations(t *testing.T) {
	r := newTestRefresher(t, 1)
	tok, _, err := NewRefresh(testSession)
	if err != nil {
		t.Fatal(err)
	}
	chain := chainOf(t, r, tok, MaxRotations+1)
	_, current, _ := ParseRefresh(chain[len(chain)-1])
	if got := steps(t, r, chain[1], current, math.MaxInt64); got != MaxRotations {
		t.Errorf("StepsTo(a token MaxRotations back) = %d; want %d", got, MaxRotations)
	}
	if got := steps(t, r, chain[0], current, math.MaxInt64); got != 0 {
		t.Errorf("StepsTo(a token MaxRotations+1 back, generation MaxInt64) = %d; want 0", got)
	}
}

func TestRefresherStepsTo_StopsWhenTheContextIsDone(t *testing.T) {
	r := newTestRefresher(t, 1)
	tok, _, err := NewRefresh(testSession)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	guess := refreshWith(testSession, bytes.Repeat([]byte{7}, 32))
	_, current, _ := r.Next(tok)
	if k, err := r.StepsTo(ctx, guess, current, MaxRotations); k != 0 || !errors.Is(err, context.Canceled) {
		t.Errorf("StepsTo(cancelled context) = %d, %v; want 0, context.Canceled", k, err)
	}
	// A walk shorter than one check never looks at the context.
	if k, err := r.StepsTo(ctx, tok, current, 1); k != 1 || err != nil {
		t.Errorf("StepsTo(cancelled context, the token one step back) = %d, %v; want 1, nil", k, err)
	}
}

// BenchmarkRefresherStepsTo_AGuess is what a forged secret costs: the longest walk.
func BenchmarkRefresherStepsTo_AGuess(b *testing.B) {
	r := newTestRefresher(b, 1)
	tok, _, err := NewRefresh(testSession)
	if err != nil {
		b.Fatal(err)
	}
	guess := refreshWith(testSession, bytes.Repeat([]byte{7}, 32))
	_, current, _ := r.Next(tok)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if k, _ := r.StepsTo(ctx, guess, current, math.MaxInt64); k != 0 {
			b.Fatal("a guess reached the current secret")
		}
	}
}
