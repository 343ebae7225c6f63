package httpapi_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/lanyard/lanyard/internal/lanyardtest"
)

// jwtSegment is v as a JWT segment: JSON, unpadded base64url.
func jwtSegment(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// jwtParts splits a compact JWT into header, payload and signature.
func jwtParts(t *testing.T, tok string) (header, payload, sig string) {
	t.Helper()
	p := strings.Split(tok, ".")
	if len(p) != 3 {
		t.Fatalf("access token has %d segments; want 3", len(p))
	}
	return p[0], p[1], p[2]
}

// jwtClaimsOf decodes a JWT's payload, keeping numbers exact.
func jwtClaimsOf(t *testing.T, tok string) jwt.MapClaims {
	t.Helper()
	_, payload, _ := jwtParts(t, tok)
	b, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		t.Fatalf("access token payload: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var c jwt.MapClaims
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("access token payload: %v", err)
	}
	return c
}

// claimsWith returns a copy of c with k set to v, or removed when v is nil.
func claimsWith(c jwt.MapClaims, k string, v any) jwt.MapClaims {
	out := jwt.MapClaims{}
	for ck, cv := range c {
		out[ck] = cv
	}
	if v == nil {
		delete(out, k)
	} else {
		out[k] = v
	}
	return out
}

// signJWT signs claims with method and key, as an attacker or a careless issuer would.
func signJWT(t *testing.T, method jwt.SigningMethod, key []byte, c jwt.MapClaims) string {
	t.Helper()
	tok, err := jwt.NewWithClaims(method, c).SignedString(key)
	if err != nil {
		t.Fatalf("sign %s: %v", method.Alg(), err)
	}
	return tok
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func TestAccessToken_ForgedOrMalformedIsRejected(t *testing.T) {
	t.Parallel()
	env := lanyardtest.New(t)
	a := env.Register("ada")
	b := env.Register("bob")
	secret := []byte(env.Config.JWTSecret)

	header, payload, sig := jwtParts(t, a.Access)
	claims := jwtClaimsOf(t, a.Access)
	now := time.Now()
	// fresh are a's claims with times around now, so that only the defect a case
	// introduces can make it fail.
	// iat_ms moves with iat: left as issued, it falls outside iat's second whenever
	// the registrations above crossed a second boundary.
	issuedAt := func(c jwt.MapClaims, at time.Time) jwt.MapClaims {
		return claimsWith(claimsWith(c, "iat", at.Unix()), "iat_ms", at.UnixMilli())
	}
	fresh := claimsWith(issuedAt(claims, now), "exp", now.Add(10*time.Minute).Unix())
	hs256 := func(c jwt.MapClaims) string { return signJWT(t, jwt.SigningMethodHS256, secret, c) }
	edited := func(c jwt.MapClaims) string { return header + "." + jwtSegment(t, c) + "." + sig }

	// The controls: the forging helpers make tokens the service accepts when
	// nothing is wrong with them, so each case below fails for its one defect.
	controls := []struct{ name, tok string }{
		{"the issued token", a.Access},
		{"its claims re-signed with the secret", hs256(claims)},
		{"fresh times, signed with the secret", hs256(fresh)},
	}
	for _, c := range controls {
		if got := meStatus(env, c.tok); got != http.StatusOK {
			t.Fatalf("GET /api/users/me with %s = %d; want %d", c.name, got, http.StatusOK)
		}
	}

	noneHeader := jwtSegment(t, map[string]any{"alg": "none", "typ": "JWT"})
	bearer := func(tok string) []string { return []string{"Authorization", "Bearer " + tok} }
	tests := []struct {
		name    string
		headers []string
	}{
		{"no Authorization header", nil},
		{"empty Bearer", []string{"Authorization", "Bearer "}},
		{"Bearer without a space", []string{"Authorization", "Bearer"}},
		{"Basic scheme", []string{"Authorization", "Basic xyz"}},
		{"Basic scheme with a valid token", []string{"Authorization", "Basic " + a.Access}},
		{"token without scheme", []string{"Authorization", a.Access}},
		{"garbage", bearer("not-a-token")},
		{"three empty segments", bearer("..")},
		{"alg none, hand-built, empty signature", bearer(noneHeader + "." + payload + ".")},
		{"alg none, hand-built, original signature", bearer(noneHeader + "." + payload + "." + sig)},
		{"alg none, via the library", bearer(func() string {
			tok, err := jwt.NewWithClaims(jwt.SigningMethodNone, fresh).SignedString(jwt.UnsafeAllowNoneSignatureType)
			if err != nil {
				t.Fatal(err)
			}
			return tok
		}())},
		{"signature stripped", bearer(header + "." + payload + ".")},
		{"sub edited to another user, original signature", bearer(edited(claimsWith(claims, "sub", b.ID)))},
		{"role edited to admin, original signature", bearer(edited(claimsWith(claims, "role", "admin")))},
		{"exp extended, original signature", bearer(edited(claimsWith(claims, "exp", now.Add(24*time.Hour).Unix())))},
		{"signed with another secret", bearer(signJWT(t, jwt.SigningMethodHS256, randomBytes(t, 32), fresh))},
		{"HS384 with the right secret", bearer(signJWT(t, jwt.SigningMethodHS384, secret, fresh))},
		{"HS512 with the right secret", bearer(signJWT(t, jwt.SigningMethodHS512, secret, fresh))},
		{"missing exp", bearer(hs256(claimsWith(fresh, "exp", nil)))},
		{"expired an hour ago", bearer(hs256(claimsWith(issuedAt(fresh, now.Add(-2*time.Hour)), "exp", now.Add(-time.Hour).Unix())))},
		{"wrong iss", bearer(hs256(claimsWith(fresh, "iss", "someone-else")))},
		{"missing iss", bearer(hs256(claimsWith(fresh, "iss", nil)))},
		{"ver ahead of the user's", bearer(hs256(claimsWith(fresh, "ver", 1)))},
		{"missing ver", bearer(hs256(claimsWith(fresh, "ver", nil)))},
		{"sub of no user", bearer(hs256(claimsWith(fresh, "sub", bson.NewObjectID().Hex())))},
		{"refresh token used as access token", bearer(a.Refresh)},
		{"valid token with trailing garbage", bearer(a.Access + "x")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := env.Do("GET", "/api/users/me", nil, tt.headers...)
			if r.Status != http.StatusUnauthorized {
				t.Fatalf("GET /api/users/me = %d; want %d; body: %s", r.Status, http.StatusUnauthorized, r.Body)
			}
			if h := r.Header.Get("WWW-Authenticate"); !strings.HasPrefix(h, "Bearer") {
				t.Errorf("GET /api/users/me: WWW-Authenticate = %q; want a Bearer challenge", h)
			}
			if strings.Contains(string(r.Body), a.ID) || strings.Contains(string(r.Body), b.ID) {
				t.Errorf("GET /api/users/me: 401 body %s names a user", r.Body)
			}
		})
	}
}

// clockStart is where the tests' clocks (lanyardtest.Clock) start.
var clockStart = time.Date(2026, 11, 22, 10, 4, 5, 0, time.UTC)

func TestAccessToken_ExpiresAfterFifteenMinutesOnTheServiceClock(t *testing.T) {
	t.Parallel()
	clock := lanyardtest.NewClockAt(clockStart)
	env := lanyardtest.New(t, lanyardtest.WithClock(clock.Now))
	a := env.Register("ada")

	clock.Set(clockStart.Add(15*time.Minute - time.Second))
	if got := meStatus(env, a.Access); got != http.StatusOK {
		t.Fatalf("GET /api/users/me 1s before expiry = %d; want %d", got, http.StatusOK)
	}
	clock.Set(clockStart.Add(15 * time.Minute))
	r := env.Do("GET", "/api/users/me", nil, "Bearer", a.Access)
	if r.Status != http.StatusUnauthorized {
		t.Fatalf("GET /api/users/me at expiry = %d; want %d", r.Status, http.StatusUnauthorized)
	}
	if h := r.Header.Get("WWW-Authenticate"); !strings.HasPrefix(h, "Bearer") {
		t.Errorf("GET /api/users/me at expiry: WWW-Authenticate = %q; want a Bearer challenge", h)
	}
	// The session outlives its access token.
	p := decodeTokenPair(t, "POST /api/auth/refresh", refreshWith(env, a.Refresh), a.ID)
	if got := meStatus(env, p.AccessToken); got != http.StatusOK {
		t.Errorf("GET /api/users/me with the refreshed access token = %d; want %d", got, http.StatusOK)
	}
}

func TestRefresh_ExpiresAfterThirtyDaysUnused(t *testing.T) {
	t.Parallel()
	clock := lanyardtest.NewClockAt(clockStart)
	env := lanyardtest.New(t, lanyardtest.WithClock(clock.Now))
	used := env.Register("ada")
	unused := used
	env.Login(&unused)

	clock.Set(clockStart.Add(720*time.Hour - time.Second))
	p := decodeTokenPair(t, "POST /api/auth/refresh (1s before expiry)", refreshWith(env, used.Refresh), used.ID)

	clock.Set(clockStart.Add(720 * time.Hour))
	if r := refreshWith(env, unused.Refresh); r.Status != http.StatusUnauthorized {
		t.Errorf("POST /api/auth/refresh at expiry = %d; want %d; body: %s", r.Status, http.StatusUnauthorized, r.Body)
	}
	// Using a session renews it: its new token lives 30 days from its last use.
	decodeTokenPair(t, "POST /api/auth/refresh (renewed session)", refreshWith(env, p.RefreshToken), used.ID)
}

func TestRefresh_ReturnsANewPairAndSpendsTheOldToken(t *testing.T) {
	t.Parallel()
	env := lanyardtest.New(t)
	a := env.Register("ada")

	p := decodeTokenPair(t, "POST /api/auth/refresh", refreshWith(env, a.Refresh), a.ID)
	if p.RefreshToken == a.Refresh {
		t.Fatalf("POST /api/auth/refresh returned the same refresh token; want a new one")
	}
	oldSID, _, _ := strings.Cut(a.Refresh, ".")
	newSID, _, _ := strings.Cut(p.RefreshToken, ".")
	if newSID != oldSID {
		t.Errorf("refreshed token's session = %s; want the same session %s", newSID, oldSID)
	}
	if got := meStatus(env, p.AccessToken); got != http.StatusOK {
		t.Errorf("GET /api/users/me with the refreshed access token = %d; want %d", got, http.StatusOK)
	}
	// The new token is good for one more rotation, like the first.
	p2 := decodeTokenPair(t, "POST /api/auth/refresh (second rotation)", refreshWith(env, p.RefreshToken), a.ID)
	if p2.RefreshToken == p.RefreshToken || p2.RefreshToken == a.Refresh {
		t.Errorf("second rotation returned a refresh token seen before")
	}
}

// sessionCount is how many sessions the store holds for user id.
func sessionCount(t *testing.T, env *lanyardtest.Env, userID string) int64 {
	t.Helper()
	oid, err := bson.ObjectIDFromHex(userID)
	if err != nil {
		t.Fatalf("user id %q: %v", userID, err)
	}
	return lanyardtest.RawCount(t, env.DB, "sessions", bson.D{{Key: "user_id", Value: oid}})
}

func TestRefresh_ReuseOfASpentTokenEndsTheWholeSession(t *testing.T) {
	t.Parallel()
	// Without the reuse grace even the token spent last ends its session at once.
	env := lanyardtest.New(t, lanyardtest.WithEnv("LANYARD_REFRESH_REUSE_GRACE", "0s"))
	a := env.Register("ada")
	other := a
	env.Login(&other) // a second session of the same user

	p := decodeTokenPair(t, "POST /api/auth/refresh", refreshWith(env, a.Refresh), a.ID)

	// The spent token is replayed (by a thief, or by the client itself).
	r := refreshWith(env, a.Refresh)
	if r.Status != http.StatusUnauthorized {
		t.Fatalf("POST /api/auth/refresh with the spent token = %d; want %d; body: %s", r.Status, http.StatusUnauthorized, r.Body)
	}
	if h := r.Header.Get("WWW-Authenticate"); h == "" {
		t.Errorf("POST /api/auth/refresh with the spent token: no WWW-Authenticate header")
	}
	// Both copies lose: the token the first rotation returned is dead too.
	if r := refreshWith(env, p.RefreshToken); r.Status != http.StatusUnauthorized {
		t.Errorf("POST /api/auth/refresh with the token of the replayed session = %d; want %d; body: %s", r.Status, http.StatusUnauthorized, r.Body)
	}
	if n := sessionCount(t, env, a.ID); n != 1 {
		t.Errorf("sessions of the user after the replay = %d; want 1 (only the other session)", n)
	}
	// Another session of the same user is not touched.
	decodeTokenPair(t, "POST /api/auth/refresh (other session)", refreshWith(env, other.Refresh), a.ID)
}

func TestRefresh_ConcurrentUseOfOneTokenSucceedsOnceAndEndsTheSession(t *testing.T) {
	t.Parallel()
	// Without the reuse grace; with it, see TestRefresh_ConcurrentRefreshesWithinTheGraceShareOneSuccessor.
	env := lanyardtest.New(t, lanyardtest.WithEnv("LANYARD_REFRESH_REUSE_GRACE", "0s"))
	a := env.Register("ada")

	const n = 20
	var (
		statuses [n]int
		tokens   [n]string
	)
	lanyardtest.AtOnce(n, func(i int) {
		r := refreshWith(env, a.Refresh)
		statuses[i] = r.Status
		if r.Status == http.StatusOK {
			var p tokenPairBody
			if err := json.Unmarshal(r.Body, &p); err == nil {
				tokens[i] = p.RefreshToken
			}
		}
	})

	ok, unauthorized := 0, 0
	var returned []string
	for i, s := range statuses {
		switch s {
		case http.StatusOK:
			ok++
			returned = append(returned, tokens[i])
		case http.StatusUnauthorized:
			unauthorized++
		default:
			t.Errorf("POST /api/auth/refresh #%d = %d; want %d or %d", i, s, http.StatusOK, http.StatusUnauthorized)
		}
	}
	if ok != 1 || unauthorized != n-1 {
		t.Fatalf("%d concurrent POST /api/auth/refresh of one token: %d × 200, %d × 401; want 1 × 200, %d × 401", n, ok, unauthorized, n-1)
	}
	// Every loser presented a token the winner had just spent, so the session is
	// over: not even the winner's new token works.
	working := 0
	for _, tok := range returned {
		if refreshWith(env, tok).Status == http.StatusOK {
			working++
		}
	}
	if working != 0 {
		t.Errorf("refresh tokens still working after the concurrent refreshes = %d; want 0", working)
	}
	if c := sessionCount(t, env, a.ID); c != 0 {
		t.Errorf("sessions of the user after the concurrent refreshes = %d; want 0", c)
	}
}

func TestRefresh_MalformedOrUnknownTokenIsRejectedNever500(t *testing.T) {
	t.Parallel()
	env := lanyardtest.New(t)
	a := env.Register("ada")
	b := env.Register("bob")
	aSID, aSecret, _ := strings.Cut(a.Refresh, ".")
	bSID, _, _ := strings.Cut(b.Refresh, ".")
	randomSecret := base64.RawURLEncoding.EncodeToString(randomBytes(t, 32))

	tests := []struct {
		name string
		body any
		want int
	}{
		{"missing field", map[string]any{}, http.StatusUnprocessableEntity},
		{"null", map[string]any{"refresh_token": nil}, http.StatusUnprocessableEntity},
		{"a number", map[string]any{"refresh_token": 42}, http.StatusUnprocessableEntity},
		{"an object", map[string]any{"refresh_token": map[string]any{"$ne": nil}}, http.StatusUnprocessableEntity},
		{"empty", map[string]any{"refresh_token": ""}, http.StatusUnauthorized},
		{"no dot", map[string]any{"refresh_token": strings.Repeat("a", len(a.Refresh))}, http.StatusUnauthorized},
		{"two dots", map[string]any{"refresh_token": aSID + "." + aSecret[:20] + "." + aSecret[21:]}, http.StatusUnauthorized},
		{"a JWT", map[string]any{"refresh_token": a.Access}, http.StatusUnauthorized},
		{"random id, random secret", map[string]any{"refresh_token": hex.EncodeToString(randomBytes(t, 12)) + "." + randomSecret}, http.StatusUnauthorized},
		{"real session, random secret", map[string]any{"refresh_token": aSID + "." + randomSecret}, http.StatusUnauthorized},
		{"another user's session with this secret", map[string]any{"refresh_token": bSID + "." + aSecret}, http.StatusUnauthorized},
		{"session id in upper case", map[string]any{"refresh_token": strings.ToUpper(aSID) + "." + aSecret}, http.StatusUnauthorized},
		{"padded secret", map[string]any{"refresh_token": a.Refresh + "="}, http.StatusUnauthorized},
		{"id not hex", map[string]any{"refresh_token": "zzzzzzzzzzzzzzzzzzzzzzzz." + aSecret}, http.StatusUnauthorized},
		{"1000 characters", map[string]any{"refresh_token": strings.Repeat("a", 1000)}, http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := env.Do("POST", "/api/auth/refresh", tt.body)
			if r.Status != tt.want {
				t.Fatalf("POST /api/auth/refresh = %d; want %d; body: %s", r.Status, tt.want, r.Body)
			}
			if strings.Contains(string(r.Body), aSecret) {
				t.Errorf("POST /api/auth/refresh: body %s echoes the secret", r.Body)
			}
		})
	}
	// Wrong secrets are not replays: both sessions are still alive.
	decodeTokenPair(t, "POST /api/auth/refresh (ada, after the bad attempts)", refreshWith(env, a.Refresh), a.ID)
	decodeTokenPair(t, "POST /api/auth/refresh (bob, after the bad attempts)", refreshWith(env, b.Refresh), b.ID)
}

