package httpapi_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/text/language"

	"github.com/lanyard/lanyard/internal/lanyardtest"
)

// appRedirect is the application URL the tests' flows return to; nothing serves it:
// the test's browser stops at the redirect there and reads it.
const appRedirect = "https://app.example/auth/done"

// The client secrets the providers file names through variables.
const (
	opSecret    = "op-client-secret-5f1c2e"
	rogueSecret = "rogue-client-secret-77ab"
	ghSecret    = "gh-client-secret-0d9e41"
)

// world is a Lanyard configured with four identity providers, all in the test
// process: "zid" and "zclosed" are one real OpenID provider (zitadel's op package,
// with its example storage and the test's users), sign-up allowed and not; "rogue" a
// hand-rolled OIDC issuer whose ID tokens the test spoils on purpose; "gh" a
// GitHub-style OAuth2 server.
type world struct {
	t     *testing.T
	env   *lanyardtest.Env
	op    *testOP
	rogue *rogueIssuer
	gh    *fakeGitHub
}

// opUser is the zitadel test user the tests sign in as (subject "id1").
func opUser() *storage.User {
	return &storage.User{ID: "id1", Username: "grace", Password: "op-password", FirstName: "Grace", LastName: "Hopper",
		Email: "grace-" + randomTag() + "@example.com", EmailVerified: true, PreferredLanguage: language.English}
}

func randomTag() string {
	b := make([]byte, 4)
	rand.Read(b)
	return fmt.Sprintf("%x", b)
}

// newWorld starts the providers, then Lanyard with a providers file naming them (and
// opts), then registers Lanyard's callbacks with the providers.
func newWorld(t *testing.T, users []*storage.User, opts ...lanyardtest.Option) *world {
	t.Helper()
	w := &world{t: t, op: startOP(t, users), rogue: startRogue(t), gh: startGitHub(t)}
	doc := fmt.Sprintf(`providers:
  - {name: zid, type: oidc, issuer: %q, client_id: lanyard, client_secret_env: ZID_SECRET, allow_signup: true}
  - {name: zclosed, type: oidc, issuer: %q, client_id: lanyard, client_secret_env: ZID_SECRET}
  - {name: rogue, type: oidc, issuer: %q, client_id: lanyard-rogue, client_secret_env: ROGUE_SECRET, allow_signup: true}
  - name: gh
    type: github
    client_id: gh-client
    client_secret_env: GH_SECRET
    allow_signup: true
    # GitHub Enterprise Server's endpoints are given the same way.
    auth_url: %q
    token_url: %q
    api_url: %q
`, w.op.url, w.op.url, w.rogue.url, w.gh.url+"/login/oauth/authorize", w.gh.url+"/login/oauth/access_token", w.gh.url)
	path := filepath.Join(t.TempDir(), "providers.yaml")
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	opts = append([]lanyardtest.Option{
		lanyardtest.WithEnv("LANYARD_PROVIDERS_FILE", path),
		lanyardtest.WithEnv("LANYARD_REDIRECT_URLS", appRedirect+", https://app.example/other"),
		lanyardtest.WithEnv("ZID_SECRET", opSecret),
		lanyardtest.WithEnv("ROGUE_SECRET", rogueSecret),
		lanyardtest.WithEnv("GH_SECRET", ghSecret),
	}, opts...)
	w.env = lanyardtest.New(t, opts...)
	w.op.register(w.env.URL+"/api/auth/oauth/zid/callback", w.env.URL+"/api/auth/oauth/zclosed/callback")
	w.rogue.callback = w.env.URL + "/api/auth/oauth/rogue/callback"
	w.gh.callback = w.env.URL + "/api/auth/oauth/gh/callback"
	return w
}

// pkce is an application's PKCE pair.
type pkce struct{ verifier, challenge string }

func newPKCE() pkce {
	b := make([]byte, 32)
	rand.Read(b)
	v := base64.RawURLEncoding.EncodeToString(b)
	sum := sha256.Sum256([]byte(v))
	return pkce{verifier: v, challenge: base64.RawURLEncoding.EncodeToString(sum[:])}
}

// authorizePath is the application's link to sign in through provider.
func authorizePath(provider string, p pkce, state string) string {
	q := url.Values{"redirect_uri": {appRedirect}, "code_challenge": {p.challenge}, "code_challenge_method": {"S256"}}
	if state != "" {
		q.Set("state", state)
	}
	return "/api/auth/oauth/" + provider + "/authorize?" + q.Encode()
}

// browser follows redirects as a browser does, and stops at the application (the
// answer is then the redirect there) or, with stopAtCallback, at Lanyard's callback.
type browser struct {
	t              *testing.T
	c              *http.Client
	stopAtCallback bool
}

func newBrowser(t *testing.T) *browser {
	b := &browser{t: t}
	b.c = &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if req.URL.Host == "app.example" || b.stopAtCallback && strings.HasSuffix(req.URL.Path, "/callback") && strings.Contains(req.URL.Path, "/api/auth/oauth/") {
			return http.ErrUseLastResponse
		}
		if len(via) > 20 {
			return errors.New("too many redirects")
		}
		return nil
	}}
	return b
}

