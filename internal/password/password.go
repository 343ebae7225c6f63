// Package password hashes and verifies account passwords.
//
// New hashes are argon2id PHC strings. Hashes imported from other applications
// still verify — bcrypt ($2a$, $2b$, $2y$), argon2id and argon2i PHC strings,
// passlib's $pbkdf2-sha256$ and $pbkdf2-sha512$, Django's pbkdf2_sha256$ and
// passlib's $scrypt$ — each through golang.org/x/crypto, and Verify reports when a
// stored hash should be replaced, so every account moves to argon2id with the
// current parameters at its next login. The parameters a stored hash may ask for
// are bounded (the limits below and in imported.go); beyond them it is unreadable.
package password

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"

	"github.com/lanyard/lanyard"
)

// Params are argon2id cost parameters.
type Params struct {
	Memory  uint32 // KiB
	Time    uint32 // passes over the memory
	Threads uint8  // lanes
}

var (
	// Default is OWASP's minimum for argon2id: 19 MiB, 2 passes, 1 lane.
	Default = Params{Memory: 19 * 1024, Time: 2, Threads: 1}
	// Cheap keeps tests fast; it protects nothing.
	Cheap = Params{Memory: 64, Time: 1, Threads: 1}
)

var (
	// ErrBusy means no hashing slot became free within Options.MaxWait; the
	// caller should answer "try again later" rather than queue without bound. It
	// is the domain's busy kind (errors.Is(err, lanyard.ErrBusy)), so callers pass
	// it on as it is.
	ErrBusy = fmt.Errorf("password: hashing capacity exhausted: %w", lanyard.ErrBusy)
	// ErrMalformed means a stored hash could not be read, or asks for costs
	// outside the limits this package accepts.
	ErrMalformed = errors.New("password: malformed hash")
)

const (
	saltLen = 16
	keyLen  = 32

	// Limits on what a stored hash may ask for: the parameters come from the
	// database, and a hostile or corrupted row must not make one login
	// allocate gigabytes or run for hours.
	maxMemory   = 1 << 20 // KiB, 1 GiB
	maxTime     = 100
	maxThreads  = 64
	minSaltLen  = 8
	maxSaltLen  = 64
	minKeyLen   = 16
	maxKeyLen   = 64
	maxBcrypt   = 16 // 2^16 rounds takes seconds; real deployments use 10–14
	bcryptLen   = 60
	bcryptLimit = 72 // bytes of password that bcrypt reads; the rest it ignores

	defaultMaxWait = 2 * time.Second
)

// Options configure a Hasher.
type Options struct {
	// Params are used for new hashes; the zero value means Default.
	Params Params
	// Concurrency is how many hashes run at once; <=0 means runtime.NumCPU().
	// Each argon2id hash holds Params.Memory while it runs, so this bounds
	// the memory that hashing can take.
	Concurrency int
	// MaxWait is how long a caller waits for a slot before ErrBusy; <=0 means 2s.
	MaxWait time.Duration
	// Observe, if set, is called after each hash or verify that ran, with the
	// time spent waiting for a slot and the time spent hashing. Calls that
	// never got a slot (ErrBusy, a cancelled context) are not observed: the
	// caller sees their error.
	Observe func(wait, took time.Duration)
}

// Hasher hashes and verifies passwords, running at most Options.Concurrency
// hashes at once. It is safe for concurrent use.
type Hasher struct {
	params  Params
	slots   chan struct{}
	maxWait time.Duration
	observe func(wait, took time.Duration)
}

// NewHasher returns a Hasher for o. It panics if o.Params are outside the
// limits Verify accepts, since the hashes it made could then never verify.
func NewHasher(o Options) *Hasher {
	p := o.Params
	if p == (Params{}) {
		p = Default
	}
	if err := p.check(); err != nil {
		panic("password: NewHasher: " + err.Error())
	}
	n := o.Concurrency
	if n <= 0 {
		n = runtime.NumCPU()
	}
	wait := o.MaxWait
	if wait <= 0 {
		wait = defaultMaxWait
	}
	return &Hasher{params: p, slots: make(chan struct{}, n), maxWait: wait, observe: o.Observe}
}

