package httpapi_test

import (
	"crypto/ecdsa"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/lanyard/lanyard"
	"github.com/lanyard/lanyard/internal/lanyardtest"
	"github.com/lanyard/lanyard/internal/store"
)

// A person's first sign-in through a provider that allows sign-up makes a new
// account without a password, its email verified as the provider says, holding the
// provider's subject as a verified link; the application's code gives a token pair
// whose amr is the provider's name; signing in again lands in the same account.
func TestOAuth_SignUpThenSignInAgainLandsInTheSameAccount(t *testing.T) {
	t.Parallel()
	u := opUser()
	w := newWorld(t, []*storage.User{u})
	first := w.signUp("zid")
	if first.User["email"] != u.Email || first.User["has_password"] != false || first.User["email_verified"] != true {
		t.Errorf("signed-up user = %v; want %s, has_password false, email_verified true", first.User, u.Email)
	}
	if amr := amrOf(t, first.AccessToken); !reflect.DeepEqual(amr, []any{"zid"}) {
		t.Errorf("amr = %#v; want [zid]", amr)
	}
	links := w.env.Do("GET", "/api/users/me/linked-ids", nil, "Bearer", first.AccessToken).Must(t, http.StatusOK).Map(t)["items"].([]any)
	if len(links) != 1 {
		t.Fatalf("linked ids = %v; want the provider's subject", links)
	}
	if l := links[0].(map[string]any); l["provider"] != "zid" || l["external_id"] != u.ID || l["verified"] != true {
		t.Errorf("link = %v; want zid %s verified", l, u.ID)
	}

	again := w.signUp("zid")
	if again.User["id"] != first.User["id"] {
		t.Errorf("second sign-in opened %v; want the first account %v", again.User["id"], first.User["id"])
	}
}

// wantRedirectError fails the test unless a flow returned to the application with
// error code (and the application's state, when it gave one), and no code.
func wantRedirectError(t *testing.T, q url.Values, what, code, state string) {
	t.Helper()
	if q.Get("error") != code || q.Get("code") != "" || q.Get("linked_id") != "" || q.Get("error_description") == "" {
		t.Errorf("%s returned %v; want error=%s with a description and no code", what, q, code)
	}
	if q.Get("state") != state {
		t.Errorf("%s returned state %q; want %q", what, q.Get("state"), state)
	}
}

func linksOf(t *testing.T, w *world, access string) []map[string]any {
	t.Helper()
	var body struct {
		Items []map[string]any `json:"items"`
	}
	w.env.Do("GET", "/api/users/me/linked-ids", nil, "Bearer", access).Must(t, http.StatusOK).JSON(t, &body)
	return body.Items
}

// startLink asks for a linking flow as the holder of access and answers the
// provider URL to send the browser to.
func startLink(t *testing.T, w *world, provider, access, state string) string {
	t.Helper()
	m := w.env.Do("POST", "/api/users/me/linked-ids/oauth/"+provider, map[string]any{"redirect_uri": appRedirect, "state": state}, "Bearer", access).
		Must(t, http.StatusOK).Map(t)
	u, _ := m["authorize_url"].(string)
	if u == "" {
		t.Fatalf("link flow answered %v; want an authorize_url", m)
	}
	return u
}

// finishAt follows a provider URL to the application and answers the query it landed with.
func finishAt(t *testing.T, to string) url.Values {
	t.Helper()
	status, loc, body := newBrowser(t).visit(to)
	if status != http.StatusFound || loc == nil || loc.Host != "app.example" {
		t.Fatalf("flow ended with %d at %v; want a redirect to the application; body: %s", status, loc, body)
	}
	return loc.Query()
}

// Signed in with a password, a user links the provider by signing in there: the link
// is verified, its amr-bearing sign-ins land in this account, and the application's
// state comes back.
func TestOAuth_LinkingWhileSignedInAddsAVerifiedLink(t *testing.T) {
	t.Parallel()
	u := opUser()
	w := newWorld(t, []*storage.User{u})
	a := w.env.Register("ada")
	q := finishAt(t, startLink(t, w, "zid", a.Access, "app-state-1"))
	if q.Get("linked_id") == "" || q.Get("error") != "" || q.Get("state") != "app-state-1" || q.Get("code") != "" {
		t.Fatalf("linking returned %v; want linked_id and the app's state", q)
	}
	links := linksOf(t, w, a.Access)
	if len(links) != 1 || links[0]["id"] != q.Get("linked_id") || links[0]["provider"] != "zid" || links[0]["external_id"] != u.ID || links[0]["verified"] != true {
		t.Fatalf("links = %v; want zid %s verified, id %s", links, u.ID, q.Get("linked_id"))
	}
	if got := w.signUp("zid").User["id"]; got != a.ID {
		t.Errorf("a sign-in through the linked provider opened %v; want %s", got, a.ID)
	}
}

