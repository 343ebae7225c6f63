package verify_test

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/lanyard/lanyard/internal/lanyardtest"
	"github.com/lanyard/lanyard/verify"
)

func TestMain(m *testing.M) { os.Exit(lanyardtest.Main(m)) }

var start = time.Date(2026, 11, 22, 10, 4, 5, 0, time.UTC)

// countingClient counts the JWK Set fetches a Verifier makes.
type countingClient struct {
	n atomic.Int64
}

func (c *countingClient) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return http.DefaultTransport.RoundTrip(r)
}

func newVerifier(t *testing.T, env *lanyardtest.Env, clock *lanyardtest.Clock, audience string) (*verify.Verifier, *countingClient) {
	t.Helper()
	cc := &countingClient{}
	v, err := verify.New(verify.Options{
		JWKSURL: env.URL + "/.well-known/jwks.json", Issuer: "lanyard", Audience: audience,
		Client: &http.Client{Transport: cc}, Now: clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	return v, cc
}

func kidOf(t *testing.T, tok string) string {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
	if err != nil {
		t.Fatal(err)
	}
	var h struct{ Kid string }
	if err := json.Unmarshal(b, &h); err != nil {
		t.Fatal(err)
	}
	return h.Kid
}

// TestMiddleware_PutsTheClaimsOfALanyardTokenInTheContext: an application service
// behind the middleware sees who called, from Lanyard's JWK Set alone; anything
// else is a 401 with a Bearer challenge.
func TestMiddleware_PutsTheClaimsOfALanyardTokenInTheContext(t *testing.T) {
	t.Parallel()
	clock := lanyardtest.NewClockAt(start)
	env := lanyardtest.New(t, lanyardtest.WithClock(clock.Now))
	a := env.Register("ada")
	v, _ := newVerifier(t, env, clock, "")
	app := httptest.NewServer(v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := verify.FromContext(r.Context())
		if !ok {
			t.Error("no claims in the context")
			return
		}
		_ = json.NewEncoder(w).Encode(c)
	})))
	t.Cleanup(app.Close)
	call := func(auth string) (int, verify.Claims, string) {
		req, _ := http.NewRequest("GET", app.URL, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var c verify.Claims
		if res.StatusCode == http.StatusOK {
			_ = json.NewDecoder(res.Body).Decode(&c)
		}
		return res.StatusCode, c, res.Header.Get("WWW-Authenticate")
	}

	code, c, _ := call("Bearer " + a.Access)
	if code != http.StatusOK || c.Subject != a.ID || c.Role != "user" || len(c.AMR) != 1 || c.AMR[0] != "pwd" || c.SessionID == "" || c.ID == "" {
		t.Fatalf("with the token: %d %+v; want 200 and ada's claims", code, c)
	}
	if !c.ExpiresAt.Equal(start.Add(15*time.Minute)) || !c.IssuedAt.Equal(start) {
		t.Errorf("times = iat %v, exp %v; want %v, %v", c.IssuedAt, c.ExpiresAt, start, start.Add(15*time.Minute))
	}
	parts := strings.Split(a.Access, ".")
	h, p := parts[0], parts[1]
	for name, auth := range map[string]string{
		"no header":          "",
		"Basic":              "Basic " + a.Access,
		"refresh token":      "Bearer " + a.Refresh,
		"signature stripped": "Bearer " + h + "." + p + ".",
		"alg none":           "Bearer " + base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"at+jwt"}`)) + "." + p + ".",
	} {
		if code, _, challenge := call(auth); code != http.StatusUnauthorized || !strings.HasPrefix(challenge, "Bearer") {
			t.Errorf("%s: %d, WWW-Authenticate %q; want 401 with a Bearer challenge", name, code, challenge)
		}
	}

	other, _ := newVerifier(t, env, clock, "https://other.example")
	if _, err := other.Verify(context.Background(), a.Access); !errors.Is(err, verify.ErrInvalid) {
		t.Errorf("a verifier for another audience: %v; want ErrInvalid", err)
	}
	clock.Set(start.Add(15 * time.Minute))
	if code, _, _ := call("Bearer " + a.Access); code != http.StatusUnauthorized {
		t.Errorf("once expired: %d; want 401", code)
	}
}

// TestVerifier_FetchesTheJWKSAgainForAKeyRotatedInSince: the JWK Set is fetched
// once and kept; a token of a key rotated in since makes one more fetch, and a
// stream of unknown kids no more than one per 10 seconds.
func TestVerifier_FetchesTheJWKSAgainForAKeyRotatedInSince(t *testing.T) {
	t.Parallel()
	clock := lanyardtest.NewClockAt(start)
	env := lanyardtest.New(t, lanyardtest.WithClock(clock.Now), lanyardtest.WithEnv("LANYARD_KEY_PUBLISH_DELAY", "0s"))
	a := env.Register("ada")
	v, fetches := newVerifier(t, env, clock, "lanyard")
	ctx := context.Background()
	for range 3 {
		if _, err := v.Verify(ctx, a.Access); err != nil {
			t.Fatalf("Verify = %v", err)
		}
	}
	if n := fetches.n.Load(); n != 1 {
		t.Fatalf("%d JWKS fetches for three verifications; want 1", n)
	}

	clock.Set(start.Add(20 * time.Second))
	k, err := env.App.Keys.Rotate(ctx) // what `lanyard keys rotate` calls
	if err != nil {
		t.Fatal(err)
	}
	b := a
	env.Login(&b)
	if kidOf(t, b.Access) != k.KID {
		t.Fatalf("the new login's kid = %s; want the rotated-in %s", kidOf(t, b.Access), k.KID)
	}
	c, err := v.Verify(ctx, b.Access)
	if err != nil || c.KeyID != k.KID {
		t.Fatalf("Verify(token of the new key) = %+v, %v; want its claims", c, err)
	}
	if n := fetches.n.Load(); n != 2 {
		t.Errorf("%d JWKS fetches after the new kid; want 2", n)
	}

	stranger := ed25519.NewKeyFromSeed(make([]byte, 32))
	forged := jwt.NewWithClaims(jwt.SigningMethodEdDSA, jwt.MapClaims{"sub": a.ID, "iss": "lanyard", "aud": "lanyard", "exp": start.Add(time.Hour).Unix()})
	forged.Header["typ"], forged.Header["kid"] = "at+jwt", "not-a-key"
	tok, err := forged.SignedString(stranger)
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if _, err := v.Verify(ctx, tok); !errors.Is(err, verify.ErrInvalid) {
			t.Fatalf("Verify(forged, unknown kid) = %v; want ErrInvalid", err)
		}
	}
	if n := fetches.n.Load(); n != 2 {
		t.Errorf("%d JWKS fetches after five unknown kids within 10s of the last; want still 2", n)
	}
}