// Hash returns an argon2id PHC string for plain with a fresh 16-byte salt and
// a 32-byte key, e.g. $argon2id$v=19$m=19456,t=2,p=1$<salt>$<key>.
func (h *Hasher) Hash(ctx context.Context, plain string) (string, error) {
	salt := make([]byte, saltLen)
	rand.Read(salt) // never returns an error since Go 1.24; it crashes instead
	var key []byte
	err := h.run(ctx, func() {
		key = argon2.IDKey([]byte(plain), salt, h.params.Time, h.params.Memory, h.params.Threads, keyLen)
	})
	if err != nil {
		return "", err
	}
	return encodePHC(h.params, salt, key), nil
}

// Verify reports whether plain matches encoded: an argon2id PHC string, or a hash
// in one of the formats imported from other applications (see the package
// documentation and parse). Every parameter is read from encoded, so hashes made
// with older parameters keep verifying.
//
// needsRehash is true when ok and encoded is not what Hash would produce now
// (an imported format, or other argon2id parameters): the caller should store a
// new Hash.
//
// A password longer than 72 bytes never matches a bcrypt hash, because bcrypt
// would compare only its first 72 bytes.
//
// A mismatch is ok=false with a nil error; an unreadable encoded is an error
// wrapping ErrMalformed, returned after the work of VerifyDummy: an account whose
// hash cannot be read must not answer sooner than one that does not exist.
func (h *Hasher) Verify(ctx context.Context, plain, encoded string) (ok, needsRehash bool, err error) {
	match, err := h.parse(encoded)
	if err != nil {
		if derr := h.VerifyDummy(ctx, plain); derr != nil {
			return false, false, derr
		}
		return false, false, err
	}
	var current bool
	var merr error
	if err := h.run(ctx, func() { ok, current, merr = match(plain) }); err != nil {
		return false, false, err
	}
	if merr != nil || !ok {
		return false, false, merr
	}
	return true, !current, nil
}

// Check reports whether Verify can read encoded — a format it knows, with
// parameters within its limits — without hashing anything: nil, or an error
// wrapping ErrMalformed that says why without echoing the hash. An import asks it
// of every hash before it stores one.
func Check(encoded string) error {
	_, err := (&Hasher{params: Default}).parse(encoded)
	return err
}

// matcher compares plain with the stored hash it was parsed from, in constant
// time; current reports whether the hash is what Hash makes now. It runs in a
// hashing slot. An error wraps ErrMalformed: a hash the parse let through but its
// library refused (the slot is paid already, so no dummy hash follows).
type matcher func(plain string) (ok, current bool, err error)

// parse reads encoded into the work that verifies it, refusing an unknown
// format or parameters outside the limits before any hashing (an error of the
// malformed type).
func (h *Hasher) parse(encoded string) (matcher, error) {
	switch {
	case strings.HasPrefix(encoded, "$argon2"):
		return h.parseArgon2(encoded)
	case strings.HasPrefix(encoded, "$2"):
		return parseBcrypt(encoded)
	case strings.HasPrefix(encoded, "$pbkdf2-"):
		return parsePasslibPBKDF2(encoded)
	case strings.HasPrefix(encoded, djangoPBKDF2):
		return parseDjangoPBKDF2(encoded)
	case strings.HasPrefix(encoded, "$scrypt$"):
		return parseScrypt(encoded)
	}
	return nil, malformed("unknown algorithm")
}

// VerifyDummy costs what Verify costs against an argon2id hash made with h's
// Params, and matches nothing. Calling it for unknown accounts keeps their
// response time the same as for known ones, so timing does not reveal which
// accounts exist. It returns only ErrBusy or a context error.
func (h *Hasher) VerifyDummy(ctx context.Context, plain string) error {
	return h.run(ctx, func() {
		key := argon2.IDKey([]byte(plain), dummySalt[:], h.params.Time, h.params.Memory, h.params.Threads, keyLen)
		subtle.ConstantTimeCompare(key, dummyKey[:])
	})
}

