// Package provider holds the identity providers Lanyard signs people in through:
// the providers file (LANYARD_PROVIDERS_FILE) and, for each entry, a client that
// sends a person to the provider and turns the provider's answer into an Identity —
// an OpenID Connect provider found by discovery from its issuer (its ID token
// verified through golang.org/x/oauth2 and github.com/coreos/go-oidc/v3), or GitHub's
// OAuth2 with its REST API. It decides nothing about accounts: which account an
// identity opens is internal/method's.
package provider

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"regexp"
	"slices"

	"go.yaml.in/yaml/v3"
)

// Types of provider.
const (
	TypeOIDC   = "oidc"
	TypeGitHub = "github"
)

// GitHub's endpoints, which a providers file may replace (GitHub Enterprise Server:
// https://HOST/login/oauth/authorize, https://HOST/login/oauth/access_token,
// https://HOST/api/v3).
const (
	GitHubAuthURL  = "https://github.com/login/oauth/authorize"
	GitHubTokenURL = "https://github.com/login/oauth/access_token"
	GitHubAPIURL   = "https://api.github.com"
)

// Secret is a client secret. It formats as [redacted] in logs and %v.
type Secret string

// LogValue implements slog.LogValuer.
func (Secret) LogValue() slog.Value { return slog.StringValue("[redacted]") }

// String implements fmt.Stringer.
func (Secret) String() string { return "[redacted]" }

// Settings is one entry of the providers file, validated, its secret read.
type Settings struct {
	Name            string   `yaml:"name"`
	Type            string   `yaml:"type"`
	Issuer          string   `yaml:"issuer"`
	ClientID        string   `yaml:"client_id"`
	ClientSecretEnv string   `yaml:"client_secret_env"`
	Scopes          []string `yaml:"scopes"`
	AllowSignup     bool     `yaml:"allow_signup"`
	// AuthURL, TokenURL and APIURL replace GitHub's endpoints (type github only):
	// for GitHub Enterprise Server, and for tests.
	AuthURL  string `yaml:"auth_url"`
	TokenURL string `yaml:"token_url"`
	APIURL   string `yaml:"api_url"`

	// ClientSecret is read from the variable ClientSecretEnv names; never from the file.
	ClientSecret Secret `yaml:"-"`
}

// nameRE is a linked ID's provider name (linkid.Canonical): a provider's name is the
// provider of the linked IDs it proves.
var nameRE = regexp.MustCompile(`^[a-z][a-z0-9_.-]{1,31}$`)

// envRE is a plausible environment variable name.
var envRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,127}$`)

// Load reads the providers file at path (JSON or YAML; "" means no providers),
// reading each client secret through getenv. Every wrong entry is reported, one line
// each; no line holds a secret.
func Load(path string, getenv func(string) string) ([]Settings, error) {
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(b, getenv)
}

// Parse reads a providers document (JSON is YAML, so one parser reads both).
func Parse(data []byte, getenv func(string) string) ([]Settings, error) {
	var file struct {
		Providers []Settings `yaml:"providers"`
	}
	if len(bytes.TrimSpace(data)) > 0 {
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		if err := dec.Decode(&file); err != nil {
			return nil, fmt.Errorf("not a providers document: %w", err)
		}
	}
	var errs []error
	seen := map[string]bool{}
	out := make([]Settings, 0, len(file.Providers))
	for i, p := range file.Providers {
		bad := false
		check := func(ok bool, format string, args ...any) {
			if !ok {
				errs = append(errs, fmt.Errorf("providers[%d] (%s): %s", i, p.Name, fmt.Sprintf(format, args...)))
				bad = true
			}
		}
		check(nameRE.MatchString(p.Name), "name %q must be 2-32 of [a-z0-9_.-] starting with a letter, as a linked ID's provider", p.Name)
		check(!seen[p.Name] || p.Name == "", "name %q is already taken by an earlier entry", p.Name)
		seen[p.Name] = true
		check(p.ClientID != "", "client_id is required")
		check(envRE.MatchString(p.ClientSecretEnv), "client_secret_env must name the environment variable that holds the client secret")
		if envRE.MatchString(p.ClientSecretEnv) {
			p.ClientSecret = Secret(getenv(p.ClientSecretEnv))
			check(p.ClientSecret != "", "the variable %s that client_secret_env names is not set", p.ClientSecretEnv)
		}
		switch p.Type {
		case TypeOIDC:
			check(p.Issuer != "" && endpointURL(p.Issuer), "issuer %q must be an https URL (http only on a loopback host), the provider's issuer as its discovery document names it", p.Issuer)
			check(p.AuthURL == "" && p.TokenURL == "" && p.APIURL == "", "auth_url, token_url and api_url are for github; an oidc provider's endpoints come from discovery")
			if p.Scopes == nil {
				p.Scopes = []string{"openid", "email", "profile"}
			}
			check(slices.Contains(p.Scopes, "openid"), "scopes must include openid")
		case TypeGitHub:
			check(p.Issuer == "", "issuer is for oidc providers; github takes auth_url, token_url and api_url (for GitHub Enterprise Server), or GitHub's own by default")
			p.AuthURL = orDefault(p.AuthURL, GitHubAuthURL)
			p.TokenURL = orDefault(p.TokenURL, GitHubTokenURL)
			p.APIURL = orDefault(p.APIURL, GitHubAPIURL)
			for _, u := range []struct{ field, v string }{{"auth_url", p.AuthURL}, {"token_url", p.TokenURL}, {"api_url", p.APIURL}} {
				check(endpointURL(u.v), "%s %q must be an https URL (http only on a loopback host)", u.field, u.v)
			}
			if p.Scopes == nil {
				p.Scopes = []string{"read:user", "user:email"}
			}
		default:
			check(false, "type %q must be oidc or github", p.Type)
		}
		if !bad {
			out = append(out, p)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// endpointURL reports whether v is an absolute https URL, or http on a loopback
// host (a provider in the same machine, as tests run one).
func endpointURL(v string) bool {
	u, err := url.Parse(v)
	if err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return false
	}
	switch u.Scheme {
	case "https":
		return true
	case "http":
		host := u.Hostname()
		ip := net.ParseIP(host)
		return host == "localhost" || ip != nil && ip.IsLoopback()
	}
	return false
}
