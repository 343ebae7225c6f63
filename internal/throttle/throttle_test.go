package throttle_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/lanyard/lanyard"
	"github.com/lanyard/lanyard/internal/lanyardtest"
	"github.com/lanyard/lanyard/internal/store"
	"github.com/lanyard/lanyard/internal/throttle"
)

// The throttle's arithmetic, against the real store with a clock that moves only
// when the test moves it. What a refused login looks like over HTTP (429, Retry-After,
// the problem document) is httpapi's throttle_test.go.

// limits are a limiter's configured limits; zero fields take a test default.
type limits struct {
	login, register int
	key             []byte // the data key; nil: a random one
}

// newLimiter builds a limiter on a fresh database and clock.
func newLimiter(t *testing.T, lim limits) (*throttle.Limiter, *lanyardtest.Clock) {
	t.Helper()
	clock := lanyardtest.NewClock()
	return limiterOn(t, lanyardtest.OpenStore(t), clock, lim), clock
}

// limiterOn builds a limiter on st reading clock, as a second instance would.
func limiterOn(t *testing.T, st *store.Store, clock *lanyardtest.Clock, lim limits) *throttle.Limiter {
	t.Helper()
	if lim.key == nil {
		lim.key = dataKey()
	}
	l, err := throttle.New(throttle.Options{Store: st, LoginFailureLimit: lim.login, RegisterLimit: lim.register, DataKey: lim.key, Now: clock.Now})
	if err != nil {
		t.Fatalf("throttle.New: %v", err)
	}
	return l
}

func dataKey() []byte {
	k := make([]byte, 32)
	rand.Read(k)
	return k
}

// user is an account that exists, with no known address yet.
func user() lanyard.User { return lanyard.User{ID: store.NewID()} }

// retryAfter is the wait a refusal asks for; ok is false when err is no refusal.
func retryAfter(err error) (wait time.Duration, ok bool) {
	var te *lanyard.ThrottledError
	if errors.As(err, &te) {
		return te.RetryAfter, true
	}
	return 0, false
}

// begin starts a login attempt for acct from addr, failing the test unless BeginLogin
// lets it through.
func begin(t *testing.T, l *throttle.Limiter, acct throttle.Account, addr string) *throttle.Attempt {
	t.Helper()
	a, err := l.BeginLogin(context.Background(), acct, addr)
	if err != nil {
		t.Fatalf("BeginLogin from %q = %v; want the attempt let through", addr, err)
	}
	return a
}

// fail makes one login attempt for acct from addr that BeginLogin must let through,
// and fails it (a wrong password).
func fail(t *testing.T, l *throttle.Limiter, acct throttle.Account, addr string) {
	t.Helper()
	if err := begin(t, l, acct, addr).Failed(context.Background()); err != nil {
		t.Fatalf("Failed: %v", err)
	}
}

// succeed makes one login attempt for acct from addr that BeginLogin must let
// through, and records its success.
func succeed(t *testing.T, l *throttle.Limiter, acct throttle.Account, addr string) {
	t.Helper()
	if err := begin(t, l, acct, addr).Succeeded(context.Background()); err != nil {
		t.Fatalf("Succeeded: %v", err)
	}
}

// refused fails the test unless a login attempt for acct from addr is refused now,
// asking to wait exactly want.
func refused(t *testing.T, l *throttle.Limiter, acct throttle.Account, addr string, want time.Duration) {
	t.Helper()
	_, err := l.BeginLogin(context.Background(), acct, addr)
	if wait, ok := retryAfter(err); !ok || wait != want {
		t.Fatalf("BeginLogin from %q = %v (retry after %v); want refused, retry after %v", addr, err, wait, want)
	}
}

const addr = "203.0.113.7"

func TestLogin_TheFailureThatReachesTheLimitBlocksForASecondAndEachFurtherOneDoubles(t *testing.T) {
	t.Parallel()
	// Each block waited out lets one attempt through, which sets the next block at
	// once, double the last, up to MaxBlock.
	want := []time.Duration{1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900}
	for _, limit := range []int{1, 3, 5} {
		t.Run(fmt.Sprintf("limit %d", limit), func(t *testing.T) {
			t.Parallel()
			l, clock := newLimiter(t, limits{login: limit})
			acct := throttle.KnownAccount(user())
			for i := range limit {
				fail(t, l, acct, fmt.Sprintf("198.51.100.%d", i+1))
			}
			for i, w := range want {
				w *= time.Second
				refused(t, l, acct, addr, w)
				clock.Advance(w - time.Millisecond)
				refused(t, l, acct, addr, time.Millisecond)
				clock.Advance(time.Millisecond)
				if _, err := l.BeginLogin(context.Background(), acct, addr); err != nil {
					t.Fatalf("block %d (%v) waited out: BeginLogin = %v; want the attempt let through", i, w, err)
				}
			}
		})
	}
}