func TestRefresh_AccountBeingDeletedIsRejected(t *testing.T) {
	t.Parallel()
	env := lanyardtest.New(t)
	a := env.Register("ada")
	setUserStatus(t, env, a.ID, "deleting")

	if r := refreshWith(env, a.Refresh); r.Status != http.StatusUnauthorized {
		t.Errorf("POST /api/auth/refresh for an account being deleted = %d; want %d; body: %s", r.Status, http.StatusUnauthorized, r.Body)
	}
	if got := meStatus(env, a.Access); got != http.StatusUnauthorized {
		t.Errorf("GET /api/users/me for an account being deleted = %d; want %d", got, http.StatusUnauthorized)
	}
}

func TestLogout_EndsOnlyTheCurrentSession(t *testing.T) {
	t.Parallel()
	env := lanyardtest.New(t)
	tests := []struct {
		name string
		body any
	}{
		{"no body", nil},
		{"empty object", map[string]any{}},
		{"all false", map[string]any{"all": false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := env.Register("ada")
			other := a
			env.Login(&other)

			r := env.Do("POST", "/api/auth/logout", tt.body, "Bearer", a.Access)
			if r.Status != http.StatusNoContent {
				t.Fatalf("POST /api/auth/logout = %d; want %d; body: %s", r.Status, http.StatusNoContent, r.Body)
			}
			if r := refreshWith(env, a.Refresh); r.Status != http.StatusUnauthorized {
				t.Errorf("POST /api/auth/refresh for the ended session = %d; want %d", r.Status, http.StatusUnauthorized)
			}
			p := decodeTokenPair(t, "POST /api/auth/refresh (other session)", refreshWith(env, other.Refresh), a.ID)
			if got := meStatus(env, p.AccessToken); got != http.StatusOK {
				t.Errorf("GET /api/users/me with the other session's new access token = %d; want %d", got, http.StatusOK)
			}
		})
	}
}

