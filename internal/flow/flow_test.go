package flow_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lanyard/lanyard"
	"github.com/lanyard/lanyard/internal/flow"
	"github.com/lanyard/lanyard/internal/lanyardtest"
	"github.com/lanyard/lanyard/internal/store"
)

func TestMain(m *testing.M) { os.Exit(lanyardtest.Main(m)) }

// setup is a fresh database with a flow service on it, on a clock of the test's.
func setup(t *testing.T) (*store.Store, *flow.Service, *lanyardtest.Clock) {
	t.Helper()
	st, c := lanyardtest.OpenStore(t), lanyardtest.NewClock()
	key := make([]byte, 32)
	rand.Read(key)
	s, err := flow.New(st, key, c.Now)
	if err != nil {
		t.Fatal(err)
	}
	return st, s, c
}

func start(t *testing.T, s *flow.Service, kind lanyard.FlowKind, user lanyard.ID, payload map[string]string, ttl time.Duration) string {
	t.Helper()
	tok, err := s.Start(context.Background(), kind, user, payload, ttl)
	if err != nil {
		t.Fatalf("Start(%q): %v", kind, err)
	}
	return string(tok)
}

// countFlows is how many flows the store holds.
func countFlows(t *testing.T, st *store.Store) int64 {
	t.Helper()
	return lanyardtest.RawCount(t, st.Raw(), "flows", nil)
}

func TestTake_ReturnsWhatStartStored(t *testing.T) {
	t.Parallel()
	_, s, c := setup(t)
	user := store.NewID()
	payload := map[string]string{"nonce": "n-0S6_WzA2Mj", "verifier": "dBjftJeZ4CVP"}
	tests := []struct {
		name    string
		user    lanyard.ID
		payload map[string]string
	}{
		{"with a user and a payload", user, payload},
		{"with neither", lanyard.ID{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := start(t, s, "mfa", tt.user, tt.payload, 5*time.Minute)
			got, err := s.Take(context.Background(), "mfa", tok)
			if err != nil {
				t.Fatalf("Take = %v; want the flow", err)
			}
			want := lanyard.Flow{Kind: "mfa", UserID: tt.user, Payload: tt.payload,
				CreatedAt: c.Now(), ExpiresAt: c.Now().Add(5 * time.Minute)}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Take = %+v; want %+v", got, want)
			}
		})
	}
}

func TestTake_RefusesAnotherKindAndLeavesTheFlow(t *testing.T) {
	t.Parallel()
	_, s, _ := setup(t)
	tok := start(t, s, "mfa", store.NewID(), nil, 5*time.Minute)
	if _, err := s.Take(context.Background(), "password_reset", tok); !errors.Is(err, lanyard.ErrFlowInvalid) {
		t.Fatalf("Take(password_reset, an mfa token) = %v; want ErrFlowInvalid", err)
	}
	if _, err := s.Take(context.Background(), "mfa", tok); err != nil {
		t.Errorf("Take(mfa) after a take as another kind = %v; want the flow, untouched", err)
	}
}

func TestTake_RefusesASecondTake(t *testing.T) {
	t.Parallel()
	_, s, _ := setup(t)
	tok := start(t, s, "mfa", store.NewID(), nil, 5*time.Minute)
	if _, err := s.Take(context.Background(), "mfa", tok); err != nil {
		t.Fatalf("first Take = %v; want the flow", err)
	}
	if _, err := s.Take(context.Background(), "mfa", tok); !errors.Is(err, lanyard.ErrFlowInvalid) {
		t.Errorf("second Take = %v; want ErrFlowInvalid", err)
	}
}

// TestTake_RefusesAnExpiredFlowBeforeTheSweep: expiry is decided by the flow's
// expires_at, not by whether the sweep has come by.
func TestTake_RefusesAnExpiredFlowBeforeTheSweep(t *testing.T) {
	t.Parallel()
	st, s, c := setup(t)
	tests := []struct {
		name    string
		elapsed time.Duration
		ok      bool
	}{
		{"a millisecond before expiry", 5*time.Minute - time.Millisecond, true},
		{"at expiry", 5 * time.Minute, false},
		{"an hour after", time.Hour, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := start(t, s, "mfa", lanyard.ID{}, nil, 5*time.Minute)
			c.Advance(tt.elapsed)
			defer c.Advance(-tt.elapsed)
			_, err := s.Take(context.Background(), "mfa", tok)
			if tt.ok && err != nil || !tt.ok && !errors.Is(err, lanyard.ErrFlowInvalid) {
				t.Errorf("Take %v after Start = %v; want ok %v", tt.elapsed, err, tt.ok)
			}
		})
	}
	if n := countFlows(t, st); n != 2 {
		t.Errorf("flows stored = %d; want the 2 expired ones, which only the sweep removes", n)
	}
}