// visit GETs u and answers the final response: status, Location and body.
func (b *browser) visit(u string) (int, *url.URL, string) {
	b.t.Helper()
	res, err := b.c.Get(u)
	if err != nil {
		b.t.Fatalf("GET %s: %v", u, err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	loc, _ := res.Location()
	return res.StatusCode, loc, string(body)
}

// signIn walks a sign-in through provider to the application and answers where it
// landed (the application's redirect URL with its query).
func (w *world) signIn(provider string, p pkce, state string) url.Values {
	w.t.Helper()
	status, loc, body := newBrowser(w.t).visit(w.env.URL + authorizePath(provider, p, state))
	if status != http.StatusFound || loc == nil || loc.Host != "app.example" {
		w.t.Fatalf("sign-in through %s ended with %d at %v; want a redirect to the application; body: %s", provider, status, loc, body)
	}
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != appRedirect {
		w.t.Fatalf("sign-in through %s returned to %s; want %s", provider, got, appRedirect)
	}
	return loc.Query()
}

// redeem exchanges an application's code at the token endpoint.
func (w *world) redeem(code, verifier, redirect string) *lanyardtest.Response {
	w.t.Helper()
	return tokenForm(w.env, []string{"grant_type", "authorization_code", "code", code, "code_verifier", verifier, "redirect_uri", redirect})
}

// signUp signs in through provider and redeems the code: the account's token pair.
func (w *world) signUp(provider string) tokenPairBody {
	w.t.Helper()
	p := newPKCE()
	q := w.signIn(provider, p, "")
	if q.Get("code") == "" {
		w.t.Fatalf("sign-in through %s returned %v; want a code", provider, q)
	}
	r := w.redeem(q.Get("code"), p.verifier, appRedirect).Must(w.t, http.StatusOK)
	var pair tokenPairBody
	r.JSON(w.t, &pair)
	return pair
}

// --- zitadel's OpenID provider -------------------------------------------------

// testOP is zitadel's op package on an httptest server, with the example storage
// and the test's users. Its login page signs in the user named by next without a
// form: the test plays the person.
type testOP struct {
	t       *testing.T
	url     string
	srv     *httptest.Server
	handler atomic.Pointer[http.Handler]
	users   map[string]*storage.User
	st      *storage.Storage
	next    atomic.Pointer[storage.User]
}

type opUsers struct{ users map[string]*storage.User }

func (u opUsers) GetUserByID(id string) *storage.User { return u.users[id] }
func (u opUsers) GetUserByUsername(name string) *storage.User {
	for _, x := range u.users {
		if x.Username == name {
			return x
		}
	}
	return nil
}
func (u opUsers) ExampleClientID() string { return "service" }

func startOP(t *testing.T, users []*storage.User) *testOP {
	o := &testOP{t: t, users: map[string]*storage.User{}}
	for _, u := range users {
		o.users[u.ID] = u
	}
	if len(users) > 0 {
		o.next.Store(users[0])
	}
	o.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := o.handler.Load()
		if h == nil {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		(*h).ServeHTTP(w, r)
	}))
	t.Cleanup(o.srv.Close)
	o.url = o.srv.URL
	return o
}

// register makes Lanyard's callbacks the client's redirect URIs and starts the OP.
func (o *testOP) register(callbacks ...string) {
	o.st = storage.NewStorageWithClients(opUsers{o.users}, map[string]*storage.Client{
		"lanyard": storage.WebClient("lanyard", opSecret, callbacks...),
	})
	provider, err := op.NewProvider(&op.Config{CryptoKey: sha256.Sum256([]byte("op crypto key")), CodeMethodS256: true, AuthMethodPost: true},
		o.st, op.StaticIssuer(o.url), op.WithAllowInsecure(), op.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		o.t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/login/username", func(w http.ResponseWriter, r *http.Request) {
		id := r.FormValue("authRequestID")
		u := o.next.Load()
		if err := o.st.CheckUsernamePassword(u.Username, u.Password, id); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		http.Redirect(w, r, op.AuthCallbackURL(provider)(op.ContextWithIssuer(r.Context(), o.url), id), http.StatusFound)
	})
	mux.Handle("/", provider)
	var h http.Handler = mux
	o.handler.Store(&h)
}

// --- a hand-rolled OIDC issuer, for ID tokens no real provider would issue -----

// rogueIssuer is a minimal OpenID provider: discovery, a JWK Set, an authorization
// endpoint that approves at once, and a token endpoint whose ID token spoil shapes.
type rogueIssuer struct {
	url      string
	callback string
	key      *ecdsa.PrivateKey
	other    *ecdsa.PrivateKey // a key the JWK Set does not publish

	mu     sync.Mutex
	nonces map[string]string // code → the nonce the authorization request carried
	spoil  func(claims jwt.MapClaims) *ecdsa.PrivateKey
	sub    string
	email  string
}

