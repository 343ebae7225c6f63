package token

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const (
	testIssuer  = "lanyard"
	testTTL     = 15 * time.Minute
	testUser    = "5f1e2d3c4b5a69788796a5b4"
	testSession = "0123456789abcdef01234567"
)

// testAMR is how the test user proved themselves.
var testAMR = []string{"pwd"}

var (
	// testSecret is the previous version's HS256 secret (32 bytes, the minimum).
	testSecret  = []byte("0123456789abcdef0123456789abcdef")
	otherSecret = []byte("fedcba9876543210fedcba9876543210")
	// testKey signs; otherKey is a key the signer does not hold.
	testKey  = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{0x11}, ed25519.SeedSize))
	otherKey = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{0x22}, ed25519.SeedSize))
	testKID  = KeyID(testKey.Public().(ed25519.PublicKey))
	// t0 has a sub-second part so tests see Issue truncate it.
	t0 = time.Date(2026, 11, 22, 10, 4, 5, 123_000_000, time.UTC)
)

// fixedClock returns a clock that always reads at.
func fixedClock(at time.Time) func() time.Time { return func() time.Time { return at } }

// newTestSigner returns a Signer with the test secret and issuer whose clock
// reads at.
func newTestSigner(tb testing.TB, at time.Time) *Signer {
	tb.Helper()
	return newSignerWith(tb, Options{Issuer: testIssuer, TTL: testTTL, Now: fixedClock(at), LegacySecret: testSecret}, testKey)
}

// newSignerWith returns a Signer of o holding keys, each signing from an hour
// before t0 on.
func newSignerWith(tb testing.TB, o Options, keys ...ed25519.PrivateKey) *Signer {
	tb.Helper()
	s, err := NewSigner(o)
	if err != nil {
		tb.Fatalf("NewSigner: %v", err)
	}
	var ks []Key
	for _, k := range keys {
		ks = append(ks, keyOf(k, t0.Add(-time.Hour)))
	}
	if err := s.SetKeys(ks); err != nil {
		tb.Fatalf("SetKeys: %v", err)
	}
	return s
}

// keyOf is priv as a Key signing from signsFrom.
func keyOf(priv ed25519.PrivateKey, signsFrom time.Time) Key {
	pub := priv.Public().(ed25519.PublicKey)
	return Key{ID: KeyID(pub), Private: priv, Public: pub, SignsFrom: signsFrom}
}

// signEd signs claims as Issue does (EdDSA, typ at+jwt, kid) with key under
// header kid, for tokens Issue would never make.
func signEd(tb testing.TB, key ed25519.PrivateKey, kid string, claims jwt.Claims) string {
	tb.Helper()
	t := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims)
	t.Header["typ"] = "at+jwt"
	t.Header["kid"] = kid
	tok, err := t.SignedString(key)
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

// signEdHeader signs claims with testKey under exactly the header h.
func signEdHeader(tb testing.TB, h map[string]any, claims jwt.MapClaims) string {
	tb.Helper()
	input := seg(tb, h) + "." + seg(tb, claims)
	return input + "." + base64.RawURLEncoding.EncodeToString(ed25519.Sign(testKey, []byte(input)))
}

// issue issues a token for the test user and session, or fails the test.
func issue(tb testing.TB, s *Signer) (string, Claims) {
	tb.Helper()
	tok, c, err := s.Issue(testUser, testSession, 7, "user", testAMR)
	if err != nil {
		tb.Fatalf("Issue: %v", err)
	}
	return tok, c
}

// validClaims are the claims Issue would write at t0 (with a fixed jti), as a
// map that a test can edit before signing.
func validClaims() jwt.MapClaims {
	return jwt.MapClaims{
		"aud":    []string{testIssuer},
		"jti":    "dGVzdC1qdGktMDAwMDAwMA",
		"sub":    testUser,
		"sid":    testSession,
		"ver":    7,
		"role":   "user",
		"amr":    []string{"pwd"},
		"iat":    t0.Unix(),
		"iat_ms": t0.UnixMilli(),
		"exp":    t0.Truncate(time.Second).Add(testTTL).Unix(),
		"iss":    testIssuer,
	}
}

// legacyClaims are the claims the previous version wrote at t0: no aud, no jti,
// no iat_ms, and iat with its milliseconds.
func legacyClaims() jwt.MapClaims {
	c := without(without(without(validClaims(), "aud"), "jti"), "iat_ms")
	return with(c, "iat", json.Number(fmt.Sprintf("%d.%03d", t0.Unix(), t0.UnixMilli()%1000)))
}

// without returns a copy of c lacking key.
func without(c jwt.MapClaims, key string) jwt.MapClaims {
	c = maps.Clone(c)
	delete(c, key)
	return c
}

// with returns a copy of c with key set to v.
func with(c jwt.MapClaims, key string, v any) jwt.MapClaims {
	c = maps.Clone(c)
	c[key] = v
	return c
}