// dummySalt and dummyKey stand in for a stored hash in VerifyDummy; their
// values do not matter, only that the same work is done.
var (
	dummySalt [saltLen]byte
	dummyKey  [keyLen]byte
)

func (h *Hasher) parseArgon2(encoded string) (matcher, error) {
	v, p, salt, want, err := parseArgon2PHC(encoded)
	if err != nil {
		return nil, err
	}
	return func(plain string) (bool, bool, error) {
		var got []byte
		if v == argon2i {
			got = argon2.Key([]byte(plain), salt, p.Time, p.Memory, p.Threads, uint32(len(want)))
		} else {
			got = argon2.IDKey([]byte(plain), salt, p.Time, p.Memory, p.Threads, uint32(len(want)))
		}
		current := v == argon2id && p == h.params && len(salt) == saltLen && len(want) == keyLen
		return subtle.ConstantTimeCompare(got, want) == 1, current, nil
	}, nil
}

func parseBcrypt(encoded string) (matcher, error) {
	hash := []byte(encoded)
	if len(hash) != bcryptLen {
		return nil, malformed("bcrypt hash is not 60 bytes")
	}
	switch encoded[:4] {
	case "$2a$", "$2b$", "$2y$":
		// $2y$ is PHP's name for $2b$; x/crypto/bcrypt compares it the same way.
	default:
		return nil, malformed("unsupported bcrypt version")
	}
	cost, err := bcrypt.Cost(hash)
	if err != nil || strings.Trim(encoded[7:], bcryptAlphabet) != "" {
		// bcrypt would refuse a salt or key outside its alphabet only inside the
		// comparison, without hashing: such a hash is refused here, before it,
		// so that it costs the dummy hash like any unreadable one.
		return nil, malformed("unreadable bcrypt hash")
	}
	if cost > maxBcrypt {
		return nil, malformed("bcrypt cost above " + strconv.Itoa(maxBcrypt))
	}
	return func(plain string) (bool, bool, error) {
		fits := len(plain) <= bcryptLimit
		if !fits {
			// Still do the comparison, so an over-long password costs what any
			// other does and the response time does not tell bcrypt accounts apart.
			plain = plain[:bcryptLimit]
		}
		switch err := bcrypt.CompareHashAndPassword(hash, []byte(plain)); {
		case err == nil:
			return fits, false, nil
		case errors.Is(err, bcrypt.ErrMismatchedHashAndPassword):
			return false, false, nil
		}
		return false, false, fmt.Errorf("%w: unreadable bcrypt hash", ErrMalformed)
	}, nil
}

// bcryptAlphabet is the base64 alphabet of bcrypt's salt and key.
const bcryptAlphabet = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// run does work in a hashing slot, waiting at most h.maxWait for one.
func (h *Hasher) run(ctx context.Context, work func()) error {
	start := time.Now()
	release, err := h.acquire(ctx)
	if err != nil {
		return err
	}
	got := time.Now()
	work()
	release()
	if h.observe != nil {
		h.observe(got.Sub(start), time.Since(got))
	}
	return nil
}

// acquire takes a hashing slot; the caller must call release exactly once.
func (h *Hasher) acquire(ctx context.Context) (release func(), err error) {
	// A caller that has already gone must not cost a hash, even if a slot is
	// free (select would pick among ready cases at random).
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("password: waiting for a hashing slot: %w", err)
	}
	release = func() { <-h.slots }
	select {
	case h.slots <- struct{}{}:
		return release, nil
	default:
	}
	timer := time.NewTimer(h.maxWait)
	defer timer.Stop()
	select {
	case h.slots <- struct{}{}:
		return release, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("password: waiting for a hashing slot: %w", ctx.Err())
	case <-timer.C:
		return nil, ErrBusy
	}
}

