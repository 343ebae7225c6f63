package httpapi_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/lanyard/lanyard/internal/lanyardtest"
)

// rotate refreshes tok and returns the new pair, failing the test unless it is 200.
func rotate(t *testing.T, env *lanyardtest.Env, what, tok, userID string) tokenPairBody {
	t.Helper()
	return decodeTokenPair(t, what, refreshWith(env, tok), userID)
}

// wantStatus fails the test unless r has status want.
func wantStatus(t *testing.T, what string, r *lanyardtest.Response, want int) {
	t.Helper()
	if r.Status != want {
		t.Errorf("%s = %d; want %d; body: %s", what, r.Status, want, r.Body)
	}
}

// wantSessionOver checks that neither the refresh token nor the access token of a
// session works any more.
func wantSessionOver(t *testing.T, env *lanyardtest.Env, what string, p tokenPairBody) {
	t.Helper()
	wantStatus(t, "POST /api/auth/refresh with "+what, refreshWith(env, p.RefreshToken), http.StatusUnauthorized)
	wantStatus(t, "GET /api/users/me with the access token of "+what, env.Do("GET", "/api/users/me", nil, "Bearer", p.AccessToken), http.StatusUnauthorized)
}

// endedSessions reads the sessions user id's document lists as ended.
func endedSessions(t *testing.T, env *lanyardtest.Env, id string) map[string]time.Time {
	t.Helper()
	oid, err := bson.ObjectIDFromHex(id)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Ended map[string]time.Time `bson:"ended_sessions"`
	}
	if !lanyardtest.RawDoc(t, env.DB, "users", bson.D{{Key: "_id", Value: oid}}, &doc) {
		t.Fatalf("user %s not stored", id)
	}
	return doc.Ended
}

// TestRefresh_ReplayOfAnyEarlierTokenEndsTheSession is the theft the issue describes:
// a thief rotates a stolen token, the victim presents one spent before the last, and
// the session must end, with the thief's newest tokens, however long ago that token
// was spent.
func TestRefresh_ReplayOfAnyEarlierTokenEndsTheSession(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		rotations int
		every     time.Duration // between rotations
		replay    int           // index of the replayed token: 0 is the login's
	}{
		{"grand-parent, at once", 2, 0, 0},
		{"grand-parent, after the grace and the claims' tidying", 2, 2 * time.Minute, 0},
		{"first of thirty, rotated hourly", 30, time.Hour, 0},
		{"tenth of thirty, rotated hourly", 30, time.Hour, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clock := lanyardtest.NewClockAt(clockStart)
			env := lanyardtest.New(t, lanyardtest.WithClock(clock.Now))
			victim := env.Register("ada")
			other := victim
			env.Login(&other) // another session of the same user

			tokens := []string{victim.Refresh}
			var thief tokenPairBody
			for i := range tt.rotations {
				clock.Set(clock.Now().Add(tt.every))
				thief = rotate(t, env, fmt.Sprintf("rotation %d", i+1), tokens[len(tokens)-1], victim.ID)
				tokens = append(tokens, thief.RefreshToken)
			}
			// The victim comes back with a token the thief has spent.
			r := refreshWith(env, tokens[tt.replay])
			wantStatus(t, "POST /api/auth/refresh with a token spent before the last", r, http.StatusUnauthorized)
			if h := r.Header.Get("WWW-Authenticate"); !strings.HasPrefix(h, "Bearer") {
				t.Errorf("replay: WWW-Authenticate = %q; want a Bearer challenge", h)
			}
			wantSessionOver(t, env, "the thief's newest token", thief)
			for i, tok := range tokens {
				wantStatus(t, fmt.Sprintf("POST /api/auth/refresh with token %d after the session ended", i), refreshWith(env, tok), http.StatusUnauthorized)
			}
			// The user's other session lives on.
			if got := meStatus(env, other.Access); got != http.StatusOK && tt.every == 0 {
				t.Errorf("GET /api/users/me with the other session's access token = %d; want %d", got, http.StatusOK)
			}
			rotate(t, env, "POST /api/auth/refresh (other session)", other.Refresh, victim.ID)
		})
	}
}

