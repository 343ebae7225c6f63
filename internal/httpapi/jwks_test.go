package httpapi_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/lanyard/lanyard/internal/lanyardtest"
)

// jwkSet is GET /.well-known/jwks.json as an application service reads it.
type jwkSet struct {
	Keys []struct {
		Kty, Crv, Kid, Use, Alg, X string
	} `json:"keys"`
}

// fetchJWKS gets env's JWK Set, checking what every answer must carry.
func fetchJWKS(t *testing.T, env *lanyardtest.Env) jwkSet {
	t.Helper()
	r := env.Do("GET", "/.well-known/jwks.json", nil).Must(t, http.StatusOK)
	if cc := r.Header.Get("Cache-Control"); cc != "public, max-age=300" {
		t.Errorf("JWKS Cache-Control = %q; want public, max-age=300", cc)
	}
	var set jwkSet
	r.JSON(t, &set)
	for _, k := range set.Keys {
		if k.Kty != "OKP" || k.Crv != "Ed25519" || k.Use != "sig" || k.Alg != "EdDSA" || k.Kid == "" {
			t.Errorf("JWK %+v; want kty OKP, crv Ed25519, use sig, alg EdDSA and a kid", k)
		}
	}
	return set
}

// kids are the set's kids, in its order.
func (s jwkSet) kids() []string {
	var out []string
	for _, k := range s.Keys {
		out = append(out, k.Kid)
	}
	return out
}

// verifyWithJWKS verifies tok as an application service would with nothing but
// the JWK Set: golang-jwt, EdDSA only, the key its kid names (the OKP key's x decoded
// by hand: 32 bytes of base64url), iss, aud, exp on the clock given, and typ at+jwt.
func verifyWithJWKS(set jwkSet, tok, issuer, audience string, now time.Time) (jwt.MapClaims, error) {
	claims := jwt.MapClaims{}
	_, err := jwt.NewParser(
		jwt.WithValidMethods([]string{"EdDSA"}),
		jwt.WithIssuer(issuer), jwt.WithAudience(audience), jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(func() time.Time { return now }),
	).ParseWithClaims(tok, claims, func(t *jwt.Token) (any, error) {
		if t.Header["typ"] != "at+jwt" {
			return nil, jwt.ErrTokenInvalidClaims
		}
		for _, k := range set.Keys {
			if k.Kid == t.Header["kid"] {
				x, err := base64.RawURLEncoding.DecodeString(k.X)
				if err != nil || len(x) != ed25519.PublicKeySize {
					return nil, jwt.ErrTokenUnverifiable
				}
				return ed25519.PublicKey(x), nil
			}
		}
		return nil, jwt.ErrTokenUnverifiable
	})
	return claims, err
}