// A subject that another account holds verified cannot be linked: the redirect says
// linked_id_taken (the 409 of linking), and nothing is linked.
func TestOAuth_LinkingASubjectHeldElsewhereIsRefused(t *testing.T) {
	t.Parallel()
	w := newWorld(t, []*storage.User{opUser()})
	holder := w.signUp("zid")
	b := w.env.Register("bob")
	q := finishAt(t, startLink(t, w, "zid", b.Access, "s2"))
	wantRedirectError(t, q, "linking a subject held elsewhere", "linked_id_taken", "s2")
	if links := linksOf(t, w, b.Access); len(links) != 0 {
		t.Errorf("bob's links = %v; want none", links)
	}
	if links := linksOf(t, w, holder.AccessToken); len(links) != 1 || links[0]["verified"] != true {
		t.Errorf("the holder's links = %v; want its verified link kept", links)
	}
}

// An account whose email the provider names is joined only when both sides have the
// email verified; otherwise the application hears account_exists and nothing changes.
func TestOAuth_AMatchingEmailLinksOnlyWhenBothSidesVerifiedIt(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name                    string
		providerSays, accountIs bool
		want                    string // "" : linked and signed in
	}{
		{"account unverified", true, false, "account_exists"},
		{"provider does not assert it", false, true, "account_exists"},
		{"both verified", true, true, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			u := opUser()
			u.EmailVerified = c.providerSays
			w := newWorld(t, []*storage.User{u})
			r := w.env.Do("POST", "/api/auth/register", map[string]any{"email": u.Email, "password": lanyardtest.DefaultPassword}).Must(t, http.StatusCreated)
			id := r.Map(t)["id"].(string)
			if c.accountIs {
				uid, _ := lanyard.ParseID(id)
				verified := true
				if _, err := w.env.App.Store.UpdateUser(ctx(t), uid, store.UserChange{EmailVerified: &verified}, time.Now()); err != nil {
					t.Fatal(err)
				}
			}
			p := newPKCE()
			q := w.signIn("zid", p, "s3")
			acct := lanyardtest.Account{Email: u.Email, Password: lanyardtest.DefaultPassword}
			w.env.Login(&acct)
			if c.want != "" {
				wantRedirectError(t, q, "sign-in with "+c.name, c.want, "s3")
				if links := linksOf(t, w, acct.Access); len(links) != 0 {
					t.Errorf("the account's links = %v; want none", links)
				}
				if n := lanyardtest.RawCount(t, w.env.DB, "users", bson.D{}); n != 1 {
					t.Errorf("%d users; want only the registered one", n)
				}
				return
			}
			pair := w.redeem(q.Get("code"), p.verifier, appRedirect).Must(t, http.StatusOK).Map(t)
			if got := pair["user"].(map[string]any)["id"]; got != id {
				t.Errorf("the sign-in opened %v; want the account %s", got, id)
			}
			if links := linksOf(t, w, acct.Access); len(links) != 1 || links[0]["verified"] != true {
				t.Errorf("the account's links = %v; want the provider's, verified", links)
			}
		})
	}
}

// A provider that allows no sign-up refuses a person no account holds.
func TestOAuth_NoSignUpWhereTheProviderAllowsNone(t *testing.T) {
	t.Parallel()
	w := newWorld(t, []*storage.User{opUser()})
	wantRedirectError(t, w.signIn("zclosed", newPKCE(), ""), "sign-in through a closed provider", "access_denied", "")
	if n := lanyardtest.RawCount(t, w.env.DB, "users", bson.D{}); n != 0 {
		t.Errorf("%d users; want none", n)
	}
}

