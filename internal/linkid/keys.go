package linkid

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"

	"github.com/lanyard/lanyard/internal/subkey"
)

// HKDF info strings: each subkey is bound to one use, and the version lets a future
// scheme derive different keys from the same root.
const (
	infoLookup = "lanyard/linked-id/lookup/v1"
	infoEnc    = "lanyard/linked-id/enc/v1"
)

// ErrDecrypt means a stored ciphertext does not open for this user and provider:
// tampered, moved from another document, or sealed under another key.
var ErrDecrypt = errors.New("linked id: ciphertext does not open")

// Keys are the two subkeys derived from LANYARD_DATA_KEY.
type Keys struct {
	lookup []byte
	aead   cipher.AEAD
}

// NewKeys derives the lookup and encryption subkeys from the 32-byte root key.
func NewKeys(root []byte) (*Keys, error) {
	lookup, err := subkey.Derive(root, infoLookup)
	if err != nil {
		return nil, fmt.Errorf("linked id keys: %w", err)
	}
	enc, err := subkey.Derive(root, infoEnc)
	if err != nil {
		return nil, fmt.Errorf("linked id keys: %w", err)
	}
	block, err := aes.NewCipher(enc)
	if err != nil {
		return nil, fmt.Errorf("linked id keys: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("linked id keys: %w", err)
	}
	return &Keys{lookup: lookup, aead: aead}, nil
}

// LogValue keeps key material out of logs.
func (*Keys) LogValue() slog.Value { return slog.StringValue("[redacted]") }

// Lookup is the keyed hash that identifies a canonical (provider, external id) pair
// without revealing it: the same pair always gives the same value, so a unique index
// on it makes the database decide who holds an ID.
func (k *Keys) Lookup(provider, externalID string) string {
	m := hmac.New(sha256.New, k.lookup)
	m.Write([]byte(provider))
	m.Write([]byte{0}) // providers cannot contain NUL, so the split is unambiguous
	m.Write([]byte(externalID))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// Seal encrypts an external id for one user and provider with a fresh nonce. The user
// id and provider are associated data: the ciphertext opens only in that place.
func (k *Keys) Seal(userID, provider, externalID string) []byte {
	nonce := make([]byte, k.aead.NonceSize(), k.aead.NonceSize()+len(externalID)+k.aead.Overhead())
	rand.Read(nonce)
	return k.aead.Seal(nonce, nonce, []byte(externalID), aad(userID, provider))
}

// Open decrypts what Seal produced for the same user and provider.
func (k *Keys) Open(userID, provider string, sealed []byte) (string, error) {
	n := k.aead.NonceSize()
	if len(sealed) < n+k.aead.Overhead() {
		return "", ErrDecrypt
	}
	plain, err := k.aead.Open(nil, sealed[:n], sealed[n:], aad(userID, provider))
	if err != nil {
		return "", ErrDecrypt
	}
	return string(plain), nil
}

func aad(userID, provider string) []byte {
	return []byte(userID + "\x00" + provider)
}
