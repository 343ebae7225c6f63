package method

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/lanyard/lanyard"
	"github.com/lanyard/lanyard/internal/store"
	"github.com/lanyard/lanyard/internal/subkey"
)

// RecoveryCodes is how many recovery codes a TOTP enrolment gives.
const RecoveryCodes = 10

// recoveryAlphabet spells recovery codes: lower-case base32, 5 bits a character.
const recoveryAlphabet = "abcdefghijklmnopqrstuvwxyz234567"

// recoveryLen is a code's characters (50 random bits), shown as two groups of five.
const recoveryLen = 10

// recoveryClaimLife is how long a used recovery code's claim is kept: long past
// the race between two requests presenting it, after which its hash is gone from
// the user document.
const recoveryClaimLife = 24 * time.Hour

// infoRecoveryCode is the HKDF info of the subkey of LANYARD_DATA_KEY that hashes
// recovery codes.
const infoRecoveryCode = "lanyard/mfa/recovery-code/v1"

// Recovery is the recovery-code factor: the codes a TOTP enrolment shows once, each
// good for one login (or for disabling TOTP) when the authenticator is lost. They
// are stored as HMAC-SHA256 under a subkey of the data key, bound to their user: 50
// random bits need no slow hash against guessing online (the throttle counts every
// try), and without the data key a copy of the database cannot test a guess at all.
type Recovery struct {
	st  *store.Store
	key []byte
	now func() time.Time
}

func newRecovery(st *store.Store, dataKey []byte, now func() time.Time) (*Recovery, error) {
	key, err := subkey.Derive(dataKey, infoRecoveryCode)
	if err != nil {
		return nil, fmt.Errorf("recovery code key: %w", err)
	}
	return &Recovery{st: st, key: key, now: now}, nil
}

// Enrolled reports whether u has recovery codes to use: while TOTP is on.
func (r *Recovery) Enrolled(u lanyard.User) bool { return u.MFA.TOTP }

// Check accepts one of u's unused recovery codes, once: the code is claimed (exactly
// one of concurrent uses wins) and its hash dropped.
func (r *Recovery) Check(ctx context.Context, u lanyard.User, a Answer) (string, error) {
	code := normalizeRecovery(a.Code)
	if len(code) != recoveryLen {
		return "", fmt.Errorf("recovery code: %w", lanyard.ErrBadCredentials)
	}
	_, t, err := r.st.UserTOTP(ctx, u.ID)
	if err != nil {
		return "", fmt.Errorf("recovery code: %w", err)
	}
	h := r.hash(u.ID, code)
	found := false
	for _, k := range t.Recovery {
		if hmac.Equal(k, h) {
			found = true
		}
	}
	if !found || len(t.Secret) == 0 {
		return "", fmt.Errorf("recovery code: %w", lanyard.ErrBadCredentials)
	}
	err = r.st.ClaimOTP(ctx, u.ID.Hex()+":rc:"+base64.RawURLEncoding.EncodeToString(h), r.now().Add(recoveryClaimLife))
	if errors.Is(err, store.ErrDuplicate) {
		return "", fmt.Errorf("recovery code: used already: %w", lanyard.ErrBadCredentials)
	}
	if err != nil {
		return "", fmt.Errorf("recovery code: %w", err)
	}
	if err := r.st.UseRecoveryCode(ctx, u.ID, h); err != nil {
		return "", fmt.Errorf("recovery code: %w", err)
	}
	return lanyard.AMROTP, nil
}

// generate makes RecoveryCodes fresh codes for user id, as shown and as kept.
func (r *Recovery) generate(id lanyard.ID) (codes []string, hashes [][]byte) {
	for range RecoveryCodes {
		// crypto/rand.Read never fails since Go 1.24 (it crashes the program instead).
		raw := make([]byte, recoveryLen)
		rand.Read(raw)
		var b strings.Builder
		for i, c := range raw {
			if i == recoveryLen/2 {
				b.WriteByte('-')
			}
			b.WriteByte(recoveryAlphabet[c%32]) // 256 is a multiple of 32: uniform
		}
		codes = append(codes, b.String())
		hashes = append(hashes, r.hash(id, normalizeRecovery(b.String())))
	}
	return codes, hashes
}

// hash is a code's keyed hash for user id.
func (r *Recovery) hash(id lanyard.ID, code string) []byte {
	m := hmac.New(sha256.New, r.key)
	m.Write([]byte(id.Hex()))
	m.Write([]byte{0})
	m.Write([]byte(code))
	return m.Sum(nil)
}

// normalizeRecovery is a code as typed — any case, with or without its dash or
// spaces — in the form that is hashed.
func normalizeRecovery(code string) string {
	code = strings.ToLower(strings.TrimSpace(code))
	return strings.NewReplacer("-", "", " ", "").Replace(code)
}
