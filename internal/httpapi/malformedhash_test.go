package httpapi_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/lanyard/lanyard/internal/lanyardtest"
)

// hashesRun reads from /metrics how many password hashes and verifications have run
// in a hashing slot so far.
func hashesRun(t *testing.T, env *lanyardtest.Env) int {
	t.Helper()
	r := env.Do("GET", "/metrics", nil)
	expect(t, r, "GET /metrics", http.StatusOK)
	for line := range strings.SplitSeq(string(r.Body), "\n") {
		if v, ok := strings.CutPrefix(line, "lanyard_password_hash_seconds_count "); ok {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				t.Fatalf("lanyard_password_hash_seconds_count = %q: %v", v, err)
			}
			return n
		}
	}
	t.Fatal("GET /metrics has no lanyard_password_hash_seconds_count")
	return 0
}

// setPasswordHash overwrites a user's stored hash, as a corrupted row or a broken
// import would leave it.
func setPasswordHash(t *testing.T, env *lanyardtest.Env, userID, hash string) {
	t.Helper()
	oid, err := bson.ObjectIDFromHex(userID)
	if err != nil {
		t.Fatalf("user id %q: %v", userID, err)
	}
	res, err := env.DB.Collection("users").UpdateOne(context.Background(),
		bson.D{{Key: "_id", Value: oid}}, bson.D{{Key: "$set", Value: bson.D{{Key: "password_hash", Value: hash}}}})
	if err != nil || res.MatchedCount != 1 {
		t.Fatalf("set password hash: %v (matched %d)", err, res.MatchedCount)
	}
}

// An unreadable stored hash must cost a login the one hash an unknown account costs:
// were it refused before any hashing, its quick 401 would tell which emails exist.
func TestLogin_UnreadableStoredHashCostsTheHashAnUnknownAccountCosts(t *testing.T) {
	t.Parallel()
	env := lanyardtest.New(t)
	before := hashesRun(t, env)
	expect(t, loginWith(env, "nobody@example.com", lanyardtest.DefaultPassword), "login for an unknown account", http.StatusUnauthorized)
	unknown := hashesRun(t, env) - before
	if unknown != 1 {
		t.Fatalf("a login for an unknown account ran %d hashes; want 1", unknown)
	}
	for _, tt := range []struct{ name, hash string }{
		{"empty", ""},
		{"plain text", "garbage"},
		{"unknown scheme", "$5$rounds=5000$salt$hash"},
		{"argon2i", "$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5aw"},
		{"argon2id with unreadable key", "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$!!!!"},
		{"argon2id asking for 4 GiB", "$argon2id$v=19$m=4194304,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5aw"},
		{"bcrypt truncated", "$2a$04$abcdefghijklmnopqrstuv"},
		{"bcrypt with a bad salt", "$2a$04$" + strings.Repeat("!", 53)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a := env.Register("broken")
			setPasswordHash(t, env, a.ID, tt.hash)
			before := hashesRun(t, env)
			expect(t, loginWith(env, a.Email, a.Password), "login of an account whose stored hash is unreadable", http.StatusUnauthorized)
			if got := hashesRun(t, env) - before; got != unknown {
				t.Errorf("a login against the stored hash %q ran %d hashes; an unknown account runs %d", tt.hash, got, unknown)
			}
		})
	}
}