// TestAccessTokens_AreRefusedOnceTheirSessionEnds: every access token of a session,
// from its login and from each refresh, stops working the moment the session ends,
// while the user's other sessions keep theirs; and authentication still costs one
// store command.
func TestAccessTokens_AreRefusedOnceTheirSessionEnds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		end  func(t *testing.T, env *lanyardtest.Env, s lanyardtest.Account, latest tokenPairBody)
	}{
		{"logout", func(t *testing.T, env *lanyardtest.Env, s lanyardtest.Account, latest tokenPairBody) {
			env.Do("POST", "/api/auth/logout", nil, "Bearer", latest.AccessToken).Must(t, http.StatusNoContent)
		}},
		{"logout with the login's access token", func(t *testing.T, env *lanyardtest.Env, s lanyardtest.Account, latest tokenPairBody) {
			env.Do("POST", "/api/auth/logout", map[string]any{"all": false}, "Bearer", s.Access).Must(t, http.StatusNoContent)
		}},
		{"reuse detection", func(t *testing.T, env *lanyardtest.Env, s lanyardtest.Account, latest tokenPairBody) {
			refreshWith(env, s.Refresh).Must(t, http.StatusUnauthorized) // the login's token, spent twice over
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := lanyardtest.New(t)
			a := env.Register("ada")
			other := a
			env.Login(&other)
			p1 := rotate(t, env, "first refresh", a.Refresh, a.ID)
			p2 := rotate(t, env, "second refresh", p1.RefreshToken, a.ID)

			tt.end(t, env, a, p2)
			for name, tok := range map[string]string{"the login": a.Access, "the first refresh": p1.AccessToken, "the second refresh": p2.AccessToken} {
				wantStatus(t, "GET /api/users/me with the access token of "+name, env.Do("GET", "/api/users/me", nil, "Bearer", tok), http.StatusUnauthorized)
			}
			wantStatus(t, "POST /api/auth/logout with an ended session's access token", env.Do("POST", "/api/auth/logout", nil, "Bearer", p2.AccessToken), http.StatusUnauthorized)
			env.Commands.Reset()
			if got := meStatus(env, other.Access); got != http.StatusOK {
				t.Errorf("GET /api/users/me with the other session's access token = %d; want %d", got, http.StatusOK)
			}
			if n := env.Commands.Total(); n != 1 {
				t.Errorf("GET /api/users/me after a session ended sent %d store commands; want 1", n)
			}
		})
	}
}

// TestRefresh_ConcurrentRefreshesWithinTheGraceShareOneSuccessor: 20 refreshes of one
// token at once, as tabs or retries would send, all get the same successor, so the
// session still holds exactly one valid refresh token.
func TestRefresh_ConcurrentRefreshesWithinTheGraceShareOneSuccessor(t *testing.T) {
	t.Parallel()
	env := lanyardtest.New(t)
	a := env.Register("ada")

	const n = 20
	answers := make([]*lanyardtest.Response, n)
	lanyardtest.AtOnce(n, func(i int) { answers[i] = refreshWith(env, a.Refresh) })

	successors := map[string]int{}
	var access []string
	for i, r := range answers {
		if r.Status != http.StatusOK {
			t.Errorf("POST /api/auth/refresh #%d = %d; want %d; body: %s", i, r.Status, http.StatusOK, r.Body)
			continue
		}
		var p tokenPairBody
		if err := json.Unmarshal(r.Body, &p); err != nil {
			t.Fatal(err)
		}
		successors[p.RefreshToken]++
		access = append(access, p.AccessToken)
	}
	if len(successors) != 1 {
		t.Fatalf("%d concurrent refreshes of one token returned %d different refresh tokens; want 1", n, len(successors))
	}
	for _, tok := range access {
		if got := meStatus(env, tok); got != http.StatusOK {
			t.Errorf("GET /api/users/me with an access token of the concurrent refreshes = %d; want %d", got, http.StatusOK)
		}
	}
	var next string
	for tok := range successors {
		next = tok
	}
	if n := sessionCount(t, env, a.ID); n != 1 {
		t.Errorf("sessions of the user = %d; want 1", n)
	}
	// The one successor is the session's valid token: it rotates, and then the
	// original token is two rotations old and ends the session.
	p := rotate(t, env, "POST /api/auth/refresh with the shared successor", next, a.ID)
	refreshWith(env, a.Refresh).Must(t, http.StatusUnauthorized)
	wantSessionOver(t, env, "the successor's successor", p)
}

