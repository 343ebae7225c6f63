package httpapi_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/lanyard/lanyard/internal/lanyardtest"
)

// throttleEnv starts a service whose clock moves only when the test moves it
// (clockStart is in tokens_test.go).
func throttleEnv(t *testing.T, opts ...lanyardtest.Option) (*lanyardtest.Env, *lanyardtest.Clock) {
	t.Helper()
	clock := lanyardtest.NewClockAt(clockStart)
	return lanyardtest.New(t, append([]lanyardtest.Option{lanyardtest.WithClock(clock.Now)}, opts...)...), clock
}

// failLogins logs in as login with a wrong password n times, each expected to be 401.
func failLogins(t *testing.T, env *lanyardtest.Env, login string, n int) {
	t.Helper()
	for range n {
		expect(t, loginWith(env, login, "wrong password"), "login with a wrong password", http.StatusUnauthorized)
	}
}

// loginFrom sends a JSON login carrying X-Forwarded-For: xff.
func loginFrom(env *lanyardtest.Env, login, pw, xff string) *lanyardtest.Response {
	return env.Do("POST", "/api/auth/login", map[string]any{"login": login, "password": pw}, "X-Forwarded-For", xff)
}

// registerFrom sends a registration carrying X-Forwarded-For: xff.
func registerFrom(env *lanyardtest.Env, email, xff string) *lanyardtest.Response {
	return env.Do("POST", "/api/auth/register", map[string]any{"email": email, "password": lanyardtest.DefaultPassword}, "X-Forwarded-For", xff)
}

// registerOnly registers an account without logging it in. It knows no address yet,
// so a block of the account holds for every address, the test's own included (an
// account that logged in from an address is not blocked there: known_test.go).
func registerOnly(t *testing.T, env *lanyardtest.Env, prefix string) lanyardtest.Account {
	t.Helper()
	a := lanyardtest.Account{Email: fmt.Sprintf("%s-%d@example.com", prefix, time.Now().UnixNano()), Password: lanyardtest.DefaultPassword}
	r := env.Do("POST", "/api/auth/register", map[string]any{"email": a.Email, "password": a.Password})
	expect(t, r, "register "+a.Email, http.StatusCreated)
	a.ID, _ = r.Map(t)["id"].(string)
	return a
}

// spoofed is a different made-up X-Forwarded-For for every i.
func spoofed(i int) string { return fmt.Sprintf("198.51.%d.%d", i/250, i%250+1) }

// expectThrottled fails the test unless r is a 429 problem whose Retry-After is
// exactly seconds.
func expectThrottled(t *testing.T, r *lanyardtest.Response, req string, seconds int) {
	t.Helper()
	if r.Status != http.StatusTooManyRequests {
		t.Fatalf("%s = %d; want %d; body: %s", req, r.Status, http.StatusTooManyRequests, r.Body)
	}
	if got := r.Header.Get("Retry-After"); got != strconv.Itoa(seconds) {
		t.Fatalf("%s: Retry-After = %q; want %q", req, got, strconv.Itoa(seconds))
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("%s: Content-Type = %q; want application/problem+json", req, ct)
	}
}

func TestLogin_AccountOverTheFailureLimitIsThrottledEvenWithTheRightPasswordAndAnyForwardedFor(t *testing.T) {
	t.Parallel()
	env, _ := throttleEnv(t, lanyardtest.WithEnv("LANYARD_LOGIN_FAILURE_LIMIT", "3"))
	a := registerOnly(t, env, "ada")
	for i := range 3 {
		expect(t, loginFrom(env, a.Email, "wrong password", spoofed(i)), "login with a wrong password", http.StatusUnauthorized)
	}
	expectThrottled(t, loginFrom(env, a.Email, a.Password, spoofed(3)), "login with the right password after 3 failures", 1)
	expectThrottled(t, loginFrom(env, a.Email, "wrong password", spoofed(4)), "login with a wrong password after 3 failures", 1)

	metrics := env.Do("GET", "/metrics", nil)
	expect(t, metrics, "GET /metrics", http.StatusOK)
	if want := `lanyard_throttled_total{limit="login_account"} 2`; !strings.Contains(string(metrics.Body), want) {
		t.Errorf("GET /metrics does not contain %q", want)
	}
}