// TestTake_ConcurrentTakesOfOneTokenExactlyOneWins: on the embedded store every take
// reads the flow before any deletes it, so the read decides nothing; the delete must.
func TestTake_ConcurrentTakesOfOneTokenExactlyOneWins(t *testing.T) {
	t.Parallel()
	_, s, _ := setup(t)
	const rounds, takers = 5, 20
	for round := range rounds {
		tok := start(t, s, "mfa", store.NewID(), map[string]string{"round": string(rune('a' + round))}, 5*time.Minute)
		var won, refused, failed atomic.Int32
		lanyardtest.AtOnce(takers, func(int) {
			_, err := s.Take(context.Background(), "mfa", tok)
			switch {
			case err == nil:
				won.Add(1)
			case errors.Is(err, lanyard.ErrFlowInvalid):
				refused.Add(1)
			default:
				failed.Add(1)
				t.Errorf("Take: %v", err)
			}
		})
		if won.Load() != 1 || refused.Load() != takers-1 {
			t.Errorf("round %d: %d concurrent takes: %d won, %d refused, %d failed; want exactly 1 won, %d refused",
				round, takers, won.Load(), refused.Load(), failed.Load(), takers-1)
		}
	}
}

func TestSweep_DeletesOnlyExpiredFlows(t *testing.T) {
	t.Parallel()
	st, s, c := setup(t)
	short := start(t, s, "mfa", lanyard.ID{}, nil, time.Minute)
	long := start(t, s, "mfa", lanyard.ID{}, nil, time.Hour)
	sweep := func() int64 {
		t.Helper()
		n, err := s.Sweep(context.Background())
		if err != nil {
			t.Fatalf("Sweep: %v", err)
		}
		return n
	}
	if n := sweep(); n != 0 {
		t.Errorf("sweep before anything expired deleted %d; want 0", n)
	}
	c.Advance(2 * time.Minute)
	if n := sweep(); n != 1 {
		t.Errorf("sweep after the short flow expired deleted %d; want 1", n)
	}
	if n := countFlows(t, st); n != 1 {
		t.Errorf("flows stored after the sweep = %d; want 1 (the long one)", n)
	}
	if _, err := s.Take(context.Background(), "mfa", long); err != nil {
		t.Errorf("Take(the flow that had not expired) after the sweep = %v; want the flow", err)
	}
	if _, err := s.Take(context.Background(), "mfa", short); !errors.Is(err, lanyard.ErrFlowInvalid) {
		t.Errorf("Take(the swept flow) = %v; want ErrFlowInvalid", err)
	}
}