// TestRefresh_ReuseGrace: the token spent last, presented again within
// LANYARD_REFRESH_REUSE_GRACE of its rotation, answers with the same successor; from
// the end of the grace on, or when the successor is spent too, it ends the session;
// with 0s there is no grace.
func TestRefresh_ReuseGrace(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		grace string // "" leaves the default
		after time.Duration
		spend bool // the successor is rotated before the replay
		same  bool // the replay gets the same successor
	}{
		{"default, at once", "", 0, false, true},
		{"default, a millisecond before 10s", "", 10*time.Second - time.Millisecond, false, true},
		{"default, at 10s", "", 10 * time.Second, false, false},
		{"default, a minute later", "", time.Minute, false, false},
		{"default, successor already spent", "", time.Second, true, false},
		{"3s, at 2.999s", "3s", 3*time.Second - time.Millisecond, false, true},
		{"3s, at 3s", "3s", 3 * time.Second, false, false},
		{"0s, at once", "0s", 0, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clock := lanyardtest.NewClockAt(clockStart)
			opts := []lanyardtest.Option{lanyardtest.WithClock(clock.Now)}
			if tt.grace != "" {
				opts = append(opts, lanyardtest.WithEnv("LANYARD_REFRESH_REUSE_GRACE", tt.grace))
			}
			env := lanyardtest.New(t, opts...)
			a := env.Register("ada")

			first := rotate(t, env, "first refresh", a.Refresh, a.ID)
			latest := first
			if tt.spend {
				latest = rotate(t, env, "refresh of the successor", first.RefreshToken, a.ID)
			}
			clock.Set(clockStart.Add(tt.after))
			r := refreshWith(env, a.Refresh)
			if tt.same {
				again := decodeTokenPair(t, "second refresh of the same token within the grace", r, a.ID)
				if again.RefreshToken != first.RefreshToken {
					t.Errorf("second refresh within the grace returned another refresh token; want the same successor")
				}
				if got := meStatus(env, again.AccessToken); got != http.StatusOK {
					t.Errorf("GET /api/users/me with the second refresh's access token = %d; want %d", got, http.StatusOK)
				}
				// Still one session, one valid token: the successor rotates as usual.
				rotate(t, env, "refresh of the shared successor", first.RefreshToken, a.ID)
				return
			}
			wantStatus(t, "second refresh of the same token", r, http.StatusUnauthorized)
			wantSessionOver(t, env, "the session's latest token", latest)
			wantStatus(t, "GET /api/users/me with the first refresh's access token", env.Do("GET", "/api/users/me", nil, "Bearer", first.AccessToken), http.StatusUnauthorized)
			if n := sessionCount(t, env, a.ID); n != 0 {
				t.Errorf("sessions of the user after the reuse = %d; want 0", n)
			}
		})
	}
}

// TestRefresh_ForgedSecretForARealSessionChangesNothing: a session id is no secret
// (every access token carries it), so a made-up secret with it must be refused without
// ending the session; otherwise anyone who learnt a sid could log its user out.
func TestRefresh_ForgedSecretForARealSessionChangesNothing(t *testing.T) {
	t.Parallel()
	env := lanyardtest.New(t)
	a := env.Register("ada")
	other := a
	env.Login(&other)
	p := rotate(t, env, "first refresh", a.Refresh, a.ID)
	sid, _, _ := strings.Cut(p.RefreshToken, ".")
	_, otherSecret, _ := strings.Cut(other.Refresh, ".")

	forged := []string{
		sid + "." + otherSecret, // the user's other session's secret
		sid + "." + base64.RawURLEncoding.EncodeToString(make([]byte, 32)),
	}
	for range 5 {
		forged = append(forged, sid+"."+base64.RawURLEncoding.EncodeToString(randomBytes(t, 32)))
	}
	for i, tok := range forged {
		wantStatus(t, fmt.Sprintf("POST /api/auth/refresh with forged secret %d", i), refreshWith(env, tok), http.StatusUnauthorized)
	}
	if got := meStatus(env, p.AccessToken); got != http.StatusOK {
		t.Errorf("GET /api/users/me after the forged refreshes = %d; want %d", got, http.StatusOK)
	}
	rotate(t, env, "POST /api/auth/refresh with the real token after the forged ones", p.RefreshToken, a.ID)
	rotate(t, env, "POST /api/auth/refresh (other session)", other.Refresh, a.ID)
}

// TestLogin_BeyondOneHundredSessionsEndsTheLeastRecentlyUsed: the 101st live session
// of an account ends the one used least recently (not the oldest: that one was
// refreshed), with its access tokens, and finding it reads sessions by _id only.
func TestLogin_BeyondOneHundredSessionsEndsTheLeastRecentlyUsed(t *testing.T) {
	t.Parallel()
	clock := lanyardtest.NewClockAt(clockStart)
	env := lanyardtest.New(t, lanyardtest.WithClock(clock.Now))
	tick := func() { clock.Set(clock.Now().Add(time.Second)) }
	a := env.Register("ada")
	sessions := []lanyardtest.Account{a}
	for len(sessions) < 100 {
		tick()
		s := a
		env.Login(&s)
		sessions = append(sessions, s)
	}
	if n := sessionCount(t, env, a.ID); n != 100 {
		t.Fatalf("sessions after 100 logins = %d; want 100", n)
	}
	// The oldest session is in use; the second oldest is now the least recently used.
	tick()
	oldest := rotate(t, env, "refresh of the oldest session", sessions[0].Refresh, a.ID)

	tick()
	env.Commands.Reset()
	newest := a
	env.Login(&newest)
	onlyIDFilters(t, env, "login beyond the cap")
	if n := env.Commands.Count("find"); n > 6 {
		t.Errorf("login beyond the cap sent %d finds; want a few reads by _id, not one per session", n)
	}
	if n := sessionCount(t, env, a.ID); n != 100 {
		t.Errorf("sessions after the 101st login = %d; want 100", n)
	}
	wantSessionOver(t, env, "the least recently used session", tokenPairBody{RefreshToken: sessions[1].Refresh, AccessToken: sessions[1].Access})
	for name, tok := range map[string]string{"the oldest (refreshed) session": oldest.AccessToken, "the third session": sessions[2].Access, "the new session": newest.Access} {
		if got := meStatus(env, tok); got != http.StatusOK {
			t.Errorf("GET /api/users/me with the access token of %s = %d; want %d", name, got, http.StatusOK)
		}
	}
	// One more login ends the next least recently used, the third session.
	tick()
	env.Login(&newest)
	wantSessionOver(t, env, "the third session", tokenPairBody{RefreshToken: sessions[2].Refresh, AccessToken: sessions[2].Access})
	rotate(t, env, "refresh of the oldest session after two logins beyond the cap", oldest.RefreshToken, a.ID)
	rotate(t, env, "refresh of the fourth session", sessions[3].Refresh, a.ID)
}

