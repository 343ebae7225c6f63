package httpapi_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/lanyard/lanyard/internal/lanyardtest"
)

// knownEnv is a service behind a trusted proxy (the test itself), so each request's
// X-Forwarded-For is its client address, with an account limit of 3.
func knownEnv(t *testing.T, opts ...lanyardtest.Option) (*lanyardtest.Env, *lanyardtest.Clock) {
	t.Helper()
	return throttleEnv(t, append([]lanyardtest.Option{
		lanyardtest.WithEnv("LANYARD_LOGIN_FAILURE_LIMIT", "3"),
		lanyardtest.WithEnv("LANYARD_TRUSTED_PROXIES", "127.0.0.1/32"),
	}, opts...)...)
}

const (
	home     = "198.51.100.10" // where the owner logged in from
	attacker = "203.0.113.66"
	newPlace = "192.0.2.44" // where the owner never logged in from
)

// Strangers' guesses block the account for strangers, not for its owner at an address
// the account logged in from within 30 days.
func TestLogin_FailuresFromElsewhereDoNotLockTheOwnerOutAtAKnownAddress(t *testing.T) {
	t.Parallel()
	env, clock := knownEnv(t)
	a := registerOnly(t, env, "ada")
	expect(t, loginFrom(env, a.Email, a.Password, home), "the owner's login from home", http.StatusOK)
	expect(t, loginFrom(env, a.Email, a.Password, "2001:db8:0:7::1"), "the owner's login from an IPv6 address", http.StatusOK)

	clock.Advance(29 * 24 * time.Hour)
	for range 3 {
		expect(t, loginFrom(env, a.Email, "wrong password", attacker), "the attacker's guess", http.StatusUnauthorized)
	}
	expectThrottled(t, loginFrom(env, a.Email, a.Password, attacker), "the right password from the attacker's address", 1)
	expectThrottled(t, loginFrom(env, a.Email, a.Password, newPlace), "the right password from a new address while blocked", 1)
	expect(t, loginFrom(env, a.Email, a.Password, home), "the right password from home while blocked", http.StatusOK)
	// The owner's success is no reset for the strangers.
	expectThrottled(t, loginFrom(env, a.Email, a.Password, newPlace), "the right password from a new address after the owner's login", 1)
	// From home a wrong password is still just wrong, and the right one still works.
	expect(t, loginFrom(env, a.Email, "wrong password", home), "a wrong password from home while blocked", http.StatusUnauthorized)
	expect(t, loginFrom(env, a.Email, a.Password, home), "the right password from home after a typo", http.StatusOK)
	// An IPv6 address is known by its /64, as it is counted.
	expect(t, loginFrom(env, a.Email, a.Password, "2001:db8:0:7:ffff::2"), "the owner from the same /64 while blocked", http.StatusOK)
	expectThrottled(t, loginFrom(env, a.Email, a.Password, "2001:db8:0:8::1"), "the right password from the next /64 while blocked", 1)
}

func TestLogin_AnAddressIsKnownForThirtyDaysAfterItsLastLogin(t *testing.T) {
	t.Parallel()
	env, clock := knownEnv(t)
	a := registerOnly(t, env, "ada")
	expect(t, loginFrom(env, a.Email, a.Password, home), "the owner's login from home", http.StatusOK)
	clock.Advance(30 * 24 * time.Hour)
	for range 3 {
		expect(t, loginFrom(env, a.Email, "wrong password", attacker), "the attacker's guess", http.StatusUnauthorized)
	}
	expectThrottled(t, loginFrom(env, a.Email, a.Password, home), "the right password from an address last used 30 days ago", 1)
}

func TestLogin_AKnownAddressStillHasItsOwnCeiling(t *testing.T) {
	t.Parallel()
	// Account limit 1, so the address ceiling is 10.
	env, _ := knownEnv(t, lanyardtest.WithEnv("LANYARD_LOGIN_FAILURE_LIMIT", "1"))
	a := registerOnly(t, env, "ada")
	expect(t, loginFrom(env, a.Email, a.Password, home), "the owner's login from home", http.StatusOK)
	for i := range 10 {
		expect(t, loginFrom(env, fmt.Sprintf("guess%d@example.com", i), "some password", home), "a guess from home", http.StatusUnauthorized)
	}
	expectThrottled(t, loginFrom(env, a.Email, a.Password, home), "the right password from a known address over its own ceiling", 1)
}

