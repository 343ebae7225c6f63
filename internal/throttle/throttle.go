// Package throttle slows down password guessing and mass registration. Its counters
// live in the store's throttle collection, so every instance sharing the database
// counts against the same limits, and a restart forgets nothing.
//
// The policy:
//   - Failed logins per account: a fixed window of LoginWindow opens at the first
//     failure. The failure that reaches the limit blocks the account for FirstBlock,
//     and each further failure doubles the block, up to MaxBlock — never a permanent
//     lock. Once the limit is reached the counter is kept until LoginWindow after the
//     latest block ends, so the back-off keeps growing until the account has been
//     quiet for that long. A successful login forgets the account's failures.
//     An account that does not exist is counted under a keyed hash of the login, so
//     guessing at unknown names is throttled too without storing the names.
//     Every check of a current password (an email change, a password change, an
//     account deletion) is such an attempt too, so a stolen access token guesses
//     no faster than a login.
//   - A known address — one the account logged in from successfully within
//     KnownFor — is exempt from the account's block: strangers' guesses cannot lock
//     the owner out at home. Its attempts still count, and its own address count
//     applies. Known addresses are kept in the user document as keyed hashes, at
//     most MaxKnown of them.
//   - Failed logins per client address: the same, with AddressFactor times the
//     account limit, whichever accounts they were for. A success does not reset it.
//   - Answers that reveal that an email, username or external ID is taken: at most
//     ConflictLimit per account per ConflictWindow (a fixed window); beyond, every
//     change that could be such an answer is a 429 until the window ends.
//   - Registrations per client address: at most the limit per RegisterWindow (a fixed
//     window from the first attempt); beyond, a 429 until the window ends.
//   - Mails: at most MailAddressLimit requests that may send one per client address,
//     and MailAccountLimit mails of one kind per account, per MailWindow (mail.go).
//
// Every check happens before any password is hashed, so a blocked attempt costs no
// hashing and is refused even with the right password — unless the account's block
// is all that stands in its way and the address is known. IPv6 addresses are counted
// per /64, the block one subscriber usually holds.
package throttle

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lanyard/lanyard"
	"github.com/lanyard/lanyard/internal/store"
	"github.com/lanyard/lanyard/internal/subkey"
)

// The numbers of the policy; the limits themselves come from the configuration.
const (
	LoginWindow    = 15 * time.Minute
	FirstBlock     = time.Second
	MaxBlock       = 15 * time.Minute
	AddressFactor  = 10
	RegisterWindow = time.Hour
	ConflictLimit  = 20
	ConflictWindow = time.Hour
	// KnownFor is how long a successful login makes its address a known one.
	KnownFor = 30 * 24 * time.Hour
	// MaxKnown bounds the known addresses of an account; the least recent go first.
	MaxKnown = 10
	// knownRefresh is how old a known address's time may get before a login from
	// it is written down again: most logins leave the list as it is, and an address
	// is forgotten at most this much early.
	knownRefresh = 24 * time.Hour
	// SweepEvery is how often expired counters should be swept (Sweep; the app runs it).
	SweepEvery = time.Minute
)

// Options are what a Limiter needs.
type Options struct {
	Store *store.Store
	// LoginFailureLimit is the failed logins per account per LoginWindow before back-off.
	LoginFailureLimit int
	// RegisterLimit is the registrations per client address per RegisterWindow.
	RegisterLimit int
	// DataKey is the root key (LANYARD_DATA_KEY, 32 bytes) of the HMAC-SHA256 keys
	// under which unknown logins are counted and known addresses are kept. Every
	// instance shares it, and it is not the key that signs access tokens.
	DataKey []byte
	Now     func() time.Time      // nil: time.Now
	Metrics prometheus.Registerer // nil: the throttled-request counter is not exported
}

// Limiter applies the policy. A nil *Limiter limits nothing.
type Limiter struct {
	st       *store.Store
	key      []byte
	markKey  []byte // the key of known addresses' marks
	now      func() time.Time
	account  rule
	address  rule
	register rule
	conflict rule
	// mail requests per client address, and mails of one kind per account (mail.go)
	mailAddress, mailAccount rule
	throttled                *prometheus.CounterVec
}

// rule is one kind of counter.
type rule struct {
	name   string // the metric label
	limit  int
	window time.Duration
}

// HKDF info strings of the throttle's subkeys of LANYARD_DATA_KEY.
const (
	infoUnknownLogin = "lanyard/throttle/unknown-login/v1"
	infoKnownAddress = "lanyard/throttle/known-address/v1"
)