func TestLogin_ThrottledAccountGetsOneAttemptOnceRetryAfterHasPassed(t *testing.T) {
	t.Parallel()
	env, clock := throttleEnv(t, lanyardtest.WithEnv("LANYARD_LOGIN_FAILURE_LIMIT", "3"))
	a := registerOnly(t, env, "ada")
	failLogins(t, env, a.Email, 3)
	expectThrottled(t, loginWith(env, a.Email, a.Password), "login after 3 failures", 1)

	clock.Advance(time.Second)
	expect(t, loginWith(env, a.Email, "wrong password"), "wrong password once the block has passed", http.StatusUnauthorized)
	expectThrottled(t, loginWith(env, a.Email, a.Password), "login right after that failure", 2)

	clock.Advance(2 * time.Second)
	expect(t, loginWith(env, a.Email, a.Password), "right password once the block has passed", http.StatusOK)
}

func TestLogin_BackOffDoublesWithEachFailureAndStopsAtFifteenMinutes(t *testing.T) {
	t.Parallel()
	env, clock := throttleEnv(t, lanyardtest.WithEnv("LANYARD_LOGIN_FAILURE_LIMIT", "2"))
	a := registerOnly(t, env, "ada")
	failLogins(t, env, a.Email, 2)
	for i, wait := range []int{1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900} {
		expectThrottled(t, loginWith(env, a.Email, a.Password), fmt.Sprintf("login after %d failures", 2+i), wait)
		clock.Advance(time.Duration(wait) * time.Second)
		expect(t, loginWith(env, a.Email, "wrong password"), "wrong password once the block has passed", http.StatusUnauthorized)
	}
	expectThrottled(t, loginWith(env, a.Email, a.Password), "login after 14 failures", 900)
	clock.Advance(15 * time.Minute)
	expect(t, loginWith(env, a.Email, a.Password), "right password after the longest block", http.StatusOK)
}

func TestLogin_SuccessForgetsTheAccountsFailures(t *testing.T) {
	t.Parallel()
	env, _ := throttleEnv(t,
		lanyardtest.WithEnv("LANYARD_LOGIN_FAILURE_LIMIT", "3"),
		lanyardtest.WithEnv("LANYARD_TRUSTED_PROXIES", "127.0.0.1/32"))
	a := registerOnly(t, env, "ada")
	for round := range 2 {
		for range 2 {
			expect(t, loginWith(env, a.Email, "wrong password"), fmt.Sprintf("round %d: wrong password", round), http.StatusUnauthorized)
		}
		expect(t, loginWith(env, a.Email, a.Password), fmt.Sprintf("round %d: right password after 2 failures", round), http.StatusOK)
	}
	// The counter still works after a reset, for an address the account does not
	// know (its own one it now knows).
	failLogins(t, env, a.Email, 3)
	expectThrottled(t, loginFrom(env, a.Email, a.Password, "203.0.113.7"), "login from elsewhere after 3 failures since the last success", 1)
}

func TestLogin_FailuresByEmailAndByUsernameCountForTheSameAccount(t *testing.T) {
	t.Parallel()
	env, _ := throttleEnv(t, lanyardtest.WithEnv("LANYARD_LOGIN_FAILURE_LIMIT", "3"))
	expect(t, env.Do("POST", "/api/auth/register", map[string]any{"email": "ada@example.com", "username": "Ada", "password": lanyardtest.DefaultPassword}),
		"register ada", http.StatusCreated)
	for _, login := range []string{"ada@example.com", "ada", "ADA@example.com"} {
		expect(t, loginWith(env, login, "wrong password"), fmt.Sprintf("login %q with a wrong password", login), http.StatusUnauthorized)
	}
	expectThrottled(t, loginWith(env, "Ada", lanyardtest.DefaultPassword), "login by username after 3 failures", 1)
}