func TestLogin_RefusedAttemptsAreNotCountedSoWaitingOutABlockIsNeverPunished(t *testing.T) {
	t.Parallel()
	l, clock := newLimiter(t, limits{login: 3})
	acct := throttle.KnownAccount(user())
	for range 3 {
		fail(t, l, acct, addr)
	}
	for range 10 {
		refused(t, l, acct, addr, time.Second)
	}
	clock.Advance(time.Second)
	fail(t, l, acct, addr)
	refused(t, l, acct, addr, 2*time.Second) // one failure beyond the limit, not eleven
}

func TestLogin_FailuresCountInAFixedWindowFromTheFirst(t *testing.T) {
	t.Parallel()
	const limit = 3
	for _, c := range []struct {
		name    string
		at      []time.Duration // when each failure happens, from the first
		blocked bool            // whether an attempt right after the last is refused
	}{
		{"three at once", []time.Duration{0, 0, 0}, true},
		{"the third a moment before the window ends", []time.Duration{0, 10 * time.Minute, 15*time.Minute - time.Millisecond}, true},
		{"the third as the window ends", []time.Duration{0, 10 * time.Minute, 15 * time.Minute}, false},
		// A sliding window would count the last three, all within 15 minutes.
		{"three within fifteen minutes across the window's end", []time.Duration{0, 14 * time.Minute, 15 * time.Minute, 16 * time.Minute}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			l, clock := newLimiter(t, limits{login: limit})
			acct := throttle.KnownAccount(user())
			start := clock.Now()
			for _, at := range c.at {
				clock.Advance(start.Add(at).Sub(clock.Now()))
				fail(t, l, acct, addr)
			}
			_, err := l.BeginLogin(context.Background(), acct, addr)
			if _, got := retryAfter(err); got != c.blocked {
				t.Fatalf("failures at %v, then BeginLogin = %v; want refused: %v", c.at, err, c.blocked)
			}
		})
	}
}

func TestLogin_AReachedLimitIsKeptUntilAWindowAfterTheLastBlockEnds(t *testing.T) {
	t.Parallel()
	const limit = 2
	for _, c := range []struct {
		name      string
		quiet     time.Duration // after the block ends
		nextBlock time.Duration // what the next failure's successor waits; 0: let through
	}{
		{"quiet a moment less than the window", throttle.LoginWindow - time.Millisecond, 2 * time.Second},
		{"quiet for the window", throttle.LoginWindow, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			l, clock := newLimiter(t, limits{login: limit})
			acct := throttle.KnownAccount(user())
			for range limit {
				fail(t, l, acct, addr)
			}
			clock.Advance(throttle.FirstBlock + c.quiet)
			fail(t, l, acct, addr)
			_, err := l.BeginLogin(context.Background(), acct, addr)
			if wait, _ := retryAfter(err); wait != c.nextBlock || (c.nextBlock == 0 && err != nil) {
				t.Fatalf("BeginLogin after %v quiet and one failure = %v (retry after %v); want retry after %v (0: let through)", c.quiet, err, wait, c.nextBlock)
			}
		})
	}
}

func TestLogin_RetryAfterIsWhatRemainsOfTheBlock(t *testing.T) {
	t.Parallel()
	for _, passed := range []time.Duration{0, time.Millisecond, 1500 * time.Millisecond, 4*time.Second - time.Millisecond} {
		t.Run(passed.String(), func(t *testing.T) {
			t.Parallel()
			l, clock := newLimiter(t, limits{login: 1})
			acct := throttle.KnownAccount(user())
			fail(t, l, acct, addr) // blocked 1s
			clock.Advance(time.Second)
			fail(t, l, acct, addr) // blocked 2s
			clock.Advance(2 * time.Second)
			fail(t, l, acct, addr) // blocked 4s
			clock.Advance(passed)
			refused(t, l, acct, addr, 4*time.Second-passed)
		})
	}
}

