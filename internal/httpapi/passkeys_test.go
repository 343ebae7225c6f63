package httpapi_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/descope/virtualwebauthn"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/lanyard/lanyard/internal/lanyardtest"
)

// The relying party the passkey tests configure: a service behind a domain, its
// pages on a subdomain of the RP ID.
const (
	testRPID   = "example.com"
	testOrigin = "https://app.example.com"
)

func passkeyEnv(t *testing.T, opts ...lanyardtest.Option) *lanyardtest.Env {
	t.Helper()
	return lanyardtest.New(t, append([]lanyardtest.Option{
		lanyardtest.WithEnv("LANYARD_WEBAUTHN_RP_ID", testRPID),
		lanyardtest.WithEnv("LANYARD_WEBAUTHN_ORIGINS", testOrigin),
	}, opts...)...)
}

// softKey is a software authenticator holding one credential, answering as a browser
// at origin would for the RP ID rpID.
type softKey struct {
	rp   virtualwebauthn.RelyingParty
	auth virtualwebauthn.Authenticator
	cred virtualwebauthn.Credential
}

func newSoftKey() *softKey {
	return &softKey{
		rp:   virtualwebauthn.RelyingParty{ID: testRPID, Name: "Lanyard", Origin: testOrigin},
		auth: virtualwebauthn.NewAuthenticator(),
		cred: virtualwebauthn.NewCredential(virtualwebauthn.KeyTypeEC2),
	}
}

// publicKeyOf is the publicKey member of an options answer, as JSON.
func publicKeyOf(t *testing.T, r *lanyardtest.Response) map[string]any {
	t.Helper()
	pk, ok := r.Map(t)["publicKey"].(map[string]any)
	if !ok {
		t.Fatalf("options answer has no publicKey object: %s", r.Body)
	}
	return pk
}

// create asks for creation options as a and answers them as the authenticator would
// (its user handle taken from the options), without sending the answer.
func (k *softKey) create(t *testing.T, env *lanyardtest.Env, a lanyardtest.Account) string {
	t.Helper()
	r := env.Do("POST", "/api/users/me/passkeys/options", nil, "Bearer", a.Access).Must(t, http.StatusOK)
	opts, err := virtualwebauthn.ParseAttestationOptions(string(r.Body))
	if err != nil {
		t.Fatalf("creation options: %v: %s", err, r.Body)
	}
	k.auth.Options.UserHandle = []byte(opts.UserID)
	return virtualwebauthn.CreateAttestationResponse(k.rp, k.auth, k.cred, *opts)
}

// register makes k's credential a passkey of a, and returns the Passkey answered.
func (k *softKey) register(t *testing.T, env *lanyardtest.Env, a lanyardtest.Account, name string) map[string]any {
	t.Helper()
	path := "/api/users/me/passkeys"
	if name != "" {
		path += "?name=" + name
	}
	r := env.Do("POST", path, jsonBody(k.create(t, env, a)), "Bearer", a.Access).Must(t, http.StatusCreated)
	k.auth.AddCredential(k.cred)
	return r.Map(t)
}

// assertion asks for sign-in options and answers them with k's credential, without
// sending the answer.
func (k *softKey) assertion(t *testing.T, env *lanyardtest.Env) string {
	t.Helper()
	r := env.Do("POST", "/api/auth/passkey/options", nil).Must(t, http.StatusOK)
	opts, err := virtualwebauthn.ParseAssertionOptions(string(r.Body))
	if err != nil {
		t.Fatalf("request options: %v: %s", err, r.Body)
	}
	return virtualwebauthn.CreateAssertionResponse(k.rp, k.auth, k.cred, *opts)
}

func jsonBody(s string) lanyardtest.Raw {
	return lanyardtest.Raw{ContentType: "application/json", Body: s}
}

func passkeyLogin(env *lanyardtest.Env, assertion string) *lanyardtest.Response {
	return env.Do("POST", "/api/auth/passkey", jsonBody(assertion))
}

