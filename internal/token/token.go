// Package token issues and verifies Lanyard's access tokens (EdDSA JWTs after
// RFC 9068, and the HS256 ones an earlier version signed) and mints and parses
// refresh tokens ("<session id>.<secret>").
//
// The package only proves that a token is well formed, ours and unexpired.
// Whether the user still exists, is active and still has the token's version
// is the caller's check: that needs the store, which this package never sees.
// Where the signing keys come from (the store, internal/keyring) is not its
// business either: it is handed them with SetKeys.
package token

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// ErrInvalid is wrapped by every verification failure, so callers can answer
// 401 with one errors.Is check whatever the reason was.
var ErrInvalid = errors.New("token: invalid")

// minSecretLen is the shortest HS256 key accepted (the previous version's): RFC 7518 §3.2 asks for a
// key at least as long as the hash output.
const minSecretLen = 32

// idLen is the length of a user or session id: a Mongo ObjectID in hex.
const idLen = 24

// Claims are what an access token asserts.
type Claims struct {
	UserID    string // sub, 24-char lowercase hex
	SessionID string // sid, 24-char lowercase hex
	Version   int64  // ver: the user's token_version
	Role      string // role
	// AMR says how the user proved themselves for the session (RFC 8176 values,
	// "pwd" for a password). Tokens issued before amr existed carry none: nil.
	AMR       []string  // amr
	IssuedAt  time.Time // iat
	ExpiresAt time.Time // exp
	// Audience, ID and KeyID are aud, jti and the header's kid of an EdDSA
	// token; the HS256 tokens of the previous version have none: "".
	Audience string // aud
	ID       string // jti
	KeyID    string // kid
}

// jwtClaims is the wire form. A concrete struct rather than jwt.MapClaims
// keeps decoding typed and cheap.
type jwtClaims struct {
	SessionID string `json:"sid"`
	// Version is a pointer so that a token without "ver" is told apart from
	// version 0; read as 0 it could pass the caller's token_version check.
	Version *int64   `json:"ver"`
	Role    string   `json:"role"`
	AMR     []string `json:"amr,omitempty"`
	// IssuedAt shadows RegisteredClaims' iat (encoding/json takes the shallower
	// field), whose NumericDate jwt truncates to whole seconds both ways.
	IssuedAt *issuedAt `json:"iat"`
	// IssuedAtMs is the issue time in milliseconds since 1970, whose whole seconds
	// are iat. iat itself is written in whole seconds because verifiers that compare
	// it with the time in whole seconds (PyJWT) refuse a fraction as "not yet valid"
	// for the rest of its second; see issuedAt for why Lanyard needs milliseconds.
	IssuedAtMs *int64 `json:"iat_ms,omitempty"`
	jwt.RegisteredClaims
}

// issuedAt is iat, written in whole seconds and read to the millisecond. Lanyard
// needs an access token's issue time to the millisecond: in whole seconds a token
// issued just after User.AccessNotBefore, a time in milliseconds, could not be
// told from one issued just before it in the same second, and one of them would be
// wrongly refused or wrongly let through. So the milliseconds go in iat_ms, and iat
// keeps to the whole seconds every verifier reads.
type issuedAt struct{ time.Time }

func (d issuedAt) MarshalJSON() ([]byte, error) {
	if d.UnixMilli() < 0 {
		return nil, errors.New("token: iat before 1970")
	}
	return strconv.AppendInt(make([]byte, 0, 16), d.Unix(), 10), nil
}

// UnmarshalJSON reads any JSON number of seconds, to the nearest millisecond: whole
// ones, and the fractions that tokens issued before iat_ms carried.
func (d *issuedAt) UnmarshalJSON(b []byte) error {
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil || f < 0 || f > maxIssuedAt { // encoding/json has refused NaN and Inf
		return errors.New("iat is not a number of seconds")
	}
	d.Time = time.UnixMilli(int64(math.Round(f * 1000))).UTC()
	return nil
}

// maxIssuedAt keeps f*1000 well inside an int64 (the year 2286).
const maxIssuedAt = 1e10

// Key is one Ed25519 signing key as a Signer uses it.
type Key struct {
	ID        string             // kid: the RFC 7638 thumbprint of the public key (KeyID)
	Private   ed25519.PrivateKey // nil for a key that may only verify
	Public    ed25519.PublicKey
	SignsFrom time.Time // the key signs from then until a later key's SignsFrom
}

