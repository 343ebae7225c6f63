package session_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/lanyard/lanyard"
	"github.com/lanyard/lanyard/internal/lanyardtest"
	"github.com/lanyard/lanyard/internal/token"
)

// Whether a session may rotate is session.Refresh's decision, made on the session as
// read; the store only claims the secret and stores the rotation. How a refused
// refresh reads over HTTP is httpapi's refresh_bounds_test.go. The tests run on
// outcomes_test.go's fixture.

func TestRefresh_ASessionPastItsExpiryIsRefusedAndLeftAsItIs(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name  string
		after time.Duration // since the login
		ok    bool
	}{
		{"a millisecond before it expires", refreshTTL - time.Millisecond, true},
		{"when it expires", refreshTTL, false},
		{"a day after", refreshTTL + 24*time.Hour, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newSessions(t, options{})
			f.register(t, "ada@example.com", "")
			p := f.login(t, "ada@example.com")
			before, _ := f.stored(t, p)
			f.clock.Advance(tt.after)
			_, err := f.svc.Refresh(context.Background(), p.RefreshToken, client)
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
			after, ok := f.stored(t, p)
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
	f := newSessions(t, options{})
	f.register(t, "ada@example.com", "")
	p := f.login(t, "ada@example.com")
	ctx := context.Background()
	// Rotating token.MaxRotations times would take long; the session is moved to one
	// rotation short of the cap instead.
	if _, err := f.st.Raw().Collection("sessions").UpdateOne(ctx, bson.D{{Key: "_id", Value: bson.ObjectID(sessionOf(t, p))}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "generation", Value: int64(token.MaxRotations - 1)}}}}); err != nil {
		t.Fatal(err)
	}
	last, err := f.svc.Refresh(ctx, p.RefreshToken, client)
	if err != nil {
		t.Fatalf("Refresh that reaches the cap = %v; want a new pair", err)
	}
	if ss, _ := f.stored(t, p); ss.Generation != token.MaxRotations {
		t.Fatalf("generation after the last rotation = %d; want %d", ss.Generation, token.MaxRotations)
	}
	if _, err := f.svc.Refresh(ctx, last.RefreshToken, client); !errors.Is(err, lanyard.ErrBadCredentials) {
		t.Fatalf("Refresh past the cap = %v; want ErrBadCredentials", err)
	}
	if _, ok := f.stored(t, p); ok {
		t.Error("the session is still stored past the cap")
	}
	if _, err := f.svc.Authenticate(ctx, last.AccessToken); !errors.Is(err, lanyard.ErrUnauthorized) {
		t.Errorf("Authenticate with the session's access token = %v; want ErrUnauthorized", err)
	}
}