// New returns a Limiter.
func New(o Options) (*Limiter, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	key, err := subkey.Derive(o.DataKey, infoUnknownLogin)
	if err != nil {
		return nil, fmt.Errorf("throttle key: %w", err)
	}
	markKey, err := subkey.Derive(o.DataKey, infoKnownAddress)
	if err != nil {
		return nil, fmt.Errorf("throttle key: %w", err)
	}
	l := &Limiter{
		st:          o.Store,
		key:         key,
		markKey:     markKey,
		now:         o.Now,
		account:     rule{name: "login_account", limit: o.LoginFailureLimit, window: LoginWindow},
		address:     rule{name: "login_address", limit: AddressFactor * o.LoginFailureLimit, window: LoginWindow},
		register:    rule{name: "register", limit: o.RegisterLimit, window: RegisterWindow},
		conflict:    rule{name: "conflict", limit: ConflictLimit, window: ConflictWindow},
		mailAddress: rule{name: "mail_address", limit: MailAddressLimit, window: MailWindow},
		mailAccount: rule{name: "mail_account", limit: MailAccountLimit, window: MailWindow},
		throttled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lanyard_throttled_total",
			Help: "Requests refused with 429, by the limit that refused them.",
		}, []string{"limit"}),
	}
	if o.Metrics != nil {
		o.Metrics.MustRegister(l.throttled)
	}
	return l, nil
}

// Account is an account as the login throttle counts it.
type Account struct {
	key   string
	known []lanyard.KnownAddress
}

// KnownAccount is the account of u, with the addresses it logged in from lately.
func KnownAccount(u lanyard.User) Account {
	return Account{key: "login:acct:" + u.ID.Hex(), known: u.KnownAddrs}
}

// UnknownAccount is a login, normalised as the account lookup normalises it, that
// names no account. It is counted under a keyed hash, so the throttle collection
// never holds the names that were tried.
func (l *Limiter) UnknownAccount(login string) Account {
	if l == nil {
		return Account{}
	}
	return Account{key: "login:acct:h:" + base64.RawURLEncoding.EncodeToString(mac(l.key, login))}
}

func mac(key []byte, s string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(s))
	return m.Sum(nil)
}

// mark is what a known address is stored as: the first 16 bytes of a keyed hash of
// its counter key, so an IPv6 address is known per /64 as it is counted; nil for no
// address.
func (l *Limiter) mark(addr string) []byte {
	key := addressKey("", addr)
	if key == "" {
		return nil
	}
	return mac(l.markKey, key)[:16]
}

// knows reports whether acct logged in from the address marked m within KnownFor.
func (acct Account) knows(m []byte, now time.Time) bool {
	if m == nil {
		return false
	}
	for _, k := range acct.known {
		if hmac.Equal(k.Mark, m) {
			return now.Sub(k.Seen) < KnownFor
		}
	}
	return false
}

// Remember returns u's known addresses once it has logged in from addr now, for the
// caller to store (store.SessionsChange.KnownAddrs), or nil when they need no change
// because addr is known already, freshly enough. Addresses older than KnownFor are
// dropped, and beyond MaxKnown the least recent.
func (l *Limiter) Remember(u lanyard.User, addr string) []lanyard.KnownAddress {
	if l == nil {
		return nil
	}
	m := l.mark(addr)
	if m == nil {
		return nil
	}
	now := l.now()
	kept := []lanyard.KnownAddress{{Mark: m, Seen: now}}
	for _, k := range u.KnownAddrs {
		if hmac.Equal(k.Mark, m) {
			if now.Sub(k.Seen) < knownRefresh {
				return nil
			}
			continue
		}
		if now.Sub(k.Seen) < KnownFor {
			kept = append(kept, k)
		}
	}
	slices.SortStableFunc(kept[1:], func(a, b lanyard.KnownAddress) int { return b.Seen.Compare(a.Seen) })
	return kept[:min(len(kept), MaxKnown)]
}

// addressKey names the counter of a client address; "" when there is none. IPv6
// addresses are counted per /64.
func addressKey(prefix, addr string) string {
	if addr == "" {
		return ""
	}
	if a, err := netip.ParseAddr(addr); err == nil {
		a = a.Unmap()
		if a.Is6() {
			return prefix + netip.PrefixFrom(a, 64).Masked().String()
		}
		return prefix + a.String()
	}
	return prefix + addr
}