// signWith signs claims with the library, for tokens Issue would never make.
func signWith(tb testing.TB, m jwt.SigningMethod, key any, claims jwt.Claims) string {
	tb.Helper()
	tok, err := jwt.NewWithClaims(m, claims).SignedString(key)
	if err != nil {
		tb.Fatalf("SignedString(%s): %v", m.Alg(), err)
	}
	return tok
}

// seg is one base64url JSON segment of a hand-built token.
func seg(tb testing.TB, v any) string {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// hs256 is an HMAC-SHA256 signature over signingInput, computed without the
// library so that a test can put it under any header it likes.
func hs256(secret []byte, signingInput string) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(signingInput))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// parts splits a token that is known to have three segments.
func parts(tb testing.TB, tok string) (header, payload, sig string) {
	tb.Helper()
	p := strings.Split(tok, ".")
	if len(p) != 3 {
		tb.Fatalf("token has %d segments; want 3", len(p))
	}
	return p[0], p[1], p[2]
}

func TestNewSigner_RejectsUnsafeConfiguration(t *testing.T) {
	tests := []struct {
		name   string
		secret []byte
		issuer string
		ttl    time.Duration
	}{
		{"31-byte legacy secret", testSecret[:31], testIssuer, testTTL},
		{"empty legacy secret", []byte{}, testIssuer, testTTL},
		{"empty issuer", testSecret, "", testTTL},
		{"zero ttl", testSecret, testIssuer, 0},
		{"negative ttl", testSecret, testIssuer, -time.Minute},
		{"sub-second ttl", testSecret, testIssuer, 999 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := NewSigner(Options{Issuer: tt.issuer, TTL: tt.ttl, LegacySecret: tt.secret})
			if err == nil {
				t.Fatalf("NewSigner(%d-byte secret, %q, %v) = %v, nil; want an error", len(tt.secret), tt.issuer, tt.ttl, s)
			}
			if strings.Contains(err.Error(), string(tt.secret)) && len(tt.secret) > 0 {
				t.Errorf("NewSigner error %q quotes the secret", err)
			}
		})
	}
}

func TestNewSigner_NilClockMeansTimeNow(t *testing.T) {
	s, err := NewSigner(Options{Issuer: testIssuer, TTL: testTTL})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetKeys([]Key{keyOf(testKey, t0)}); err != nil {
		t.Fatal(err)
	}
	before := time.Now().Truncate(time.Second)
	tok, c := issue(t, s)
	if c.IssuedAt.Before(before) || c.IssuedAt.After(time.Now()) {
		t.Errorf("IssuedAt = %v; want about now", c.IssuedAt)
	}
	if _, err := s.Verify(tok); err != nil {
		t.Errorf("Verify(fresh token) = %v; want nil", err)
	}
}

func TestNewSigner_CopiesSecret(t *testing.T) {
	secret := bytes.Clone(testSecret)
	s, err := NewSigner(Options{Issuer: testIssuer, TTL: testTTL, Now: fixedClock(t0), LegacySecret: secret})
	if err != nil {
		t.Fatal(err)
	}
	clear(secret) // a caller wiping its copy must not change the key
	tok := signWith(t, jwt.SigningMethodHS256, testSecret, legacyClaims())
	if _, err := s.Verify(tok); err != nil {
		t.Errorf("a token of the original secret does not verify after the caller wiped its copy: %v", err)
	}
}

func TestSigner_TTL(t *testing.T) {
	if got := newTestSigner(t, t0).TTL(); got != testTTL {
		t.Errorf("TTL() = %v; want %v", got, testTTL)
	}
}

func TestSigner_LogValueRedactsSecret(t *testing.T) {
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("config", "signer", newTestSigner(t, t0))
	if strings.Contains(buf.String(), string(testSecret)) {
		t.Errorf("log line %q contains the secret", buf.String())
	}
	if !strings.Contains(buf.String(), "[redacted]") {
		t.Errorf("log line %q does not say the secret was redacted", buf.String())
	}
}

func TestIssue_FillsClaimsInUTC_IssuedAtToTheMillisecond(t *testing.T) {
	_, c := issue(t, newTestSigner(t, t0.Add(456*time.Microsecond).In(time.FixedZone("CET", 3600))))
	want := Claims{
		UserID:    testUser,
		SessionID: testSession,
		Version:   7,
		Role:      "user",
		AMR:       []string{"pwd"},
		IssuedAt:  time.Date(2026, 11, 22, 10, 4, 5, 123_000_000, time.UTC),
		ExpiresAt: time.Date(2026, 11, 22, 10, 19, 5, 0, time.UTC),
		Audience:  testIssuer,
		ID:        c.ID, // random: TestIssue_WritesTheDocumentedClaims checks it
		KeyID:     testKID,
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("Issue claims = %+v; want %+v", c, want)
	}
}