func TestLogin_SuccessForgetsTheAccountsFailures(t *testing.T) {
	t.Parallel()
	l, _ := newLimiter(t, limits{login: 3})
	acct := throttle.KnownAccount(user())
	for range 2 {
		fail(t, l, acct, addr)
	}
	succeed(t, l, acct, addr)
	for range 3 {
		fail(t, l, acct, addr) // the third reaches the limit again, from zero
	}
	refused(t, l, acct, addr, time.Second)
}

func TestLogin_AbandonedAttemptsCountAgainstNobody(t *testing.T) {
	t.Parallel()
	l, _ := newLimiter(t, limits{login: 1}) // the address's ceiling is 10
	acct := throttle.KnownAccount(user())
	for range 15 {
		begin(t, l, acct, addr).Abandon(context.Background()) // let through after abandoned attempts
	}
	for i := range 10 {
		fail(t, l, l.UnknownAccount(fmt.Sprintf("nobody-%d", i)), addr)
	}
	refused(t, l, l.UnknownAccount("nobody-else"), addr, time.Second)
}

func TestLogin_TheAddressCountsFailuresForEveryAccountAndASuccessDoesNotResetIt(t *testing.T) {
	t.Parallel()
	const limit = 2 // the address's ceiling: 20
	l, _ := newLimiter(t, limits{login: limit})
	for i := range throttle.AddressFactor*limit - 1 {
		fail(t, l, l.UnknownAccount(fmt.Sprintf("nobody-%d", i)), addr)
	}
	owner := throttle.KnownAccount(user())
	succeed(t, l, owner, addr) // the owner logs in below the ceiling

	fail(t, l, l.UnknownAccount("the-last-one"), addr) // the 20th failure
	refused(t, l, l.UnknownAccount("a-fresh-one"), addr, time.Second)
	refused(t, l, owner, addr, time.Second)
	fail(t, l, l.UnknownAccount("a-fresh-one"), "203.0.113.8")
}

func TestLogin_AddressesAreCountedPerIPv4AddressAndPerIPv6Slash64(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		a, b   string
		shared bool
	}{
		{"192.0.2.1", "192.0.2.1", true},
		{"192.0.2.1", "192.0.2.2", false},
		{"192.0.2.1", "::ffff:192.0.2.1", true},
		{"2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:ffff", true},
		{"2001:db8:1:2::1", "2001:db8:1:3::1", false},
		{"", "", false}, // no address, no address counter
	} {
		t.Run(fmt.Sprintf("%q then %q", c.a, c.b), func(t *testing.T) {
			t.Parallel()
			l, _ := newLimiter(t, limits{login: 1}) // the address's ceiling is 10
			for i := range 10 {
				fail(t, l, l.UnknownAccount(fmt.Sprintf("nobody-%d", i)), c.a)
			}
			_, err := l.BeginLogin(context.Background(), l.UnknownAccount("someone-else"), c.b)
			if _, got := retryAfter(err); got != c.shared {
				t.Fatalf("10 failures from %q, then BeginLogin from %q = %v; want refused: %v", c.a, c.b, err, c.shared)
			}
		})
	}
}

func TestLogin_UnknownLoginsAreCountedUnderAHashKeyedByTheDataKey(t *testing.T) {
	t.Parallel()
	key := dataKey()
	for _, c := range []struct {
		name   string
		other  func(t *testing.T, st *store.Store, clock *lanyardtest.Clock) (*throttle.Limiter, string)
		shared bool
	}{
		{"the same login", func(t *testing.T, st *store.Store, clock *lanyardtest.Clock) (*throttle.Limiter, string) {
			return limiterOn(t, st, clock, limits{login: 3, key: key}), "ghost@example.com"
		}, true},
		{"another login", func(t *testing.T, st *store.Store, clock *lanyardtest.Clock) (*throttle.Limiter, string) {
			return limiterOn(t, st, clock, limits{login: 3, key: key}), "ghost2@example.com"
		}, false},
		{"the same login on an instance with another data key", func(t *testing.T, st *store.Store, clock *lanyardtest.Clock) (*throttle.Limiter, string) {
			return limiterOn(t, st, clock, limits{login: 3}), "ghost@example.com"
		}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			st, clock := lanyardtest.OpenStore(t), lanyardtest.NewClock()
			l := limiterOn(t, st, clock, limits{login: 3, key: key})
			for i := range 3 {
				fail(t, l, l.UnknownAccount("ghost@example.com"), fmt.Sprintf("198.51.100.%d", i+1))
			}
			other, login := c.other(t, st, clock)
			_, err := other.BeginLogin(context.Background(), other.UnknownAccount(login), addr)
			if _, got := retryAfter(err); got != c.shared {
				t.Fatalf("3 failures for ghost@example.com, then BeginLogin for %s = %v; want refused: %v", login, err, c.shared)
			}
			for _, d := range lanyardtest.RawDocs(t, st.Raw(), "throttle", nil) {
				if id := fmt.Sprint(d["_id"]); bytes.Contains(bytes.ToLower([]byte(id)), []byte("ghost")) {
					t.Errorf("throttle key %q holds the login in clear", id)
				}
			}
		})
	}
}

