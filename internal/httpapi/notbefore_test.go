package httpapi_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/lanyard/lanyard/internal/lanyardtest"
)

// TestAccessTokens_NotBeforeIsExactToTheMillisecond: when the list of ended sessions
// overflows, the user's access tokens issued before the forgotten end are refused, and
// the ones issued after it are not, even within the same second of it.
func TestAccessTokens_NotBeforeIsExactToTheMillisecond(t *testing.T) {
	t.Parallel()
	clock := lanyardtest.NewClockAt(clockStart.Add(-time.Minute))
	env := lanyardtest.New(t, lanyardtest.WithClock(clock.Now))
	a := env.Register("ada")
	var ended []lanyardtest.Account
	for range 33 {
		s := a
		env.Login(&s)
		ended = append(ended, s)
	}
	at := func(ms int) { clock.Set(clockStart.Add(time.Duration(ms) * time.Millisecond)) }
	at(100)
	before := a
	env.Login(&before) // issued 100 ms before the end that will be forgotten
	for i, s := range ended {
		at(200 + 10*i) // the 33rd logout forgets the first, which ended at 200 ms
		env.Do("POST", "/api/auth/logout", nil, "Bearer", s.Access).Must(t, http.StatusNoContent)
	}
	at(600)
	after := a
	env.Login(&after) // 400 ms after that end, in the same second

	for i, s := range ended {
		if got := meStatus(env, s.Access); got != http.StatusUnauthorized {
			t.Errorf("GET /api/users/me with ended session %d's access token = %d; want %d", i, got, http.StatusUnauthorized)
		}
	}
	if got := meStatus(env, before.Access); got != http.StatusUnauthorized {
		t.Errorf("GET /api/users/me with an access token issued 100 ms before the forgotten end = %d; want %d", got, http.StatusUnauthorized)
	}
	if got := meStatus(env, after.Access); got != http.StatusOK {
		t.Errorf("GET /api/users/me with an access token issued 400 ms after the forgotten end, in the same second = %d; want %d", got, http.StatusOK)
	}
	// The refused live session mends itself with a refresh, in the same second too.
	p := rotate(t, env, "refresh of the session whose access token was refused", before.Refresh, a.ID)
	if got := meStatus(env, p.AccessToken); got != http.StatusOK {
		t.Errorf("GET /api/users/me with the refreshed access token = %d; want %d", got, http.StatusOK)
	}
}

// TestLogin_BeyondTheCapIssuesATokenThatWorks: a login that ends the least recently
// used session, when the list of ended sessions is full, moves the user's not-before
// time to an end earlier in the same second; its own access token is issued after
// that and works at once.
func TestLogin_BeyondTheCapIssuesATokenThatWorks(t *testing.T) {
	t.Parallel()
	clock := lanyardtest.NewClockAt(clockStart.Add(-10 * time.Minute))
	env := lanyardtest.New(t, lanyardtest.WithClock(clock.Now))
	a := env.Register("ada")
	sessions := []lanyardtest.Account{a}
	for len(sessions) < 100 {
		clock.Set(clock.Now().Add(time.Second))
		s := a
		env.Login(&s)
		sessions = append(sessions, s)
	}
	// 32 sessions end within one second, which fills the list of ended sessions, and
	// 32 logins bring the account back to the cap.
	ms := func(n int) { clock.Set(clockStart.Add(time.Duration(n) * time.Millisecond)) }
	loggedOut := sessions[68:]
	for i, s := range loggedOut {
		ms(100 + 10*i)
		env.Do("POST", "/api/auth/logout", nil, "Bearer", s.Access).Must(t, http.StatusNoContent)
	}
	var refill []lanyardtest.Account
	for i := range 32 {
		ms(420 + 5*i)
		s := a
		env.Login(&s)
		refill = append(refill, s)
	}
	ms(800)
	newest := a
	env.Login(&newest) // the 101st live session: the least recently used, the first, ends

	if got := meStatus(env, newest.Access); got != http.StatusOK {
		t.Errorf("GET /api/users/me with the new login's own access token = %d; want %d", got, http.StatusOK)
	}
	wantSessionOver(t, env, "the least recently used session", tokenPairBody{RefreshToken: sessions[0].Refresh, AccessToken: sessions[0].Access})
	for i, s := range loggedOut {
		if got := meStatus(env, s.Access); got != http.StatusUnauthorized {
			t.Errorf("GET /api/users/me with logged-out session %d's access token = %d; want %d", 68+i, got, http.StatusUnauthorized)
		}
	}
	if got := meStatus(env, refill[0].Access); got != http.StatusOK {
		t.Errorf("GET /api/users/me with the access token of a login after the forgotten end = %d; want %d", got, http.StatusOK)
	}
	rotate(t, env, "refresh of the second session", sessions[1].Refresh, a.ID)
}