// b64 is the PHC string encoding: standard alphabet, no padding.
var b64 = base64.RawStdEncoding.Strict()

func encodePHC(p Params, salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key))
}

// argon2 variants Verify reads.
const (
	argon2id = "argon2id"
	argon2i  = "argon2i"
)

// parsePHC reads $argon2id$v=19$m=M,t=T,p=P$salt$key and rejects anything
// else, including parameters outside the limits above.
func parsePHC(s string) (p Params, salt, key []byte, err error) {
	v, p, salt, key, err := parseArgon2PHC(s)
	if err == nil && v != argon2id {
		return Params{}, nil, nil, malformed("unsupported algorithm")
	}
	return p, salt, key, err
}

// parseArgon2PHC reads an argon2id or argon2i PHC string (version 19, the only
// one x/crypto/argon2 computes), as parsePHC does.
func parseArgon2PHC(s string) (variant string, p Params, salt, key []byte, err error) {
	f := strings.Split(s, "$")
	if len(f) != 6 || f[0] != "" {
		return "", Params{}, nil, nil, malformed("not a PHC string")
	}
	if f[1] != argon2id && f[1] != argon2i {
		return "", Params{}, nil, nil, malformed("unsupported algorithm")
	}
	if f[2] != "v="+strconv.Itoa(argon2.Version) {
		return "", Params{}, nil, nil, malformed("unsupported argon2 version")
	}
	kv := strings.Split(f[3], ",")
	if len(kv) != 3 {
		return "", Params{}, nil, nil, malformed("parameters are not m,t,p")
	}
	m, err1 := parseParam(kv[0], "m=", 32)
	t, err2 := parseParam(kv[1], "t=", 32)
	th, err3 := parseParam(kv[2], "p=", 8)
	if err := errors.Join(err1, err2, err3); err != nil {
		return "", Params{}, nil, nil, malformed("parameters are not m,t,p")
	}
	p = Params{Memory: uint32(m), Time: uint32(t), Threads: uint8(th)}
	if err := p.check(); err != nil {
		return "", Params{}, nil, nil, malformed(err.Error())
	}
	if salt, err = b64.DecodeString(f[4]); err != nil {
		return "", Params{}, nil, nil, malformed("salt is not base64")
	}
	if len(salt) < minSaltLen || len(salt) > maxSaltLen {
		return "", Params{}, nil, nil, malformed("salt length out of range")
	}
	if key, err = b64.DecodeString(f[5]); err != nil {
		return "", Params{}, nil, nil, malformed("key is not base64")
	}
	if len(key) < minKeyLen || len(key) > maxKeyLen {
		return "", Params{}, nil, nil, malformed("key length out of range")
	}
	return f[1], p, salt, key, nil
}

func parseParam(s, prefix string, bits int) (uint64, error) {
	v, ok := strings.CutPrefix(s, prefix)
	if !ok {
		return 0, errors.New("missing " + prefix)
	}
	return strconv.ParseUint(v, 10, bits)
}

// check reports whether p is within the limits Verify accepts. argon2 itself
// panics on zero time or threads, and libargon2 rejects memory below 8 KiB
// per lane.
func (p Params) check() error {
	switch {
	case p.Time < 1 || p.Time > maxTime:
		return errors.New("argon2 time out of range")
	case p.Threads < 1 || p.Threads > maxThreads:
		return errors.New("argon2 threads out of range")
	case p.Memory < 8*uint32(p.Threads) || p.Memory > maxMemory:
		return errors.New("argon2 memory out of range")
	}
	return nil
}

// malformed is an error that matches ErrMalformed and says why, without
// echoing the hash (it is a secret in its own right).
type malformed string

func (e malformed) Error() string { return ErrMalformed.Error() + ": " + string(e) }
func (e malformed) Unwrap() error { return ErrMalformed }
