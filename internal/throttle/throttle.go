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
//   - Failed logins per client address: the same, with AddressFactor times the
//     account limit, whichever accounts they were for. A success does not reset it.
//   - Registrations per client address: at most the limit per RegisterWindow (a fixed
//     window from the first attempt); beyond, a 429 until the window ends.
//
// Every check happens before any password is hashed, so a blocked attempt costs no
// hashing and is refused even with the right password. IPv6 addresses are counted
// per /64, the block one subscriber usually holds.
package throttle

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/netip"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lanyard/lanyard"
	"github.com/lanyard/lanyard/internal/store"
)

// The numbers of the policy; the limits themselves come from the configuration.
const (
	LoginWindow    = 15 * time.Minute
	FirstBlock     = time.Second
	MaxBlock       = 15 * time.Minute
	AddressFactor  = 10
	RegisterWindow = time.Hour
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
	// Key is the HMAC-SHA256 key under which unknown logins are counted.
	Key     []byte
	Now     func() time.Time      // nil: time.Now
	Metrics prometheus.Registerer // nil: the throttled-request counter is not exported
}

// Limiter applies the policy. A nil *Limiter limits nothing.
type Limiter struct {
	st        *store.Store
	key       []byte
	now       func() time.Time
	account   rule
	address   rule
	register  rule
	throttled *prometheus.CounterVec
}

// rule is one kind of counter.
type rule struct {
	name   string // the metric label
	limit  int
	window time.Duration
}

// New returns a Limiter.
func New(o Options) *Limiter {
	if o.Now == nil {
		o.Now = time.Now
	}
	l := &Limiter{
		st:       o.Store,
		key:      o.Key,
		now:      o.Now,
		account:  rule{name: "login_account", limit: o.LoginFailureLimit, window: LoginWindow},
		address:  rule{name: "login_address", limit: AddressFactor * o.LoginFailureLimit, window: LoginWindow},
		register: rule{name: "register", limit: o.RegisterLimit, window: RegisterWindow},
		throttled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lanyard_throttled_total",
			Help: "Requests refused with 429, by the limit that refused them.",
		}, []string{"limit"}),
	}
	if o.Metrics != nil {
		o.Metrics.MustRegister(l.throttled)
	}
	return l
}

// Account is an account as the login throttle counts it.
type Account struct{ key string }

// KnownAccount is the account with this user id.
func KnownAccount(userID string) Account { return Account{key: "login:acct:" + userID} }

// UnknownAccount is a login, normalised as the account lookup normalises it, that
// names no account. It is counted under a keyed hash, so the throttle collection
// never holds the names that were tried.
func (l *Limiter) UnknownAccount(login string) Account {
	if l == nil {
		return Account{}
	}
	m := hmac.New(sha256.New, l.key)
	m.Write([]byte(login))
	return Account{key: "login:acct:h:" + base64.RawURLEncoding.EncodeToString(m.Sum(nil))}
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
	nAcct   int // the account's count with this attempt reserved
	nAddr   int // the address's count with this attempt reserved
}

// BeginLogin decides whether a login for acct from the client address addr may check
// its password now. The attempt is counted here, before the password is hashed, as a
// failure until it proves otherwise: a burst of concurrent guesses therefore cannot all
// pass the check while the count is still low. Beyond the limit, an attempt goes
// ahead only once the last block has passed, and it sets the next block at once, so
// concurrent attempts find it. A refused attempt returns a *lanyard.ThrottledError
// carrying the wait, and the password must not be checked.
func (l *Limiter) BeginLogin(ctx context.Context, acct Account, addr string) (*Attempt, error) {
	if l == nil {
		return nil, nil
	}
	a := &Attempt{l: l, account: acct.key, address: addressKey("login:ip:", addr)}
	now := l.now()
	var err error
	if a.address != "" {
		if a.nAddr, err = l.reserve(ctx, l.address, a.address, now); err != nil {
			return nil, err
		}
	}
	if a.nAcct, err = l.reserve(ctx, l.account, a.account, now); err != nil {
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
func (l *Limiter) reserve(ctx context.Context, r rule, key string, now time.Time) (int, error) {
	e, err := l.st.ThrottleAdd(ctx, key, now, r.window)
	if err != nil {
		return 0, fmt.Errorf("throttle: %w", err)
	}
	if e.BlockedUntil.After(now) {
		_ = l.st.ThrottleUndo(context.WithoutCancel(ctx), key) // at worst one failure too many is counted
		return 0, l.refuse(r, e.BlockedUntil.Sub(now))
	}
	if e.Failures <= r.limit {
		return e.Failures, nil
	}
	until := now.Add(backoff(e.Failures - r.limit))
	if err := l.st.ThrottleBlock(ctx, key, until, until.Add(r.window)); err != nil {
		return 0, fmt.Errorf("throttle: %w", err)
	}
	if e.BlockedUntil.IsZero() {
		// Concurrent with the attempts that reached the limit, before their
		// failures set the first block: refused.
		return 0, l.refuse(r, until.Sub(now))
	}
	return e.Failures, nil
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
// address's count.
func (a *Attempt) Succeeded(ctx context.Context) error {
	if a == nil {
		return nil
	}
	if err := a.l.st.ThrottleReset(ctx, a.account); err != nil {
		return fmt.Errorf("throttle: %w", err)
	}
	if a.address != "" {
		if err := a.l.st.ThrottleUndo(ctx, a.address); err != nil {
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