func TestIssue_WritesTheDocumentedClaims(t *testing.T) {
	tok, _ := issue(t, newTestSigner(t, t0))
	header, payload, _ := parts(t, tok)

	var h map[string]any
	b, _ := base64.RawURLEncoding.DecodeString(header)
	if err := json.Unmarshal(b, &h); err != nil {
		t.Fatal(err)
	}
	if want := map[string]any{"alg": "EdDSA", "typ": "at+jwt", "kid": testKID}; !reflect.DeepEqual(h, want) {
		t.Errorf("header = %v; want %v", h, want)
	}

	var got map[string]any
	b, _ = base64.RawURLEncoding.DecodeString(payload)
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	// jti is 16 random bytes, base64url: checked for its form, then compared
	// as the fixed value validClaims has.
	if jti, _ := got["jti"].(string); len(jti) != 22 || strings.ContainsAny(jti, "+/=") {
		t.Errorf("jti = %v; want 22 characters of base64url", got["jti"])
	}
	got["jti"] = validClaims()["jti"]
	want := map[string]any{}
	for k, v := range validClaims() {
		// Round-trip through JSON so numbers compare as float64 on both sides.
		jb, _ := json.Marshal(v)
		var jv any
		_ = json.Unmarshal(jb, &jv)
		want[k] = jv
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("payload = %v; want %v", got, want)
	}
}

func TestIssue_RejectsMalformedIDs(t *testing.T) {
	s := newTestSigner(t, t0)
	tests := []struct{ name, user, session string }{
		{"empty user", "", testSession},
		{"uppercase user", strings.ToUpper(testUser), testSession},
		{"short session", testUser, testSession[:23]},
		{"non-hex session", testUser, "g123456789abcdef01234567"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tok, _, err := s.Issue(tt.user, tt.session, 1, "user", testAMR); err == nil {
				t.Errorf("Issue(%q, %q) = %q, nil; want an error", tt.user, tt.session, tok)
			}
		})
	}
}

func TestVerify_AcceptsWhatIssueSigned(t *testing.T) {
	s := newTestSigner(t, t0)
	tok, issued := issue(t, s)
	got, err := s.Verify(tok)
	if err != nil {
		t.Fatalf("Verify(issued token) = %v; want nil", err)
	}
	if !reflect.DeepEqual(got, issued) {
		t.Errorf("Verify claims = %+v; want %+v", got, issued)
	}
}

// TestIssue_RefusesATokenThatSaysNotHow: every way in names how the user proved
// themselves; only tokens from before amr existed lack it.
func TestIssue_RefusesATokenThatSaysNotHow(t *testing.T) {
	s := newTestSigner(t, t0)
	for _, amr := range [][]string{nil, {}} {
		if tok, _, err := s.Issue(testUser, testSession, 1, "user", amr); err == nil {
			t.Errorf("Issue(amr %#v) = %q, nil; want an error", amr, tok)
		}
	}
}