func startRogue(t *testing.T) *rogueIssuer {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	r := &rogueIssuer{key: key, other: other, nonces: map[string]string{}, sub: "rogue-subject-" + randomTag(), email: "rogue-" + randomTag() + "@example.com"}
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	r.url = srv.URL
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer": r.url, "authorization_endpoint": r.url + "/authorize", "token_endpoint": r.url + "/token",
			"jwks_uri": r.url + "/jwks", "response_types_supported": []string{"code"}, "subject_types_supported": []string{"public"},
			"id_token_signing_alg_values_supported": []string{"ES256"},
		})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Algorithm: "ES256", Use: "sig"}}})
	})
	mux.HandleFunc("GET /authorize", func(w http.ResponseWriter, req *http.Request) {
		q := req.URL.Query()
		code := "rogue-code-" + randomTag()
		r.mu.Lock()
		r.nonces[code] = q.Get("nonce")
		r.mu.Unlock()
		http.Redirect(w, req, q.Get("redirect_uri")+"?"+url.Values{"code": {code}, "state": {q.Get("state")}}.Encode(), http.StatusFound)
	})
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, req *http.Request) {
		_ = req.ParseForm()
		r.mu.Lock()
		nonce, ok := r.nonces[req.PostForm.Get("code")]
		delete(r.nonces, req.PostForm.Get("code"))
		spoil := r.spoil
		r.mu.Unlock()
		if !ok {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"error":"invalid_grant"}`))
			return
		}
		now := time.Now()
		claims := jwt.MapClaims{"iss": r.url, "sub": r.sub, "aud": "lanyard-rogue", "exp": now.Add(5 * time.Minute).Unix(), "iat": now.Unix(),
			"nonce": nonce, "email": r.email, "email_verified": true}
		signer := r.key
		if spoil != nil {
			if k := spoil(claims); k != nil {
				signer = k
			}
		}
		tok := jwt.NewWithClaims(jwt.SigningMethodES256, claims)
		tok.Header["kid"] = "k1"
		raw, err := tok.SignedString(signer)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": "rogue-access", "token_type": "Bearer", "expires_in": 300, "id_token": raw})
	})
	return r
}

func (r *rogueIssuer) setSpoil(f func(jwt.MapClaims) *ecdsa.PrivateKey) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.spoil = f
}

// --- a GitHub-style OAuth2 server -----------------------------------------------

// fakeGitHub serves GitHub's OAuth2 endpoints and the two API calls Lanyard makes.
type fakeGitHub struct {
	url      string
	callback string

	mu       sync.Mutex
	codes    map[string]bool
	tokens   map[string]bool
	id       int64
	email    string
	verified bool
}

func startGitHub(t *testing.T) *fakeGitHub {
	g := &fakeGitHub{codes: map[string]bool{}, tokens: map[string]bool{}, id: 4242, email: "octo-" + randomTag() + "@example.com", verified: true}
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	g.url = srv.URL
	mux.HandleFunc("GET /login/oauth/authorize", func(w http.ResponseWriter, req *http.Request) {
		q := req.URL.Query()
		if q.Get("client_id") != "gh-client" || q.Get("redirect_uri") != g.callback {
			http.Error(w, "unknown client or redirect_uri", http.StatusBadRequest)
			return
		}
		code := "gh-code-" + randomTag()
		g.mu.Lock()
		g.codes[code] = true
		g.mu.Unlock()
		http.Redirect(w, req, q.Get("redirect_uri")+"?"+url.Values{"code": {code}, "state": {q.Get("state")}}.Encode(), http.StatusFound)
	})
	mux.HandleFunc("POST /login/oauth/access_token", func(w http.ResponseWriter, req *http.Request) {
		_ = req.ParseForm()
		f := req.PostForm
		g.mu.Lock()
		ok := g.codes[f.Get("code")] && f.Get("client_id") == "gh-client" && f.Get("client_secret") == ghSecret && f.Get("code_verifier") != ""
		delete(g.codes, f.Get("code"))
		tok := "gho_" + randomTag()
		if ok {
			g.tokens[tok] = true
		}
		g.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if !ok {
			_, _ = w.Write([]byte(`{"error":"bad_verification_code"}`)) // GitHub answers 200 with an error
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"access_token": tok, "token_type": "bearer", "scope": "read:user,user:email"})
	})
	authed := func(req *http.Request) bool {
		g.mu.Lock()
		defer g.mu.Unlock()
		return g.tokens[strings.TrimPrefix(req.Header.Get("Authorization"), "Bearer ")]
	}
	mux.HandleFunc("GET /user", func(w http.ResponseWriter, req *http.Request) {
		if !authed(req) {
			http.Error(w, `{"message":"Bad credentials"}`, http.StatusUnauthorized)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"id": g.id, "login": "octocat", "email": nil})
	})
	mux.HandleFunc("GET /user/emails", func(w http.ResponseWriter, req *http.Request) {
		if !authed(req) {
			http.Error(w, `{"message":"Bad credentials"}`, http.StatusUnauthorized)
			return
		}
		_ = json.NewEncoder(w).Encode([]map[string]any{
			{"email": "old-" + g.email, "primary": false, "verified": true},
			{"email": g.email, "primary": true, "verified": g.verified},
		})
	})
	return g
}

// ctx is a context for the test's direct store calls.
func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}
