package httpapi_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"golang.org/x/crypto/bcrypt"

	"github.com/lanyard/lanyard/internal/lanyardtest"
)

// Helpers shared by login_test.go, tokens_test.go and password_test.go.

// tokenPairBody is the TokenPair object of the contract.
type tokenPairBody struct {
	AccessToken      string         `json:"access_token"`
	TokenType        string         `json:"token_type"`
	ExpiresIn        int            `json:"expires_in"`
	RefreshToken     string         `json:"refresh_token"`
	RefreshExpiresIn int            `json:"refresh_expires_in"`
	User             map[string]any `json:"user"`
}

// decodeTokenPair checks that r is a 200 TokenPair for user userID, with the
// documented lifetimes and Cache-Control: no-store, and returns it. what names
// the request in failure messages, e.g. "POST /api/auth/login".
func decodeTokenPair(t *testing.T, what string, r *lanyardtest.Response, userID string) tokenPairBody {
	t.Helper()
	if r.Status != http.StatusOK {
		t.Fatalf("%s = %d; want %d; body: %s", what, r.Status, http.StatusOK, r.Body)
	}
	var p tokenPairBody
	r.JSON(t, &p)
	if p.AccessToken == "" || p.RefreshToken == "" {
		t.Errorf("%s: access_token %q, refresh_token %q; want both set", what, p.AccessToken, p.RefreshToken)
	}
	if p.TokenType != "Bearer" {
		t.Errorf("%s: token_type = %q; want %q", what, p.TokenType, "Bearer")
	}
	if p.ExpiresIn != 900 {
		t.Errorf("%s: expires_in = %d; want 900", what, p.ExpiresIn)
	}
	if p.RefreshExpiresIn != 2592000 {
		t.Errorf("%s: refresh_expires_in = %d; want 2592000", what, p.RefreshExpiresIn)
	}
	if got := p.User["id"]; got != userID {
		t.Errorf("%s: user.id = %v; want %s", what, got, userID)
	}
	if _, leaked := p.User["password_hash"]; leaked {
		t.Errorf("%s: user object carries password_hash", what)
	}
	if cc := r.Header.Get("Cache-Control"); !strings.Contains(cc, "no-store") {
		t.Errorf("%s: Cache-Control = %q; want no-store", what, cc)
	}
	return p
}

// meStatus is the status of GET /api/users/me with access token tok.
func meStatus(env *lanyardtest.Env, tok string) int {
	return env.Do("GET", "/api/users/me", nil, "Bearer", tok).Status
}

// refreshWith sends POST /api/auth/refresh with refresh token tok.
func refreshWith(env *lanyardtest.Env, tok string) *lanyardtest.Response {
	return env.Do("POST", "/api/auth/refresh", map[string]any{"refresh_token": tok})
}

// loginWith sends POST /api/auth/login with a JSON login and password.
func loginWith(env *lanyardtest.Env, login, pw string) *lanyardtest.Response {
	return env.Do("POST", "/api/auth/login", map[string]any{"login": login, "password": pw})
}

// requestIDField matches the request_id member of a problem document, with the
// comma that separates it from the member before.
var requestIDField = regexp.MustCompile(`,?"request_id":"[^"]*"`)

// bodyWithoutRequestID returns the body with its request_id member removed: the
// one part of a problem document that differs from one request to the next.
func bodyWithoutRequestID(t *testing.T, r *lanyardtest.Response) string {
	t.Helper()
	if !requestIDField.Match(r.Body) {
		t.Errorf("problem %s has no request_id", r.Body)
	}
	return requestIDField.ReplaceAllString(string(r.Body), "")
}

// problemLocationsOf returns the locations listed in a problem document's errors.
func problemLocationsOf(t *testing.T, r *lanyardtest.Response) []string {
	t.Helper()
	var p struct {
		Errors []struct {
			Location string `json:"location"`
		} `json:"errors"`
	}
	r.JSON(t, &p)
	var locs []string
	for _, e := range p.Errors {
		locs = append(locs, e.Location)
	}
	return locs
}

// signUpWithUsername registers an account with a username and returns its id.
func signUpWithUsername(t *testing.T, env *lanyardtest.Env, email, username, pw string) string {
	t.Helper()
	r := env.Do("POST", "/api/auth/register", map[string]any{"email": email, "username": username, "password": pw})
	if r.Status != http.StatusCreated {
		t.Fatalf("POST /api/auth/register = %d; want %d; body: %s", r.Status, http.StatusCreated, r.Body)
	}
	id, _ := r.Map(t)["id"].(string)
	return id
}