// Attempt is a login attempt that BeginLogin let through; tell it the outcome.
type Attempt struct {
	l       *Limiter
	account string
	address string
	nAcct   int  // the account's count with this attempt reserved
	nAddr   int  // the address's count with this attempt reserved
	exempt  bool // let through a block of the account because the address is known
}

// BeginLogin decides whether a login for acct from the client address addr may check
// its password now. The attempt is counted here, before the password is hashed, as a
// failure until it proves otherwise: a burst of concurrent guesses therefore cannot all
// pass the check while the count is still low. Beyond the limit, an attempt goes
// ahead only once the last block has passed, and it sets the next block at once, so
// concurrent attempts find it. A refused attempt returns a *lanyard.ThrottledError
// carrying the wait, and the password must not be checked. From an address the
// account knows, a block of the account does not refuse the attempt (the address's
// own count still does).
//
// Checks of a current password by a signed-in user are login attempts too.
func (l *Limiter) BeginLogin(ctx context.Context, acct Account, addr string) (*Attempt, error) {
	if l == nil {
		return nil, nil
	}
	a := &Attempt{l: l, account: acct.key, address: addressKey("login:ip:", addr)}
	now := l.now()
	var err error
	if a.address != "" {
		if a.nAddr, _, err = l.reserve(ctx, l.address, a.address, now, false); err != nil {
			return nil, err
		}
	}
	if a.nAcct, a.exempt, err = l.reserve(ctx, l.account, a.account, now, acct.knows(l.mark(addr), now)); err != nil {
		if a.address != "" {
			_ = l.st.ThrottleUndo(context.WithoutCancel(ctx), a.address)
		}
		return nil, err
	}
	return a, nil
}

// reserve counts one attempt on key, in one write that also returns the counter. A
// key that is blocked now refuses the attempt and takes the count back, so waiting
// out a block is never punished. Up to the limit an attempt is let through. Beyond,
// it is let through only if a block had been set and has passed; either way the next
// block is set now. A refused attempt is a *lanyard.ThrottledError.
//
// exempt lets an attempt through that a block would refuse, counted like any other;
// exempted says that this happened.
func (l *Limiter) reserve(ctx context.Context, r rule, key string, now time.Time, exempt bool) (n int, exempted bool, err error) {
	e, err := l.st.ThrottleAdd(ctx, key, now, r.window)
	if err != nil {
		return 0, false, fmt.Errorf("throttle: %w", err)
	}
	if e.BlockedUntil.After(now) {
		if exempt {
			return e.Failures, true, nil
		}
		_ = l.st.ThrottleUndo(context.WithoutCancel(ctx), key) // at worst one failure too many is counted
		return 0, false, l.refuse(r, e.BlockedUntil.Sub(now))
	}
	if e.Failures <= r.limit {
		return e.Failures, false, nil
	}
	until := now.Add(backoff(e.Failures - r.limit))
	if err := l.st.ThrottleBlock(ctx, key, until, until.Add(r.window)); err != nil {
		return 0, false, fmt.Errorf("throttle: %w", err)
	}
	if e.BlockedUntil.IsZero() {
		// Concurrent with the attempts that reached the limit, before their
		// failures set the first block: refused.
		if exempt {
			return e.Failures, true, nil
		}
		return 0, false, l.refuse(r, until.Sub(now))
	}
	return e.Failures, false, nil
}

// Failed records that the attempt did not log in: wrong password, unknown account,
// or an account that cannot log in. The attempt was already counted; the one that
// reached the limit starts the first block.
func (a *Attempt) Failed(ctx context.Context) error {
	if a == nil {
		return nil
	}
	now := a.l.now()
	for _, k := range []struct {
		key string
		n   int
		r   rule
	}{{a.account, a.nAcct, a.l.account}, {a.address, a.nAddr, a.l.address}} {
		if k.key == "" || k.n != k.r.limit {
			continue
		}
		until := now.Add(backoff(0))
		if err := a.l.st.ThrottleBlock(ctx, k.key, until, until.Add(k.r.window)); err != nil {
			return fmt.Errorf("throttle: %w", err)
		}
	}
	return nil
}

