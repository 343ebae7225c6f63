package password

import (
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"hash"
	"strconv"
	"strings"

	"golang.org/x/crypto/pbkdf2"
	"golang.org/x/crypto/scrypt"
)

// Formats other applications store, which Verify reads so that their accounts can
// be imported and log in with their old passwords; each is replaced by argon2id at
// its first successful login. Their parameters come from an imported database, so
// each is bounded: a hash asking for more is refused (unreadable, and costs the
// dummy hash) rather than let one login run for minutes or allocate gigabytes.
const (
	// maxPBKDF2Iterations is ten times Django 5.2's default (1,000,000), about
	// what bcrypt's maxBcrypt costs.
	maxPBKDF2Iterations = 10_000_000
	// maxImportedSalt is passlib's own upper limit for a PBKDF2 or scrypt salt.
	maxImportedSalt = 1024
	// scrypt: N = 2^ln. Its memory is 128·r·N bytes, at most maxMemory (1 GiB, as
	// for argon2id); its work is proportional to N·r·p, at most 2^24 (passlib's
	// default, ln=16 r=8 p=1, is 2^19).
	maxScryptLn   = 20
	maxScryptR    = 32
	maxScryptP    = 16
	maxScryptWork = 1 << 24
)

// djangoPBKDF2 starts Django's default hash: pbkdf2_sha256$<iterations>$<salt>$<hash>.
const djangoPBKDF2 = "pbkdf2_sha256$"

// ab64 is passlib's "adapted base64": the standard alphabet with '.' for '+', no
// padding. b64s (passlib's scrypt) is the standard one without padding, b64.
var ab64 = base64.NewEncoding("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789./").WithPadding(base64.NoPadding).Strict()

// parsePasslibPBKDF2 reads passlib's $pbkdf2-sha256$<rounds>$<salt>$<checksum> and
// $pbkdf2-sha512$…, salt and checksum in ab64.
func parsePasslibPBKDF2(encoded string) (matcher, error) {
	f := strings.Split(encoded, "$")
	if len(f) != 5 || f[0] != "" {
		return nil, malformed("not a passlib pbkdf2 hash")
	}
	var h func() hash.Hash
	switch f[1] {
	case "pbkdf2-sha256":
		h = sha256.New
	case "pbkdf2-sha512":
		h = sha512.New
	default:
		return nil, malformed("unsupported pbkdf2 digest")
	}
	iter, err := parseIterations(f[2])
	if err != nil {
		return nil, err
	}
	salt, err := ab64.DecodeString(f[3])
	if err != nil || len(salt) > maxImportedSalt {
		return nil, malformed("pbkdf2 salt is not ab64 or too long")
	}
	want, err := ab64.DecodeString(f[4])
	if err != nil || len(want) != h().Size() {
		// passlib's checksum is always one digest long.
		return nil, malformed("pbkdf2 checksum is not ab64 of one digest")
	}
	return pbkdf2Matcher(salt, iter, want, h), nil
}

// parseDjangoPBKDF2 reads Django's pbkdf2_sha256$<iterations>$<salt>$<hash>: the
// salt is used as the text it is, the hash is standard padded base64 of 32 bytes.
func parseDjangoPBKDF2(encoded string) (matcher, error) {
	f := strings.Split(encoded, "$")
	if len(f) != 4 {
		return nil, malformed("not a Django pbkdf2_sha256 hash")
	}
	iter, err := parseIterations(f[1])
	if err != nil {
		return nil, err
	}
	if f[2] == "" || len(f[2]) > maxImportedSalt {
		return nil, malformed("Django salt empty or too long")
	}
	want, err := base64.StdEncoding.Strict().DecodeString(f[3])
	if err != nil || len(want) != sha256.Size {
		return nil, malformed("Django hash is not base64 of 32 bytes")
	}
	return pbkdf2Matcher([]byte(f[2]), iter, want, sha256.New), nil
}

func parseIterations(s string) (int, error) {
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil || n < 1 || n > maxPBKDF2Iterations || s[0] == '0' {
		return 0, malformed("pbkdf2 iterations not a number from 1 to " + strconv.Itoa(maxPBKDF2Iterations))
	}
	return int(n), nil
}

func pbkdf2Matcher(salt []byte, iter int, want []byte, h func() hash.Hash) matcher {
	return func(plain string) (bool, bool, error) {
		got := pbkdf2.Key([]byte(plain), salt, iter, len(want), h)
		return subtle.ConstantTimeCompare(got, want) == 1, false, nil
	}
}

// parseScrypt reads passlib's $scrypt$ln=<log2 N>,r=<r>,p=<p>$<salt>$<checksum>,
// salt and checksum in standard base64 without padding.
func parseScrypt(encoded string) (matcher, error) {
	f := strings.Split(encoded, "$")
	if len(f) != 5 || f[0] != "" {
		return nil, malformed("not a scrypt PHC string")
	}
	kv := strings.Split(f[2], ",")
	if len(kv) != 3 {
		return nil, malformed("scrypt parameters are not ln,r,p")
	}
	ln, err1 := parseParam(kv[0], "ln=", 8)
	r, err2 := parseParam(kv[1], "r=", 8)
	p, err3 := parseParam(kv[2], "p=", 8)
	switch {
	case err1 != nil || err2 != nil || err3 != nil:
		return nil, malformed("scrypt parameters are not ln,r,p")
	case ln < 1 || ln > maxScryptLn || r < 1 || r > maxScryptR || p < 1 || p > maxScryptP:
		return nil, malformed("scrypt parameters out of range")
	case 128*r<<ln > maxMemory*1024 || r*p<<ln > maxScryptWork:
		return nil, malformed("scrypt memory or work out of range")
	}
	salt, err := b64.DecodeString(f[3])
	if err != nil || len(salt) > maxImportedSalt {
		return nil, malformed("scrypt salt is not base64 or too long")
	}
	want, err := b64.DecodeString(f[4])
	if err != nil || len(want) < minKeyLen || len(want) > maxKeyLen {
		return nil, malformed("scrypt checksum is not base64 or its length out of range")
	}
	return func(plain string) (bool, bool, error) {
		got, err := scrypt.Key([]byte(plain), salt, 1<<ln, int(r), int(p), len(want))
		if err != nil {
			return false, false, fmt.Errorf("%w: scrypt refused its parameters", ErrMalformed)
		}
		return subtle.ConstantTimeCompare(got, want) == 1, false, nil
	}, nil
}