// KeyID is the kid of an Ed25519 public key: its RFC 7638 JWK thumbprint
// (SHA-256 of the canonical JWK, base64url), so the kid says which key it is and
// cannot name another.
func KeyID(pub ed25519.PublicKey) string {
	canon := `{"crv":"Ed25519","kty":"OKP","x":"` + base64.RawURLEncoding.EncodeToString(pub) + `"}`
	sum := sha256.Sum256([]byte(canon))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// keySet is the Signer's keys, replaced whole by SetKeys and never changed.
type keySet struct {
	signing []Key          // by SignsFrom, oldest first
	verify  map[string]any // kid → ed25519.PublicKey, boxed once for jwt
}

// Options configure a Signer.
type Options struct {
	Issuer string
	// Audience is the aud of every token issued and required of every EdDSA token
	// verified; "" means the issuer.
	Audience string
	TTL      time.Duration
	// Now is the clock used to issue, to check expiry and to choose the signing
	// key; nil means time.Now.
	Now func() time.Time
	// LegacySecret, when set (at least 32 bytes), verifies the HS256 tokens an
	// earlier version signed, until they expire. Nothing is ever signed with it.
	LegacySecret []byte
}

// Signer issues EdDSA access tokens with the key that signs now, and verifies
// tokens of every key it holds (and HS256 ones of the previous version, while
// it has their secret). It is safe for concurrent use; SetKeys may run at any time.
type Signer struct {
	issuer   string
	audience string
	ttl      time.Duration
	now      func() time.Time
	// legacy is the HS256 secret already boxed as the `any` jwt's Verify takes,
	// or nil.
	legacy any
	keys   atomic.Pointer[keySet]
	parser *jwt.Parser
	known  remembered

	// reload, when set, is asked for the keys again when a token names a kid
	// the Signer does not hold, at most once per minReloadGap.
	reload     func(context.Context) error
	reloadMu   sync.Mutex
	lastReload time.Time
}

// minReloadGap bounds the store reads that tokens with unknown kids can cause:
// anyone may send one, and only a key rotated in since the last reload (the
// background reload runs every KeyReloadEvery) can make a second read useful.
const minReloadGap = 10 * time.Second

// NewSigner returns a Signer for o. It holds no key until SetKeys.
func NewSigner(o Options) (*Signer, error) {
	// An empty issuer would make jwt.WithIssuer("") skip the iss check.
	if o.Issuer == "" {
		return nil, errors.New("token: issuer is empty")
	}
	// Times in a JWT are whole seconds; a shorter ttl would issue tokens
	// that are already expired.
	if o.TTL < time.Second {
		return nil, fmt.Errorf("token: ttl %v is shorter than one second", o.TTL)
	}
	if o.LegacySecret != nil && len(o.LegacySecret) < minSecretLen {
		return nil, fmt.Errorf("token: legacy HS256 secret is %d bytes; need at least %d", len(o.LegacySecret), minSecretLen)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Audience == "" {
		o.Audience = o.Issuer
	}
	s := &Signer{issuer: o.Issuer, audience: o.Audience, ttl: o.TTL, now: o.Now}
	s.keys.Store(&keySet{verify: map[string]any{}})
	// Pinning the methods is what stops alg "none" and algorithm confusion
	// (HS256 with the public key as its secret, another HS size): HS256 only
	// while the previous version's secret is given, and then only with it.
	methods := []string{jwt.SigningMethodEdDSA.Alg()}
	if o.LegacySecret != nil {
		s.legacy = append([]byte(nil), o.LegacySecret...)
		methods = append(methods, jwt.SigningMethodHS256.Alg())
	}
	// One parser, built once: its options are fixed for the Signer's life.
	s.parser = jwt.NewParser(
		jwt.WithValidMethods(methods),
		jwt.WithExpirationRequired(),
		jwt.WithIssuer(o.Issuer),
		jwt.WithTimeFunc(o.Now),
		// Strict base64 refuses non-zero trailing bits, so the signature
		// has one spelling and a valid token cannot be re-spelled into a
		// different string that also verifies.
		jwt.WithStrictDecoding(),
		// No leeway: a few seconds of clock skew between instances only
		// moves a 15-minute token's end by those seconds.
		jwt.WithLeeway(0),
	)
	return s, nil
}

// SetKeys replaces the keys s signs and verifies with. Keys without a private
// part only verify.
func (s *Signer) SetKeys(keys []Key) error {
	ks := &keySet{verify: make(map[string]any, len(keys))}
	for _, k := range keys {
		if len(k.Public) != ed25519.PublicKeySize || k.ID != KeyID(k.Public) {
			return errors.New("token: set keys: a key's kid is not its public key's thumbprint")
		}
		if k.Private != nil && !k.Public.Equal(k.Private.Public()) {
			return fmt.Errorf("token: set keys: key %s: private and public keys differ", k.ID)
		}
		ks.verify[k.ID] = k.Public
		if k.Private != nil {
			ks.signing = append(ks.signing, k)
		}
	}
	slices.SortStableFunc(ks.signing, func(a, b Key) int { return a.SignsFrom.Compare(b.SignsFrom) })
	s.keys.Store(ks)
	return nil
}

// OnUnknownKey makes s call reload (which should SetKeys) when a token names a
// kid s does not hold, at most once per minReloadGap of s's clock, and then try
// the token once more: an instance verifies tokens of a key another instance
// rotated in before its own periodic reload.
func (s *Signer) OnUnknownKey(reload func(context.Context) error) { s.reload = reload }

// signingKey is the key that signs at now: the latest whose SignsFrom has come.
func (s *Signer) signingKey(now time.Time) (Key, bool) {
	ks := s.keys.Load().signing
	for i := len(ks) - 1; i >= 0; i-- {
		if !ks[i].SignsFrom.After(now) {
			return ks[i], true
		}
	}
	return Key{}, false
}

// CurrentKeyID is the kid of the key that signs now, "" when there is none.
func (s *Signer) CurrentKeyID() string {
	k, _ := s.signingKey(s.now())
	return k.ID
}

// TTL returns the lifetime of the access tokens s issues, for the
// expires_in a token response reports.
func (s *Signer) TTL() time.Duration { return s.ttl }

// Issuer is the iss of s's tokens; Audience their aud.
func (s *Signer) Issuer() string   { return s.issuer }
func (s *Signer) Audience() string { return s.audience }

// LogValue keeps key material out of logs if a Signer is ever logged.
func (s *Signer) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("issuer", s.issuer),
		slog.String("audience", s.audience),
		slog.Duration("ttl", s.ttl),
		slog.String("keys", "[redacted]"),
	)
}

