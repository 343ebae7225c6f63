package session_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lanyard/lanyard"
	"github.com/lanyard/lanyard/internal/account"
	"github.com/lanyard/lanyard/internal/keyring"
	"github.com/lanyard/lanyard/internal/lanyardtest"
	"github.com/lanyard/lanyard/internal/method"
	"github.com/lanyard/lanyard/internal/password"
	"github.com/lanyard/lanyard/internal/session"
	"github.com/lanyard/lanyard/internal/store"
	"github.com/lanyard/lanyard/internal/throttle"
	"github.com/lanyard/lanyard/internal/token"
)

// session.Service's outcomes against the real store, with a clock the test moves:
// what a login, a refresh, a logout and a password change leave valid. Whether a
// login's password holds, and what its failures cost, is the password method's
// (internal/method). How they read
// over HTTP (401, 429, the token response) is httpapi's login_test.go,
// tokens_test.go, refresh_reuse_test.go and password_test.go.

const (
	goodPassword = lanyardtest.DefaultPassword
	accessTTL    = 15 * time.Minute
	refreshTTL   = 30 * 24 * time.Hour
)

// options adjust a fixture.
type options struct {
	grace time.Duration // the refresh reuse grace
}

// fixture is a session.Service on a fresh database, with what it is built from. A
// login is the password method's proof issued as a session, as httpapi composes it.
type fixture struct {
	svc      *session.Service
	method   *method.Password
	accounts *account.Service
	st       *store.Store
	clock    *lanyardtest.Clock
}

