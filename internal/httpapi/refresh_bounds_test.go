package httpapi_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/lanyard/lanyard/internal/lanyardtest"
	"github.com/lanyard/lanyard/internal/token"
)

// sessionOf is the id of the session a refresh token belongs to.
func sessionOf(t *testing.T, refresh string) bson.ObjectID {
	t.Helper()
	sid, _, _ := strings.Cut(refresh, ".")
	oid, err := bson.ObjectIDFromHex(sid)
	if err != nil {
		t.Fatalf("refresh token's session id: %v", err)
	}
	return oid
}

// setGeneration stores generation as the number of rotations the session of refresh
// has had: what that many refreshes in a loop would leave, without making them.
func setGeneration(t *testing.T, env *lanyardtest.Env, refresh string, generation int64) {
	t.Helper()
	if _, err := env.DB.Collection("sessions").UpdateOne(context.Background(), bson.D{{Key: "_id", Value: sessionOf(t, refresh)}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "generation", Value: generation}}}}); err != nil {
		t.Fatalf("set generation: %v", err)
	}
}

// storedSession reads the session of refresh as stored.
func storedSession(t *testing.T, env *lanyardtest.Env, refresh string) (doc struct {
	Generation int64     `bson:"generation"`
	ExpiresAt  time.Time `bson:"expires_at"`
}) {
	t.Helper()
	if !lanyardtest.RawDoc(t, env.DB, "sessions", bson.D{{Key: "_id", Value: sessionOf(t, refresh)}}, &doc) {
		t.Fatal("session not stored")
	}
	return doc
}

// TestRefresh_ForgedSecretWalksAtMostTheRotationCap: a made-up secret for a real
// session is walked forward to see whether it is one the session spent; however many
// rotations the session claims to have had, that walk stops at token.MaxRotations
// steps, so the forgery is a prompt 401 that changes nothing, and a genuinely spent
// token is still recognised.
func TestRefresh_ForgedSecretWalksAtMostTheRotationCap(t *testing.T) {
	t.Parallel()
	env := lanyardtest.New(t)
	a := env.Register("ada")
	p1 := rotate(t, env, "first refresh", a.Refresh, a.ID)
	p2 := rotate(t, env, "second refresh", p1.RefreshToken, a.ID)
	// A session from before the cap, or one whose count was inflated: walking it whole
	// would take centuries.
	setGeneration(t, env, p2.RefreshToken, math.MaxInt64)

	sid, _, _ := strings.Cut(p2.RefreshToken, ".")
	for range 3 {
		forged := sid + "." + base64.RawURLEncoding.EncodeToString(randomBytes(t, 32))
		wantStatus(t, "POST /api/auth/refresh with a forged secret", refreshWith(env, forged), http.StatusUnauthorized)
	}
	if got := meStatus(env, p2.AccessToken); got != http.StatusOK {
		t.Errorf("GET /api/users/me after the forged refreshes = %d; want %d", got, http.StatusOK)
	}
	// The login's token, spent two rotations ago, still ends the session.
	wantStatus(t, "POST /api/auth/refresh with the login's spent token", refreshWith(env, a.Refresh), http.StatusUnauthorized)
	wantSessionOver(t, env, "the session's newest token", p2)
}

// TestRefresh_SessionEndsAfterTheRotationCap: a session rotates token.MaxRotations
// times at most; the refresh after that is a 401 that ends it, with its access
// tokens, and the user logs in again. The user's other sessions are not touched.
func TestRefresh_SessionEndsAfterTheRotationCap(t *testing.T) {
	t.Parallel()
	env := lanyardtest.New(t)
	a := env.Register("ada")
	other := a
	env.Login(&other)
	p1 := rotate(t, env, "first refresh", a.Refresh, a.ID)
	setGeneration(t, env, p1.RefreshToken, token.MaxRotations-1)

	last := rotate(t, env, "the last refresh the cap allows", p1.RefreshToken, a.ID)
	if g := storedSession(t, env, last.RefreshToken).Generation; g != token.MaxRotations {
		t.Fatalf("generation after the last allowed refresh = %d; want %d", g, token.MaxRotations)
	}
	wantStatus(t, "POST /api/auth/refresh beyond the cap", refreshWith(env, last.RefreshToken), http.StatusUnauthorized)
	wantSessionOver(t, env, "the session that reached the cap", last)
	if n := sessionCount(t, env, a.ID); n != 1 {
		t.Errorf("sessions of the user after one reached the cap = %d; want 1 (the other)", n)
	}
	if got := meStatus(env, other.Access); got != http.StatusOK {
		t.Errorf("GET /api/users/me with the other session's access token = %d; want %d", got, http.StatusOK)
	}
	again := a
	env.Login(&again)
	rotate(t, env, "refresh of a new login", again.Refresh, a.ID)
}

