package httpapi_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"github.com/lanyard/lanyard/internal/lanyardtest"
)

// passkeyPage is the test's own page: it calls the passkey operations the way an
// application's page would, handing the options to the browser through
// PublicKeyCredential.parseCreationOptionsFromJSON / parseRequestOptionsFromJSON and
// posting the credential's toJSON().
const passkeyPage = `<!doctype html><meta charset="utf-8"><title>passkeys</title>
<script>
async function call(method, path, token, body) {
  const headers = {};
  if (token) headers["Authorization"] = "Bearer " + token;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const r = await fetch(path, {method, headers, body: body === undefined ? undefined : JSON.stringify(body)});
  return {status: r.status, body: await r.json().catch(() => null)};
}
async function registerPasskey(token) {
  const o = await call("POST", "/api/users/me/passkeys/options", token);
  if (o.status !== 200) return o;
  const cred = await navigator.credentials.create({publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(o.body.publicKey)});
  return call("POST", "/api/users/me/passkeys?name=chromium", token, cred.toJSON());
}
async function signIn() {
  const o = await call("POST", "/api/auth/passkey/options");
  if (o.status !== 200) return o;
  const cred = await navigator.credentials.get({publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(o.body.publicKey)});
  return call("POST", "/api/auth/passkey", undefined, cred.toJSON());
}
</script>`

// TestPasskey_ChromiumRegistersAndSignsIn: in headless Chromium with a virtual
// authenticator (the DevTools WebAuthn domain: CTAP2, internal transport, resident
// keys, user verification), a page on the service's origin registers a passkey through
// navigator.credentials.create() and signs in with navigator.credentials.get(), no
// login name given; the token pair's access token works and says amr ["hwk"]. The page
// is http://localhost:<port> (a secure context, as 127.0.0.1 may not be), serving the
// page itself and passing /api/ to the service; the service's RP ID is localhost and
// its one origin that page's.
func TestPasskey_ChromiumRegistersAndSignsIn(t *testing.T) {
	t.Parallel()
	ctx := lanyardtest.Browser(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	origin := fmt.Sprintf("http://localhost:%d", ln.Addr().(*net.TCPAddr).Port)
	env := lanyardtest.New(t,
		lanyardtest.WithEnv("LANYARD_WEBAUTHN_RP_ID", "localhost"),
		lanyardtest.WithEnv("LANYARD_WEBAUTHN_ORIGINS", origin))
	a := env.Register("ada")

	api, err := url.Parse(env.URL)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/api/", httputil.NewSingleHostReverseProxy(api))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(passkeyPage))
	})
	page := httptest.NewUnstartedServer(mux)
	page.Listener.Close()
	page.Listener = ln
	page.Start()
	t.Cleanup(page.Close)

	type answer struct {
		Status int            `json:"status"`
		Body   map[string]any `json:"body"`
	}
	var added, signed answer
	await := func(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }
	if err := chromedp.Run(ctx,
		webauthn.Enable(),
		chromedp.ActionFunc(func(ctx context.Context) error {
			_, err := webauthn.AddVirtualAuthenticator(&webauthn.VirtualAuthenticatorOptions{
				Protocol: webauthn.AuthenticatorProtocolCtap2, Ctap2version: webauthn.Ctap2versionCtap21,
				Transport: webauthn.AuthenticatorTransportInternal, HasResidentKey: true,
				HasUserVerification: true, IsUserVerified: true, AutomaticPresenceSimulation: true,
			}).Do(ctx)
			return err
		}),
		chromedp.Navigate(origin+"/"),
		chromedp.Evaluate(fmt.Sprintf("registerPasskey(%q)", a.Access), &added, await),
		chromedp.Evaluate("signIn()", &signed, await),
	); err != nil {
		t.Fatalf("browser: %v", err)
	}
	if added.Status != http.StatusCreated || added.Body["name"] != "chromium" {
		t.Fatalf("registering through navigator.credentials.create() = %d %v; want 201 the passkey", added.Status, added.Body)
	}
	if signed.Status != http.StatusOK {
		t.Fatalf("signing in through navigator.credentials.get() = %d %v; want 200", signed.Status, signed.Body)
	}
	access, _ := signed.Body["access_token"].(string)
	if user, _ := signed.Body["user"].(map[string]any); user["id"] != a.ID {
		t.Errorf("the sign-in's user = %v; want %s", signed.Body["user"], a.ID)
	}
	if got := amrOf(t, access); !reflect.DeepEqual(got, []any{"hwk"}) {
		t.Errorf("amr of the browser's sign-in = %#v; want [hwk]", got)
	}
	me := env.Do("GET", "/api/users/me", nil, "Bearer", access)
	if me.Status != http.StatusOK || !strings.Contains(string(me.Body), a.ID) {
		t.Errorf("GET /api/users/me with the browser's access token = %d %s; want 200 ada", me.Status, me.Body)
	}
}