func TestVerify_ReadsEveryAMRValueInOrder(t *testing.T) {
	s := newTestSigner(t, t0)
	tok, _, err := s.Issue(testUser, testSession, 1, "user", []string{"pwd", "otp"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.Verify(tok)
	if err != nil || !reflect.DeepEqual(c.AMR, []string{"pwd", "otp"}) {
		t.Errorf("Verify = AMR %#v, %v; want [pwd otp], nil", c.AMR, err)
	}
}

// TestVerify_AcceptsATokenIssuedBeforeAMR: tokens signed before amr existed stay
// valid until they expire, with no AMR.
func TestVerify_AcceptsATokenIssuedBeforeAMR(t *testing.T) {
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, without(legacyClaims(), "amr")).SignedString(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	c, err := newTestSigner(t, t0).Verify(tok)
	if err != nil {
		t.Fatalf("Verify(token without amr) = %v; want nil", err)
	}
	if c.AMR != nil || c.UserID != testUser {
		t.Errorf("Verify(token without amr) = %+v; want the claims with AMR nil", c)
	}
}

// TestVerify_TakesTheMillisecondsFromIatMsWithinIatsSecond: iat_ms gives the issue
// time to the millisecond, and only when it lies within iat's whole second: a token
// whose two disagree is not one Lanyard issued.
func TestVerify_TakesTheMillisecondsFromIatMsWithinIatsSecond(t *testing.T) {
	s := newTestSigner(t, t0)
	base := t0.Truncate(time.Second)
	tests := []struct {
		name    string
		iat, ms int64
		ok      bool
	}{
		{"the second's first millisecond", base.Unix(), base.UnixMilli(), true},
		{"its last", base.Unix(), base.UnixMilli() + 999, true},
		{"the millisecond before the second", base.Unix(), base.UnixMilli() - 1, false},
		{"the next second's first", base.Unix(), base.UnixMilli() + 1000, false},
	}
	for _, tt := range tests {
		c, err := s.Verify(signEd(t, testKey, testKID, with(with(validClaims(), "iat", tt.iat), "iat_ms", tt.ms)))
		switch {
		case tt.ok && (err != nil || !c.IssuedAt.Equal(time.UnixMilli(tt.ms))):
			t.Errorf("%s: Verify = IssuedAt %v, %v; want %v", tt.name, c.IssuedAt, err, time.UnixMilli(tt.ms).UTC())
		case !tt.ok && !errors.Is(err, ErrInvalid):
			t.Errorf("%s: Verify = %v; want ErrInvalid", tt.name, err)
		}
	}
}

// TestVerify_ReadsIssuedAtToTheMillisecond: without iat_ms (tokens issued before it),
// iat is read as a number of seconds to the nearest millisecond, whole seconds
// included (tokens issued before iat had a fraction).
func TestVerify_ReadsIssuedAtToTheMillisecond(t *testing.T) {
	s := newTestSigner(t, t0)
	base := t0.Truncate(time.Second)
	tests := []struct {
		iat  any
		want time.Time
	}{
		{base.Unix(), base},
		{json.Number(fmt.Sprint(base.Unix()) + ".5"), base.Add(500 * time.Millisecond)},
		{json.Number(fmt.Sprint(base.Unix()) + ".123"), base.Add(123 * time.Millisecond)},
		{json.Number(fmt.Sprint(base.Unix()) + ".1239"), base.Add(124 * time.Millisecond)},
	}
	for _, tt := range tests {
		// Whole seconds come only from the previous version's HS256 tokens;
		// both kinds are read the same way.
		for _, tok := range []string{
			signWith(t, jwt.SigningMethodHS256, testSecret, with(legacyClaims(), "iat", tt.iat)),
			signEd(t, testKey, testKID, with(without(validClaims(), "iat_ms"), "iat", tt.iat)),
		} {
			c, err := s.Verify(tok)
			if err != nil || !c.IssuedAt.Equal(tt.want) || c.IssuedAt.Location() != time.UTC {
				t.Errorf("Verify(iat %v) = IssuedAt %v, %v; want %v UTC", tt.iat, c.IssuedAt, err, tt.want)
			}
		}
	}
}

func TestVerify_AcceptsUntilTheSecondBeforeExpiry(t *testing.T) {
	tok, c := issue(t, newTestSigner(t, t0))
	for _, at := range []time.Time{c.IssuedAt, c.ExpiresAt.Add(-time.Second), c.ExpiresAt.Add(-time.Nanosecond)} {
		if _, err := newTestSigner(t, at).Verify(tok); err != nil {
			t.Errorf("Verify at %v (exp %v) = %v; want nil", at, c.ExpiresAt, err)
		}
	}
}

func TestVerify_RejectsExpired(t *testing.T) {
	tok, c := issue(t, newTestSigner(t, t0))
	// No leeway: at exp the token is already dead (RFC 7519: now must be before exp).
	for _, at := range []time.Time{c.ExpiresAt, c.ExpiresAt.Add(time.Second), c.ExpiresAt.Add(24 * time.Hour)} {
		_, err := newTestSigner(t, at).Verify(tok)
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("Verify at %v (exp %v) = %v; want ErrInvalid", at, c.ExpiresAt, err)
		}
		// Callers may want to tell "expired" apart (e.g. for the
		// WWW-Authenticate error description).
		if !errors.Is(err, jwt.ErrTokenExpired) {
			t.Errorf("Verify at %v = %v; want it to wrap jwt.ErrTokenExpired", at, err)
		}
	}
}

// TestVerify_Rejects covers every way a token can be wrong, each built from
// a valid token or its claims.
func TestVerify_Rejects(t *testing.T) {
	s := newTestSigner(t, t0)
	valid, _ := issue(t, s)
	header, payload, sig := parts(t, valid)
	otherIssuer := newSignerWith(t, Options{Issuer: "someone-else", TTL: testTTL, Now: fixedClock(t0)}, testKey)
	otherAudience := newSignerWith(t, Options{Issuer: testIssuer, Audience: "another-service", TTL: testTTL, Now: fixedClock(t0)}, testKey)
	otherKeySigner := newSignerWith(t, Options{Issuer: testIssuer, TTL: testTTL, Now: fixedClock(t0)}, otherKey)
	refresh, _, err := NewRefresh(testSession)
	if err != nil {
		t.Fatal(err)
	}
	fromOtherIssuer, _ := issue(t, otherIssuer)
	fromOtherAudience, _ := issue(t, otherAudience)
	fromOtherKey, _ := issue(t, otherKeySigner)
	pub := []byte(testKey.Public().(ed25519.PublicKey))
	edHeader := map[string]any{"alg": "EdDSA", "typ": "at+jwt", "kid": testKID}
	withHeader := func(k string, v any) map[string]any {
		h := maps.Clone(edHeader)
		if v == nil {
			delete(h, k)
		} else {
			h[k] = v
		}
		return h
	}
	// hsPub is HS256 with a key any verifier knows: the public key, and its
	// JWK x, as a confused verifier might take them.
	hsPub := func(key []byte) string {
		h := seg(t, map[string]any{"alg": "HS256", "typ": "at+jwt", "kid": testKID})
		return h + "." + seg(t, validClaims()) + "." + hs256(key, h+"."+seg(t, validClaims()))
	}

	noneHeader := seg(t, map[string]any{"alg": "none", "typ": "JWT"})
	claims := seg(t, validClaims())
	rsHeader := seg(t, map[string]any{"alg": "RS256", "typ": "JWT"})
	hsHeader := seg(t, map[string]any{"alg": "HS256", "typ": "JWT"})
	// editPayload swaps in new claims and keeps the original signature.
	editPayload := func(c jwt.MapClaims) string { return header + "." + seg(t, c) + "." + sig }
	// signed is what an attacker holding our secret could not be, but a bug
	// in Issue could be: a correctly signed token with bad claims.
	signed := func(c jwt.MapClaims) string { return signEd(t, testKey, testKID, c) }
	// legacy is a correctly signed token of the previous version's kind.
	legacy := func(c jwt.MapClaims) string { return signWith(t, jwt.SigningMethodHS256, testSecret, c) }

	tests := []struct {
		name string
		tok  string
	}{
		// Who signed it.
		{"other issuer", fromOtherIssuer},
		{"other audience", fromOtherAudience},
		{"another key, its own kid", fromOtherKey},
		{"another key under our kid", signEd(t, otherKey, testKID, validClaims())},
		{"missing iss", signed(without(validClaims(), "iss"))},
		{"missing aud", signed(without(validClaims(), "aud"))},
		{"aud of another service", signed(with(validClaims(), "aud", "another-service"))},
		{"missing jti", signed(without(validClaims(), "jti"))},
		{"legacy HS256 signed with another secret", signWith(t, jwt.SigningMethodHS256, otherSecret, legacyClaims())},
		{"legacy HS256 of another issuer", legacy(with(legacyClaims(), "iss", "someone-else"))},
		{"legacy HS256 without exp", legacy(without(legacyClaims(), "exp"))},

		// The header: typ and kid.
		{"typ missing", signEdHeader(t, withHeader("typ", nil), validClaims())},
		{"typ JWT", signEdHeader(t, withHeader("typ", "JWT"), validClaims())},
		{"typ of an ID token", signEdHeader(t, withHeader("typ", "id_token+jwt"), validClaims())},
		{"kid missing", signEdHeader(t, withHeader("kid", nil), validClaims())},
		{"kid unknown", signEdHeader(t, withHeader("kid", KeyID(otherKey.Public().(ed25519.PublicKey))), validClaims())},
		{"kid not a string", signEdHeader(t, withHeader("kid", 7), validClaims())},

		// Which algorithm: EdDSA, and HS256 only with the previous version's secret.
		{"HS256 signed with the public key", hsPub(pub)},
		{"HS256 signed with the public key's JWK x", hsPub([]byte(base64.RawURLEncoding.EncodeToString(pub)))},
		{"EdDSA signature under an HS256 header", seg(t, map[string]any{"alg": "HS256", "typ": "at+jwt", "kid": testKID}) + "." + claims + "." + sig},
		{"alg none, hand-built, empty signature", noneHeader + "." + claims + "."},
		{"alg none, hand-built, keeping the HS256 signature", noneHeader + "." + claims + "." + hs256(testSecret, noneHeader+"."+claims)},
		{"alg None, hand-built", seg(t, map[string]any{"alg": "None"}) + "." + claims + "."},
		{"alg none, via the library", signWith(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, validClaims())},
		{"HS384 with our secret", signWith(t, jwt.SigningMethodHS384, testSecret, validClaims())},
		{"HS512 with our secret", signWith(t, jwt.SigningMethodHS512, testSecret, validClaims())},
		{"RS256 header, HMAC signature with our secret", rsHeader + "." + claims + "." + hs256(testSecret, rsHeader+"."+claims)},
		{"RS256 header, arbitrary signature", rsHeader + "." + claims + "." + base64.RawURLEncoding.EncodeToString(make([]byte, 256))},
		{"header without alg", seg(t, map[string]any{"typ": "JWT"}) + "." + claims + "." + sig},
		{"hand-built HS256 signed with another secret", hsHeader + "." + claims + "." + hs256(otherSecret, hsHeader+"."+claims)},

		// Edited claims under the original signature.
		{"role edited to admin", editPayload(with(validClaims(), "role", "admin"))},
		{"sub edited", editPayload(with(validClaims(), "sub", "aaaaaaaaaaaaaaaaaaaaaaaa"))},
		{"ver edited", editPayload(with(validClaims(), "ver", 8))},
		{"exp extended", editPayload(with(validClaims(), "exp", t0.Add(24*time.Hour).Unix()))},
		{"signature stripped", header + "." + payload + "."},
		{"signature of another token", header + "." + payload + "." + hs256(testSecret, "x")},

		// Required claims, correctly signed.
		{"missing exp", signed(without(validClaims(), "exp"))},
		{"missing sub", signed(without(validClaims(), "sub"))},
		{"missing sid", signed(without(validClaims(), "sid"))},
		{"missing ver", signed(without(validClaims(), "ver"))},
		{"missing iat", signed(without(validClaims(), "iat"))},
		{"null iat", signed(with(validClaims(), "iat", nil))},
		{"iat as string", signed(with(validClaims(), "iat", "1795341845"))},
		{"iat negative", signed(with(validClaims(), "iat", -1))},
		{"iat past the year 2286", signed(with(validClaims(), "iat", 1e19))},
		{"null ver", signed(with(validClaims(), "ver", nil))},
		{"ver as string", signed(with(validClaims(), "ver", "7"))},
		{"ver as fraction", signed(with(validClaims(), "ver", 7.5))},
		{"sub uppercase", signed(with(validClaims(), "sub", strings.ToUpper(testUser)))},
		{"sub 23 chars", signed(with(validClaims(), "sub", testUser[:23]))},
		{"sub not hex", signed(with(validClaims(), "sub", "zzzzzzzzzzzzzzzzzzzzzzzz"))},
		{"sid 25 chars", signed(with(validClaims(), "sid", testSession+"0"))},
		{"sid empty", signed(with(validClaims(), "sid", ""))},
		{"exp as string", signed(with(validClaims(), "exp", "soon"))},
		{"not valid yet", signed(with(validClaims(), "nbf", t0.Add(time.Hour).Unix()))},

		// Not a JWT at all.
		{"empty", ""},
		{"one dot", "."},
		{"two dots", ".."},
		{"three dots", "..."},
		{"garbage", "not a token"},
		{"three short segments", "a.b.c"},
		{"refresh token", refresh},
		{"Bearer prefix", "Bearer " + valid},
		{"trailing dot", valid + "."},
		{"trailing newline", valid + "\n"},
		{"leading space", " " + valid},
		{"padded signature", valid + "="},
		{"header not base64", "!!!." + payload + "." + sig},
		{"header not JSON", base64.RawURLEncoding.EncodeToString([]byte("{")) + "." + payload + "." + sig},
		{"payload not JSON object", header + "." + base64.RawURLEncoding.EncodeToString([]byte("[]")) + "." + sig},
		{"signature not base64", header + "." + payload + ".***"},
		{"standard base64 instead of base64url", strings.NewReplacer("-", "+", "_", "/").Replace(valid) + "+/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := s.Verify(tt.tok)
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Verify(%.40q…) = %+v, %v; want ErrInvalid", tt.tok, c, err)
			}
			if !reflect.DeepEqual(c, Claims{}) {
				t.Errorf("Verify(%.40q…) claims = %+v; want zero on failure", tt.tok, c)
			}
		})
	}
}