func TestLogin_FailuresOutsideTheFifteenMinuteWindowAreForgotten(t *testing.T) {
	t.Parallel()
	env, clock := throttleEnv(t, lanyardtest.WithEnv("LANYARD_LOGIN_FAILURE_LIMIT", "3"))
	a := registerOnly(t, env, "ada")
	b := registerOnly(t, env, "bob")

	// Within the window (it opens at the first failure), failures add up.
	for _, step := range []time.Duration{0, 7 * time.Minute, 7 * time.Minute} {
		clock.Advance(step)
		expect(t, loginWith(env, a.Email, "wrong password"), "ada: wrong password", http.StatusUnauthorized)
	}
	expectThrottled(t, loginWith(env, a.Email, a.Password), "ada: 3 failures within 14 minutes", 1)

	// Across windows they do not.
	for _, step := range []time.Duration{0, 0, 15 * time.Minute} {
		clock.Advance(step)
		expect(t, loginWith(env, b.Email, "wrong password"), "bob: wrong password", http.StatusUnauthorized)
	}
	expect(t, loginWith(env, b.Email, b.Password), "bob: 2 failures, then 1 fifteen minutes later", http.StatusOK)
}

func TestLogin_ConcurrentFailuresAreAllCounted(t *testing.T) {
	t.Parallel()
	env, _ := throttleEnv(t, lanyardtest.WithEnv("LANYARD_LOGIN_FAILURE_LIMIT", "20"))
	a := registerOnly(t, env, "ada")
	statuses := make([]int, 19)
	lanyardtest.AtOnce(len(statuses), func(i int) { statuses[i] = loginWith(env, a.Email, "wrong password").Status })
	for i, st := range statuses {
		if st != http.StatusUnauthorized {
			t.Fatalf("concurrent wrong password #%d = %d; want %d", i, st, http.StatusUnauthorized)
		}
	}
	expect(t, loginWith(env, a.Email, "wrong password"), "20th wrong password", http.StatusUnauthorized)
	// Had any of the 20 failures been lost, this would not be refused yet.
	expectThrottled(t, loginWith(env, a.Email, a.Password), "login after 20 failures", 1)
}

func TestLogin_UnknownAccountIsThrottledWithoutItsNameBeingStored(t *testing.T) {
	t.Parallel()
	env, _ := throttleEnv(t, lanyardtest.WithEnv("LANYARD_LOGIN_FAILURE_LIMIT", "3"))
	for range 3 {
		expect(t, loginWith(env, "nobody@example.com", "some password"), "login for an unknown account", http.StatusUnauthorized)
	}
	expectThrottled(t, loginWith(env, "nobody@example.com", "some password"), "unknown account after 3 failures", 1)
	expectThrottled(t, loginWith(env, "  NoBody@Example.COM ", "some password"), "the same login differently cased", 1)

	docs := lanyardtest.RawDocs(t, env.DB, "throttle", nil)
	if len(docs) == 0 {
		t.Fatal("throttle collection is empty; want the counters of the failures")
	}
	for _, d := range docs {
		if id := fmt.Sprint(d["_id"]); strings.Contains(strings.ToLower(id), "nobody") {
			t.Errorf("throttle key %q holds the login in clear", id)
		}
	}
}

func TestLogin_FailuresOverManyAccountsFromOneAddressHitTheAddressCeiling(t *testing.T) {
	t.Parallel()
	// Account limit 2, so the address ceiling is 20; the peer is not a trusted proxy,
	// so the made-up X-Forwarded-For on every request changes nothing.
	env, _ := throttleEnv(t, lanyardtest.WithEnv("LANYARD_LOGIN_FAILURE_LIMIT", "2"))
	a := env.Register("ada")
	for i := range 19 {
		expect(t, loginFrom(env, fmt.Sprintf("guess%d@example.com", i), "some password", spoofed(i)), "login for an unknown account", http.StatusUnauthorized)
	}
	expect(t, loginFrom(env, a.Email, a.Password, spoofed(19)), "right password after 19 failures from the address", http.StatusOK)
	expect(t, loginFrom(env, "guess19@example.com", "some password", spoofed(20)), "20th failure from the address", http.StatusUnauthorized)

	expectThrottled(t, loginFrom(env, a.Email, a.Password, spoofed(21)), "right password after 20 failures from the address", 1)
	expectThrottled(t, loginFrom(env, "guess20@example.com", "some password", spoofed(22)), "a fresh unknown account after 20 failures from the address", 1)
}

