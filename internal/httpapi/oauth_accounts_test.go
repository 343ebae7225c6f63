package httpapi_test

import (
	"bytes"
	"crypto/ecdsa"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/lanyard/lanyard/internal/lanyardtest"
)

// The pre-claim attack (Parse Server's GHSA-mr43-w6c2-mvjq): an attacker types a
// victim's subject in as a linked ID, hoping the victim's later sign-in lands in the
// attacker's account. With the provider configured, typing its name in is refused
// (422, for a user and for an admin); and a link typed in before the provider was
// configured proves nothing: the victim's proven sign-in makes the victim's own
// account, and the typed-in link gives way.
func TestOAuth_APreClaimedSubjectNeverOpensTheClaimersAccount(t *testing.T) {
	t.Parallel()
	victim := opUser()
	// Before the providers file: the attacker links the victim's subject by hand.
	db, key := "t_preclaim_"+randomTag(), lanyardtest.WithEnv("LANYARD_DATA_KEY", "SqrM7mF6Ut1w7Z0xkq0DtqkzIGq1yQm0k3r6u5U0l9c=")
	before := lanyardtest.New(t, lanyardtest.WithEnv("LANYARD_DB", db), key)
	attacker := before.Register("mallory")
	before.Do("POST", "/api/users/me/linked-ids", map[string]any{"provider": "zid", "external_id": victim.ID}, "Bearer", attacker.Access).Must(t, http.StatusCreated)

	// The same database, now with the provider configured.
	w := newWorld(t, []*storage.User{victim}, lanyardtest.WithEnv("LANYARD_DB", db), key)
	w.env.Login(&attacker)
	for _, p := range []string{"zid", "ZID", "gh"} {
		r := w.env.Do("POST", "/api/users/me/linked-ids", map[string]any{"provider": p, "external_id": "someone-else"}, "Bearer", attacker.Access)
		if r.Status != http.StatusUnprocessableEntity || !strings.Contains(string(r.Body), "body.provider") {
			t.Errorf("a manual link with the configured provider %s = %d %s; want 422 on body.provider", p, r.Status, r.Body)
		}
	}
	admin := w.env.Register("admin")
	w.env.Promote(admin)
	if r := w.env.Do("POST", "/api/users/"+attacker.ID+"/linked-ids", map[string]any{"provider": "zid", "external_id": "x"}, "Bearer", admin.Access); r.Status != http.StatusUnprocessableEntity {
		t.Errorf("an admin's manual link with a configured provider = %d %s; want 422", r.Status, r.Body)
	}
	res := w.env.Do("GET", "/api/linked-ids/resolve?"+url.Values{"provider": {"zid"}, "external_id": {victim.ID}}.Encode(), nil, "Bearer", admin.Access).Must(t, http.StatusOK).Map(t)
	if res["user_id"] != attacker.ID || res["verified"] != false {
		t.Fatalf("resolve before the victim's sign-in = %v; want the attacker's unverified link", res)
	}

	got := w.signUp("zid")
	if got.User["id"] == attacker.ID || got.User["email"] != victim.Email {
		t.Fatalf("the victim's sign-in opened %v; want a new account of the victim's, never the attacker's %s", got.User, attacker.ID)
	}
	if links := linksOf(t, w, attacker.Access); len(links) != 0 {
		t.Errorf("the attacker's links = %v; want the typed-in claim gone", links)
	}
	res = w.env.Do("GET", "/api/linked-ids/resolve?"+url.Values{"provider": {"zid"}, "external_id": {victim.ID}}.Encode(), nil, "Bearer", admin.Access).Must(t, http.StatusOK).Map(t)
	if res["user_id"] != got.User["id"] || res["verified"] != true {
		t.Errorf("resolve after the victim's sign-in = %v; want the victim's verified link", res)
	}
	if again := w.signUp("zid"); again.User["id"] != got.User["id"] {
		t.Errorf("the victim's second sign-in opened %v; want %v", again.User["id"], got.User["id"])
	}
}

