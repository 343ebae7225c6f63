package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lanyard/lanyard/internal/config"
)

// A wrong providers file stops the start with one line per wrong entry, each naming
// LANYARD_PROVIDERS_FILE and the entry, and never the client secret; a right one
// gives each entry its secret, read from the variable it names, and its defaults.
func TestLoad_ProvidersFileOneLinePerWrongEntryAndNoSecret(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, doc string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	const secret = "s3cr3t-google-value"
	env := map[string]string{"GOOGLE_SECRET": secret, "GH_SECRET": secret + "-gh"}
	getenv := func(path string, extra ...string) func(string) string {
		return func(k string) string {
			if k == "LANYARD_PROVIDERS_FILE" {
				return path
			}
			for i := 0; i+1 < len(extra); i += 2 {
				if extra[i] == k {
					return extra[i+1]
				}
			}
			return env[k]
		}
	}

	bad := write("bad.yaml", `providers:
  - {name: google, type: oidc, issuer: "http://accounts.example.com", client_id: a, client_secret_env: GOOGLE_SECRET}
  - {name: google, type: oidc, issuer: "https://accounts.google.com", client_id: a, client_secret_env: GOOGLE_SECRET}
  - {name: X, type: saml, client_id: a, client_secret_env: GOOGLE_SECRET}
  - {name: gh, type: github, issuer: "https://github.com", client_secret_env: MISSING_SECRET}
  - {name: okta, type: oidc, issuer: "https://okta.example", client_id: a, client_secret_env: GOOGLE_SECRET, scopes: [email]}
`)
	_, err := config.Load(getenv(bad, "LANYARD_REDIRECT_URLS", "https://app.example/done#frag"))
	if err == nil {
		t.Fatal("a wrong providers file loaded")
	}
	lines := strings.Split(err.Error(), "\n")
	for _, want := range []string{
		"LANYARD_PROVIDERS_FILE: providers[0] (google): issuer",
		"LANYARD_PROVIDERS_FILE: providers[1] (google): name \"google\" is already taken",
		"LANYARD_PROVIDERS_FILE: providers[2] (X): name",
		"LANYARD_PROVIDERS_FILE: providers[2] (X): type \"saml\"",
		"LANYARD_PROVIDERS_FILE: providers[3] (gh): client_id is required",
		"LANYARD_PROVIDERS_FILE: providers[3] (gh): the variable MISSING_SECRET",
		"LANYARD_PROVIDERS_FILE: providers[3] (gh): issuer is for oidc providers",
		"LANYARD_PROVIDERS_FILE: providers[4] (okta): scopes must include openid",
		"LANYARD_REDIRECT_URLS: \"https://app.example/done#frag\"",
	} {
		found := 0
		for _, l := range lines {
			if strings.HasPrefix(l, want) {
				found++
			}
		}
		if found != 1 {
			t.Errorf("%d lines start with %q; want one. All:\n%s", found, want, err)
		}
	}
	if len(lines) != 9 {
		t.Errorf("%d lines; want 9, one per wrong entry's problem:\n%s", len(lines), err)
	}
	if strings.Contains(err.Error(), secret) {
		t.Errorf("the error holds the client secret:\n%s", err)
	}

	good := write("good.yaml", `{"providers": [
  {"name": "google", "type": "oidc", "issuer": "https://accounts.google.com", "client_id": "a", "client_secret_env": "GOOGLE_SECRET", "allow_signup": true},
  {"name": "gh", "type": "github", "client_id": "b", "client_secret_env": "GH_SECRET"}]}`)
	cfg, err := config.Load(getenv(good, "LANYARD_REDIRECT_URLS", "https://app.example/done, com.example.app:/cb"))
	if err != nil {
		t.Fatalf("a right providers file: %v", err)
	}
	if len(cfg.Providers) != 2 || string(cfg.Providers[0].ClientSecret) != secret || !cfg.Providers[0].AllowSignup || cfg.Providers[1].AllowSignup ||
		strings.Join(cfg.Providers[0].Scopes, " ") != "openid email profile" || cfg.Providers[1].APIURL != "https://api.github.com" {
		t.Errorf("providers = %+v; want the secrets read, the defaults filled in", cfg.Providers)
	}
	if len(cfg.RedirectURLs) != 2 {
		t.Errorf("redirect URLs = %v; want both", cfg.RedirectURLs)
	}
	if _, err := config.Load(getenv(good)); err == nil || !strings.Contains(err.Error(), "LANYARD_REDIRECT_URLS: required") {
		t.Errorf("providers without LANYARD_REDIRECT_URLS: %v; want it required", err)
	}
}