func TestLogout_RequiresAValidAccessToken(t *testing.T) {
	t.Parallel()
	env := lanyardtest.New(t)
	a := env.Register("ada")
	for _, tok := range []string{"", a.Refresh, a.Access + "x"} {
		r := env.Do("POST", "/api/auth/logout", nil, "Bearer", tok)
		if r.Status != http.StatusUnauthorized {
			t.Errorf("POST /api/auth/logout with token %.12q… = %d; want %d", tok, r.Status, http.StatusUnauthorized)
		}
	}
	// Nothing was ended.
	decodeTokenPair(t, "POST /api/auth/refresh", refreshWith(env, a.Refresh), a.ID)
}

func TestLogoutAll_EndsEverySessionAndEveryAccessToken(t *testing.T) {
	t.Parallel()
	env := lanyardtest.New(t)
	a := env.Register("ada")
	other := a
	env.Login(&other)
	bystander := env.Register("bob")

	r := env.Do("POST", "/api/auth/logout", map[string]any{"all": true}, "Bearer", a.Access)
	if r.Status != http.StatusNoContent {
		t.Fatalf("POST /api/auth/logout {all:true} = %d; want %d; body: %s", r.Status, http.StatusNoContent, r.Body)
	}
	// The version bump ends every session at once; their documents are removed in the
	// background, off the request's path.
	env.App.Sessions.Wait()
	if n := sessionCount(t, env, a.ID); n != 0 {
		t.Errorf("sessions of the user after logout all = %d; want 0", n)
	}
	for name, tok := range map[string]string{"this session": a.Refresh, "the other session": other.Refresh} {
		if r := refreshWith(env, tok); r.Status != http.StatusUnauthorized {
			t.Errorf("POST /api/auth/refresh for %s = %d; want %d", name, r.Status, http.StatusUnauthorized)
		}
	}
	for name, tok := range map[string]string{"this session": a.Access, "the other session": other.Access} {
		if got := meStatus(env, tok); got != http.StatusUnauthorized {
			t.Errorf("GET /api/users/me with the access token of %s = %d; want %d", name, got, http.StatusUnauthorized)
		}
	}
	// Another user is not affected.
	if got := meStatus(env, bystander.Access); got != http.StatusOK {
		t.Errorf("GET /api/users/me for another user = %d; want %d", got, http.StatusOK)
	}
	// Logging in again works, and its tokens are good.
	p := decodeTokenPair(t, "POST /api/auth/login", loginWith(env, a.Email, a.Password), a.ID)
	if got := meStatus(env, p.AccessToken); got != http.StatusOK {
		t.Errorf("GET /api/users/me after logging in again = %d; want %d", got, http.StatusOK)
	}
	decodeTokenPair(t, "POST /api/auth/refresh (after logging in again)", refreshWith(env, p.RefreshToken), a.ID)
}