// Abandon takes the attempt back when the password could not be checked at all (the
// hasher was saturated, or the request ended): it was neither a success nor a failure.
func (a *Attempt) Abandon(ctx context.Context) {
	if a == nil {
		return
	}
	ctx = context.WithoutCancel(ctx) // the request may be over; the count must still be right
	for _, key := range []string{a.account, a.address} {
		if key != "" {
			_ = a.l.st.ThrottleUndo(ctx, key) // at worst one failure too many is counted
		}
	}
}

// Succeeded forgets the account's failures and takes the attempt back from the
// address's count. An attempt that a known address let past the account's block
// only takes itself back: the block is the strangers', and stays for them.
func (a *Attempt) Succeeded(ctx context.Context) error {
	if a == nil {
		return nil
	}
	forget := a.l.st.ThrottleReset
	if a.exempt {
		forget = a.l.st.ThrottleUndo
	}
	if err := forget(ctx, a.account); err != nil {
		return fmt.Errorf("throttle: %w", err)
	}
	if a.address != "" {
		if err := a.l.st.ThrottleUndo(ctx, a.address); err != nil {
			return fmt.Errorf("throttle: %w", err)
		}
	}
	return nil
}

// Passed takes the attempt back from the account's count and the address's without
// forgetting the account's failures: a first factor (a right password) that a second
// one must follow. Only the second factor's success (Succeeded) forgets them, so
// whoever holds the password guesses codes no faster than passwords.
func (a *Attempt) Passed(ctx context.Context) error {
	if a == nil {
		return nil
	}
	for _, key := range []string{a.account, a.address} {
		if key == "" {
			continue
		}
		if err := a.l.st.ThrottleUndo(ctx, key); err != nil {
			return fmt.Errorf("throttle: %w", err)
		}
	}
	return nil
}

// backoff is the block after n failures beyond the one that reached the limit:
// FirstBlock doubled n times, at most MaxBlock.
func backoff(n int) time.Duration {
	if n >= 30 {
		return MaxBlock
	}
	return min(FirstBlock<<n, MaxBlock)
}

// Register counts one registration attempt from the client address addr, and refuses
// it with a *lanyard.ThrottledError when the address is over its limit.
func (l *Limiter) Register(ctx context.Context, addr string) error {
	if l == nil {
		return nil
	}
	key := addressKey("register:ip:", addr)
	if key == "" {
		return nil
	}
	now := l.now()
	e, err := l.st.ThrottleAdd(ctx, key, now, l.register.window)
	if err != nil {
		return fmt.Errorf("throttle: %w", err)
	}
	if e.Failures > l.register.limit {
		return l.refuse(l.register, e.ExpiresAt.Sub(now))
	}
	return nil
}

// Claim is a change that BeginClaim let through and that may turn out to conflict
// with another account's email, username or external ID.
type Claim struct {
	l   *Limiter
	key string
}

// BeginClaim counts, for the account with this user id, one change that may answer
// "already taken", before the change is tried: a burst of concurrent probes cannot
// all pass while the count is low. Beyond ConflictLimit within the window it is a
// *lanyard.ThrottledError, whether or not the value is taken, so the refusal itself
// tells nothing. Give the count back with Release unless the change conflicted.
func (l *Limiter) BeginClaim(ctx context.Context, userID string) (*Claim, error) {
	if l == nil {
		return nil, nil
	}
	key := "conflict:acct:" + userID
	now := l.now()
	e, err := l.st.ThrottleAdd(ctx, key, now, l.conflict.window)
	if err != nil {
		return nil, fmt.Errorf("throttle: %w", err)
	}
	if e.Failures > l.conflict.limit {
		return nil, l.refuse(l.conflict, e.ExpiresAt.Sub(now))
	}
	return &Claim{l: l, key: key}, nil
}

// Release takes back a claim that did not conflict (it succeeded, or failed for
// another reason).
func (c *Claim) Release(ctx context.Context) {
	if c == nil {
		return
	}
	_ = c.l.st.ThrottleUndo(context.WithoutCancel(ctx), c.key) // at worst one conflict too many is counted
}

func (l *Limiter) refuse(r rule, wait time.Duration) error {
	l.throttled.WithLabelValues(r.name).Inc()
	return &lanyard.ThrottledError{RetryAfter: wait}
}

// Sweep deletes the counters that have expired. Expired counters already count as
// absent, so sweeping only keeps the collection small.
func (l *Limiter) Sweep(ctx context.Context) (int64, error) {
	n, err := l.st.ThrottleSweep(ctx, l.now())
	if err != nil {
		return 0, fmt.Errorf("throttle: %w", err)
	}
	return n, nil
}