func TestLogin_AKnownAddressIsExemptFromTheAccountsBlockForThirtyDays(t *testing.T) {
	t.Parallel()
	const home = "2001:db8:aa:bb::1"
	for _, c := range []struct {
		name   string
		age    time.Duration // since the login that made home known
		from   string
		exempt bool
	}{
		{"from home, known a day", 24 * time.Hour, home, true},
		{"from home, known a moment less than thirty days", throttle.KnownFor - time.Millisecond, home, true},
		{"from home, known thirty days", throttle.KnownFor, home, false},
		{"from elsewhere in home's /64", time.Hour, "2001:db8:aa:bb:1234::9", true},
		{"from another /64", time.Hour, "2001:db8:aa:bc::1", false},
		{"with no address", time.Hour, "", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			l, clock := newLimiter(t, limits{login: 2})
			u := user()
			u.KnownAddrs = l.Remember(u, home)
			clock.Advance(c.age)
			for range 2 {
				fail(t, l, throttle.KnownAccount(u), "198.51.100.9")
			}
			_, err := l.BeginLogin(context.Background(), throttle.KnownAccount(u), c.from)
			if wait, blocked := retryAfter(err); blocked == c.exempt || (blocked && wait != time.Second) {
				t.Fatalf("account blocked by strangers, BeginLogin from %q = %v; want exempt: %v", c.from, err, c.exempt)
			}
		})
	}
}

func TestLogin_AnExemptAttemptIsCountedAndItsSuccessLeavesTheStrangersBlock(t *testing.T) {
	t.Parallel()
	const stranger = "198.51.100.9"
	l, clock := newLimiter(t, limits{login: 2})
	u := user()
	u.KnownAddrs = l.Remember(u, addr)
	acct := throttle.KnownAccount(u)
	for range 2 {
		fail(t, l, acct, stranger)
	}
	succeed(t, l, acct, addr) // from the known address
	refused(t, l, acct, stranger, time.Second)
	fail(t, l, acct, addr) // counted: the third failure
	clock.Advance(time.Second)
	if _, err := l.BeginLogin(context.Background(), acct, stranger); err != nil {
		t.Fatalf("BeginLogin after the block = %v", err)
	}
	refused(t, l, acct, stranger, 4*time.Second) // the fourth failure: the exempt one was counted
}

func TestLogin_AKnownAddressStillHasItsOwnCeiling(t *testing.T) {
	t.Parallel()
	l, _ := newLimiter(t, limits{login: 1}) // the address's ceiling is 10
	u := user()
	u.KnownAddrs = l.Remember(u, addr)
	for i := range 10 {
		fail(t, l, l.UnknownAccount(fmt.Sprintf("nobody-%d", i)), addr)
	}
	refused(t, l, throttle.KnownAccount(u), addr, time.Second)
}

