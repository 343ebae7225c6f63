// Package token issues and verifies Lanyard's access tokens (HS256 JWTs) and
// mints and parses refresh tokens ("<session id>.<secret>").
//
// The package only proves that a token is well formed, ours and unexpired.
// Whether the user still exists, is active and still has the token's version
// is the caller's check: that needs the store, which this package never sees.
package token

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// ErrInvalid is wrapped by every verification failure, so callers can answer
// 401 with one errors.Is check whatever the reason was.
var ErrInvalid = errors.New("token: invalid")

// minSecretLen is the shortest HS256 key accepted: RFC 7518 §3.2 asks for a
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
	jwt.RegisteredClaims
}

// issuedAt is iat to the millisecond (RFC 7519 §2 lets a NumericDate have a
// fraction). In whole seconds a token issued just after User.AccessNotBefore, a
// time in milliseconds, could not be told from one issued just before it in the
// same second: one of them would be wrongly refused or wrongly let through.
type issuedAt struct{ time.Time }

func (d issuedAt) MarshalJSON() ([]byte, error) {
	ms := d.UnixMilli()
	if ms < 0 {
		return nil, errors.New("token: iat before 1970")
	}
	frac := ms % 1000
	b := strconv.AppendInt(make([]byte, 0, 16), ms/1000, 10)
	return append(b, '.', byte('0'+frac/100), byte('0'+frac/10%10), byte('0'+frac%10)), nil
}

// UnmarshalJSON reads any JSON number of seconds, whole ones included (tokens
// issued before iat had milliseconds), to the nearest millisecond.
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

// Signer issues and verifies access tokens with one HMAC secret.
type Signer struct {
	// key is the secret already boxed as the `any` jwt's Sign and Verify
	// take, so no call converts (and allocates) it again.
	key    any
	issuer string
	ttl    time.Duration
	now    func() time.Time
	parser *jwt.Parser
}

// NewSigner returns a Signer for secret, issuer and access-token lifetime ttl.
// secret must be at least 32 bytes; it is copied, so the caller may wipe its
// own slice. now is the clock used to issue and to check expiry; nil means
// time.Now.
func NewSigner(secret []byte, issuer string, ttl time.Duration, now func() time.Time) (*Signer, error) {
	if len(secret) < minSecretLen {
		return nil, fmt.Errorf("token: secret is %d bytes; need at least %d", len(secret), minSecretLen)
	}
	// An empty issuer would make jwt.WithIssuer("") skip the iss check.
	if issuer == "" {
		return nil, errors.New("token: issuer is empty")
	}
	// Times in a JWT are whole seconds; a shorter ttl would issue tokens
	// that are already expired.
	if ttl < time.Second {
		return nil, fmt.Errorf("token: ttl %v is shorter than one second", ttl)
	}
	if now == nil {
		now = time.Now
	}
	s := &Signer{
		key:    append([]byte(nil), secret...),
		issuer: issuer,
		ttl:    ttl,
		now:    now,
	}
	// One parser, built once: its options are fixed for the Signer's life.
	s.parser = jwt.NewParser(
		// Pinning the method is what stops alg "none" and algorithm
		// confusion (another HS size, or an RS/ES key read as an HMAC key).
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithIssuer(issuer),
		jwt.WithTimeFunc(now),
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

// TTL returns the lifetime of the access tokens s issues, for the
// expires_in a token response reports.
func (s *Signer) TTL() time.Duration { return s.ttl }

// LogValue keeps the secret out of logs if a Signer is ever logged.
func (s *Signer) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("issuer", s.issuer),
		slog.Duration("ttl", s.ttl),
		slog.String("secret", "[redacted]"),
	)
}

// Issue signs an HS256 access token for the user's session, valid from now
// for TTL, saying that the user proved themselves by amr. It returns the token
// and the claims it carries, with the times as Verify will read them back (iat
// to the millisecond, exp in whole seconds, UTC).
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
	// iat is written to the millisecond and exp in whole seconds; truncating
	// first makes the returned claims equal to what Verify will decode.
	now := s.now().UTC()
	iat := now.Truncate(time.Millisecond)
	exp := now.Truncate(time.Second).Add(s.ttl).Truncate(time.Second)
	wire := jwtClaims{
		SessionID: sessionID,
		Version:   &version,
		Role:      role,
		AMR:       amr,
		IssuedAt:  &issuedAt{iat},
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    s.issuer,
			Subject:   userID,
			ExpiresAt: jwt.NewNumericDate(exp),
		},
	}
	tok, err = jwt.NewWithClaims(jwt.SigningMethodHS256, wire).SignedString(s.key)
	if err != nil {
		return "", Claims{}, fmt.Errorf("token: issue: %w", err)
	}
	return tok, Claims{
		UserID:    userID,
		SessionID: sessionID,
		Version:   version,
		Role:      role,
		AMR:       amr,
		IssuedAt:  iat,
		ExpiresAt: exp,
	}, nil
}

// Verify checks that tok is an unexpired HS256 token signed with s's secret
// for s's issuer, carrying well-formed sub, sid, ver and iat, and returns its
// claims. Every failure wraps ErrInvalid.
func (s *Signer) Verify(tok string) (Claims, error) {
	// encoding/base64 skips CR and LF even in strict mode, so without this
	// a newline inside the signature would give a second spelling of a
	// valid token.
	if !isCompactJWS(tok) {
		return Claims{}, fmt.Errorf("%w: %w", ErrInvalid, jwt.ErrTokenMalformed)
	}
	var wire jwtClaims
	if _, err := s.parser.ParseWithClaims(tok, &wire, s.keyFunc); err != nil {
		return Claims{}, fmt.Errorf("%w: %w", ErrInvalid, jwtReason(err))
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
	return Claims{
		UserID:    wire.Subject,
		SessionID: wire.SessionID,
		Version:   *wire.Version,
		Role:      wire.Role,
		AMR:       wire.AMR,
		IssuedAt:  wire.IssuedAt.Time,
		ExpiresAt: wire.ExpiresAt.UTC(),
	}, nil
}

// keyFunc hands jwt the secret. The parser has already refused every method
// but HS256 when it calls this, so there is no per-algorithm choice to make.
func (s *Signer) keyFunc(*jwt.Token) (any, error) { return s.key, nil }

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