// setUserStatus writes a user's status straight into the database, as a chain
// delete's mark step does.
func setUserStatus(t *testing.T, env *lanyardtest.Env, userID, status string) {
	t.Helper()
	oid, err := bson.ObjectIDFromHex(userID)
	if err != nil {
		t.Fatalf("user id %q: %v", userID, err)
	}
	res, err := env.DB.Collection("users").UpdateOne(context.Background(),
		bson.D{{Key: "_id", Value: oid}}, bson.D{{Key: "$set", Value: bson.D{{Key: "status", Value: status}}}})
	if err != nil {
		t.Fatalf("set status %q: %v", status, err)
	}
	if res.MatchedCount != 1 {
		t.Fatalf("set status %q: matched %d users; want 1", status, res.MatchedCount)
	}
}

func TestLogin_ByEmailOrUsernameInEveryAcceptedShape(t *testing.T) {
	t.Parallel()
	env := lanyardtest.New(t)
	const (
		email    = "ada.lovelace@example.com"
		username = "Ada_Lovelace"
		pw       = lanyardtest.DefaultPassword
	)
	id := signUpWithUsername(t, env, email, username, pw)

	form := lanyardtest.Form
	tests := []struct {
		name string
		body any
	}{
		{"login field, email", map[string]any{"login": email, "password": pw}},
		{"login field, email in upper case with spaces around", map[string]any{"login": "  ADA.LOVELACE@EXAMPLE.COM \t", "password": pw}},
		{"email field, email", map[string]any{"email": email, "password": pw}},
		{"email field, email in mixed case", map[string]any{"email": "Ada.Lovelace@Example.Com", "password": pw}},
		{"email field, email with spaces around", map[string]any{"email": " " + email + " ", "password": pw}},
		{"username field, email", map[string]any{"username": email, "password": pw}},
		{"login field, username as registered", map[string]any{"login": username, "password": pw}},
		{"login field, username in lower case", map[string]any{"login": "ada_lovelace", "password": pw}},
		{"username field, username in upper case", map[string]any{"username": "ADA_LOVELACE", "password": pw}},
		{"username field, username with spaces around", map[string]any{"username": " " + username + " ", "password": pw}},
		{"OAuth2 form, email, grant_type password", form(url.Values{"username": {email}, "password": {pw}, "grant_type": {"password"}})},
		{"OAuth2 form, email in upper case", form(url.Values{"username": {strings.ToUpper(email)}, "password": {pw}, "grant_type": {"password"}})},
		{"OAuth2 form, username, grant_type password", form(url.Values{"username": {"ada_LOVELACE"}, "password": {pw}, "grant_type": {"password"}})},
		{"OAuth2 form, username, no grant_type", form(url.Values{"username": {username}, "password": {pw}})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := env.Do("POST", "/api/auth/login", tt.body)
			p := decodeTokenPair(t, "POST /api/auth/login", r, id)
			if p.User["email"] != email || p.User["username"] != username {
				t.Errorf("POST /api/auth/login: user = %v; want email %s username %s", p.User, email, username)
			}
			if got := meStatus(env, p.AccessToken); got != http.StatusOK {
				t.Errorf("GET /api/users/me with the new access token = %d; want %d", got, http.StatusOK)
			}
		})
	}
}

func TestLogin_EachLoginStartsItsOwnSession(t *testing.T) {
	t.Parallel()
	env := lanyardtest.New(t)
	a := env.Register("ada")
	seen := map[string]bool{}
	for range 3 {
		p := decodeTokenPair(t, "POST /api/auth/login", loginWith(env, a.Email, a.Password), a.ID)
		sid, _, _ := strings.Cut(p.RefreshToken, ".")
		if seen[sid] {
			t.Fatalf("POST /api/auth/login returned session %s twice; want a new session per login", sid)
		}
		seen[sid] = true
	}
}