func TestRemember_KeepsAtMostTheTenMostRecentAddressesOfThirtyDaysAsKeyedMarks(t *testing.T) {
	t.Parallel()
	at := func(i int) string { return fmt.Sprintf("192.0.2.%d", i) }
	t.Run("a new address is added, most recent first, as a 16-byte mark", func(t *testing.T) {
		t.Parallel()
		l, clock := newLimiter(t, limits{login: 1})
		u := user()
		u.KnownAddrs = l.Remember(u, at(1))
		clock.Advance(time.Hour)
		got := l.Remember(u, at(2))
		if len(got) != 2 || !got[0].Seen.Equal(clock.Now()) || !got[1].Seen.Equal(u.KnownAddrs[0].Seen) {
			t.Fatalf("Remember(second address) = %v; want it first, the first address after", got)
		}
		for _, k := range got {
			if ip := netip.MustParseAddr(at(1)).AsSlice(); len(k.Mark) != 16 || bytes.Contains(k.Mark, ip) || bytes.Contains(k.Mark, []byte(at(1))) {
				t.Errorf("mark %x; want 16 bytes of a keyed hash, not the address", k.Mark)
			}
		}
	})
	for _, c := range []struct {
		name  string
		after time.Duration
		write bool
	}{
		{"a known address a moment less than a day old needs no write", 24*time.Hour - time.Millisecond, false},
		{"a known address a day old is written down again", 24 * time.Hour, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			l, clock := newLimiter(t, limits{login: 1})
			u := user()
			u.KnownAddrs = l.Remember(u, at(1))
			clock.Advance(c.after)
			got := l.Remember(u, at(1))
			if (got != nil) != c.write || (c.write && (len(got) != 1 || !got[0].Seen.Equal(clock.Now()))) {
				t.Fatalf("Remember(the known address) after %v = %v; want a write: %v", c.after, got, c.write)
			}
		})
	}
	t.Run("addresses of thirty days are dropped", func(t *testing.T) {
		t.Parallel()
		l, clock := newLimiter(t, limits{login: 1})
		u := user()
		u.KnownAddrs = l.Remember(u, at(1))
		clock.Advance(time.Hour)
		u.KnownAddrs = l.Remember(u, at(2))
		clock.Advance(throttle.KnownFor - time.Hour)
		got := l.Remember(u, at(3))
		if len(got) != 2 || !got[1].Seen.Equal(u.KnownAddrs[0].Seen) {
			t.Fatalf("Remember 30 days after the first address = %v; want the new one and the second", got)
		}
	})
	t.Run("beyond ten the least recent go", func(t *testing.T) {
		t.Parallel()
		l, clock := newLimiter(t, limits{login: 1})
		u := user()
		for i := range 12 {
			clock.Advance(time.Minute)
			u.KnownAddrs = l.Remember(u, at(i+1))
		}
		if len(u.KnownAddrs) != throttle.MaxKnown {
			t.Fatalf("%d known addresses; want %d", len(u.KnownAddrs), throttle.MaxKnown)
		}
		for i, k := range u.KnownAddrs {
			if want := clock.Now().Add(-time.Duration(i) * time.Minute); !k.Seen.Equal(want) {
				t.Errorf("known address %d seen %v; want %v (the most recent first)", i, k.Seen, want)
			}
		}
		if got := l.Remember(u, at(12)); got != nil {
			t.Errorf("Remember(the latest address) = %v; want nil", got)
		}
	})
	t.Run("no address is no change", func(t *testing.T) {
		t.Parallel()
		l, _ := newLimiter(t, limits{login: 1})
		if got := l.Remember(user(), ""); got != nil {
			t.Fatalf("Remember(\"\") = %v; want nil", got)
		}
	})
}

func TestLogin_ConcurrentAttemptsGetExactlyTheLimit(t *testing.T) {
	t.Parallel()
	const limit, n = 5, 30
	l, _ := newLimiter(t, limits{login: limit})
	acct := throttle.KnownAccount(user())
	errs := make([]error, n)
	lanyardtest.AtOnce(n, func(i int) {
		_, errs[i] = l.BeginLogin(context.Background(), acct, fmt.Sprintf("198.51.100.%d", i+1))
	})
	through := 0
	for _, err := range errs {
		if _, ok := retryAfter(err); !ok && err != nil {
			t.Fatalf("BeginLogin = %v", err)
		}
		if err == nil {
			through++
		}
	}
	if through != limit {
		t.Fatalf("%d concurrent attempts with a limit of %d: %d let through; want exactly %d", n, limit, through, limit)
	}
}

