package token

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
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

// ParseRefresh splits a refresh token into its session id and the SHA-256 of
// its secret, for the store's compare-and-set. Anything that is not exactly a
// 24-character lowercase hex id, a dot and 32 bytes of unpadded base64url
// fails with ErrInvalid; in particular a JWT (two dots) is refused.
func ParseRefresh(tok string) (sessionID string, secretHash []byte, err error) {
	if len(tok) != refreshTokenLen {
		return "", nil, invalid("refresh token has the wrong length")
	}
	sessionID, enc, ok := strings.Cut(tok, ".")
	if !ok || strings.Contains(enc, ".") {
		return "", nil, invalid("refresh token is not <session id>.<secret>")
	}
	if !isID(sessionID) {
		return "", nil, invalid("refresh token's session id is not a 24-character lowercase hex id")
	}
	// The length check above leaves enc exactly EncodedLen(32) long, so it
	// cannot decode to more than this buffer holds.
	var secret [refreshSecretLen]byte
	n, err := refreshEnc.Decode(secret[:], []byte(enc))
	if err != nil || n != refreshSecretLen {
		// err is not wrapped: base64 errors report offsets into the secret.
		return "", nil, invalid("refresh token's secret is not 32 bytes of base64url")
	}
	sum := sha256.Sum256(secret[:n])
	return sessionID, sum[:], nil
}