func TestLogin_UnknownAccountAndWrongPasswordLookTheSame(t *testing.T) {
	t.Parallel()
	env := lanyardtest.New(t)
	const pw = lanyardtest.DefaultPassword
	signUpWithUsername(t, env, "grace@example.com", "grace", pw)
	deletingID := signUpWithUsername(t, env, "leaving@example.com", "leaving", pw)
	setUserStatus(t, env, deletingID, "deleting")

	tests := []struct {
		name string
		body any
	}{
		{"unknown email", map[string]any{"email": "nobody@example.com", "password": pw}},
		{"unknown username", map[string]any{"login": "nobody", "password": pw}},
		{"wrong password, by email", map[string]any{"email": "grace@example.com", "password": pw + "!"}},
		{"wrong password, by username", map[string]any{"login": "grace", "password": "Correct Horse Battery Staple"}},
		{"wrong password, OAuth2 form", lanyardtest.Form(url.Values{"username": {"grace"}, "password": {"not the password"}})},
		{"unknown email, OAuth2 form", lanyardtest.Form(url.Values{"username": {"nobody@example.com"}, "password": {pw}, "grant_type": {"password"}})},
		{"account being deleted, right password, by email", map[string]any{"email": "leaving@example.com", "password": pw}},
		{"account being deleted, right password, by username", map[string]any{"username": "leaving", "password": pw}},
	}
	// Every case is compared with an unknown email's answer, got here, so that each
	// subtest stands on its own.
	ref := env.Do("POST", "/api/auth/login", map[string]any{"email": "someone-else@example.com", "password": pw})
	expect(t, ref, "POST /api/auth/login for an unknown email", http.StatusUnauthorized)
	want := bodyWithoutRequestID(t, ref)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := env.Do("POST", "/api/auth/login", tt.body)
			if r.Status != http.StatusUnauthorized {
				t.Fatalf("POST /api/auth/login = %d; want %d; body: %s", r.Status, http.StatusUnauthorized, r.Body)
			}
			if h := r.Header.Get("WWW-Authenticate"); !strings.HasPrefix(h, "Bearer") {
				t.Errorf("POST /api/auth/login: WWW-Authenticate = %q; want a Bearer challenge", h)
			}
			if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
				t.Errorf("POST /api/auth/login: Content-Type = %q; want application/problem+json", ct)
			}
			if strings.Contains(string(r.Body), pw) {
				t.Errorf("POST /api/auth/login: body %s echoes the password", r.Body)
			}
			if body := bodyWithoutRequestID(t, r); body != want {
				t.Errorf("POST /api/auth/login body (request_id removed) =\n%s\nwant the same as for an unknown email:\n%s", body, want)
			}
		})
	}
}

func TestLogin_MissingLoginOrPasswordIs422(t *testing.T) {
	t.Parallel()
	env := lanyardtest.New(t)
	a := env.Register("ada")
	tests := []struct {
		name string
		body any
		want []string // locations that must be listed
	}{
		{"no password", map[string]any{"email": a.Email}, []string{"body.password"}},
		{"empty password", map[string]any{"email": a.Email, "password": ""}, []string{"body.password"}},
		{"no login", map[string]any{"password": a.Password}, []string{"body.login"}},
		{"blank login", map[string]any{"login": "   ", "password": a.Password}, []string{"body.login"}},
		{"empty object", map[string]any{}, []string{"body.login", "body.password"}},
		{"OAuth2 form without password", lanyardtest.Form(url.Values{"username": {a.Email}, "grant_type": {"password"}}), []string{"body.password"}},
		{"OAuth2 form without username", lanyardtest.Form(url.Values{"password": {a.Password}, "grant_type": {"password"}}), []string{"body.login"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := env.Do("POST", "/api/auth/login", tt.body)
			if r.Status != http.StatusUnprocessableEntity {
				t.Fatalf("POST /api/auth/login = %d; want %d; body: %s", r.Status, http.StatusUnprocessableEntity, r.Body)
			}
			locs := problemLocationsOf(t, r)
			for _, want := range tt.want {
				if !slices.Contains(locs, want) {
					t.Errorf("POST /api/auth/login: error locations = %v; want %s among them", locs, want)
				}
			}
		})
	}
}

// insertBcryptUser stores a user the way an import from another application
// would: a bcrypt hash with the given prefix ($2a$, $2b$ or $2y$) for secret.
func insertBcryptUser(t *testing.T, env *lanyardtest.Env, email, prefix string, secret []byte) bson.ObjectID {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword(secret, bcrypt.MinCost)
	if err != nil {
		t.Fatalf("bcrypt: %v", err)
	}
	// x/crypto writes $2a$; $2b$ and $2y$ differ only in the name.
	hash := prefix + string(h[len("$2a$"):])
	// The account is registered as usual, then given the hash another application
	// wrote, as an import of that application's users would leave it.
	r := env.Do("POST", "/api/auth/register", map[string]any{"email": email, "password": lanyardtest.DefaultPassword})
	if r.Status != http.StatusCreated {
		t.Fatalf("register %s = %d; body %s", email, r.Status, r.Body)
	}
	id, err := bson.ObjectIDFromHex(r.Map(t)["id"].(string))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.DB.Collection("users").UpdateOne(context.Background(), bson.D{{Key: "_id", Value: id}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "password_hash", Value: hash}}}}); err != nil {
		t.Fatalf("set bcrypt hash: %v", err)
	}
	return id
}