// jtiLen is the random bytes of a token's jti: unique without coordination.
const jtiLen = 16

// typAccess is the typ of an access token's header (RFC 9068 §2.1).
const typAccess = "at+jwt"

// Issue signs an EdDSA access token for the user's session with the key that
// signs now, valid from now for TTL, saying that the user proved themselves by
// amr. It returns the token and the claims it carries, with the times as Verify
// will read them back (iat to the millisecond through iat_ms, exp in whole seconds, UTC).
func (s *Signer) Issue(userID, sessionID string, version int64, role string, amr []string) (tok string, c Claims, err error) {
	// Refuse to mint a token that Verify would reject: the mistake is the
	// caller's and is better found here than at the next request.
	if !isID(userID) {
		return "", Claims{}, errors.New("token: issue: user id is not 24 lowercase hex characters")
	}
	if !isID(sessionID) {
		return "", Claims{}, errors.New("token: issue: session id is not 24 lowercase hex characters")
	}
	// Only tokens issued before amr existed lack it; a new one always says how.
	if len(amr) == 0 {
		return "", Claims{}, errors.New("token: issue: amr is empty")
	}
	// iat_ms is written to the millisecond and exp in whole seconds; truncating
	// first makes the returned claims equal to what Verify will decode.
	now := s.now().UTC()
	key, ok := s.signingKey(now)
	if !ok {
		return "", Claims{}, errors.New("token: issue: no signing key")
	}
	iat := now.Truncate(time.Millisecond)
	exp := now.Truncate(time.Second).Add(s.ttl).Truncate(time.Second)
	jti := make([]byte, jtiLen)
	rand.Read(jti)
	c = Claims{
		UserID:    userID,
		SessionID: sessionID,
		Version:   version,
		Role:      role,
		AMR:       amr,
		IssuedAt:  iat,
		ExpiresAt: exp,
		Audience:  s.audience,
		ID:        base64.RawURLEncoding.EncodeToString(jti),
		KeyID:     key.ID,
	}
	wire := jwtClaims{
		SessionID: sessionID,
		Version:   &version,
		Role:      role,
		AMR:       amr,
		IssuedAt:  &issuedAt{iat},
		IssuedAtMs: func() *int64 {
			ms := iat.UnixMilli()
			return &ms
		}(),
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    s.issuer,
			Subject:   userID,
			Audience:  jwt.ClaimStrings{s.audience},
			ExpiresAt: jwt.NewNumericDate(exp),
			ID:        c.ID,
		},
	}
	t := jwt.NewWithClaims(jwt.SigningMethodEdDSA, wire)
	t.Header["typ"] = typAccess
	t.Header["kid"] = key.ID
	tok, err = t.SignedString(key.Private)
	if err != nil {
		return "", Claims{}, fmt.Errorf("token: issue: %w", err)
	}
	return tok, c, nil
}

