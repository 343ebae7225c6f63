package session_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/lanyard/lanyard"
	"github.com/lanyard/lanyard/internal/account"
	"github.com/lanyard/lanyard/internal/lanyardtest"
	"github.com/lanyard/lanyard/internal/method"
	"github.com/lanyard/lanyard/internal/password"
	"github.com/lanyard/lanyard/internal/session"
	"github.com/lanyard/lanyard/internal/store"
	"github.com/lanyard/lanyard/internal/throttle"
	"github.com/lanyard/lanyard/internal/token"
)

// Whether a session may rotate is session.Refresh's decision, made on the session as
// read; the store only claims the secret and stores the rotation. How a refused
// refresh reads over HTTP is httpapi's refresh_bounds_test.go.

const rulesRefreshTTL = 30 * 24 * time.Hour

// rotationRules is a session.Service on a fresh database, with one account logged in.
type rotationRules struct {
	svc   *session.Service
	st    *store.Store
	clock *lanyardtest.Clock
	pair  session.Pair
	sid   lanyard.ID // pair's session
}

func newRotationRules(t *testing.T) rotationRules {
	t.Helper()
	ctx := context.Background()
	st, clock := lanyardtest.OpenStore(t), lanyardtest.NewClock()
	key := []byte(strings.Repeat("r", 32))
	limiter, err := throttle.New(throttle.Options{Store: st, LoginFailureLimit: 100000, RegisterLimit: 100000, DataKey: key, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	hasher := password.NewHasher(password.Options{Params: password.Cheap, Concurrency: 4})
	accounts := account.New(st, hasher, clock.Now)
	accounts.UseLimiter(limiter)
	signer, err := token.NewSigner([]byte(strings.Repeat("s", 32)), "lanyard-test", 15*time.Minute, clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	refresher, err := token.NewRefresher(key)
	if err != nil {
		t.Fatal(err)
	}
	svc := session.New(session.Options{Store: st, Accounts: accounts, Hasher: hasher, Signer: signer, Refresher: refresher,
		RefreshTTL: rulesRefreshTTL, Now: clock.Now})
	t.Cleanup(svc.Wait)
	if _, err := accounts.Register(ctx, account.Registration{Email: "ada@example.com", Password: lanyardtest.DefaultPassword}); err != nil {
		t.Fatalf("Register = %v", err)
	}
	proof, err := method.NewPassword(st, hasher, limiter, clock.Now).Prove(ctx, "ada@example.com", lanyardtest.DefaultPassword, "203.0.113.7")
	if err != nil {
		t.Fatalf("Prove = %v", err)
	}
	pair, err := svc.Issue(ctx, proof, session.Client{IP: "203.0.113.7"})
	if err != nil {
		t.Fatalf("Issue = %v", err)
	}
	hex, _, _ := strings.Cut(pair.RefreshToken, ".")
	sid, err := lanyard.ParseID(hex)
	if err != nil {
		t.Fatalf("refresh token %q names no session", pair.RefreshToken)
	}
	return rotationRules{svc: svc, st: st, clock: clock, pair: pair, sid: sid}
}

// session is the login's session as stored; ok is false once it is gone.
func (f rotationRules) session(t *testing.T) (_ lanyard.Session, ok bool) {
	t.Helper()
	ss, err := f.st.SessionByID(context.Background(), f.sid)
	if errors.Is(err, lanyard.ErrNotFound) {
		return lanyard.Session{}, false
	}
	if err != nil {
		t.Fatalf("SessionByID = %v", err)
	}
	return ss, true
}

func TestRefresh_ASessionPastItsExpiryIsRefusedAndLeftAsItIs(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name  string
		after time.Duration // since the login
		ok    bool
	}{
		{"a millisecond before it expires", rulesRefreshTTL - time.Millisecond, true},
		{"when it expires", rulesRefreshTTL, false},
		{"a day after", rulesRefreshTTL + 24*time.Hour, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newRotationRules(t)
			before, _ := f.session(t)
			f.clock.Advance(tt.after)
			_, err := f.svc.Refresh(context.Background(), f.pair.RefreshToken, session.Client{})
			if tt.ok {
				if err != nil {
					t.Fatalf("Refresh = %v; want a new pair", err)
				}
				return
			}
			if !errors.Is(err, lanyard.ErrBadCredentials) {
				t.Fatalf("Refresh = %v; want ErrBadCredentials", err)
			}
			// Refused before any claim: the secret is unspent and the session unchanged,
			// for the sweep to delete.
			after, ok := f.session(t)
			if !ok || after.Generation != before.Generation || !after.ExpiresAt.Equal(before.ExpiresAt) || string(after.SecretHash) != string(before.SecretHash) {
				t.Errorf("session after the refused refresh = %+v (stored %v); want it as it was, %+v", after, ok, before)
			}
			if n := lanyardtest.RawCount(t, f.st.Raw(), "refresh_claims", nil); n != 0 {
				t.Errorf("refresh claims after the refused refresh = %d; want 0", n)
			}
		})
	}
}

func TestRefresh_ASessionThatRotatedAsOftenAsItMayIsEnded(t *testing.T) {
	t.Parallel()
	f := newRotationRules(t)
	ctx := context.Background()
	// Rotating token.MaxRotations times would take long; the session is moved to one
	// rotation short of the cap instead.
	if _, err := f.st.Raw().Collection("sessions").UpdateOne(ctx, bson.D{{Key: "_id", Value: bson.ObjectID(f.sid)}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "generation", Value: int64(token.MaxRotations - 1)}}}}); err != nil {
		t.Fatal(err)
	}
	last, err := f.svc.Refresh(ctx, f.pair.RefreshToken, session.Client{})
	if err != nil {
		t.Fatalf("Refresh that reaches the cap = %v; want a new pair", err)
	}
	if ss, _ := f.session(t); ss.Generation != token.MaxRotations {
		t.Fatalf("generation after the last rotation = %d; want %d", ss.Generation, token.MaxRotations)
	}
	if _, err := f.svc.Refresh(ctx, last.RefreshToken, session.Client{}); !errors.Is(err, lanyard.ErrBadCredentials) {
		t.Fatalf("Refresh past the cap = %v; want ErrBadCredentials", err)
	}
	if _, ok := f.session(t); ok {
		t.Error("the session is still stored past the cap")
	}
	if _, err := f.svc.Authenticate(ctx, last.AccessToken); !errors.Is(err, lanyard.ErrUnauthorized) {
		t.Errorf("Authenticate with the session's access token = %v; want ErrUnauthorized", err)
	}
}