func TestLogin_BehindATrustedProxyEachForwardedAddressHasItsOwnCeiling(t *testing.T) {
	t.Parallel()
	// Account limit 1, so the address ceiling is 10.
	env, _ := throttleEnv(t,
		lanyardtest.WithEnv("LANYARD_LOGIN_FAILURE_LIMIT", "1"),
		lanyardtest.WithEnv("LANYARD_TRUSTED_PROXIES", "127.0.0.1/32"))
	for i := range 10 {
		expect(t, loginFrom(env, fmt.Sprintf("guess%d@example.com", i), "some password", "203.0.113.7"), "login for an unknown account", http.StatusUnauthorized)
	}
	expectThrottled(t, loginFrom(env, "other@example.com", "some password", "203.0.113.7"), "11th login from 203.0.113.7", 1)
	// The client may prepend anything; the proxy's own entry decides.
	expectThrottled(t, loginFrom(env, "other@example.com", "some password", "192.0.2.1, 203.0.113.7"), "login forwarded for a spoofed hop and 203.0.113.7", 1)
	expect(t, loginFrom(env, "other@example.com", "some password", "203.0.113.8"), "first login from 203.0.113.8", http.StatusUnauthorized)
}

func TestLogin_IPv6AddressesShareTheCeilingOfTheirSlash64(t *testing.T) {
	t.Parallel()
	// Account limit 1, so the address ceiling is 10.
	env, _ := throttleEnv(t,
		lanyardtest.WithEnv("LANYARD_LOGIN_FAILURE_LIMIT", "1"),
		lanyardtest.WithEnv("LANYARD_TRUSTED_PROXIES", "127.0.0.1/32"))
	for i := range 10 {
		expect(t, loginFrom(env, fmt.Sprintf("guess%d@example.com", i), "some password", fmt.Sprintf("2001:db8:0:7::%x", i+1)),
			"login for an unknown account", http.StatusUnauthorized)
	}
	expectThrottled(t, loginFrom(env, "other@example.com", "some password", "2001:db8:0:7:ffff:ffff:ffff:ffff"), "login from the same /64", 1)
	expect(t, loginFrom(env, "other@example.com", "some password", "2001:db8:0:8::1"), "login from the next /64", http.StatusUnauthorized)
}

func TestRegister_BeyondTheLimitPerAddressIs429UntilTheHourIsOver(t *testing.T) {
	t.Parallel()
	env, clock := throttleEnv(t, lanyardtest.WithEnv("LANYARD_REGISTER_LIMIT", "3"))
	// Invalid registrations are not counted.
	for i := range 5 {
		expect(t, env.Do("POST", "/api/auth/register", map[string]any{"email": "not an email", "password": "x"}, "X-Forwarded-For", spoofed(i)),
			"invalid registration", http.StatusUnprocessableEntity)
	}
	expect(t, registerFrom(env, "ada@example.com", spoofed(5)), "register ada", http.StatusCreated)
	expect(t, registerFrom(env, "bob@example.com", spoofed(6)), "register bob", http.StatusCreated)
	// Probing for a taken email counts like any registration.
	expect(t, registerFrom(env, "ada@example.com", spoofed(7)), "register ada again", http.StatusConflict)
	expectThrottled(t, registerFrom(env, "cyd@example.com", spoofed(8)), "4th registration within the hour", 3600)

	clock.Advance(59 * time.Minute)
	expectThrottled(t, registerFrom(env, "cyd@example.com", spoofed(9)), "registration 59 minutes later", 60)
	clock.Advance(time.Minute)
	expect(t, registerFrom(env, "cyd@example.com", spoofed(10)), "registration an hour later", http.StatusCreated)
}