func TestTake_RefusesTokensItNeverMade(t *testing.T) {
	t.Parallel()
	_, s, _ := setup(t)
	valid := start(t, s, "mfa", lanyard.ID{}, nil, 5*time.Minute)
	random := make([]byte, 32)
	rand.Read(random)
	tests := []struct{ name, tok string }{
		{"empty", ""},
		{"unknown", base64.RawURLEncoding.EncodeToString(random)},
		{"one character short", valid[:len(valid)-1]},
		{"one character long", valid + "A"},
		{"padded", valid + "="},
		{"standard base64", strings.NewReplacer("-", "+", "_", "/").Replace(valid) + "+"},
		{"not base64", strings.Repeat("*", len(valid))},
		{"an operator", `{"$ne":null}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := s.Take(context.Background(), "mfa", tt.tok); !errors.Is(err, lanyard.ErrFlowInvalid) {
				t.Errorf("Take(%q) = %v; want ErrFlowInvalid", tt.tok, err)
			}
		})
	}
	if _, err := s.Take(context.Background(), "mfa", valid); err != nil {
		t.Errorf("Take(the real token) after the refusals = %v; want the flow", err)
	}
}

// TestStart_StoresOnlyAKeyedHashOfTheToken: the database holds no token, nor a plain
// hash of one, so neither a copy of it nor a document written into it without the
// data key takes a flow.
func TestStart_StoresOnlyAKeyedHashOfTheToken(t *testing.T) {
	t.Parallel()
	st, s, c := setup(t)
	tok := start(t, s, "mfa", lanyard.ID{}, map[string]string{"k": "v"}, 5*time.Minute)
	docs := lanyardtest.RawDocs(t, st.Raw(), "flows", nil)
	if len(docs) != 1 {
		t.Fatalf("flows stored = %d; want 1", len(docs))
	}
	sum := sha256.Sum256([]byte(tok))
	raw := make([]byte, 32)
	_, _ = base64.RawURLEncoding.Decode(raw, []byte(tok))
	rawSum := sha256.Sum256(raw)
	doc := fmt.Sprint(docs[0])
	for _, leak := range []string{tok, base64.RawURLEncoding.EncodeToString(sum[:]), base64.RawURLEncoding.EncodeToString(rawSum[:])} {
		if strings.Contains(doc, leak) {
			t.Errorf("flow document %s holds the token or a plain hash of it (%s)", doc, leak)
		}
	}
	// The same store under another data key cannot take it.
	other, err := flow.New(st, []byte(strings.Repeat("k", 32)), c.Now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Take(context.Background(), "mfa", tok); !errors.Is(err, lanyard.ErrFlowInvalid) {
		t.Errorf("Take under another data key = %v; want ErrFlowInvalid", err)
	}
}

func TestStart_RefusesWhatNoFlowShouldCarry(t *testing.T) {
	t.Parallel()
	st, s, _ := setup(t)
	tests := []struct {
		name    string
		kind    lanyard.FlowKind
		payload map[string]string
		ttl     time.Duration
	}{
		{"no kind", "", nil, time.Minute},
		{"no lifetime", "mfa", nil, 0},
		{"a negative lifetime", "mfa", nil, -time.Minute},
		{"a payload over the bound", "mfa", map[string]string{"blob": strings.Repeat("x", flow.MaxPayload)}, time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tok, err := s.Start(context.Background(), tt.kind, lanyard.ID{}, tt.payload, tt.ttl); err == nil {
				t.Errorf("Start(%q, %v) = %q, nil; want an error", tt.kind, tt.ttl, tok)
			}
		})
	}
	if n := countFlows(t, st); n != 0 {
		t.Errorf("flows stored after refused starts = %d; want 0", n)
	}
}

// Peek reads a flow as Take would and spends nothing: the flow is still there to be
// taken, as many peeks later; what Take refuses, Peek refuses.
func TestPeek_ReadsAFlowWithoutTakingItAndRefusesWhatTakeRefuses(t *testing.T) {
	t.Parallel()
	st, s, c := setup(t)
	user := store.NewID()
	tok := start(t, s, "password_reset", user, map[string]string{"ver": "3"}, time.Minute)
	for range 2 {
		f, err := s.Peek(context.Background(), "password_reset", tok)
		if err != nil || f.UserID != user || f.Payload["ver"] != "3" {
			t.Fatalf("Peek = %+v, %v; want the flow", f, err)
		}
	}
	if n := countFlows(t, st); n != 1 {
		t.Fatalf("flows after two peeks = %d; want 1", n)
	}
	for _, bad := range []struct {
		name string
		kind lanyard.FlowKind
		tok  string
	}{{"another kind", "mfa", tok}, {"malformed", "password_reset", "short"}, {"unknown", "password_reset", strings.Repeat("A", 43)}} {
		if _, err := s.Peek(context.Background(), bad.kind, bad.tok); !errors.Is(err, lanyard.ErrFlowInvalid) {
			t.Errorf("Peek of %s = %v; want ErrFlowInvalid", bad.name, err)
		}
	}
	if _, err := s.Take(context.Background(), "password_reset", tok); err != nil {
		t.Fatalf("Take after the peeks: %v", err)
	}
	if _, err := s.Peek(context.Background(), "password_reset", tok); !errors.Is(err, lanyard.ErrFlowInvalid) {
		t.Errorf("Peek of a taken flow = %v; want ErrFlowInvalid", err)
	}
	tok = start(t, s, "password_reset", user, nil, time.Minute)
	c.Advance(time.Minute)
	if _, err := s.Peek(context.Background(), "password_reset", tok); !errors.Is(err, lanyard.ErrFlowInvalid) {
		t.Errorf("Peek of an expired flow = %v; want ErrFlowInvalid", err)
	}
}