// TestPasskey_RegisteredPasskeySignsIn: a passkey registered through the creation
// options signs its user in through the request options, with a TokenPair whose access
// token works and says amr ["hwk"]; the options are those of a discoverable sign-in
// (no allowCredentials, user verification required), and the user handle is neither the
// user's email nor its id.
func TestPasskey_RegisteredPasskeySignsIn(t *testing.T) {
	t.Parallel()
	env := passkeyEnv(t)
	a := env.Register("ada")
	k := newSoftKey()

	r := env.Do("POST", "/api/users/me/passkeys/options", nil, "Bearer", a.Access).Must(t, http.StatusOK)
	create := publicKeyOf(t, r)
	if rp, _ := create["rp"].(map[string]any); rp["id"] != testRPID {
		t.Errorf("creation options rp = %v; want id %s", create["rp"], testRPID)
	}
	sel, _ := create["authenticatorSelection"].(map[string]any)
	if sel["residentKey"] != "required" {
		t.Errorf("authenticatorSelection = %v; want residentKey required", sel)
	}
	user, _ := create["user"].(map[string]any)
	handle, _ := user["id"].(string)
	if raw, err := base64.RawURLEncoding.DecodeString(handle); err != nil || len(raw) == 0 ||
		strings.Contains(string(raw), a.Email) || strings.Contains(handle, a.ID) || strings.Contains(string(raw), string(oid(t, a.ID).Hex())) {
		t.Errorf("user handle %q is not opaque (email %s, id %s)", handle, a.Email, a.ID)
	}
	id := oid(t, a.ID)
	if raw, _ := base64.RawURLEncoding.DecodeString(handle); strings.Contains(string(raw), string(id[:])) {
		t.Errorf("user handle holds the user's id bytes")
	}

	got := k.register(t, env, a, "laptop")
	if got["name"] != "laptop" || got["last_used_at"] != nil || got["id"] == nil || got["created_at"] == nil {
		t.Errorf("POST /api/users/me/passkeys = %v; want the Passkey named laptop, never used", got)
	}
	for _, secret := range []string{"public_key", "credential_id", "sign_count", "publicKey"} {
		if _, ok := got[secret]; ok {
			t.Errorf("the Passkey shows %s", secret)
		}
	}

	r = env.Do("POST", "/api/auth/passkey/options", nil).Must(t, http.StatusOK)
	req := publicKeyOf(t, r)
	if _, ok := req["allowCredentials"]; ok {
		t.Errorf("request options name allowCredentials %v; a discoverable sign-in names none", req["allowCredentials"])
	}
	if req["userVerification"] != "required" || req["rpId"] != testRPID {
		t.Errorf("request options = %v; want userVerification required, rpId %s", req, testRPID)
	}

	pair := decodeTokenPair(t, "POST /api/auth/passkey", passkeyLogin(env, k.assertion(t, env)), a.ID)
	if got := amrOf(t, pair.AccessToken); !reflect.DeepEqual(got, []any{"hwk"}) {
		t.Errorf("amr of a passkey sign-in = %#v; want [hwk]", got)
	}
	if got := meStatus(env, pair.AccessToken); got != http.StatusOK {
		t.Errorf("GET /api/users/me with the passkey's access token = %d; want 200", got)
	}

	var list struct {
		Items []map[string]any `json:"items"`
	}
	env.Do("GET", "/api/users/me/passkeys", nil, "Bearer", a.Access).Must(t, http.StatusOK).JSON(t, &list)
	if len(list.Items) != 1 || list.Items[0]["id"] != got["id"] || list.Items[0]["last_used_at"] == nil {
		t.Errorf("GET /api/users/me/passkeys = %v; want the one passkey, used", list.Items)
	}
}

// TestPasskey_RegistrationRefusesAForeignCeremony: a credential made for another
// origin or another RP ID is refused with 422 and nothing is stored; so is a body that
// is no credential at all. Each attempt spent its challenge.
func TestPasskey_RegistrationRefusesAForeignCeremony(t *testing.T) {
	t.Parallel()
	env := passkeyEnv(t)
	a := env.Register("ada")
	tests := []struct {
		name   string
		adjust func(k *softKey)
		want   int
	}{
		{"another origin", func(k *softKey) { k.rp.Origin = "https://evil.example.net" }, http.StatusUnprocessableEntity},
		{"a lookalike origin", func(k *softKey) { k.rp.Origin = "https://app.example.com.evil.net" }, http.StatusUnprocessableEntity},
		{"another RP ID", func(k *softKey) { k.rp.ID = "evil.example.net" }, http.StatusUnprocessableEntity},
	}
	for _, tt := range tests {
		k := newSoftKey()
		tt.adjust(k)
		r := env.Do("POST", "/api/users/me/passkeys", jsonBody(k.create(t, env, a)), "Bearer", a.Access)
		wantLocations(t, problem(t, r, "POST /api/users/me/passkeys ("+tt.name+")", tt.want), tt.name, "body")
	}
	r := env.Do("POST", "/api/users/me/passkeys", map[string]any{"id": "x", "type": "public-key"}, "Bearer", a.Access)
	problem(t, r, "POST /api/users/me/passkeys (no credential)", http.StatusUnprocessableEntity)
	if n := count(t, env, "passkeys", bson.D{}); n != 0 {
		t.Errorf("%d passkeys stored after refused registrations; want 0", n)
	}
}