// The strength estimate costs milliseconds of CPU, outside the hashing slots: every
// registration whose password it estimates counts against the address first, so one
// address cannot have it run without bound by sending passwords it refuses.
func TestRegister_PasswordsRefusedAsTooEasyCountAgainstTheLimitPerAddress(t *testing.T) {
	t.Parallel()
	env, _ := throttleEnv(t, lanyardtest.WithEnv("LANYARD_REGISTER_LIMIT", "3"))
	weak := func(email string) *lanyardtest.Response {
		return env.Do("POST", "/api/auth/register", map[string]any{"email": email, "password": strings.Repeat("1234567890", 4)[:32]})
	}
	for i := range 2 {
		r := weak(fmt.Sprintf("weak%d@example.com", i))
		wantLocations(t, problem(t, r, "registration with a too easy password", http.StatusUnprocessableEntity), "POST /api/auth/register", "body.password")
	}
	// Another field's refusal counts too once the password is estimated.
	r := env.Do("POST", "/api/auth/register", map[string]any{"email": "not an email", "password": lanyardtest.DefaultPassword})
	expect(t, r, "registration with a bad email and a password to estimate", http.StatusUnprocessableEntity)
	expectThrottled(t, weak("weak3@example.com"), "4th registration with a too easy password", 3600)
	expectThrottled(t, registerFrom(env, "ada@example.com", ""), "4th registration, a valid one", 3600)
}

func TestThrottle_RequestsTouchCountersOnlyByID(t *testing.T) {
	t.Parallel()
	env, clock := throttleEnv(t,
		lanyardtest.WithEnv("LANYARD_LOGIN_FAILURE_LIMIT", "2"),
		lanyardtest.WithEnv("LANYARD_REGISTER_LIMIT", "1"))
	a := registerOnly(t, env, "ada")
	env.Commands.Reset()

	// Every path: count, block, refuse, reset, restart an expired window, register.
	failLogins(t, env, a.Email, 2)
	expectThrottled(t, loginWith(env, a.Email, a.Password), "login after 2 failures", 1)
	clock.Advance(time.Second)
	expect(t, loginWith(env, a.Email, a.Password), "right password after the block", http.StatusOK)
	expect(t, loginWith(env, "nobody@example.com", "some password"), "unknown account", http.StatusUnauthorized)
	clock.Advance(16 * time.Minute)
	expect(t, loginWith(env, "nobody@example.com", "some password"), "unknown account, a window later", http.StatusUnauthorized)
	expectThrottled(t, registerFrom(env, "bob@example.com", ""), "second registration", 3600-16*60-1)

	for _, name := range []string{"find", "findAndModify", "update", "delete"} {
		if env.Commands.Count(name) == 0 {
			t.Errorf("no %s command was sent; the test no longer covers it", name)
		}
	}
	filters := env.Commands.Filters("throttle")
	if len(filters) == 0 {
		t.Fatal("no command filtered the throttle collection")
	}
	for _, f := range filters {
		elems, err := f.Elements()
		if err != nil {
			t.Fatalf("filter %s: %v", f, err)
		}
		if len(elems) == 1 && elems[0].Key() == "expires_at" {
			continue // the background sweep, if this test ran long enough to see it
		}
		if len(elems) != 1 || elems[0].Key() != "_id" || elems[0].Value().Type != bson.TypeString {
			t.Errorf("throttle filter %s; want exactly {_id: <key>}", f)
		}
	}
}