// headerOf decodes a JWT's header.
func headerOf(t *testing.T, tok string) map[string]any {
	t.Helper()
	h, _, _ := jwtParts(t, tok)
	b, err := base64.RawURLEncoding.DecodeString(h)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestAccessToken_IsAnEdDSAAccessTokenVerifiedThroughTheJWKS(t *testing.T) {
	t.Parallel()
	clock := lanyardtest.NewClockAt(clockStart)
	env := lanyardtest.New(t, lanyardtest.WithClock(clock.Now))
	a := env.Register("ada")

	set := fetchJWKS(t, env)
	if len(set.Keys) != 1 {
		t.Fatalf("JWKS has %d keys; want the one signing key", len(set.Keys))
	}
	h := headerOf(t, a.Access)
	if h["alg"] != "EdDSA" || h["typ"] != "at+jwt" || h["kid"] != set.Keys[0].Kid {
		t.Errorf("access token header = %v; want alg EdDSA, typ at+jwt, kid %s", h, set.Keys[0].Kid)
	}
	c, err := verifyWithJWKS(set, a.Access, "lanyard", "lanyard", clock.Now())
	if err != nil {
		t.Fatalf("verify the access token with the JWKS: %v", err)
	}
	if c["sub"] != a.ID || c["sid"] == nil || c["jti"] == nil || c["role"] != "user" || !slices.Equal(audOf(c), []string{"lanyard"}) {
		t.Errorf("claims = %v; want sub %s, sid, jti, role user, aud [lanyard]", c, a.ID)
	}
	if again := env.Register("bob"); jwtClaimsOf(t, again.Access)["jti"] == c["jti"] {
		t.Errorf("two tokens carry the same jti %v", c["jti"])
	}

	r := env.Do("GET", "/.well-known/oauth-authorization-server", nil).Must(t, http.StatusOK)
	m := r.Map(t)
	if m["issuer"] != "lanyard" || m["jwks_uri"] != env.URL+"/.well-known/jwks.json" || m["token_endpoint"] != env.URL+"/api/auth/token" {
		t.Errorf("authorization server metadata = %v; want issuer lanyard, jwks_uri %s/.well-known/jwks.json, token_endpoint %[2]s/api/auth/token", m, env.URL)
	}
	if g, _ := m["grant_types_supported"].([]any); len(g) != 2 || g[0] != "password" || g[1] != "refresh_token" {
		t.Errorf("grant_types_supported = %v; want [password refresh_token]", m["grant_types_supported"])
	}
	if m["introspection_endpoint"] != env.URL+"/api/auth/introspect" || m["revocation_endpoint"] != env.URL+"/api/auth/revoke" {
		t.Errorf("authorization server metadata = %v; want introspection_endpoint and revocation_endpoint under %s/api/auth/", m, env.URL)
	}
	// Introspection without a client is refused as its metadata says.
	if r := env.Do("POST", "/api/auth/introspect", lanyardtest.Form(url.Values{"token": {a.Access}})); r.Status != http.StatusUnauthorized {
		t.Errorf("POST introspection_endpoint without a client = %d; want 401", r.Status)
	}
	// What the metadata names is there: a password grant at its token_endpoint.
	r = env.Do("POST", "/api/auth/token", lanyardtest.Form(url.Values{"grant_type": {"password"}, "username": {a.Email}, "password": {a.Password}}))
	if r.Status != http.StatusOK {
		t.Errorf("POST token_endpoint with the password grant = %d %s; want 200", r.Status, r.Body)
	}
}

// audOf is a token's aud as a list, whichever JSON form it took.
func audOf(c jwt.MapClaims) []string {
	aud, _ := c.GetAudience()
	return aud
}

// TestKeys_RotationReachesEveryInstance: two instances on one store. After a
// rotation on one, the new key is published at once and tokens keep the old kid until
// the publish delay has passed on the clock; then both sign with the new key, the
// other learning of it from the first token that names it; the old key's tokens
// verify until they expire, and the key leaves the JWKS when the last could have.
func TestKeys_RotationReachesEveryInstance(t *testing.T) {
	t.Parallel()
	dataKey, db := make([]byte, 32), make([]byte, 8)
	rand.Read(dataKey)
	rand.Read(db)
	clock := lanyardtest.NewClockAt(clockStart)
	instance := func(extra ...lanyardtest.Option) *lanyardtest.Env {
		return lanyardtest.New(t, append([]lanyardtest.Option{
			lanyardtest.WithClock(clock.Now),
			lanyardtest.WithEnv("LANYARD_DB", "t_"+hex.EncodeToString(db)),
			lanyardtest.WithEnv("LANYARD_DATA_KEY", base64.StdEncoding.EncodeToString(dataKey)),
		}, extra...)...)
	}
	one, two := instance(), instance()
	if k1, k2 := fetchJWKS(t, one).kids(), fetchJWKS(t, two).kids(); len(k1) != 1 || !slices.Equal(k1, k2) {
		t.Fatalf("JWKS of instance one %v, of two %v; want one key, the same", k1, k2)
	}
	oldKid := fetchJWKS(t, one).kids()[0]
	a := one.Register("ada")
	kidOf := func(tok string) any { return headerOf(t, tok)["kid"] }
	login := func(env *lanyardtest.Env) string {
		acct := a
		env.Login(&acct)
		return acct.Access
	}

	rotated, err := one.App.Keys.Rotate(context.Background()) // what `lanyard keys rotate` calls
	if err != nil {
		t.Fatal(err)
	}
	if rotated.KID == oldKid || !rotated.SignsFrom.Equal(clockStart.Add(10*time.Minute)) {
		t.Fatalf("Rotate = %+v; want a new key signing from 10m on", rotated)
	}
	if got := fetchJWKS(t, one).kids(); !slices.Equal(got, []string{oldKid, rotated.KID}) {
		t.Errorf("JWKS right after the rotation = %v; want %v", got, []string{oldKid, rotated.KID})
	}

	clock.Set(clockStart.Add(10*time.Minute - time.Second))
	before := login(one)
	if kidOf(before) != oldKid {
		t.Errorf("a token a second before the publish delay ends has kid %v; want the old %s", kidOf(before), oldKid)
	}

	clock.Set(clockStart.Add(10 * time.Minute))
	fromOne := login(one)
	if kidOf(fromOne) != rotated.KID {
		t.Fatalf("a token once the publish delay has passed has kid %v; want the new %s", kidOf(fromOne), rotated.KID)
	}
	// Instance two has not reloaded yet: the new kid makes it.
	if got := meStatus(two, fromOne); got != http.StatusOK {
		t.Errorf("instance two: GET /api/users/me with the new key's token = %d; want 200", got)
	}
	if fromTwo := login(two); kidOf(fromTwo) != rotated.KID {
		t.Errorf("instance two signs with kid %v; want the new %s", kidOf(fromTwo), rotated.KID)
	}
	for name, env := range map[string]*lanyardtest.Env{"one": one, "two": two} {
		set := fetchJWKS(t, env)
		if got := set.kids(); !slices.Equal(got, []string{oldKid, rotated.KID}) {
			t.Errorf("instance %s: JWKS = %v; want both keys", name, got)
		}
		for _, tok := range []string{a.Access, before, fromOne} {
			if _, err := verifyWithJWKS(set, tok, "lanyard", "lanyard", clock.Now()); err != nil {
				t.Errorf("instance %s: a token (kid %v) does not verify with its JWKS: %v", name, kidOf(tok), err)
			}
		}
	}

	// The old key's last token was signed just before 10m and lives 15m.
	clock.Set(clockStart.Add(25*time.Minute - 2*time.Second))
	for name, env := range map[string]*lanyardtest.Env{"one": one, "two": two} {
		if got := meStatus(env, before); got != http.StatusOK {
			t.Errorf("instance %s: the old key's token a second before it expires = %d; want 200", name, got)
		}
	}
	clock.Set(clockStart.Add(25*time.Minute - time.Second))
	for name, env := range map[string]*lanyardtest.Env{"one": one, "two": two} {
		if got := meStatus(env, before); got != http.StatusUnauthorized {
			t.Errorf("instance %s: the old key's token once expired = %d; want 401", name, got)
		}
	}
	clock.Set(clockStart.Add(25 * time.Minute))
	for name, env := range map[string]*lanyardtest.Env{"one": one, "two": two} {
		if got := fetchJWKS(t, env).kids(); !slices.Equal(got, []string{rotated.KID}) {
			t.Errorf("instance %s: JWKS once every token of the old key expired = %v; want only %s", name, got, rotated.KID)
		}
	}
	list, err := two.App.Keys.List(context.Background()) // what `lanyard keys list` prints
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].KID != oldKid || !list[0].RetiredAt.Equal(rotated.SignsFrom) ||
		!list[0].ExpiresAt.Equal(rotated.SignsFrom.Add(15*time.Minute)) || !list[1].RetiredAt.IsZero() {
		t.Errorf("keys list = %+v; want the old key retired at %v, expiring 15m later, the new one not retired", list, rotated.SignsFrom)
	}
}