// TestPasskey_SignInRefusesAForeignAssertion: an assertion signed for another origin or
// RP ID, by an unknown credential, by a credential presented under another user's
// handle, or without user verification, is one 401, and nobody is signed in.
func TestPasskey_SignInRefusesAForeignAssertion(t *testing.T) {
	t.Parallel()
	env := passkeyEnv(t)
	ada, bob := env.Register("ada"), env.Register("bob")
	adaKey, bobKey := newSoftKey(), newSoftKey()
	adaKey.register(t, env, ada, "")
	bobKey.register(t, env, bob, "")

	tests := []struct {
		name string
		key  func() *softKey
	}{
		{"another origin", func() *softKey { k := *adaKey; k.rp.Origin = "https://evil.example.net"; return &k }},
		{"another RP ID", func() *softKey { k := *adaKey; k.rp.ID = "evil.example.net"; return &k }},
		{"an unknown credential", func() *softKey {
			k := newSoftKey()
			k.auth.Options.UserHandle = adaKey.auth.Options.UserHandle
			return k
		}},
		{"bob's credential under ada's handle", func() *softKey {
			k := *bobKey
			k.auth.Options.UserHandle = adaKey.auth.Options.UserHandle
			return &k
		}},
		{"ada's credential under bob's handle", func() *softKey {
			k := *adaKey
			k.auth.Options.UserHandle = bobKey.auth.Options.UserHandle
			return &k
		}},
		{"a handle that is no user's", func() *softKey {
			k := *adaKey
			k.auth.Options.UserHandle = []byte("0123456789abcdef")
			return &k
		}},
		{"no user verification", func() *softKey { k := *adaKey; k.auth.Options.UserNotVerified = true; return &k }},
	}
	for _, tt := range tests {
		k := tt.key()
		r := passkeyLogin(env, k.assertion(t, env))
		problem(t, r, "POST /api/auth/passkey ("+tt.name+")", http.StatusUnauthorized)
	}
	// Both keys still work: nothing above was held against them.
	decodeTokenPair(t, "POST /api/auth/passkey (ada)", passkeyLogin(env, adaKey.assertion(t, env)), ada.ID)
	decodeTokenPair(t, "POST /api/auth/passkey (bob)", passkeyLogin(env, bobKey.assertion(t, env)), bob.ID)
}

// TestPasskey_AssertionIsNotAcceptedTwice: the same assertion posted again is refused
// (its challenge was spent: 400 token-invalid), and a fresh challenge answered with a
// signature counter that did not advance is refused (401) without moving the stored
// counter, while an advancing counter signs in.
func TestPasskey_AssertionIsNotAcceptedTwice(t *testing.T) {
	t.Parallel()
	env := passkeyEnv(t)
	a := env.Register("ada")
	k := newSoftKey()
	k.cred.Counter = 5
	k.register(t, env, a, "")

	k.cred.Counter = 6
	assertion := k.assertion(t, env)
	decodeTokenPair(t, "POST /api/auth/passkey", passkeyLogin(env, assertion), a.ID)
	p := problem(t, passkeyLogin(env, assertion), "POST /api/auth/passkey (replayed)", http.StatusBadRequest)
	if p.Type != "/problems/token-invalid" {
		t.Errorf("a replayed assertion's problem type = %q; want /problems/token-invalid", p.Type)
	}
	for _, counter := range []uint32{6, 5, 0} {
		k.cred.Counter = counter
		problem(t, passkeyLogin(env, k.assertion(t, env)), "POST /api/auth/passkey (counter not advanced)", http.StatusUnauthorized)
	}
	k.cred.Counter = 7
	decodeTokenPair(t, "POST /api/auth/passkey (counter 7)", passkeyLogin(env, k.assertion(t, env)), a.ID)
}