func TestThrottle_SweepDeletesOnlyExpiredCounters(t *testing.T) {
	t.Parallel()
	env, clock := throttleEnv(t)
	expect(t, loginWith(env, "nobody@example.com", "some password"), "unknown account", http.StatusUnauthorized) // 2 counters, 15 minutes
	expect(t, registerFrom(env, "ada@example.com", ""), "register", http.StatusCreated)                          // 1 counter, an hour
	count := func() int64 {
		t.Helper()
		return lanyardtest.RawCount(t, env.DB, "throttle", nil)
	}
	if n := count(); n != 3 {
		t.Fatalf("throttle counters = %d; want 3", n)
	}
	sweep := func() int64 {
		t.Helper()
		n, err := env.App.Throttle.Sweep(context.Background())
		if err != nil {
			t.Fatalf("Sweep: %v", err)
		}
		return n
	}
	if n := sweep(); n != 0 {
		t.Errorf("Sweep before anything expired deleted %d; want 0", n)
	}
	clock.Advance(15 * time.Minute)
	if n := sweep(); n != 2 {
		t.Errorf("Sweep after 15 minutes deleted %d; want 2", n)
	}
	if n := count(); n != 1 {
		t.Errorf("throttle counters after the sweep = %d; want 1 (the registration counter)", n)
	}
}

func TestLogin_ConcurrentBurstGetsNoMoreGuessesThanTheLimit(t *testing.T) {
	t.Parallel()
	env := lanyardtest.New(t, lanyardtest.WithEnv("LANYARD_LOGIN_FAILURE_LIMIT", "5"))
	a := registerOnly(t, env, "ada")
	const n = 30
	statuses := make([]int, n)
	lanyardtest.AtOnce(n, func(i int) {
		statuses[i] = env.Do("POST", "/api/auth/login", map[string]any{"email": a.Email, "password": "wrong guess number " + strconv.Itoa(i)}).Status
	})
	counts := map[int]int{}
	for _, s := range statuses {
		counts[s]++
	}
	if counts[http.StatusUnauthorized] > 5 || counts[http.StatusUnauthorized]+counts[http.StatusTooManyRequests] != n {
		t.Fatalf("30 concurrent wrong guesses with a limit of 5: %v; want at most 5 checked (401), the rest 429", counts)
	}
}

// Instances share the throttle through the database; the keys of its HMACs (an
// unknown login's counter, an account's known addresses) come from LANYARD_DATA_KEY,
// so instances that sign tokens with different secrets still count as one.
func TestLogin_InstancesWithOneDataKeyShareTheThrottleWhateverTheirJWTSecrets(t *testing.T) {
	t.Parallel()
	dataKey, db := make([]byte, 32), make([]byte, 8)
	rand.Read(dataKey)
	rand.Read(db)
	clock := lanyardtest.NewClockAt(clockStart)
	instance := func(jwtSecret string) *lanyardtest.Env {
		return lanyardtest.New(t,
			lanyardtest.WithClock(clock.Now),
			lanyardtest.WithEnv("LANYARD_DB", "t_"+hex.EncodeToString(db)),
			lanyardtest.WithEnv("LANYARD_DATA_KEY", base64.StdEncoding.EncodeToString(dataKey)),
			lanyardtest.WithEnv("LANYARD_JWT_SECRET", jwtSecret),
			lanyardtest.WithEnv("LANYARD_LOGIN_FAILURE_LIMIT", "3"),
			lanyardtest.WithEnv("LANYARD_TRUSTED_PROXIES", "127.0.0.1/32"))
	}
	one := instance(base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 32)))
	two := instance(base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{2}, 32)))

	for range 3 {
		expect(t, loginFrom(one, "nobody@example.com", "some password", attacker), "instance one: login for an unknown account", http.StatusUnauthorized)
	}
	expectThrottled(t, loginFrom(two, "nobody@example.com", "some password", newPlace), "instance two: the unknown account after 3 failures on instance one", 1)

	a := registerOnly(t, one, "ada")
	expect(t, loginFrom(one, a.Email, a.Password, home), "instance one: the owner's login from home", http.StatusOK)
	for range 3 {
		expect(t, loginFrom(one, a.Email, "wrong password", attacker), "instance one: the attacker's guess", http.StatusUnauthorized)
	}
	expectThrottled(t, loginFrom(two, a.Email, a.Password, newPlace), "instance two: the right password from a new address while blocked", 1)
	expect(t, loginFrom(two, a.Email, a.Password, home), "instance two: the right password from the home instance one knows", http.StatusOK)
}