// A callback whose state names no open flow — made up, already used, another
// provider's — is a 400 problem and redirects nowhere: there is no known place to.
func TestOAuth_ACallbackWithAWrongStateIsRefused(t *testing.T) {
	t.Parallel()
	w := newWorld(t, []*storage.User{opUser()})
	b := newBrowser(t)
	b.stopAtCallback = true
	status, loc, body := b.visit(w.env.URL + authorizePath("zid", newPKCE(), ""))
	if status != http.StatusFound || loc == nil || !strings.Contains(loc.Path, "/api/auth/oauth/zid/callback") {
		t.Fatalf("the provider answered %d %v; want its redirect to Lanyard's callback; %s", status, loc, body)
	}
	callback := loc.String()
	state := loc.Query().Get("state")
	otherProvider := strings.Replace(callback, "/oauth/zid/", "/oauth/zclosed/", 1)
	madeUp := strings.Replace(callback, url.QueryEscape(state), strings.Repeat("A", len(state)), 1)
	for _, c := range []struct{ name, url string }{
		{"a made-up state", madeUp},
		{"no state", w.env.URL + "/api/auth/oauth/zid/callback?code=abc"},
		{"the state at another provider's callback", otherProvider},
		{"the state used once already", callback},
	} {
		status, loc, body := newBrowser(t).visit(c.url)
		if status != http.StatusBadRequest || loc != nil || !strings.Contains(body, "/problems/token-invalid") {
			t.Errorf("callback with %s = %d %v %s; want 400 /problems/token-invalid and no redirect", c.name, status, loc, body)
		}
	}
}

// Codes are single use: the application's own at the token endpoint, and the
// provider's (a replayed callback, or the provider's code under a fresh state).
func TestOAuth_ReplayedCodesAreRefused(t *testing.T) {
	t.Parallel()
	w := newWorld(t, []*storage.User{opUser()})
	p := newPKCE()
	q := w.signIn("zid", p, "")
	w.redeem(q.Get("code"), p.verifier, appRedirect).Must(t, http.StatusOK)
	wantTokenError(t, w.redeem(q.Get("code"), p.verifier, appRedirect), "Lanyard's code redeemed again", http.StatusBadRequest, "invalid_grant")

	// The provider's code, caught on its way to Lanyard's callback.
	b := newBrowser(t)
	b.stopAtCallback = true
	_, loc, _ := b.visit(w.env.URL + authorizePath("zid", newPKCE(), ""))
	providerCode := loc.Query().Get("code")
	finishAt(t, loc.String())
	_, fresh, _ := b.visit(w.env.URL + authorizePath("zid", newPKCE(), "again"))
	replay := fresh.Query()
	replay.Set("code", providerCode)
	fresh.RawQuery = replay.Encode()
	wantRedirectError(t, finishAt(t, fresh.String()), "the provider's code under a fresh state", "access_denied", "again")
}

// The application's code is redeemed only with the verifier of its challenge and
// the redirect_uri it began with; a failed attempt spends it.
func TestOAuth_TheCodeNeedsItsVerifierAndRedirectURI(t *testing.T) {
	t.Parallel()
	w := newWorld(t, []*storage.User{opUser()})
	for _, c := range []struct{ name, verifier, redirect string }{
		{"wrong code_verifier", newPKCE().verifier, appRedirect},
		{"another allowed redirect_uri", "", "https://app.example/other"},
	} {
		p := newPKCE()
		q := w.signIn("zid", p, "")
		v := c.verifier
		if v == "" {
			v = p.verifier
		}
		wantTokenError(t, w.redeem(q.Get("code"), v, c.redirect), c.name, http.StatusBadRequest, "invalid_grant")
		wantTokenError(t, w.redeem(q.Get("code"), p.verifier, appRedirect), c.name+", then the right one", http.StatusBadRequest, "invalid_grant")
	}
	wantTokenError(t, tokenForm(w.env, []string{"grant_type", "authorization_code", "code", "x"}), "no verifier", http.StatusBadRequest, "invalid_request")
}