func TestSessions_SweepDeletesOnlyExpiredSessionsAndRefreshClaims(t *testing.T) {
	t.Parallel()
	env, clock := throttleEnv(t, lanyardtest.WithEnv("LANYARD_REFRESH_TTL", "1h"))
	a := env.Register("ada")                           // session A, expiring in an hour
	refreshWith(env, a.Refresh).Must(t, http.StatusOK) // a claim on A's first secret
	count := func(coll string) int64 {
		t.Helper()
		return lanyardtest.RawCount(t, env.DB, coll, nil)
	}
	sweep := func() int64 {
		t.Helper()
		n, err := env.App.Store.SweepSessions(context.Background(), clock.Now())
		if err != nil {
			t.Fatalf("SweepSessions: %v", err)
		}
		return n
	}
	clock.Advance(time.Minute)
	if n := sweep(); n != 0 {
		t.Errorf("sweep before anything expired deleted %d; want 0", n)
	}
	clock.Advance(39 * time.Minute)
	env.Login(&a) // session B, expiring 40 minutes after A
	env.App.Sessions.Wait()
	if n := sweep(); n != 1 {
		t.Errorf("sweep after the claim expired (5 minutes after its rotation) deleted %d; want 1", n)
	}
	clock.Advance(21 * time.Minute)
	if n := sweep(); n != 1 {
		t.Errorf("sweep after session A expired deleted %d; want 1 (A)", n)
	}
	if s, c := count("sessions"), count("refresh_claims"); s != 1 || c != 0 {
		t.Errorf("after the sweep: %d sessions, %d refresh claims; want 1 (B) and 0", s, c)
	}
	env.Do("POST", "/api/auth/refresh", map[string]any{"refresh_token": a.Refresh}).Must(t, http.StatusOK)
}