// TestAccessToken_PreviousVersionsHS256WorksUntilItExpiresWhileTheSecretIsSet: a token
// the previous version signed with LANYARD_JWT_SECRET (HS256, no aud, no jti, no kid)
// still authenticates until it expires; without the secret it never does.
func TestAccessToken_PreviousVersionsHS256WorksUntilItExpiresWhileTheSecretIsSet(t *testing.T) {
	t.Parallel()
	dataKey, db := make([]byte, 32), make([]byte, 8)
	rand.Read(dataKey)
	rand.Read(db)
	secret := make([]byte, 32)
	rand.Read(secret)
	clock := lanyardtest.NewClockAt(clockStart)
	instance := func(jwtSecret string) *lanyardtest.Env {
		return lanyardtest.New(t,
			lanyardtest.WithClock(clock.Now),
			lanyardtest.WithEnv("LANYARD_DB", "t_"+hex.EncodeToString(db)),
			lanyardtest.WithEnv("LANYARD_DATA_KEY", base64.StdEncoding.EncodeToString(dataKey)),
			lanyardtest.WithEnv("LANYARD_JWT_SECRET", jwtSecret))
	}
	with, without := instance(base64.StdEncoding.EncodeToString(secret)), instance("")
	a := with.Register("ada")
	c := jwtClaimsOf(t, a.Access)
	old := jwt.MapClaims{
		"sub": c["sub"], "sid": c["sid"], "ver": c["ver"], "role": c["role"], "amr": c["amr"], "iss": "lanyard",
		"iat": clockStart.Unix(), "exp": clockStart.Add(15 * time.Minute).Unix(),
	}
	legacy := signJWT(t, jwt.SigningMethodHS256, secret, old)
	if got := meStatus(with, legacy); got != http.StatusOK {
		t.Errorf("with the secret: the previous version's token = %d; want 200", got)
	}
	if got := meStatus(without, legacy); got != http.StatusUnauthorized {
		t.Errorf("without the secret: the previous version's token = %d; want 401", got)
	}
	clock.Set(clockStart.Add(15 * time.Minute))
	if got := meStatus(with, legacy); got != http.StatusUnauthorized {
		t.Errorf("with the secret: the previous version's token once expired = %d; want 401", got)
	}
}

