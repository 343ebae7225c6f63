package token

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"log/slog"
	"strings"

	"github.com/lanyard/lanyard/internal/subkey"
)

// refreshSecretLen is the number of random bytes in a refresh token's secret:
// 256 bits, beyond guessing, which is why a fast hash is enough to store it.
const refreshSecretLen = 32

// refreshEnc is unpadded base64url, strict so that a secret has exactly one
// spelling (non-zero trailing bits are refused, not silently dropped).
var refreshEnc = base64.RawURLEncoding.Strict()

// refreshTokenLen is the exact length of every refresh token; checking it
// first makes oversized input cheap to refuse.
var refreshTokenLen = idLen + 1 + refreshEnc.EncodedLen(refreshSecretLen)

// NewRefresh returns a fresh refresh token for the session and the SHA-256 of
// its secret, which is all the store keeps. The token itself must go only to
// the client.
func NewRefresh(sessionID string) (tok string, secretHash []byte, err error) {
	if !isID(sessionID) {
		return "", nil, errors.New("token: refresh: session id is not 24 lowercase hex characters")
	}
	// crypto/rand.Read never fails since Go 1.24 (it crashes the program
	// instead), so there is no error to report here.
	secret := make([]byte, refreshSecretLen)
	rand.Read(secret)
	sum := sha256.Sum256(secret)
	return sessionID + "." + refreshEnc.EncodeToString(secret), sum[:], nil
}

// parseRefresh splits a refresh token into its session id and raw secret, with
// the checks ParseRefresh documents.
func parseRefresh(tok string) (sessionID string, secret [refreshSecretLen]byte, err error) {
	if len(tok) != refreshTokenLen {
		return "", secret, invalid("refresh token has the wrong length")
	}
	sessionID, enc, ok := strings.Cut(tok, ".")
	if !ok || strings.Contains(enc, ".") {
		return "", secret, invalid("refresh token is not <session id>.<secret>")
	}
	if !isID(sessionID) {
		return "", secret, invalid("refresh token's session id is not a 24-character lowercase hex id")
	}
	// The length check above leaves enc exactly EncodedLen(32) long, so it
	// cannot decode to more than this buffer holds.
	n, err := refreshEnc.Decode(secret[:], []byte(enc))
	if err != nil || n != refreshSecretLen {
		// err is not wrapped: base64 errors report offsets into the secret.
		return "", secret, invalid("refresh token's secret is not 32 bytes of base64url")
	}
	return sessionID, secret, nil
}

// ParseRefresh splits a refresh token into its session id and the SHA-256 of
// its secret, for the store's compare-and-set. Anything that is not exactly a
// 24-character lowercase hex id, a dot and 32 bytes of unpadded base64url
// fails with ErrInvalid; in particular a JWT (two dots) is refused.
func ParseRefresh(tok string) (sessionID string, secretHash []byte, err error) {
	sessionID, secret, err := parseRefresh(tok)
	if err != nil {
		return "", nil, err
	}
	sum := sha256.Sum256(secret[:])
	return sessionID, sum[:], nil
}

// refreshInfo is the HKDF info of the key that chains a session's refresh secrets;
// the version lets a later scheme derive another key from the same root.
const refreshInfo = "lanyard/refresh/v1"

// Refresher derives each refresh secret of a session from the one before it:
// next = HMAC-SHA256(K, session id || secret), K a subkey of LANYARD_DATA_KEY.
// Only the first secret of a session is random. A session then need store only
// the hash of its current secret and how many rotations led there to tell, for
// any secret presented, whether it is one the session spent (its successors
// lead to the current one) or one it never issued (a guess, which must not end
// the session). Without K, holding a secret gives no way to its successor.
type Refresher struct {
	key []byte
}

// NewRefresher derives the chain key from the 32-byte root key (LANYARD_DATA_KEY).
func NewRefresher(root []byte) (*Refresher, error) {
	key, err := subkey.Derive(root, refreshInfo)
	if err != nil {
		return nil, fmt.Errorf("token: refresh chain: %w", err)
	}
	return &Refresher{key: key}, nil
}

// LogValue keeps key material out of logs.
func (*Refresher) LogValue() slog.Value { return slog.StringValue("[redacted]") }

// chain steps through one session's secrets.
type chain struct {
	mac hash.Hash
	sid [12]byte // the session id's bytes: with a 32-byte secret, one SHA-256 block
	cur [refreshSecretLen]byte
}

func (r *Refresher) chain(tok string) (*chain, error) {
	sidHex, secret, err := parseRefresh(tok)
	if err != nil {
		return nil, err
	}
	c := &chain{mac: hmac.New(sha256.New, r.key), cur: secret}
	hex.Decode(c.sid[:], []byte(sidHex)) // parseRefresh checked it is 24 hex digits
	return c, nil
}

// step moves to the next secret and returns its hash.
func (c *chain) step() [sha256.Size]byte {
	c.mac.Reset()
	c.mac.Write(c.sid[:])
	c.mac.Write(c.cur[:])
	c.mac.Sum(c.cur[:0])
	return sha256.Sum256(c.cur[:])
}

// Next returns the refresh token that follows tok in its session, and the SHA-256
// of its secret. tok must be a well-formed refresh token (ErrInvalid otherwise).
func (r *Refresher) Next(tok string) (next string, secretHash []byte, err error) {
	c, err := r.chain(tok)
	if err != nil {
		return "", nil, err
	}
	sum := c.step()
	return tok[:idLen] + "." + refreshEnc.EncodeToString(c.cur[:]), sum[:], nil
}

// MaxRotations is how many times one session's refresh token may rotate; the refresh
// after the last one ends the session (a new login starts another). It bounds the
// walk StepsTo makes for a secret the session never issued, which anyone who knows a
// session id (every access token carries it) can send as often as they like, to
// about 3 ms. A session's refresh TTL is renewed at every rotation, so the TTL bounds
// how long it may sit unused, not how often it rotates: a client refreshing every
// 15 minutes (the default access TTL) reaches the cap after about 104 days, one
// refreshing in a loop after a few seconds.
const MaxRotations = 10_000

// ctxCheckEvery is how many steps StepsTo takes between looks at its context: about
// half a millisecond of hashing.
const ctxCheckEvery = 2048

// StepsTo says how many rotations lead from tok to the secret whose SHA-256 is
// current, trying at most generation of them and never more than MaxRotations: 0
// when none of them does (tok is not a secret this session spent, or not a
// well-formed token). Each step is three SHA-256 blocks, a fraction of a microsecond.
// It stops early with ctx's error when ctx is done.
func (r *Refresher) StepsTo(ctx context.Context, tok string, current []byte, generation int64) (int64, error) {
	c, err := r.chain(tok)
	if err != nil {
		return 0, nil
	}
	limit := min(generation, MaxRotations)
	for k := int64(1); k <= limit; k++ {
		if k%ctxCheckEvery == 0 {
			if err := ctx.Err(); err != nil {
				return 0, fmt.Errorf("token: refresh chain: %w", err)
			}
		}
		if sum := c.step(); bytes.Equal(sum[:], current) {
			return k, nil
		}
	}
	return 0, nil
}