// Verify is VerifyContext without a context (a reload for an unknown kid then
// runs under its own bound only).
func (s *Signer) Verify(tok string) (Claims, error) {
	return s.VerifyContext(context.Background(), tok)
}

// VerifyContext checks that tok is an unexpired access token for s's issuer,
// carrying well-formed sub, sid, ver and iat, and returns its claims: an EdDSA
// token with typ at+jwt, a kid s holds and s's audience; or, while s has the
// previous version's secret, an HS256 token it signed. Every failure wraps
// ErrInvalid. A kid s does not hold may make s reload its keys once (see
// OnUnknownKey), under ctx.
func (s *Signer) VerifyContext(ctx context.Context, tok string) (Claims, error) {
	if c, ok := s.known.get(tok); ok {
		return s.verifyRemembered(c)
	}
	c, err := s.verify(ctx, tok)
	if err == nil {
		s.known.put(tok, c)
	}
	return c, err
}

// verifyRemembered checks again what may have changed since a token passed every
// check: time, which may have brought its expiry (exp is exclusive, as the parser
// reads it), and the keys, which may no longer hold its kid.
func (s *Signer) verifyRemembered(c Claims) (Claims, error) {
	if !s.now().Before(c.ExpiresAt) {
		return Claims{}, fmt.Errorf("%w: %w", ErrInvalid, jwt.ErrTokenExpired)
	}
	if c.KeyID != "" {
		if _, ok := s.keys.Load().verify[c.KeyID]; !ok {
			return Claims{}, fmt.Errorf("%w: %w", ErrInvalid, errUnknownKey)
		}
	}
	return c, nil
}

// verify is VerifyContext without the tokens already verified.
func (s *Signer) verify(ctx context.Context, tok string) (Claims, error) {
	// encoding/base64 skips CR and LF even in strict mode, so without this
	// a newline inside the signature would give a second spelling of a
	// valid token.
	if !isCompactJWS(tok) {
		return Claims{}, fmt.Errorf("%w: %w", ErrInvalid, jwt.ErrTokenMalformed)
	}
	var wire jwtClaims
	t, err := s.parser.ParseWithClaims(tok, &wire, s.keyFunc)
	if errors.Is(err, errUnknownKey) && s.reloaded(ctx) {
		wire = jwtClaims{}
		t, err = s.parser.ParseWithClaims(tok, &wire, s.keyFunc)
	}
	if err != nil {
		return Claims{}, fmt.Errorf("%w: %w", ErrInvalid, jwtReason(err))
	}
	c := Claims{}
	if t.Method == jwt.SigningMethodEdDSA {
		// Only tokens of this version carry aud and jti; the HS256 ones of the
		// previous version have neither, and its secret alone proves them ours.
		switch {
		case !slices.Contains(wire.Audience, s.audience):
			return Claims{}, fmt.Errorf("%w: %w", ErrInvalid, jwt.ErrTokenInvalidAudience)
		case wire.ID == "":
			return Claims{}, invalid("jti is missing")
		}
		c.Audience, c.ID = s.audience, wire.ID
		c.KeyID, _ = t.Header["kid"].(string)
	}
	// The signature is good, so these are our own claims; checking them
	// anyway means a bug in Issue cannot become a token for user "".
	switch {
	case !isID(wire.Subject):
		return Claims{}, invalid("sub is not a 24-character lowercase hex id")
	case !isID(wire.SessionID):
		return Claims{}, invalid("sid is not a 24-character lowercase hex id")
	case wire.Version == nil:
		return Claims{}, invalid("ver is missing")
	case wire.IssuedAt == nil:
		return Claims{}, invalid("iat is missing")
	}
	c.UserID = wire.Subject
	c.SessionID = wire.SessionID
	c.Version = *wire.Version
	c.Role = wire.Role
	c.AMR = wire.AMR
	c.IssuedAt = wire.IssuedAt.Time
	if wire.IssuedAtMs != nil {
		ms := time.UnixMilli(*wire.IssuedAtMs).UTC()
		if !ms.Truncate(time.Second).Equal(c.IssuedAt) {
			return Claims{}, invalid("iat_ms is not within iat's second")
		}
		c.IssuedAt = ms
	}
	c.ExpiresAt = wire.ExpiresAt.UTC()
	return c, nil
}