// TestAccessToken_RefusedUnlessEdDSAOfAKnownKeyForThisAudience: tokens a JWKS
// holder, another service or a careless issuer could make are refused.
func TestAccessToken_RefusedUnlessEdDSAOfAKnownKeyForThisAudience(t *testing.T) {
	t.Parallel()
	dataKey, db := make([]byte, 32), make([]byte, 8)
	rand.Read(dataKey)
	rand.Read(db)
	instance := func(extra ...lanyardtest.Option) *lanyardtest.Env {
		return lanyardtest.New(t, append([]lanyardtest.Option{
			lanyardtest.WithEnv("LANYARD_DB", "t_"+hex.EncodeToString(db)),
			lanyardtest.WithEnv("LANYARD_DATA_KEY", base64.StdEncoding.EncodeToString(dataKey)),
		}, extra...)...)
	}
	env := instance()
	// An instance for another audience signs with the same keys.
	other := instance(lanyardtest.WithEnv("LANYARD_AUDIENCE", "https://other.example"))
	a := env.Register("ada")
	if got := meStatus(env, a.Access); got != http.StatusOK {
		t.Fatalf("the issued token = %d; want 200", got)
	}
	acct := a
	other.Login(&acct)
	if got := meStatus(other, acct.Access); got != http.StatusOK {
		t.Fatalf("the other audience's token on its own instance = %d; want 200", got)
	}

	set := fetchJWKS(t, env)
	x, err := base64.RawURLEncoding.DecodeString(set.Keys[0].X)
	if err != nil {
		t.Fatal(err)
	}
	_, payload, sig := jwtParts(t, a.Access)
	h := headerOf(t, a.Access)
	withHeader := func(k string, v any) string {
		m := map[string]any{}
		for hk, hv := range h {
			m[hk] = hv
		}
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		return jwtSegment(t, m) + "." + payload + "." + sig
	}
	hsWith := func(key []byte) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodHS256, jwtClaimsOf(t, a.Access))
		tok.Header["typ"], tok.Header["kid"] = "at+jwt", h["kid"]
		s, err := tok.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	stranger := ed25519.NewKeyFromSeed(randomBytes(t, 32))
	strangerTok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, jwtClaimsOf(t, a.Access))
	strangerTok.Header["typ"], strangerTok.Header["kid"] = "at+jwt", h["kid"]
	forged, err := strangerTok.SignedString(stranger)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, tok string }{
		{"another audience's token", acct.Access},
		{"alg none", jwtSegment(t, map[string]any{"alg": "none", "typ": "at+jwt", "kid": h["kid"]}) + "." + payload + "."},
		{"HS256 signed with the public key", hsWith(x)},
		{"HS256 signed with the JWK's x", hsWith([]byte(set.Keys[0].X))},
		{"kid of no key", withHeader("kid", "bm8ta2V5")},
		{"no kid", withHeader("kid", nil)},
		{"typ JWT", withHeader("typ", "JWT")},
		{"no typ", withHeader("typ", nil)},
		{"signed by another key under the kid", forged},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := meStatus(env, tt.tok); got != http.StatusUnauthorized {
				t.Errorf("GET /api/users/me = %d; want 401", got)
			}
		})
	}
}