// An account made through a provider has no password: a login with any password is
// refused exactly as a wrong password is, and its last verified link cannot be
// removed (409) — once it holds another, the first may go.
func TestOAuth_APasswordlessAccountKeepsItsLastWayIn(t *testing.T) {
	t.Parallel()
	u := opUser()
	w := newWorld(t, []*storage.User{u})
	pair := w.signUp("zid")
	if pair.User["has_password"] != false {
		t.Fatalf("has_password = %v; want false", pair.User["has_password"])
	}
	other := w.env.Register("other")
	for _, pw := range []string{"correct horse battery staple", "x"} {
		got := w.env.Do("POST", "/api/auth/login", map[string]any{"email": u.Email, "password": pw})
		want := w.env.Do("POST", "/api/auth/login", map[string]any{"email": other.Email, "password": pw + " wrong"})
		if got.Status != want.Status || !bytes.Equal(withoutRequestID(t, got.Body), withoutRequestID(t, want.Body)) {
			t.Errorf("login of the password-less account with %q = %d %s; want what a wrong password gets: %d %s", pw, got.Status, got.Body, want.Status, want.Body)
		}
	}

	links := linksOf(t, w, pair.AccessToken)
	r := w.env.Do("DELETE", "/api/users/me/linked-ids/"+links[0]["id"].(string), nil, "Bearer", pair.AccessToken)
	if r.Status != http.StatusConflict || !strings.Contains(string(r.Body), "/problems/last-way-in") {
		t.Fatalf("removing the last way in = %d %s; want 409 /problems/last-way-in", r.Status, r.Body)
	}
	if n := len(linksOf(t, w, pair.AccessToken)); n != 1 {
		t.Fatalf("%d links after the refusal; want the link kept", n)
	}
	// A typed-in link is no way in: it may go, and does not make the proven one removable.
	typed := w.env.Do("POST", "/api/users/me/linked-ids", map[string]any{"provider": "school", "external_id": "S-1"}, "Bearer", pair.AccessToken).Must(t, http.StatusCreated).Map(t)
	r = w.env.Do("DELETE", "/api/users/me/linked-ids/"+links[0]["id"].(string), nil, "Bearer", pair.AccessToken)
	if r.Status != http.StatusConflict {
		t.Errorf("removing the last verified link beside a typed-in one = %d; want 409", r.Status)
	}
	w.env.Do("DELETE", "/api/users/me/linked-ids/"+typed["id"].(string), nil, "Bearer", pair.AccessToken).Must(t, http.StatusNoContent)

	q := finishAt(t, startLink(t, w, "gh", pair.AccessToken, ""))
	if q.Get("linked_id") == "" {
		t.Fatalf("linking github returned %v; want linked_id", q)
	}
	w.env.Do("DELETE", "/api/users/me/linked-ids/"+links[0]["id"].(string), nil, "Bearer", pair.AccessToken).Must(t, http.StatusNoContent)
	r = w.env.Do("DELETE", "/api/users/me/linked-ids/"+q.Get("linked_id"), nil, "Bearer", pair.AccessToken)
	if r.Status != http.StatusConflict {
		t.Errorf("removing the github link, now the last way in = %d; want 409", r.Status)
	}
	// An account with a password may remove every link.
	q = finishAt(t, startLink(t, w, "zid", other.Access, ""))
	w.env.Do("DELETE", "/api/users/me/linked-ids/"+q.Get("linked_id"), nil, "Bearer", other.Access).Must(t, http.StatusNoContent)
	if n := lanyardtest.RawCount(t, w.env.DB, "users", bson.D{}); n != 2 {
		t.Errorf("%d users; want 2", n)
	}
}

// withoutRequestID is a problem document's body without its request id.
func withoutRequestID(t *testing.T, b []byte) []byte {
	t.Helper()
	i := bytes.Index(b, []byte(`"request_id":"`))
	if i < 0 {
		return b
	}
	j := bytes.IndexByte(b[i+len(`"request_id":"`):], '"')
	return append(append([]byte{}, b[:i]...), b[i+len(`"request_id":"`)+j+1:]...)
}

// RFC 8414 metadata names the code flow where identity providers are configured,
// and the token endpoint's authorization_code grant exists only there.
func TestOAuth_MetadataNamesTheCodeFlowWhereProvidersAre(t *testing.T) {
	t.Parallel()
	w := newWorld(t, nil)
	m := w.env.Do("GET", "/.well-known/oauth-authorization-server", nil).Must(t, http.StatusOK).Map(t)
	if g := m["grant_types_supported"].([]any); len(g) != 3 || g[2] != "authorization_code" {
		t.Errorf("grant_types_supported = %v; want password, refresh_token, authorization_code", g)
	}
	if r, _ := m["response_types_supported"].([]any); len(r) != 1 || r[0] != "code" {
		t.Errorf("response_types_supported = %v; want [code]", m["response_types_supported"])
	}
	if c, _ := m["code_challenge_methods_supported"].([]any); len(c) != 1 || c[0] != "S256" {
		t.Errorf("code_challenge_methods_supported = %v; want [S256]", m["code_challenge_methods_supported"])
	}
	plain := lanyardtest.New(t)
	m = plain.Do("GET", "/.well-known/oauth-authorization-server", nil).Must(t, http.StatusOK).Map(t)
	if _, ok := m["response_types_supported"]; ok {
		t.Errorf("metadata without providers names response_types_supported: %v", m)
	}
	wantTokenError(t, tokenForm(plain, []string{"grant_type", "authorization_code", "code", "x", "code_verifier", "y", "redirect_uri", appRedirect}),
		"authorization_code without providers", http.StatusBadRequest, "unsupported_grant_type")
}