func newSessions(t *testing.T, o options) fixture {
	t.Helper()
	st, clock := lanyardtest.OpenStore(t), lanyardtest.NewClock()
	key := []byte(strings.Repeat("k", 32))
	limiter, err := throttle.New(throttle.Options{Store: st, LoginFailureLimit: 100000, RegisterLimit: 100000, DataKey: key, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	hasher := password.NewHasher(password.Options{Params: password.Cheap, Concurrency: 4})
	accounts := account.New(st, hasher, clock.Now)
	accounts.UseLimiter(limiter)
	signer, err := token.NewSigner(token.Options{Issuer: "lanyard-test", TTL: accessTTL, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	ring, err := keyring.New(keyring.Options{Store: st, DataKey: key, Signer: signer, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if err := ring.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	refresher, err := token.NewRefresher(key)
	if err != nil {
		t.Fatal(err)
	}
	svc := session.New(session.Options{Store: st, Accounts: accounts, Hasher: hasher, Signer: signer, Refresher: refresher,
		RefreshTTL: refreshTTL, ReuseGrace: o.grace, Now: clock.Now})
	t.Cleanup(svc.Wait) // background tidying ends before the database is dropped
	return fixture{svc: svc, method: method.NewPassword(st, hasher, limiter, clock.Now), accounts: accounts, st: st, clock: clock}
}

// register stores an account with the good password.
func (f fixture) register(t *testing.T, email, username string) lanyard.User {
	t.Helper()
	r := account.Registration{Email: email, Password: goodPassword}
	if username != "" {
		r.Username = &username
	}
	u, err := f.accounts.Register(context.Background(), r)
	if err != nil {
		t.Fatalf("Register(%s) = %v", email, err)
	}
	return u
}

var client = session.Client{IP: "203.0.113.7", UserAgent: "test"}

// login logs in with the good password, failing the test unless it succeeds.
func (f fixture) login(t *testing.T, login string) session.Pair {
	t.Helper()
	p, err := f.loginWith(login, goodPassword)
	if err != nil {
		t.Fatalf("login(%q) = %v", login, err)
	}
	return p
}

// loginWith proves login and pw with the password method and issues the session.
func (f fixture) loginWith(login, pw string) (session.Pair, error) {
	proof, err := f.method.Prove(context.Background(), login, pw, client.IP)
	if err != nil {
		return session.Pair{}, err
	}
	return f.svc.Issue(context.Background(), proof, client)
}

// markDeleting marks u deleting, as a chain delete does.
func (f fixture) markDeleting(t *testing.T, u lanyard.User) {
	t.Helper()
	deleting := lanyard.StatusDeleting
	if _, err := f.st.UpdateUser(context.Background(), u.ID, store.UserChange{Status: &deleting, BumpVersion: true}, f.clock.Now()); err != nil {
		t.Fatal(err)
	}
}

// refresh spends tok, failing the test unless it succeeds.
func (f fixture) refresh(t *testing.T, tok string) session.Pair {
	t.Helper()
	p, err := f.svc.Refresh(context.Background(), tok, client)
	if err != nil {
		t.Fatalf("Refresh = %v", err)
	}
	return p
}

// principal authenticates an access token, failing the test unless it is accepted.
func (f fixture) principal(t *testing.T, access string) session.Principal {
	t.Helper()
	p, err := f.svc.Authenticate(context.Background(), access)
	if err != nil {
		t.Fatalf("Authenticate = %v", err)
	}
	return p
}

// live reports whether pair's tokens still work: its access token authenticates and
// its refresh token... is left unspent, so the check changes nothing: the session is
// read as stored instead.
func (f fixture) live(t *testing.T, p session.Pair) (access, sessionStored bool) {
	t.Helper()
	_, err := f.svc.Authenticate(context.Background(), p.AccessToken)
	if err != nil && !errors.Is(err, lanyard.ErrUnauthorized) {
		t.Fatalf("Authenticate = %v", err)
	}
	_, sessionStored = f.stored(t, p)
	return err == nil, sessionStored
}

// stored is pair p's session as stored; ok is false once it is gone.
func (f fixture) stored(t *testing.T, p session.Pair) (_ lanyard.Session, ok bool) {
	t.Helper()
	ss, err := f.st.SessionByID(context.Background(), sessionOf(t, p))
	if errors.Is(err, lanyard.ErrNotFound) {
		return lanyard.Session{}, false
	}
	if err != nil {
		t.Fatalf("SessionByID = %v", err)
	}
	return ss, true
}

// sessionOf is the id of pair p's session, which its refresh token names.
func sessionOf(t *testing.T, p session.Pair) lanyard.ID {
	t.Helper()
	hex, _, _ := strings.Cut(p.RefreshToken, ".")
	id, err := lanyard.ParseID(hex)
	if err != nil {
		t.Fatalf("refresh token %q names no session", p.RefreshToken)
	}
	return id
}

func TestLogin_ByEmailOrUsernameInEveryShapeStartsASessionThatAuthenticates(t *testing.T) {
	t.Parallel()
	f := newSessions(t, options{})
	u := f.register(t, "ada.lovelace@example.com", "Ada_L")
	for _, login := range []string{"ada.lovelace@example.com", "  Ada.Lovelace@Example.COM ", "ａｄａ.ｌｏｖｅｌａｃｅ＠example.com", "ada_l", "ADA_L", "ＡＤＡ_Ｌ"} {
		t.Run(login, func(t *testing.T) {
			p := f.login(t, login)
			if p.User.ID != u.ID || p.AccessTTL != accessTTL || p.RefreshTTL != refreshTTL {
				t.Fatalf("Login(%q) = user %s, TTLs %v/%v; want %s, %v/%v", login, p.User.ID, p.AccessTTL, p.RefreshTTL, u.ID, accessTTL, refreshTTL)
			}
			who := f.principal(t, p.AccessToken)
			sid, _, _ := strings.Cut(p.RefreshToken, ".")
			if who.User.ID != u.ID || who.SessionID != sid {
				t.Fatalf("Authenticate = user %s session %s; want %s, %s", who.User.ID, who.SessionID, u.ID, sid)
			}
		})
	}
}

func TestRefresh_RotatesSpendingTheOldTokenAndExtendingTheSession(t *testing.T) {
	t.Parallel()
	f := newSessions(t, options{})
	u := f.register(t, "ada@example.com", "")
	p0 := f.login(t, "ada@example.com")
	f.clock.Advance(refreshTTL - time.Millisecond) // unused a moment less than its lifetime
	p1 := f.refresh(t, p0.RefreshToken)
	if p1.RefreshToken == p0.RefreshToken || p1.AccessToken == p0.AccessToken || p1.User.ID != u.ID {
		t.Fatal("Refresh returned the same tokens")
	}
	if sid0, _, _ := strings.Cut(p0.RefreshToken, "."); !strings.HasPrefix(p1.RefreshToken, sid0+".") {
		t.Errorf("Refresh moved to another session: %q after %q", p1.RefreshToken, p0.RefreshToken)
	}
	f.principal(t, p1.AccessToken)
	f.clock.Advance(refreshTTL - time.Millisecond) // the rotation gave it a lifetime from then
	p2 := f.refresh(t, p1.RefreshToken)
	f.clock.Advance(refreshTTL)
	if _, err := f.svc.Refresh(context.Background(), p2.RefreshToken, client); !errors.Is(err, lanyard.ErrBadCredentials) {
		t.Fatalf("Refresh unused for its lifetime = %v; want ErrBadCredentials", err)
	}
}

func TestRefresh_ReplayOfASpentTokenEndsTheWholeSessionOutsideTheGrace(t *testing.T) {
	t.Parallel()
	const grace = 10 * time.Second
	for _, c := range []struct {
		name   string
		grace  time.Duration
		replay int           // which token of p0, p1, p2 is presented again
		after  time.Duration // after the last rotation
		same   bool          // answered with the same successor; false: the session ends
	}{
		{"the last spent, within the grace", grace, 1, grace - time.Millisecond, true},
		{"the last spent, as the grace ends", grace, 1, grace, false},
		{"the last spent, with no grace", 0, 1, 0, false},
		{"an earlier one, within the grace", grace, 0, 0, false},
		{"an earlier one, later", grace, 0, time.Hour, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := newSessions(t, options{grace: c.grace})
			f.register(t, "ada@example.com", "")
			other := f.login(t, "ada@example.com")
			p := []session.Pair{f.login(t, "ada@example.com")}
			p = append(p, f.refresh(t, p[0].RefreshToken))
			p = append(p, f.refresh(t, p[1].RefreshToken))
			f.clock.Advance(c.after)
			got, err := f.svc.Refresh(context.Background(), p[c.replay].RefreshToken, client)
			if c.same {
				if err != nil || got.RefreshToken != p[c.replay+1].RefreshToken {
					t.Fatalf("replay within the grace = %v; want the successor handed out before", err)
				}
				f.refresh(t, p[2].RefreshToken)
				return
			}
			if !errors.Is(err, lanyard.ErrBadCredentials) {
				t.Fatalf("replay = %v; want ErrBadCredentials", err)
			}
			if _, err := f.svc.Refresh(context.Background(), p[2].RefreshToken, client); !errors.Is(err, lanyard.ErrBadCredentials) {
				t.Errorf("the current token after a replay = %v; want ErrBadCredentials: the session ended", err)
			}
			if access, stored := f.live(t, p[2]); access || stored {
				t.Errorf("after a replay: access token accepted %v, session stored %v; want neither", access, stored)
			}
			f.refresh(t, other.RefreshToken) // the user's other session goes on
		})
	}
}

func TestRefresh_ConcurrentRefreshesOfOneTokenWithinTheGraceShareOneSuccessor(t *testing.T) {
	t.Parallel()
	f := newSessions(t, options{grace: 10 * time.Second})
	f.register(t, "ada@example.com", "")
	p := f.login(t, "ada@example.com")
	const n = 8
	got := make([]string, n)
	lanyardtest.AtOnce(n, func(i int) {
		if q, err := f.svc.Refresh(context.Background(), p.RefreshToken, client); err == nil {
			got[i] = q.RefreshToken
		}
	})
	for i, tok := range got {
		if tok == "" || tok != got[0] {
			t.Fatalf("refresh %d of %d at once = %q; want every one the same successor %q", i, n, tok, got[0])
		}
	}
	f.refresh(t, got[0])
}

func TestRefresh_AForgedOrMalformedTokenChangesNothing(t *testing.T) {
	t.Parallel()
	f := newSessions(t, options{})
	f.register(t, "ada@example.com", "")
	p := f.login(t, "ada@example.com")
	sid, secret, _ := strings.Cut(p.RefreshToken, ".")
	forged := sid + "." + strings.Repeat("A", len(secret))
	for _, tok := range []string{forged, "", "nodot", sid + ".", "." + secret, store.NewID().Hex() + "." + secret, p.RefreshToken + "x"} {
		if _, err := f.svc.Refresh(context.Background(), tok, client); !errors.Is(err, lanyard.ErrBadCredentials) {
			t.Errorf("Refresh(%q) = %v; want ErrBadCredentials", tok, err)
		}
	}
	f.refresh(t, p.RefreshToken) // the session is untouched
}

func TestRefresh_OfAnAccountBeingDeletedIsRefusedAndEndsTheSession(t *testing.T) {
	t.Parallel()
	f := newSessions(t, options{})
	u := f.register(t, "ada@example.com", "")
	p := f.login(t, "ada@example.com")
	f.markDeleting(t, u)
	if _, err := f.svc.Refresh(context.Background(), p.RefreshToken, client); !errors.Is(err, lanyard.ErrBadCredentials) {
		t.Fatalf("Refresh = %v; want ErrBadCredentials", err)
	}
	if access, stored := f.live(t, p); access || stored {
		t.Errorf("access accepted %v, session stored %v; want neither", access, stored)
	}
}

func TestLogout_EndsOnlyTheCallersSession(t *testing.T) {
	t.Parallel()
	f := newSessions(t, options{})
	f.register(t, "ada@example.com", "")
	mine, other := f.login(t, "ada@example.com"), f.login(t, "ada@example.com")
	if err := f.svc.Logout(context.Background(), f.principal(t, mine.AccessToken), false); err != nil {
		t.Fatalf("Logout = %v", err)
	}
	if access, stored := f.live(t, mine); access || stored {
		t.Errorf("the session logged out: access accepted %v, stored %v; want neither", access, stored)
	}
	if _, err := f.svc.Refresh(context.Background(), mine.RefreshToken, client); !errors.Is(err, lanyard.ErrBadCredentials) {
		t.Errorf("Refresh of the session logged out = %v; want ErrBadCredentials", err)
	}
	if access, stored := f.live(t, other); !access || !stored {
		t.Errorf("the other session: access %v, stored %v; want both", access, stored)
	}
	f.refresh(t, other.RefreshToken)
}

func TestLogoutAll_EndsEverySessionAndEveryAccessTokenButNotTheNextLogin(t *testing.T) {
	t.Parallel()
	f := newSessions(t, options{})
	f.register(t, "ada@example.com", "")
	var pairs []session.Pair
	for range 3 {
		pairs = append(pairs, f.login(t, "ada@example.com"))
	}
	pairs = append(pairs, f.refresh(t, pairs[2].RefreshToken))
	if err := f.svc.Logout(context.Background(), f.principal(t, pairs[0].AccessToken), true); err != nil {
		t.Fatalf("Logout(all) = %v", err)
	}
	f.svc.Wait()
	for i, p := range pairs {
		if access, stored := f.live(t, p); access || stored {
			t.Errorf("pair %d after logout-all: access accepted %v, session stored %v; want neither", i, access, stored)
		}
		if _, err := f.svc.Refresh(context.Background(), p.RefreshToken, client); !errors.Is(err, lanyard.ErrBadCredentials) {
			t.Errorf("Refresh of pair %d = %v; want ErrBadCredentials", i, err)
		}
	}
	next := f.login(t, "ada@example.com")
	f.principal(t, next.AccessToken)
	f.refresh(t, next.RefreshToken)
}

func TestChangePassword_RefusesAWrongCurrentOrAWeakNewPasswordAndChangesNothing(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, current, next string
		locs                []string
	}{
		{"a wrong current password", "not the password", "a brand new passphrase", []string{"current_password"}},
		{"an empty current password", "", "a brand new passphrase", []string{"current_password"}},
		{"a new password too short", goodPassword, "short", []string{"new_password"}},
		{"a new password that is the email", goodPassword, "ada@example.com", []string{"new_password"}},
		{"both", "not the password", "short", []string{"current_password", "new_password"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := newSessions(t, options{})
			f.register(t, "ada@example.com", "")
			p := f.login(t, "ada@example.com")
			_, err := f.svc.ChangePassword(context.Background(), f.principal(t, p.AccessToken), c.current, c.next, client)
			var inv *lanyard.InvalidError
			if !errors.As(err, &inv) {
				t.Fatalf("ChangePassword = %v; want invalid %v", err, c.locs)
			}
			var locs []string
			for _, fe := range inv.Fields {
				locs = append(locs, fe.Location)
			}
			if !slices.Equal(locs, c.locs) {
				t.Fatalf("ChangePassword names %v; want %v", locs, c.locs)
			}
			if access, stored := f.live(t, p); !access || !stored {
				t.Errorf("the session after a refused change: access %v, stored %v; want both", access, stored)
			}
			f.login(t, "ada@example.com") // the old password still holds
		})
	}
}

func TestChangePassword_StartsAFreshSessionAndEndsEveryOther(t *testing.T) {
	t.Parallel()
	f := newSessions(t, options{})
	f.register(t, "ada@example.com", "")
	mine, other := f.login(t, "ada@example.com"), f.login(t, "ada@example.com")
	const next = "an entirely new passphrase"
	fresh, err := f.svc.ChangePassword(context.Background(), f.principal(t, mine.AccessToken), goodPassword, next, client)
	if err != nil {
		t.Fatalf("ChangePassword = %v", err)
	}
	f.svc.Wait()
	for name, p := range map[string]session.Pair{"the caller's": mine, "the other": other} {
		if access, stored := f.live(t, p); access || stored {
			t.Errorf("%s session after a password change: access accepted %v, stored %v; want neither", name, access, stored)
		}
		if _, err := f.svc.Refresh(context.Background(), p.RefreshToken, client); !errors.Is(err, lanyard.ErrBadCredentials) {
			t.Errorf("Refresh of %s session = %v; want ErrBadCredentials", name, err)
		}
	}
	if access, stored := f.live(t, fresh); !access || !stored {
		t.Errorf("the fresh session: access %v, stored %v; want both", access, stored)
	}
	f.refresh(t, fresh.RefreshToken)
	if _, err := f.loginWith("ada@example.com", goodPassword); !errors.Is(err, lanyard.ErrBadCredentials) {
		t.Errorf("login with the old password = %v; want ErrBadCredentials", err)
	}
	if _, err := f.loginWith("ada@example.com", next); err != nil {
		t.Errorf("login with the new password = %v", err)
	}
}

func TestLogin_BeyondOneHundredSessionsEndsTheLeastRecentlyUsed(t *testing.T) {
	t.Parallel()
	f := newSessions(t, options{})
	f.register(t, "ada@example.com", "")
	const max = 100
	pairs := make([]session.Pair, max)
	for i := range pairs {
		pairs[i] = f.login(t, "ada@example.com")
		f.clock.Advance(time.Second)
	}
	// The oldest is used now, so the second oldest is the least recently used.
	pairs[0] = f.refresh(t, pairs[0].RefreshToken)
	f.clock.Advance(time.Second)
	newest := f.login(t, "ada@example.com")
	for i, p := range append(pairs, newest) {
		_, stored := f.live(t, p)
		if want := i != 1; stored != want {
			t.Errorf("session %d stored: %v; want %v", i, stored, want)
		}
	}
	if access, _ := f.live(t, pairs[1]); access {
		t.Error("the ended session's access token is still accepted")
	}
	if n := lanyardtest.RawCount(t, f.st.Raw(), "sessions", nil); n != max {
		t.Errorf("%d sessions stored; want %d", n, max)
	}
}

func TestLogin_AtTheCapAnExpiredSessionMakesRoomBeforeAnyLiveOneEnds(t *testing.T) {
	t.Parallel()
	f := newSessions(t, options{})
	f.register(t, "ada@example.com", "")
	expired := f.login(t, "ada@example.com")
	f.clock.Advance(20 * 24 * time.Hour)
	live := make([]session.Pair, 99)
	for i := range live {
		live[i] = f.login(t, "ada@example.com")
	}
	f.clock.Advance(11 * 24 * time.Hour) // the first is 31 days unused, the others 11
	f.login(t, "ada@example.com")
	for i, p := range live {
		if _, stored := f.live(t, p); !stored {
			t.Fatalf("live session %d ended to make room; want the expired one to make it", i)
		}
	}
	if _, err := f.svc.Refresh(context.Background(), expired.RefreshToken, client); !errors.Is(err, lanyard.ErrBadCredentials) {
		t.Errorf("Refresh of the expired session = %v; want ErrBadCredentials", err)
	}
}

func TestAuthenticate_RefusesWhatNoLongerMatchesTheUser(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name   string
		change func(t *testing.T, f fixture, u lanyard.User)
	}{
		{"a user being deleted", func(t *testing.T, f fixture, u lanyard.User) { f.markDeleting(t, u) }},
		{"a user gone", func(t *testing.T, f fixture, u lanyard.User) {
			if _, err := f.st.DeleteUser(context.Background(), u.ID); err != nil {
				t.Fatal(err)
			}
		}},
		{"a token from before the version bump", func(t *testing.T, f fixture, u lanyard.User) {
			if _, err := f.st.UpdateUser(context.Background(), u.ID, store.UserChange{BumpVersion: true}, f.clock.Now()); err != nil {
				t.Fatal(err)
			}
		}},
		{"an expired token", func(t *testing.T, f fixture, u lanyard.User) { f.clock.Advance(accessTTL) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := newSessions(t, options{})
			u := f.register(t, "ada@example.com", "")
			p := f.login(t, "ada@example.com")
			f.principal(t, p.AccessToken)
			c.change(t, f, u)
			if _, err := f.svc.Authenticate(context.Background(), p.AccessToken); !errors.Is(err, lanyard.ErrUnauthorized) {
				t.Fatalf("Authenticate = %v; want ErrUnauthorized", err)
			}
		})
	}
	t.Run("a malformed token", func(t *testing.T) {
		t.Parallel()
		f := newSessions(t, options{})
		for _, tok := range []string{"", "x", "a.b.c"} {
			if _, err := f.svc.Authenticate(context.Background(), tok); !errors.Is(err, lanyard.ErrUnauthorized) {
				t.Errorf("Authenticate(%q) = %v; want ErrUnauthorized", tok, err)
			}
		}
	})
}

func TestLogout_ManySessionsEndedStillRefuseEveryOneOfTheirAccessTokens(t *testing.T) {
	t.Parallel()
	f := newSessions(t, options{})
	f.register(t, "ada@example.com", "")
	var pairs []session.Pair
	for range 40 { // more than the user document lists
		pairs = append(pairs, f.login(t, "ada@example.com"))
		f.clock.Advance(time.Millisecond)
	}
	keep := f.login(t, "ada@example.com")
	var ended []session.Pair
	for _, p := range pairs {
		// Past the list, the user's other access tokens give way too: each session
		// logs out with an access token fresh from its refresh.
		p = f.refresh(t, p.RefreshToken)
		f.clock.Advance(time.Millisecond)
		if err := f.svc.Logout(context.Background(), f.principal(t, p.AccessToken), false); err != nil {
			t.Fatalf("Logout = %v", err)
		}
		ended = append(ended, p)
		f.clock.Advance(time.Millisecond)
	}
	for i, p := range ended {
		if access, stored := f.live(t, p); access || stored {
			t.Errorf("session %d after its logout: access token accepted %v, stored %v; want neither", i, access, stored)
		}
	}
	f.principal(t, f.refresh(t, keep.RefreshToken).AccessToken)
}

func TestRefresh_AReplayLandingBetweenTheWinnersRotationAndItsAnswerEndsTheSessionAndTheWinnerStillSucceeds(t *testing.T) {
	t.Parallel()
	// Without the grace, two requests spending one token: the one whose rotation won
	// succeeds and the other, a replay, ends the session. Whether the replay reaches
	// the user document before the winner reads it must not turn the winner's success
	// into a refusal too: the test puts the replay exactly there.
	f := newSessions(t, options{})
	f.register(t, "ada@example.com", "")
	p := f.login(t, "ada@example.com")
	var replay error
	session.SetAfterRotate(f.svc, func() {
		session.SetAfterRotate(f.svc, nil)
		_, replay = f.svc.Refresh(context.Background(), p.RefreshToken, client)
	})
	won, err := f.svc.Refresh(context.Background(), p.RefreshToken, client)
	if err != nil {
		t.Fatalf("Refresh that won the rotation = %v; want its pair", err)
	}
	if !errors.Is(replay, lanyard.ErrBadCredentials) {
		t.Fatalf("Refresh replayed after the rotation = %v; want ErrBadCredentials", replay)
	}
	if access, stored := f.live(t, won); access || stored {
		t.Errorf("the winner's pair after the replay: access accepted %v, session stored %v; want neither", access, stored)
	}
}