// TestPasskey_RemovedPasskeyNoLongerSignsIn: removing a passkey takes the current
// password or a fresh assertion of one of the caller's passkeys (neither, both, a wrong
// password or another user's assertion is 422 and removes nothing); once removed it is
// gone from the list and its assertions are refused.
func TestPasskey_RemovedPasskeyNoLongerSignsIn(t *testing.T) {
	t.Parallel()
	env := passkeyEnv(t)
	a, b := env.Register("ada"), env.Register("bob")
	first, second, bobKey := newSoftKey(), newSoftKey(), newSoftKey()
	p1 := first.register(t, env, a, "first")
	p2 := second.register(t, env, a, "second")
	bobKey.register(t, env, b, "")
	path := func(p map[string]any) string { return "/api/users/me/passkeys/" + p["id"].(string) }
	credential := func(s string) map[string]any {
		var m map[string]any
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			t.Fatal(err)
		}
		return m
	}

	for _, tt := range []struct {
		name string
		body any
	}{
		{"no proof", map[string]any{}},
		{"a wrong password", map[string]any{"current_password": "not the password at all"}},
		{"both proofs", map[string]any{"current_password": a.Password, "credential": credential(first.assertion(t, env))}},
		{"bob's assertion", map[string]any{"credential": credential(bobKey.assertion(t, env))}},
	} {
		problem(t, env.Do("DELETE", path(p1), tt.body, "Bearer", a.Access), "DELETE passkey ("+tt.name+")", http.StatusUnprocessableEntity)
	}
	if r := env.Do("DELETE", "/api/users/me/passkeys/000000000000000000000000", map[string]any{"current_password": a.Password}, "Bearer", a.Access); r.Status != http.StatusNotFound {
		t.Errorf("DELETE an unknown passkey = %d; want 404", r.Status)
	}
	if r := env.Do("DELETE", path(p1), map[string]any{"current_password": a.Password}, "Bearer", b.Access); r.Status != http.StatusNotFound {
		t.Errorf("bob's DELETE of ada's passkey = %d; want 404", r.Status)
	}

	env.Do("DELETE", path(p1), map[string]any{"current_password": a.Password}, "Bearer", a.Access).Must(t, http.StatusNoContent)
	env.Do("DELETE", path(p2), map[string]any{"credential": credential(second.assertion(t, env))}, "Bearer", a.Access).Must(t, http.StatusNoContent)

	var list struct {
		Items []map[string]any `json:"items"`
	}
	env.Do("GET", "/api/users/me/passkeys", nil, "Bearer", a.Access).Must(t, http.StatusOK).JSON(t, &list)
	if len(list.Items) != 0 {
		t.Errorf("GET /api/users/me/passkeys after removing both = %v; want none", list.Items)
	}
	if n := count(t, env, "passkeys", bson.D{{Key: "user_id", Value: oid(t, a.ID)}}); n != 0 {
		t.Errorf("%d of ada's passkeys still stored after removing both; want 0", n)
	}
	for _, k := range []*softKey{first, second} {
		problem(t, passkeyLogin(env, k.assertion(t, env)), "POST /api/auth/passkey (removed)", http.StatusUnauthorized)
	}
	var export struct {
		Relations map[string][]map[string]any `json:"relations"`
	}
	env.Do("GET", "/api/users/me/export", nil, "Bearer", a.Access).Must(t, http.StatusOK).JSON(t, &export)
	removed := 0
	for _, e := range export.Relations["audit_events"] {
		if d, _ := e["detail"].(map[string]any); e["type"] == "passkey.removed" && (d["passkey_id"] == p1["id"] || d["passkey_id"] == p2["id"]) {
			removed++
		}
	}
	if removed != 2 {
		t.Errorf("audit events %v: %d passkey.removed of the two removed; want 2", export.Relations["audit_events"], removed)
	}
	decodeTokenPair(t, "POST /api/auth/passkey (bob, untouched)", passkeyLogin(env, bobKey.assertion(t, env)), b.ID)
}

// TestPasskey_AccountDeletionRemovesItsPasskeys: a chain delete counts and removes the
// user's passkeys, the export lists them without key material, and the audit trail
// records adding them.
func TestPasskey_AccountDeletionRemovesItsPasskeys(t *testing.T) {
	t.Parallel()
	env := passkeyEnv(t)
	a := env.Register("ada")
	k := newSoftKey()
	p := k.register(t, env, a, "phone")

	r := env.Do("GET", "/api/users/me/export", nil, "Bearer", a.Access).Must(t, http.StatusOK)
	var export struct {
		Relations map[string][]map[string]any `json:"relations"`
	}
	r.JSON(t, &export)
	keys := export.Relations["passkeys"]
	if len(keys) != 1 || keys[0]["id"] != p["id"] || keys[0]["name"] != "phone" {
		t.Errorf("export's passkeys = %v; want the one passkey", keys)
	}
	for _, secret := range []string{"public_key", "credential_id", "sign_count", "aaguid"} {
		if strings.Contains(string(r.Body), secret) {
			t.Errorf("the export holds %s", secret)
		}
	}
	added := false
	for _, e := range export.Relations["audit_events"] {
		if e["type"] == "passkey.added" {
			added = true
		}
	}
	if !added {
		t.Errorf("audit events %v hold no passkey.added", export.Relations["audit_events"])
	}

	r = env.Do("DELETE", "/api/users/me", map[string]any{"password": a.Password}, "Bearer", a.Access).Must(t, http.StatusOK)
	var report struct {
		Deleted map[string]int `json:"deleted"`
	}
	r.JSON(t, &report)
	if report.Deleted["passkeys"] != 1 {
		t.Errorf("deletion report = %v; want passkeys: 1", report.Deleted)
	}
	if n := count(t, env, "passkeys", bson.D{}); n != 0 {
		t.Errorf("%d passkeys stored after the account's deletion; want 0", n)
	}
	problem(t, passkeyLogin(env, k.assertion(t, env)), "POST /api/auth/passkey (deleted account)", http.StatusUnauthorized)
}