// Known addresses live in the user document as keyed hashes, at most 10, the least
// recent dropped first; the address is in no document in clear.
func TestLogin_KnownAddressesAreStoredAsAtMostTenKeyedHashes(t *testing.T) {
	t.Parallel()
	env, clock := knownEnv(t)
	a := registerOnly(t, env, "ada")
	for i := range 12 {
		clock.Advance(time.Minute)
		expect(t, loginFrom(env, a.Email, a.Password, fmt.Sprintf("198.51.100.%d", 100+i)), "login", http.StatusOK)
	}
	oid, err := bson.ObjectIDFromHex(a.ID)
	if err != nil {
		t.Fatal(err)
	}
	var doc bson.M
	if !lanyardtest.RawDoc(t, env.DB, "users", bson.D{{Key: "_id", Value: oid}}, &doc) {
		t.Fatal("user not stored")
	}
	known, _ := doc["known_addrs"].(bson.A)
	if len(known) != 10 {
		t.Fatalf("known_addrs holds %d entries; want 10", len(known))
	}
	if s := fmt.Sprint(doc); strings.Contains(s, "198.51.100.") {
		t.Errorf("the user document holds a client address in clear: %s", s)
	}
	// The two least recent are forgotten, the ten others known.
	for range 3 {
		expect(t, loginFrom(env, a.Email, "wrong password", attacker), "the attacker's guess", http.StatusUnauthorized)
	}
	expectThrottled(t, loginFrom(env, a.Email, a.Password, "198.51.100.101"), "the right password from the second address", 1)
	expect(t, loginFrom(env, a.Email, a.Password, "198.51.100.102"), "the right password from the third address", http.StatusOK)
}

// A new address is remembered in the update of the user that lists the login's
// session, so a login costs the same from a new address as from a known one.
func TestLogin_RemembersANewAddressAtNoExtraStoreCommand(t *testing.T) {
	t.Parallel()
	env, _ := knownEnv(t)
	a := registerOnly(t, env, "ada")
	oid, err := bson.ObjectIDFromHex(a.ID)
	if err != nil {
		t.Fatal(err)
	}
	for i, step := range []struct {
		from  string
		known int
	}{{home, 1}, {home, 1}, {newPlace, 2}, {home, 2}, {newPlace, 2}} {
		env.App.Sessions.Wait()
		env.Commands.Reset()
		expect(t, loginFrom(env, a.Email, a.Password, step.from), "login from "+step.from, http.StatusOK)
		if n := env.Commands.Total(); n != 8 {
			t.Errorf("login #%d, from %s, sent %d commands; want 8, as TestLogin_CostsEightStoreCommands", i+1, step.from, n)
		}
		var doc struct {
			Known []bson.M `bson:"known_addrs"`
		}
		if !lanyardtest.RawDoc(t, env.DB, "users", bson.D{{Key: "_id", Value: oid}}, &doc) {
			t.Fatal("user not stored")
		}
		if len(doc.Known) != step.known {
			t.Errorf("after login #%d, from %s, the user knows %d addresses; want %d", i+1, step.from, len(doc.Known), step.known)
		}
	}
}

// A trusted proxy that forwards something other than addresses leaves the client
// unknown: 400, and nothing is counted against the proxy's own address, behind which
// everyone else stands.
func TestForwardedFor_MalformedFromATrustedProxyIs400AndCountsAgainstNobody(t *testing.T) {
	t.Parallel()
	// Account limit 1, so the address ceiling is 10.
	env, _ := knownEnv(t, lanyardtest.WithEnv("LANYARD_LOGIN_FAILURE_LIMIT", "1"))
	for _, xff := range []string{"not-an-address", "203.0.113.7, bogus", "203.0.113.7,", "999.0.0.1", "203.0.113.7 203.0.113.8", "unknown", " , "} {
		for i := range 3 {
			r := loginFrom(env, fmt.Sprintf("guess%d@example.com", i), "some password", xff)
			expect(t, r, fmt.Sprintf("login forwarded for %q", xff), http.StatusBadRequest)
			if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("login forwarded for %q: Content-Type = %q; want application/problem+json", xff, ct)
			}
		}
	}
	if n := lanyardtest.RawCount(t, env.DB, "throttle", nil); n != 0 {
		t.Errorf("throttle counters after malformed forwards = %d; want 0", n)
	}
	for i := range 10 {
		expect(t, env.Do("POST", "/api/auth/login", map[string]any{"login": fmt.Sprintf("other%d@example.com", i), "password": "x"}), "the proxy's own login", http.StatusUnauthorized)
	}
	// What the client prepends is not the proxy's business; a port is allowed.
	expect(t, loginFrom(env, "x1@example.com", "x", "bogus, 203.0.113.7"), "login forwarded for a prepended bogus entry", http.StatusUnauthorized)
	expect(t, loginFrom(env, "x2@example.com", "x", "203.0.113.8:4711"), "login forwarded for an address with a port", http.StatusUnauthorized)
	expect(t, loginFrom(env, "x3@example.com", "x", "[2001:db8::1]:4711"), "login forwarded for an IPv6 address with a port", http.StatusUnauthorized)
	// From a peer that is not a trusted proxy the header means nothing, however it looks.
	plain, _ := throttleEnv(t)
	expect(t, loginFrom(plain, "x@example.com", "x", "not-an-address"), "login with a bogus X-Forwarded-For from an untrusted peer", http.StatusUnauthorized)
}