// Through sign-ups, sign-ins, a link and refusals, at debug level, the log holds no
// client secret, provider code, Lanyard code, token, subject or email.
func TestOAuth_LogsHoldNoSecretCodeTokenSubjectOrEmail(t *testing.T) {
	t.Parallel()
	log := &lockedBuffer{}
	u := opUser()
	w := newWorld(t, []*storage.User{u}, lanyardtest.WithLog(log))
	forbidden := []string{opSecret, rogueSecret, ghSecret, u.Email, w.gh.email, w.rogue.email, w.rogue.sub}

	b := newBrowser(t)
	b.stopAtCallback = true
	_, loc, _ := b.visit(w.env.URL + authorizePath("zid", newPKCE(), ""))
	forbidden = append(forbidden, loc.Query().Get("code"), loc.Query().Get("state"))
	p := newPKCE()
	q := finishAt(t, loc.String())
	forbidden = append(forbidden, q.Get("code"))
	_ = p
	pair := w.signUp("zid")
	gh := w.signUp("gh")
	rogue := w.signUp("rogue")
	forbidden = append(forbidden, pair.AccessToken, pair.RefreshToken, gh.AccessToken, gh.RefreshToken, rogue.AccessToken)
	w.rogue.setSpoil(func(c jwt.MapClaims) *ecdsa.PrivateKey { c["aud"] = "someone-else"; return nil })
	w.signIn("rogue", newPKCE(), "")
	newBrowser(t).visit(loc.String()) // a replayed callback
	wantTokenError(t, w.redeem(q.Get("code"), "wrong", appRedirect), "a wrong verifier", http.StatusBadRequest, "invalid_grant")

	text := log.String()
	if !strings.Contains(text, "/api/auth/oauth/{provider}/callback") {
		t.Fatalf("the log has no line of the callback:\n%.2000s", text)
	}
	for _, s := range forbidden {
		if s == "" {
			t.Fatal("a value to look for is empty; the test would check nothing")
		}
		if i := strings.Index(text, s); i >= 0 {
			t.Errorf("the log holds %.12s…: %.300s", s, text[max(0, i-150):])
		}
	}
}

// hasPasswordMember is the User's has_password member, the one place a user's JSON
// may spell "password": whether the account has one, never anything of it.
var hasPasswordMember = regexp.MustCompile(`"has_password":(true|false)`)

// withoutHasPassword is a body with its has_password member taken out, for the
// tests that check a user's JSON holds nothing of a password.
func withoutHasPassword(b []byte) []byte { return hasPasswordMember.ReplaceAll(b, nil) }

// A password-less account sets a password through a password reset: has_password
// turns true, the password logs in, and the provider's link may then go.
func TestOAuth_APasswordResetGivesAPasswordlessAccountItsPassword(t *testing.T) {
	t.Parallel()
	u := opUser()
	mb := lanyardtest.NewMailbox(t)
	w := newWorld(t, []*storage.User{u}, lanyardtest.WithMailbox(mb))
	pair := w.signUp("zid")
	const pw = "a passphrase of her own 61"
	reset := decodeTokenPair(t, "confirm", confirmReset(w.env, resetToken(t, w.env, mb, u.Email), pw), pair.User["id"].(string))
	if reset.User["has_password"] != true {
		t.Errorf("after the reset has_password = %v; want true", reset.User["has_password"])
	}
	if me := w.env.Do("GET", "/api/users/me", nil, "Bearer", reset.AccessToken).Must(t, http.StatusOK).Map(t); me["has_password"] != true {
		t.Errorf("GET /api/users/me after the reset: has_password = %v; want true", me["has_password"])
	}
	w.env.Do("POST", "/api/auth/login", map[string]any{"email": u.Email, "password": pw}).Must(t, http.StatusOK)
	links := linksOf(t, w, reset.AccessToken)
	w.env.Do("DELETE", "/api/users/me/linked-ids/"+links[0]["id"].(string), nil, "Bearer", reset.AccessToken).Must(t, http.StatusNoContent)
}