// TestRefresh_ClaimsExpireMinutesAfterTheirRotation: the claim each rotation leaves
// (refresh_claims) is only needed while a request that read the session before the
// rotation may still be under way, so it expires within minutes, not with the
// session; a client refreshing in a loop leaves nothing behind for long. Telling
// spent tokens apart needs no claim.
func TestRefresh_ClaimsExpireMinutesAfterTheirRotation(t *testing.T) {
	t.Parallel()
	clock := lanyardtest.NewClockAt(clockStart)
	env := lanyardtest.New(t, lanyardtest.WithClock(clock.Now))
	a := env.Register("ada")
	tok := a.Refresh
	for range 20 {
		tok = rotate(t, env, "refresh", tok, a.ID).RefreshToken
	}
	var claims []struct {
		ExpiresAt time.Time `bson:"expires_at"`
	}
	lanyardtest.RawAll(t, env.DB, "refresh_claims", nil, &claims)
	if len(claims) == 0 {
		t.Fatal("no refresh claims stored; the check would prove nothing")
	}
	for i, c := range claims {
		if !c.ExpiresAt.After(clockStart) || c.ExpiresAt.After(clockStart.Add(5*time.Minute)) {
			t.Errorf("refresh claim %d of %d expires at %v; want within 5 minutes of its rotation at %v", i, len(claims), c.ExpiresAt, clockStart)
			break
		}
	}
	if exp := storedSession(t, env, tok).ExpiresAt; !exp.Equal(clockStart.Add(720 * time.Hour)) {
		t.Errorf("session expires at %v; want %v (30 days after its last refresh)", exp, clockStart.Add(720*time.Hour))
	}

	clock.Set(clockStart.Add(5*time.Minute + time.Second))
	if n, err := env.App.Store.SweepSessions(context.Background(), clock.Now()); err != nil || n != int64(len(claims)) {
		t.Errorf("sweep 5 minutes later = %d, %v; want %d (every claim, no session)", n, err, len(claims))
	}
	next := rotate(t, env, "refresh after the claims were swept", tok, a.ID)
	wantStatus(t, "POST /api/auth/refresh with a token spent before the claims were swept", refreshWith(env, a.Refresh), http.StatusUnauthorized)
	wantSessionOver(t, env, "the session's newest token", next)
}

// TestRefresh_RotationCutAfterItsClaimIsFinishedByTheNextRefresh: a rotation that
// stored its claim on the token and then stopped (a crash, a store error between the
// two writes) left the session holding a token its claim says is spent. The next
// refresh of that token stores the rotation, once, and answers with its successor,
// which then works as any current token; after the grace the old token is a spent
// one again and ends the session.
func TestRefresh_RotationCutAfterItsClaimIsFinishedByTheNextRefresh(t *testing.T) {
	t.Parallel()
	clock := lanyardtest.NewClockAt(clockStart)
	env := lanyardtest.New(t, lanyardtest.WithClock(clock.Now))
	a := env.Register("ada")
	cutRotation(t, env, a.Refresh, clockStart.Add(5*time.Minute))
	clock.Set(clockStart.Add(time.Minute)) // no grace of the cut rotation could apply

	first := rotate(t, env, "refresh of the token whose rotation was cut", a.Refresh, a.ID)
	if got := meStatus(env, first.AccessToken); got != http.StatusOK {
		t.Errorf("GET /api/users/me with its access token = %d; want %d", got, http.StatusOK)
	}
	again := rotate(t, env, "the same refresh again, within the grace", a.Refresh, a.ID)
	if again.RefreshToken != first.RefreshToken {
		t.Errorf("second refresh of the token within the grace returned another refresh token; want the same successor")
	}
	if g := storedSession(t, env, a.Refresh).Generation; g != 1 {
		t.Errorf("generation after the rotation was finished = %d; want 1", g)
	}
	next := rotate(t, env, "refresh of the successor", first.RefreshToken, a.ID)

	clock.Set(clockStart.Add(2 * time.Minute))
	wantStatus(t, "POST /api/auth/refresh with the first token after the grace", refreshWith(env, a.Refresh), http.StatusUnauthorized)
	wantSessionOver(t, env, "the session's newest token", next)
}

// TestRefresh_RotationCutWithoutTheGraceEndsTheSessionOnRetry: with
// LANYARD_REFRESH_REUSE_GRACE at 0s, a token presented again is always a reuse, and
// the claim a cut rotation left says it was presented before: the retry ends the
// session rather than handing its successor out.
func TestRefresh_RotationCutWithoutTheGraceEndsTheSessionOnRetry(t *testing.T) {
	t.Parallel()
	env := lanyardtest.New(t, lanyardtest.WithEnv("LANYARD_REFRESH_REUSE_GRACE", "0s"))
	a := env.Register("ada")
	cutRotation(t, env, a.Refresh, time.Now().Add(5*time.Minute))
	wantStatus(t, "POST /api/auth/refresh with the token whose rotation was cut", refreshWith(env, a.Refresh), http.StatusUnauthorized)
	wantSessionOver(t, env, "the login", tokenPairBody{RefreshToken: a.Refresh, AccessToken: a.Access})
	if n := sessionCount(t, env, a.ID); n != 0 {
		t.Errorf("sessions of the user = %d; want 0", n)
	}
}

// cutRotation stores what a rotation of refresh cut between its two writes leaves: the
// claim on the token, as the store makes it, and no change to the session.
func cutRotation(t *testing.T, env *lanyardtest.Env, refresh string, expires time.Time) {
	t.Helper()
	sid, enc, _ := strings.Cut(refresh, ".")
	secret, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(secret)
	if _, err := env.DB.Collection("refresh_claims").InsertOne(context.Background(), bson.D{
		{Key: "_id", Value: sid + "." + hex.EncodeToString(sum[:])},
		{Key: "session_id", Value: sessionOf(t, refresh)},
		{Key: "expires_at", Value: expires},
	}); err != nil {
		t.Fatal(err)
	}
}
