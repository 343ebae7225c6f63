package session_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/lanyard/lanyard"
	"github.com/lanyard/lanyard/internal/session"
)

// When the user document's list of ended sessions overflows, its oldest entries give
// way to AccessNotBefore. iat and AccessNotBefore are both kept to the millisecond,
// so what matters is the millisecond of a session's end: an access token issued in
// it was issued before the end (the end is the last thing its session did) and must
// stay refused, and a token issued by the request that forgets the entry must work.

// TestEndedSessions_AnAccessTokenFromTheMillisecondItsSessionEndedStaysRefusedPastTheList:
// a session that signs an access token and ends in the same millisecond, then is
// pushed out of the list by 32 later ends, still has that token refused; a live
// session's token from the next millisecond is not.
func TestEndedSessions_AnAccessTokenFromTheMillisecondItsSessionEndedStaysRefusedPastTheList(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		// end signs an access token for the session of p and ends that session, both
		// at the clock's time, and returns the pair the token belongs to.
		end func(t *testing.T, f fixture, p session.Pair) session.Pair
	}{
		{"a refresh then a logout", func(t *testing.T, f fixture, p session.Pair) session.Pair {
			p = f.refresh(t, p.RefreshToken)
			if err := f.svc.Logout(context.Background(), f.principal(t, p.AccessToken), false); err != nil {
				t.Fatalf("Logout = %v", err)
			}
			return p
		}},
		{"a refresh then a replay of the spent token", func(t *testing.T, f fixture, p session.Pair) session.Pair {
			next := f.refresh(t, p.RefreshToken)
			if _, err := f.svc.Refresh(context.Background(), p.RefreshToken, client); !errors.Is(err, lanyard.ErrBadCredentials) {
				t.Fatalf("replay of the spent token = %v; want ErrBadCredentials", err)
			}
			return next
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := newSessions(t, options{})
			f.register(t, "ada@example.com", "")
			victim := f.login(t, "ada@example.com")
			keep := f.login(t, "ada@example.com")
			others := make([]session.Pair, 32) // the list holds 32: their ends push the victim's out
			for i := range others {
				others[i] = f.login(t, "ada@example.com")
			}
			f.clock.Advance(time.Second)

			victim = c.end(t, f, victim)
			if access, stored := f.live(t, victim); access || stored {
				t.Fatalf("the victim right after its end: access token accepted %v, stored %v; want neither", access, stored)
			}
			f.clock.Advance(time.Millisecond)
			keep = f.refresh(t, keep.RefreshToken) // a millisecond after the victim's end
			for _, p := range others {
				f.clock.Advance(time.Millisecond)
				if err := f.svc.Logout(context.Background(), f.principal(t, p.AccessToken), false); err != nil {
					t.Fatalf("Logout = %v", err)
				}
			}

			if access, stored := f.live(t, victim); access || stored {
				t.Errorf("the victim once its end is past the list: access token issued in the millisecond of its end accepted %v, stored %v; want neither", access, stored)
			}
			for i, p := range others {
				if access, _ := f.live(t, p); access {
					t.Errorf("logged-out session %d's access token accepted; want refused", i)
				}
			}
			f.principal(t, keep.AccessToken) // issued after the forgotten end: not refused
		})
	}
}

// TestLogin_ThatForgetsASessionEndedInItsOwnMillisecondIssuesATokenThatWorks: a login that
// ends the least recently used session, when the list of ended sessions is full of
// sessions that ended in the login's own millisecond, moves AccessNotBefore no
// later than itself: its own access token works at once.
func TestLogin_ThatForgetsASessionEndedInItsOwnMillisecondIssuesATokenThatWorks(t *testing.T) {
	t.Parallel()
	f := newSessions(t, options{})
	f.register(t, "ada@example.com", "")
	pairs := make([]session.Pair, 100)
	for i := range pairs {
		pairs[i] = f.login(t, "ada@example.com")
		f.clock.Advance(time.Second)
	}
	// In one millisecond: 32 logouts fill the list, 32 logins bring the account back
	// to the cap, and the 101st live session ends the least recently used, the first.
	for _, p := range pairs[68:] {
		if err := f.svc.Logout(context.Background(), f.principal(t, p.AccessToken), false); err != nil {
			t.Fatalf("Logout = %v", err)
		}
	}
	for range 32 {
		f.login(t, "ada@example.com")
	}
	newest := f.login(t, "ada@example.com")

	f.principal(t, newest.AccessToken)
	if access, stored := f.live(t, pairs[0]); access || stored {
		t.Errorf("the least recently used session: access token accepted %v, stored %v; want neither", access, stored)
	}
	for i, p := range pairs[68:] {
		if access, _ := f.live(t, p); access {
			t.Errorf("logged-out session %d's access token accepted; want refused", 68+i)
		}
	}
	f.principal(t, f.refresh(t, pairs[1].RefreshToken).AccessToken)
}