func TestVerify_RejectsReSpelledSignature(t *testing.T) {
	// Each token must have one spelling. The 64-byte Ed25519 signature takes
	// 86 base64 characters and the last carries four unused bits, so lenient
	// decoding would accept sixteen spellings of one signature.
	s := newTestSigner(t, t0)
	tok, _ := issue(t, s)
	// encoding/base64 also skips CR and LF, even when strict.
	for _, nl := range []string{"\n", "\r", "\r\n"} {
		for _, at := range []int{len(tok) - 10, len(tok)} {
			respelled := tok[:at] + nl + tok[at:]
			if _, err := s.Verify(respelled); !errors.Is(err, ErrInvalid) {
				t.Errorf("Verify(token with %q at %d) = %v; want ErrInvalid", nl, at, err)
			}
		}
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, tok[len(tok)-1])
	for i := 1; i < 4; i++ {
		respelled := tok[:len(tok)-1] + string(alphabet[last^i])
		if _, err := s.Verify(respelled); !errors.Is(err, ErrInvalid) {
			t.Errorf("Verify(token with last character %q instead of %q) = %v; want ErrInvalid",
				respelled[len(respelled)-1], tok[len(tok)-1], err)
		}
	}
}

func TestVerify_ErrorsDoNotQuoteTheToken(t *testing.T) {
	// Markers in every part an attacker controls; no error may echo them.
	const marker = "QUOTEDINPUT"
	s := newTestSigner(t, t0)
	header := seg(t, map[string]any{"alg": marker})
	claims := seg(t, with(validClaims(), "ver", marker))
	hs := seg(t, map[string]any{"alg": "HS256"})
	toks := []string{
		header + "." + claims + ".",
		hs + "." + claims + "." + hs256(testSecret, hs+"."+claims),
		hs + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"sub":`+marker+`}`)) + ".x",
		marker,
		marker + "." + marker + "." + marker,
	}
	for _, tok := range toks {
		_, err := s.Verify(tok)
		if !errors.Is(err, ErrInvalid) {
			t.Fatalf("Verify(%q) = %v; want ErrInvalid", tok, err)
		}
		if strings.Contains(err.Error(), marker) || strings.Contains(err.Error(), tok) {
			t.Errorf("Verify error %q quotes its input", err)
		}
	}
}

func TestSigner_SafeForConcurrentUse(t *testing.T) {
	s := newTestSigner(t, t0)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				tok, want, err := s.Issue(testUser, testSession, 1, "admin", testAMR)
				if err != nil {
					t.Error(err)
					return
				}
				if got, err := s.Verify(tok); err != nil || !reflect.DeepEqual(got, want) {
					t.Errorf("Verify = %+v, %v; want %+v, nil", got, err, want)
					return
				}
			}
		})
	}
	wg.Wait()
}

// FuzzVerify checks that Verify never panics and that the only strings it
// accepts are tokens this Signer issued, so no mutation of a valid token
// (re-encoding, edited claims, another algorithm) passes.
func FuzzVerify(f *testing.F) {
	s := newTestSigner(f, t0)
	issued := map[string]Claims{}
	for _, role := range []string{"user", "admin", ""} {
		tok, c, err := s.Issue(testUser, testSession, 3, role, testAMR)
		if err != nil {
			f.Fatal(err)
		}
		issued[tok] = c
		f.Add(tok)
		h, p, sig := parts(f, tok)
		f.Add(h + "." + p + ".")
		f.Add(h + "." + p + "." + sig + "=")
		f.Add(seg(f, map[string]any{"alg": "none"}) + "." + p + ".")
		f.Add(seg(f, map[string]any{"alg": "HS512"}) + "." + p + "." + sig)
	}
	refresh, _, err := NewRefresh(testSession)
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{"", ".", "..", "a.b.c", refresh, "eyJ.eyJ.", "\x00.\xff.\x80"} {
		f.Add(seed)
	}

	f.Fuzz(func(t *testing.T, tok string) {
		c, err := s.Verify(tok)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Verify(%q) = %v; want an error wrapping ErrInvalid", tok, err)
			}
			return
		}
		want, ok := issued[tok]
		if !ok {
			t.Fatalf("Verify(%q) accepted a token it did not issue: %+v", tok, c)
		}
		if !reflect.DeepEqual(c, want) {
			t.Fatalf("Verify(%q) = %+v; want %+v", tok, c, want)
		}
	})
}

func BenchmarkIssue(b *testing.B) {
	s := newTestSigner(b, t0)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := s.Issue(testUser, testSession, 1, "user", testAMR); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerify is the cost of verifying one access token the first time, EdDSA
// (what this version signs) and HS256 (the previous version's, still verified while
// its secret is set), and of a token verified before ("remembered", what every later
// request with it pays): what authentication costs a request besides its one store
// read.
func BenchmarkVerify(b *testing.B) {
	s := newTestSigner(b, t0)
	ed, _ := issue(b, s)
	hs := signWith(b, jwt.SigningMethodHS256, testSecret, legacyClaims())
	for _, bb := range []struct{ name, tok string }{{"EdDSA", ed}, {"HS256", hs}} {
		b.Run(bb.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.verify(b.Context(), bb.tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("EdDSA_remembered", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.Verify(ed); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestIssue_SignsWithTheKeyWhoseTimeHasCome: a key added to sign later is only
// verified until then; from its SignsFrom on it signs, and the tokens of the key
// before it still verify until they expire.
func TestIssue_SignsWithTheKeyWhoseTimeHasCome(t *testing.T) {
	now := t0
	s, err := NewSigner(Options{Issuer: testIssuer, TTL: testTTL, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	next := keyOf(otherKey, t0.Add(10*time.Minute))
	if err := s.SetKeys([]Key{next, keyOf(testKey, t0.Add(-time.Hour))}); err != nil {
		t.Fatal(err)
	}
	old, c := issue(t, s)
	if c.KeyID != testKID || s.CurrentKeyID() != testKID {
		t.Fatalf("before the new key's time: kid %q, current %q; want %q", c.KeyID, s.CurrentKeyID(), testKID)
	}
	// A token the new key signed (another instance whose clock is ahead) verifies
	// already: the key is published before it signs.
	early := signEd(t, otherKey, next.ID, validClaims())
	if _, err := s.Verify(early); err != nil {
		t.Errorf("Verify(token of the published key) = %v; want nil", err)
	}
	now = next.SignsFrom
	tok, c := issue(t, s)
	if c.KeyID != next.ID || s.CurrentKeyID() != next.ID {
		t.Errorf("at the new key's time: kid %q, current %q; want %q", c.KeyID, s.CurrentKeyID(), next.ID)
	}
	for _, tk := range []string{old, tok} {
		if _, err := s.Verify(tk); err != nil {
			t.Errorf("Verify at %v = %v; want nil", now, err)
		}
	}
	now = t0.Add(testTTL)
	if _, err := s.Verify(old); !errors.Is(err, jwt.ErrTokenExpired) {
		t.Errorf("Verify(old key's token) at its exp = %v; want expired", err)
	}
}

func TestIssue_RefusesWithoutASigningKey(t *testing.T) {
	s, err := NewSigner(Options{Issuer: testIssuer, TTL: testTTL, Now: fixedClock(t0)})
	if err != nil {
		t.Fatal(err)
	}
	if tok, _, err := s.Issue(testUser, testSession, 1, "user", testAMR); err == nil {
		t.Errorf("Issue with no key = %q, nil; want an error", tok)
	}
	// A key that only verifies never signs.
	verifyOnly := keyOf(testKey, t0.Add(-time.Hour))
	verifyOnly.Private = nil
	if err := s.SetKeys([]Key{verifyOnly}); err != nil {
		t.Fatal(err)
	}
	if tok, _, err := s.Issue(testUser, testSession, 1, "user", testAMR); err == nil {
		t.Errorf("Issue with a verify-only key = %q, nil; want an error", tok)
	}
}

func TestSetKeys_RefusesAKidThatIsNotTheKeys(t *testing.T) {
	s := newTestSigner(t, t0)
	k := keyOf(testKey, t0)
	k.ID = KeyID(otherKey.Public().(ed25519.PublicKey))
	mixed := keyOf(testKey, t0)
	mixed.Public = otherKey.Public().(ed25519.PublicKey)
	mixed.ID = KeyID(mixed.Public)
	for _, bad := range []Key{k, mixed} {
		if err := s.SetKeys([]Key{bad}); err == nil {
			t.Errorf("SetKeys(kid %s) = nil; want an error", bad.ID)
		}
	}
	if s.CurrentKeyID() != testKID {
		t.Errorf("a refused SetKeys changed the keys: current %q", s.CurrentKeyID())
	}
}

// TestVerify_PreviousVersionsHS256OnlyWhileItsSecretIsSet: HS256 tokens the
// previous version signed verify until they expire while LANYARD_JWT_SECRET is
// given, and not at all without it; this version never signs HS256.
func TestVerify_PreviousVersionsHS256OnlyWhileItsSecretIsSet(t *testing.T) {
	old := signWith(t, jwt.SigningMethodHS256, testSecret, legacyClaims())
	c, err := newTestSigner(t, t0).Verify(old)
	if err != nil || c.UserID != testUser || c.Audience != "" || c.KeyID != "" {
		t.Fatalf("Verify(previous version's token) = %+v, %v; want its claims", c, err)
	}
	exp := t0.Truncate(time.Second).Add(testTTL)
	if _, err := newTestSigner(t, exp).Verify(old); !errors.Is(err, jwt.ErrTokenExpired) {
		t.Errorf("Verify(previous version's token) at its exp = %v; want expired", err)
	}
	without := newSignerWith(t, Options{Issuer: testIssuer, TTL: testTTL, Now: fixedClock(t0)}, testKey)
	if _, err := without.Verify(old); !errors.Is(err, ErrInvalid) {
		t.Errorf("Verify(HS256 token) without the secret = %v; want ErrInvalid", err)
	}
}

// TestVerify_AnUnknownKidReloadsTheKeysOnceAWhile: a token of a key rotated in
// elsewhere verifies after one reload; unknown kids cannot make the Signer read
// the store more than once per minReloadGap.
func TestVerify_AnUnknownKidReloadsTheKeysOnceAWhile(t *testing.T) {
	now := t0
	s := newSignerWith(t, Options{Issuer: testIssuer, TTL: testTTL, Now: func() time.Time { return now }}, testKey)
	reloads := 0
	s.OnUnknownKey(func(context.Context) error {
		reloads++
		return s.SetKeys([]Key{keyOf(testKey, t0.Add(-time.Hour)), keyOf(otherKey, t0.Add(time.Hour))})
	})
	rotated := signEd(t, otherKey, KeyID(otherKey.Public().(ed25519.PublicKey)), validClaims())
	if _, err := s.Verify(rotated); err != nil || reloads != 1 {
		t.Fatalf("Verify(token of a key rotated in elsewhere) = %v after %d reloads; want nil after 1", err, reloads)
	}
	stranger := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{0x33}, ed25519.SeedSize))
	forged := signEd(t, stranger, KeyID(stranger.Public().(ed25519.PublicKey)), validClaims())
	for range 5 {
		if _, err := s.Verify(forged); !errors.Is(err, ErrInvalid) {
			t.Fatalf("Verify(unknown kid) = %v; want ErrInvalid", err)
		}
	}
	if reloads != 1 {
		t.Errorf("unknown kids within %v of a reload caused %d reloads; want none more", minReloadGap, reloads-1)
	}
	now = now.Add(minReloadGap)
	if _, err := s.Verify(forged); !errors.Is(err, ErrInvalid) || reloads != 2 {
		t.Errorf("Verify(unknown kid) %v later = %v after %d reloads; want ErrInvalid after 2", minReloadGap, err, reloads)
	}
}