func TestRegister_AtMostTheLimitPerAddressInAFixedHourFromTheFirst(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		from string
		at   time.Duration // from the first registration
		wait time.Duration // the refusal's; 0: let through
	}{
		{"the fourth, ten minutes before the hour ends", addr, 50 * time.Minute, 10 * time.Minute},
		{"the fourth, a moment before", addr, time.Hour - time.Millisecond, time.Millisecond},
		{"the fourth, as the hour ends", addr, time.Hour, 0},
		{"the fourth, from another address", "203.0.113.8", 50 * time.Minute, 0},
		{"the fourth, from an IPv4-mapped form of the address", "::ffff:" + addr, 50 * time.Minute, 10 * time.Minute},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			l, clock := newLimiter(t, limits{login: 1, register: 3})
			for range 3 {
				if err := l.Register(context.Background(), addr); err != nil {
					t.Fatalf("Register within the limit = %v", err)
				}
				clock.Advance(10 * time.Minute)
			}
			clock.Advance(c.at - 30*time.Minute)
			err := l.Register(context.Background(), c.from)
			if wait, _ := retryAfter(err); wait != c.wait || (c.wait == 0 && err != nil) {
				t.Fatalf("Register = %v (retry after %v); want retry after %v (0: let through)", err, wait, c.wait)
			}
		})
	}
	t.Run("with no address nothing is counted", func(t *testing.T) {
		t.Parallel()
		l, _ := newLimiter(t, limits{login: 1, register: 1})
		for range 3 {
			if err := l.Register(context.Background(), ""); err != nil {
				t.Fatalf("Register with no address = %v", err)
			}
		}
	})
}

func TestClaim_TwentyConflictsPerAccountPerHourThenEveryClaimIsRefused(t *testing.T) {
	t.Parallel()
	l, clock := newLimiter(t, limits{login: 1})
	me, other := store.NewID().Hex(), store.NewID().Hex()
	for range 50 { // released claims, which did not conflict, count for nothing
		c, err := l.BeginClaim(context.Background(), me)
		if err != nil {
			t.Fatalf("BeginClaim = %v", err)
		}
		c.Release(context.Background())
	}
	for i := range throttle.ConflictLimit {
		if _, err := l.BeginClaim(context.Background(), me); err != nil {
			t.Fatalf("conflict %d: BeginClaim = %v", i+1, err)
		}
	}
	clock.Advance(45 * time.Minute)
	_, err := l.BeginClaim(context.Background(), me)
	if wait, _ := retryAfter(err); wait != 15*time.Minute {
		t.Fatalf("BeginClaim after %d conflicts = %v (retry after %v); want retry after 15m", throttle.ConflictLimit, err, wait)
	}
	if _, err := l.BeginClaim(context.Background(), other); err != nil {
		t.Fatalf("another account's BeginClaim = %v", err)
	}
	clock.Advance(15 * time.Minute)
	if _, err := l.BeginClaim(context.Background(), me); err != nil {
		t.Fatalf("BeginClaim in the next hour = %v", err)
	}
}

func TestSweep_DeletesOnlyExpiredCounters(t *testing.T) {
	t.Parallel()
	l, clock := newLimiter(t, limits{login: 2, register: 10})
	fail(t, l, l.UnknownAccount("nobody"), addr) // two counters, 15 minutes
	if err := l.Register(context.Background(), addr); err != nil {
		t.Fatal(err) // one counter, an hour
	}
	for _, step := range []struct {
		advance time.Duration
		swept   int64
	}{{0, 0}, {15*time.Minute - time.Millisecond, 0}, {time.Millisecond, 2}, {45 * time.Minute, 1}} {
		clock.Advance(step.advance)
		n, err := l.Sweep(context.Background())
		if err != nil || n != step.swept {
			t.Fatalf("Sweep at %v = %d, %v; want %d", clock.Now(), n, err, step.swept)
		}
	}
}

func TestLimiter_NilLimitsNothing(t *testing.T) {
	t.Parallel()
	var l *throttle.Limiter
	for range 100 {
		a, err := l.BeginLogin(context.Background(), l.UnknownAccount("nobody"), addr)
		if err != nil {
			t.Fatalf("nil BeginLogin = %v", err)
		}
		if err := a.Failed(context.Background()); err != nil {
			t.Fatalf("nil Failed = %v", err)
		}
		if err := l.Register(context.Background(), addr); err != nil {
			t.Fatalf("nil Register = %v", err)
		}
		if _, err := l.BeginClaim(context.Background(), "me"); err != nil {
			t.Fatalf("nil BeginClaim = %v", err)
		}
	}
}