// TestLogin_SessionsThatEndedOtherwiseMakeRoomFirst: sessions that ended by logout
// leave the account's count at once, so logging in again ends nothing.
func TestLogin_SessionsThatEndedOtherwiseMakeRoomFirst(t *testing.T) {
	t.Parallel()
	env := lanyardtest.New(t)
	a := env.Register("ada")
	sessions := []lanyardtest.Account{a}
	for len(sessions) < 100 {
		s := a
		env.Login(&s)
		sessions = append(sessions, s)
	}
	env.Do("POST", "/api/auth/logout", nil, "Bearer", sessions[50].Access).Must(t, http.StatusNoContent)
	s := a
	env.Login(&s)
	for i, old := range sessions {
		if i != 50 && meStatus(env, old.Access) != http.StatusOK {
			t.Errorf("session %d was ended by a login that had room", i)
		}
	}
}

// TestAccessTokens_EndedSessionsBeyondTheListAreStillRefused: the user document
// remembers at most 32 ended sessions, and only for an access token's lifetime (plus
// a minute); past 32, access tokens issued before the oldest forgotten end are
// refused, which costs the user's live sessions their access tokens (they refresh),
// never lets a dead session's through.
func TestAccessTokens_EndedSessionsBeyondTheListAreStillRefused(t *testing.T) {
	t.Parallel()
	clock := lanyardtest.NewClockAt(clockStart)
	env := lanyardtest.New(t, lanyardtest.WithClock(clock.Now))
	tick := func() { clock.Set(clock.Now().Add(time.Second)) }
	a := env.Register("ada")
	survivor := a
	var ended []lanyardtest.Account
	for range 33 {
		tick()
		s := a
		env.Login(&s)
		ended = append(ended, s)
	}
	for _, s := range ended {
		tick()
		env.Do("POST", "/api/auth/logout", nil, "Bearer", s.Access).Must(t, http.StatusNoContent)
	}
	if list := endedSessions(t, env, a.ID); len(list) > 32 {
		t.Errorf("the user document lists %d ended sessions; want at most 32", len(list))
	}
	for i, s := range ended {
		if got := meStatus(env, s.Access); got != http.StatusUnauthorized {
			t.Errorf("GET /api/users/me with the access token of ended session %d = %d; want %d", i, got, http.StatusUnauthorized)
		}
	}
	// The live session's access token predates the forgotten end; a refresh mends it.
	if got := meStatus(env, survivor.Access); got != http.StatusUnauthorized {
		t.Errorf("GET /api/users/me with the live session's older access token = %d; want %d", got, http.StatusUnauthorized)
	}
	tick()
	p := rotate(t, env, "refresh of the live session", survivor.Refresh, a.ID)
	if got := meStatus(env, p.AccessToken); got != http.StatusOK {
		t.Errorf("GET /api/users/me with the live session's new access token = %d; want %d", got, http.StatusOK)
	}

	// Once every access token that could have belonged to them has expired, the ended
	// sessions are forgotten by the next change.
	clock.Set(clock.Now().Add(16*time.Minute + time.Second))
	last := a
	env.Login(&last)
	env.Do("POST", "/api/auth/logout", nil, "Bearer", last.Access).Must(t, http.StatusNoContent)
	list := endedSessions(t, env, a.ID)
	if _, ok := list[strings.SplitN(last.Refresh, ".", 2)[0]]; len(list) != 1 || !ok {
		t.Errorf("ended sessions listed after the old ones expired = %v; want only the last one", list)
	}
}