// storedPasswordHash reads a user's password_hash as stored.
func storedPasswordHash(t *testing.T, env *lanyardtest.Env, id bson.ObjectID) string {
	t.Helper()
	var doc struct {
		PasswordHash string `bson:"password_hash"`
	}
	if !lanyardtest.RawDoc(t, env.DB, "users", bson.D{{Key: "_id", Value: id}}, &doc) {
		t.Fatal("user not stored")
	}
	return doc.PasswordHash
}

func TestLogin_UpgradesBcryptHashToArgon2id(t *testing.T) {
	t.Parallel()
	env := lanyardtest.New(t)
	const pw = "imported from elsewhere"
	for _, prefix := range []string{"$2a$", "$2b$", "$2y$"} {
		t.Run(prefix, func(t *testing.T) {
			email := "bcrypt-" + strings.Trim(prefix, "$") + "@example.com"
			id := insertBcryptUser(t, env, email, prefix, []byte(pw))
			if got := storedPasswordHash(t, env, id); !strings.HasPrefix(got, prefix) {
				t.Fatalf("stored hash before login starts with %.4q; want %s", got, prefix)
			}

			// A wrong password neither logs in nor changes the hash.
			if r := loginWith(env, email, pw+"x"); r.Status != http.StatusUnauthorized {
				t.Errorf("POST /api/auth/login (wrong password, bcrypt) = %d; want %d", r.Status, http.StatusUnauthorized)
			}
			if got := storedPasswordHash(t, env, id); !strings.HasPrefix(got, prefix) {
				t.Errorf("stored hash after a failed login starts with %.10q; want it untouched (%s)", got, prefix)
			}

			decodeTokenPair(t, "POST /api/auth/login (bcrypt)", loginWith(env, email, pw), id.Hex())
			if got := storedPasswordHash(t, env, id); !strings.HasPrefix(got, "$argon2id$") {
				t.Fatalf("stored hash after login starts with %.10q; want $argon2id$", got)
			}
			decodeTokenPair(t, "POST /api/auth/login (after upgrade)", loginWith(env, email, pw), id.Hex())
			if r := loginWith(env, email, pw+"x"); r.Status != http.StatusUnauthorized {
				t.Errorf("POST /api/auth/login (wrong password, argon2id) = %d; want %d", r.Status, http.StatusUnauthorized)
			}
		})
	}
}

func TestLogin_PasswordOver72BytesNeverMatchesBcrypt(t *testing.T) {
	t.Parallel()
	env := lanyardtest.New(t)
	prefix72 := strings.Repeat("long passphrase ", 5)[:72]
	const email = "long@example.com"
	id := insertBcryptUser(t, env, email, "$2b$", []byte(prefix72))

	// bcrypt itself reads only 72 bytes, so it would accept this one.
	longer := prefix72 + " and more"
	if r := loginWith(env, email, longer); r.Status != http.StatusUnauthorized {
		t.Fatalf("POST /api/auth/login (%d-byte password, first 72 bytes right) = %d; want %d; body: %s",
			len(longer), r.Status, http.StatusUnauthorized, r.Body)
	}
	if got := storedPasswordHash(t, env, id); !strings.HasPrefix(got, "$2b$") {
		t.Errorf("stored hash after the refused login starts with %.10q; want it untouched", got)
	}
	// The stored hash is right: the 72-byte password itself logs in.
	decodeTokenPair(t, "POST /api/auth/login (72-byte password)", loginWith(env, email, prefix72), id.Hex())
}

// A user agent is kept to its first 256 bytes, cut before a character that would
// cross that limit rather than inside it.
func TestLogin_ALongUserAgentIsCutToWholeCharacters(t *testing.T) {
	t.Parallel()
	env := lanyardtest.New(t)
	a := env.Register("ada")
	// Bytes 256 and 257 are the two of "é".
	ua := strings.Repeat("a", 255) + "é" + strings.Repeat("b", 20)
	r := env.Do("POST", "/api/auth/login", map[string]any{"email": a.Email, "password": a.Password}, "User-Agent", ua)
	expect(t, r, "POST /api/auth/login with a long User-Agent", http.StatusOK)
	access, _ := r.Map(t)["access_token"].(string)

	r = env.Do("GET", "/api/users/me?expand=sessions", nil, "Bearer", access)
	expect(t, r, "GET /api/users/me?expand=sessions", http.StatusOK)
	var u expanded
	r.JSON(t, &u)
	var got []string
	for _, s := range u.Expand["sessions"] {
		if agent, _ := s["user_agent"].(string); agent != "Go-http-client/1.1" {
			got = append(got, agent)
		}
	}
	want := strings.Repeat("a", 255)
	if len(got) != 1 || got[0] != want {
		t.Errorf("user agents of the sessions (the test client's left out) = %q; want exactly [%q]", got, want)
	}
}