// ID tokens that do not verify prove nothing: the application hears access_denied and
// no account is made. The untouched token signs up, so each refusal is the spoiling's.
func TestOAuth_AnIDTokenThatDoesNotVerifyIsRefused(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name  string
		spoil func(r *rogueIssuer) func(jwt.MapClaims) *ecdsa.PrivateKey
	}{
		{"another audience", func(*rogueIssuer) func(jwt.MapClaims) *ecdsa.PrivateKey {
			return func(c jwt.MapClaims) *ecdsa.PrivateKey { c["aud"] = "someone-else"; return nil }
		}},
		{"another nonce", func(*rogueIssuer) func(jwt.MapClaims) *ecdsa.PrivateKey {
			return func(c jwt.MapClaims) *ecdsa.PrivateKey { c["nonce"] = "not-the-nonce"; return nil }
		}},
		{"no nonce", func(*rogueIssuer) func(jwt.MapClaims) *ecdsa.PrivateKey {
			return func(c jwt.MapClaims) *ecdsa.PrivateKey { delete(c, "nonce"); return nil }
		}},
		{"expired", func(*rogueIssuer) func(jwt.MapClaims) *ecdsa.PrivateKey {
			return func(c jwt.MapClaims) *ecdsa.PrivateKey { c["exp"] = time.Now().Add(-time.Hour).Unix(); return nil }
		}},
		{"another issuer", func(*rogueIssuer) func(jwt.MapClaims) *ecdsa.PrivateKey {
			return func(c jwt.MapClaims) *ecdsa.PrivateKey { c["iss"] = "https://evil.example"; return nil }
		}},
		{"signed by a key the JWK Set does not hold", func(r *rogueIssuer) func(jwt.MapClaims) *ecdsa.PrivateKey {
			return func(jwt.MapClaims) *ecdsa.PrivateKey { return r.other }
		}},
		{"untouched", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, nil)
			if c.spoil != nil {
				w.rogue.setSpoil(c.spoil(w.rogue))
			}
			q := w.signIn("rogue", newPKCE(), "st")
			n := lanyardtest.RawCount(t, w.env.DB, "users", bson.D{})
			if c.spoil == nil {
				if q.Get("code") == "" || n != 1 {
					t.Fatalf("the untouched ID token returned %v with %d users; want a code and a new account", q, n)
				}
				return
			}
			wantRedirectError(t, q, "an ID token with "+c.name, "access_denied", "st")
			if n != 0 {
				t.Errorf("%d users after a refused ID token; want none", n)
			}
		})
	}
}

// A flow is kept 10 minutes and the application's code 60 seconds: later, both are refused.
func TestOAuth_ExpiredFlowsAreRefused(t *testing.T) {
	t.Parallel()
	clock := lanyardtest.NewClockAt(time.Now())
	w := newWorld(t, []*storage.User{opUser()}, lanyardtest.WithClock(clock.Now))
	b := newBrowser(t)
	b.stopAtCallback = true
	_, loc, _ := b.visit(w.env.URL + authorizePath("zid", newPKCE(), ""))
	clock.Advance(10*time.Minute + time.Second)
	status, to, body := newBrowser(t).visit(loc.String())
	if status != http.StatusBadRequest || to != nil || !strings.Contains(body, "/problems/token-invalid") {
		t.Errorf("a callback after 10 minutes = %d %v %s; want 400 /problems/token-invalid", status, to, body)
	}

	p := newPKCE()
	q := w.signIn("zid", p, "")
	clock.Advance(61 * time.Second)
	wantTokenError(t, w.redeem(q.Get("code"), p.verifier, appRedirect), "a code after 61 s", http.StatusBadRequest, "invalid_grant")
}

// A redirect_uri that is not exactly an allowed one is a 400, and nobody is sent
// anywhere; so is linking towards one.
func TestOAuth_ARedirectURINotAllowedIsRefused(t *testing.T) {
	t.Parallel()
	w := newWorld(t, []*storage.User{opUser()})
	p := newPKCE()
	for _, bad := range []string{"https://evil.example/auth/done", appRedirect + "/", appRedirect + "?x=1", "https://APP.example/auth/done"} {
		path := strings.Replace(authorizePath("zid", p, ""), url.QueryEscape(appRedirect), url.QueryEscape(bad), 1)
		status, loc, body := newBrowser(t).visit(w.env.URL + path)
		if status != http.StatusBadRequest || loc != nil || !strings.Contains(body, "/problems/redirect-uri-not-allowed") {
			t.Errorf("authorize towards %s = %d %v %s; want 400 redirect-uri-not-allowed, no redirect", bad, status, loc, body)
		}
	}
	a := w.env.Register("ada")
	r := w.env.Do("POST", "/api/users/me/linked-ids/oauth/zid", map[string]any{"redirect_uri": "https://evil.example/"}, "Bearer", a.Access)
	if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), "/problems/redirect-uri-not-allowed") {
		t.Errorf("linking towards a foreign URL = %d %s; want 400 redirect-uri-not-allowed", r.Status, r.Body)
	}
	for _, c := range []struct{ name, challenge, method string }{
		{"the plain method", p.verifier, "plain"},
		{"no method", p.challenge, ""},
		{"a challenge that is no S256", "short", "S256"},
		{"no challenge", "", "S256"},
	} {
		q := url.Values{"redirect_uri": {appRedirect}, "code_challenge": {c.challenge}, "code_challenge_method": {c.method}}
		status, loc, body := newBrowser(t).visit(w.env.URL + "/api/auth/oauth/zid/authorize?" + q.Encode())
		if status != http.StatusUnprocessableEntity || loc != nil {
			t.Errorf("authorize with %s = %d %v %s; want 422 and no redirect", c.name, status, loc, body)
		}
	}
	if r := w.env.Do("GET", authorizePath("nosuch", p, ""), nil); r.Status != http.StatusNotFound {
		t.Errorf("authorize through an unknown provider = %d; want 404", r.Status)
	}
}