// reloaded asks for the keys again, unless that was done less than
// minReloadGap ago; concurrent callers wait for one reload. It reports whether
// the token is worth a second try.
func (s *Signer) reloaded(ctx context.Context) bool {
	if s.reload == nil {
		return false
	}
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	now := s.now()
	if !s.lastReload.IsZero() && now.Sub(s.lastReload) < minReloadGap && !now.Before(s.lastReload) {
		// Reloaded lately, perhaps by the caller this one waited for.
		return true
	}
	s.lastReload = now
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return s.reload(ctx) == nil
}

// errUnknownKey is an EdDSA token's kid that names no key s holds.
var errUnknownKey = errors.New("token: unknown kid")

// errNotAccessToken is an EdDSA token whose typ is not at+jwt (RFC 9068 §4):
// another kind of JWT signed by the same keys must not pass as an access token.
var errNotAccessToken = errors.New("token: typ is not at+jwt")

// keyFunc hands jwt the key of the token's method, which the parser has
// already pinned: the public key its kid names, or the previous version's secret.
func (s *Signer) keyFunc(t *jwt.Token) (any, error) {
	if t.Method != jwt.SigningMethodEdDSA {
		return s.legacy, nil // HS256, allowed only when the secret is set
	}
	if typ, _ := t.Header["typ"].(string); typ != typAccess && !strings.EqualFold(typ, "application/"+typAccess) {
		return nil, errNotAccessToken
	}
	kid, _ := t.Header["kid"].(string)
	k, ok := s.keys.Load().verify[kid]
	if !ok {
		return nil, errUnknownKey
	}
	return k, nil
}

// jwtReasons are jwt's sentinels, most specific first. Verify reports the
// first that matches instead of jwt's full message, which can quote parts of
// the token (a header's alg, a JSON value).
var jwtReasons = []error{
	jwt.ErrTokenExpired,
	jwt.ErrTokenNotValidYet,
	jwt.ErrTokenUsedBeforeIssued,
	jwt.ErrTokenInvalidIssuer,
	jwt.ErrTokenInvalidAudience,
	jwt.ErrTokenRequiredClaimMissing,
	jwt.ErrTokenMalformed,
	jwt.ErrTokenSignatureInvalid,
	jwt.ErrTokenUnverifiable,
	jwt.ErrTokenInvalidClaims,
}

// jwtReason maps a jwt error to one of jwt's fixed sentinels, so the caller
// can still tell "expired" from "forged" with errors.Is.
func jwtReason(err error) error {
	for _, r := range jwtReasons {
		if errors.Is(err, r) {
			return r
		}
	}
	return jwt.ErrTokenMalformed
}

// invalid returns an ErrInvalid carrying reason, which must not quote input.
func invalid(reason string) error {
	return fmt.Errorf("%w: %s", ErrInvalid, reason)
}

// isCompactJWS reports whether tok uses only the base64url alphabet and dots,
// the only bytes a compact JWS may contain.
func isCompactJWS(tok string) bool {
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		if (c < 'A' || c > 'Z') && (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' && c != '_' && c != '.' {
			return false
		}
	}
	return true
}

// isID reports whether s is a 24-character lowercase hex id. Uppercase is
// refused so that each id has exactly one spelling.
func isID(s string) bool {
	if len(s) != idLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