// The github type reads the user and its primary email from GitHub's API: the
// numeric id is the subject, the email verified as GitHub says.
func TestOAuth_GitHubSignsUpAndInByItsAPI(t *testing.T) {
	t.Parallel()
	w := newWorld(t, nil)
	first := w.signUp("gh")
	if first.User["email"] != w.gh.email || first.User["email_verified"] != true || first.User["has_password"] != false {
		t.Errorf("github sign-up = %v; want %s, verified, no password", first.User, w.gh.email)
	}
	if links := linksOf(t, w, first.AccessToken); len(links) != 1 || links[0]["provider"] != "gh" || links[0]["external_id"] != "4242" || links[0]["verified"] != true {
		t.Errorf("links = %v; want gh 4242 verified", links)
	}
	if again := w.signUp("gh"); again.User["id"] != first.User["id"] {
		t.Errorf("second github sign-in opened %v; want %v", again.User["id"], first.User["id"])
	}
	if amr := amrOf(t, first.AccessToken); !reflect.DeepEqual(amr, []any{"gh"}) {
		t.Errorf("amr = %#v; want [gh]", amr)
	}
}

// GET /api/auth/providers names what the providers file configures.
func TestOAuth_ProvidersAreListed(t *testing.T) {
	t.Parallel()
	w := newWorld(t, nil)
	var body struct {
		Items []map[string]string `json:"items"`
	}
	w.env.Do("GET", "/api/auth/providers", nil).Must(t, http.StatusOK).JSON(t, &body)
	want := []map[string]string{{"name": "zid", "type": "oidc"}, {"name": "zclosed", "type": "oidc"}, {"name": "rogue", "type": "oidc"}, {"name": "gh", "type": "github"}}
	if !reflect.DeepEqual(body.Items, want) {
		t.Errorf("providers = %v; want %v", body.Items, want)
	}
	var none struct {
		Items []any `json:"items"`
	}
	lanyardtest.New(t).Do("GET", "/api/auth/providers", nil).Must(t, http.StatusOK).JSON(t, &none)
	if none.Items == nil || len(none.Items) != 0 {
		t.Errorf("providers without a file = %v; want an empty list", none.Items)
	}
}

// With LANYARD_PUBLIC_URL set, the callback the provider is told to return to is
// under it, whatever address the request reached (a proxy in front); without it,
// the request's own origin.
func TestOAuth_TheCallbackIsUnderThePublicURLWhenSet(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ name, public string }{{"public URL", "https://accounts.example"}, {"request origin", ""}} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var opts []lanyardtest.Option
			if c.public != "" {
				opts = append(opts, lanyardtest.WithEnv("LANYARD_PUBLIC_URL", c.public))
			}
			w := newWorld(t, nil, opts...)
			b := newBrowser(t)
			b.c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
			status, loc, body := b.visit(w.env.URL + authorizePath("rogue", newPKCE(), ""))
			if status != http.StatusFound || loc == nil {
				t.Fatalf("authorize = %d %v %s; want a redirect to the provider", status, loc, body)
			}
			base := c.public
			if base == "" {
				base = w.env.URL
			}
			if got, want := loc.Query().Get("redirect_uri"), base+"/api/auth/oauth/rogue/callback"; got != want {
				t.Errorf("the provider is told to return to %s; want %s", got, want)
			}
		})
	}
}
