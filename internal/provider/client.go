package provider

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// Identity is what a provider proved about the person it sent back: who they are to
// it (Subject, stable and never reassigned), and the email it shares, with whether it
// asserts that the person controls that address.
type Identity struct {
	Provider      string
	Subject       string
	Email         string
	EmailVerified bool
}

// LogValue keeps the subject and the email out of any log line.
func (i Identity) LogValue() slog.Value {
	return slog.GroupValue(slog.String("provider", i.Provider))
}

var (
	// ErrNotProven: the provider's answer proves nothing — the code was refused (spent,
	// expired, not this client's), the ID token does not verify (signature, iss, aud,
	// nonce, exp), or the answer names no subject.
	ErrNotProven = errors.New("the provider's answer proves no identity")
	// ErrUnreachable: the provider did not answer (or not as a provider would); the
	// person may try again.
	ErrUnreachable = errors.New("the identity provider could not be reached")
)

// Options are what every client shares.
type Options struct {
	// HTTPClient makes the requests to providers (nil: a client with a 10 s timeout).
	HTTPClient *http.Client
	// Now is the clock ID tokens' expiry is judged by (nil: time.Now).
	Now func() time.Time
}

// Set is the configured providers, by name.
type Set struct {
	byName map[string]*Client
	order  []*Client
}

// NewSet makes a client for each entry of the providers file. No provider is
// contacted until a person is sent to it: an OIDC provider's discovery document is
// fetched at its first use (and again after a failure), so a provider that is down
// does not stop Lanyard from starting.
func NewSet(ss []Settings, o Options) *Set {
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	s := &Set{byName: map[string]*Client{}}
	for _, st := range ss {
		c := &Client{s: st, http: o.HTTPClient, now: o.Now}
		s.byName[st.Name] = c
		s.order = append(s.order, c)
	}
	return s
}

// Get is the provider named name.
func (s *Set) Get(name string) (*Client, bool) {
	if s == nil {
		return nil, false
	}
	c, ok := s.byName[name]
	return c, ok
}

// All is every provider, in the file's order.
func (s *Set) All() []*Client {
	if s == nil {
		return nil
	}
	return s.order
}

// Names are the providers' names: the linked-ID providers only their flows may link.
func (s *Set) Names() []string {
	out := make([]string, 0, len(s.All()))
	for _, c := range s.All() {
		out = append(out, c.s.Name)
	}
	return out
}

// Client is one provider.
type Client struct {
	s    Settings
	http *http.Client
	now  func() time.Time

	mu         sync.Mutex
	discovered *oidc.Provider
}

// Name is the provider's name, the provider of the linked IDs it proves and the amr
// of the sessions it starts.
func (c *Client) Name() string { return c.s.Name }

// Type is oidc or github.
func (c *Client) Type() string { return c.s.Type }

// AllowSignup reports whether a person the provider proves but no account holds gets
// a new account.
func (c *Client) AllowSignup() bool { return c.s.AllowSignup }

// NewVerifier returns a fresh PKCE code verifier (RFC 7636) for the provider.
func NewVerifier() string { return oauth2.GenerateVerifier() }

// NewNonce returns a fresh OpenID Connect nonce: 256 random bits.
func NewNonce() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Ready fetches what the provider needs before a person is sent there: an OIDC
// provider's discovery document (once).
func (c *Client) Ready(ctx context.Context) error {
	if c.s.Type != TypeOIDC {
		return nil
	}
	_, err := c.provider(ctx)
	return err
}

// AuthCodeURL is where to send the person: the provider's authorization endpoint
// asking for a code for callback, carrying state, the nonce (OIDC) and the S256
// challenge of verifier.
func (c *Client) AuthCodeURL(ctx context.Context, callback, state, nonce, verifier string) (string, error) {
	conf, err := c.config(ctx, callback)
	if err != nil {
		return "", err
	}
	opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(verifier)}
	if c.s.Type == TypeOIDC {
		opts = append(opts, oidc.Nonce(nonce))
	}
	return conf.AuthCodeURL(state, opts...), nil
}

// Exchange redeems the provider's code (with the PKCE verifier, at the token
// endpoint, for callback) and answers the identity it proves. For OIDC that is the
// ID token, verified: its signature through the provider's JWK Set, iss, aud (and
// azp), exp, and nonce; its email claims, or the userinfo endpoint's for the same
// subject when the token carries none. For GitHub it is the API's user and its
// primary email.
func (c *Client) Exchange(ctx context.Context, callback, code, verifier, nonce string) (Identity, error) {
	conf, err := c.config(ctx, callback)
	if err != nil {
		return Identity{}, err
	}
	hctx := c.ctx(ctx)
	tok, err := conf.Exchange(hctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		return Identity{}, c.fail("exchange the code", err)
	}
	if c.s.Type == TypeGitHub {
		return c.github(hctx, conf, tok)
	}
	return c.idToken(hctx, conf, tok, nonce)
}

func (c *Client) idToken(ctx context.Context, conf *oauth2.Config, tok *oauth2.Token, nonce string) (Identity, error) {
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return Identity{}, fmt.Errorf("provider %s: the token response has no id_token: %w", c.s.Name, ErrNotProven)
	}
	p, err := c.provider(ctx)
	if err != nil {
		return Identity{}, err
	}
	idt, err := p.Verifier(&oidc.Config{ClientID: c.s.ClientID, Now: c.now}).Verify(ctx, raw)
	if err != nil {
		return Identity{}, fmt.Errorf("provider %s: id token: %w: %w", c.s.Name, err, ErrNotProven)
	}
	var claims struct {
		AuthorizedParty string `json:"azp"`
		Email           string `json:"email"`
		EmailVerified   any    `json:"email_verified"`
	}
	if err := idt.Claims(&claims); err != nil {
		return Identity{}, fmt.Errorf("provider %s: id token claims: %w: %w", c.s.Name, err, ErrNotProven)
	}
	switch {
	case subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(nonce)) != 1 || nonce == "":
		return Identity{}, fmt.Errorf("provider %s: id token: the nonce is not the one sent: %w", c.s.Name, ErrNotProven)
	case len(idt.Audience) > 1 && claims.AuthorizedParty != c.s.ClientID:
		return Identity{}, fmt.Errorf("provider %s: id token: several audiences and azp is not this client: %w", c.s.Name, ErrNotProven)
	case idt.Subject == "":
		return Identity{}, fmt.Errorf("provider %s: id token has no sub: %w", c.s.Name, ErrNotProven)
	}
	id := Identity{Provider: c.s.Name, Subject: idt.Subject, Email: claims.Email, EmailVerified: truthy(claims.EmailVerified)}
	if id.Email == "" && p.UserInfoEndpoint() != "" {
		info, err := p.UserInfo(ctx, conf.TokenSource(ctx, tok))
		if err != nil {
			return Identity{}, c.fail("read userinfo", err)
		}
		// The ID token says who; userinfo only adds the email, and only of the same subject.
		if info.Subject == idt.Subject {
			id.Email, id.EmailVerified = info.Email, info.EmailVerified
		}
	}
	return id, nil
}

// truthy reads email_verified, which some providers send as the string "true".
func truthy(v any) bool {
	switch b := v.(type) {
	case bool:
		return b
	case string:
		return strings.EqualFold(b, "true")
	}
	return false
}

// github reads the user the token belongs to, and its primary email: verified as
// GitHub says. The subject is the user's numeric id, which outlives a renamed login.
func (c *Client) github(ctx context.Context, conf *oauth2.Config, tok *oauth2.Token) (Identity, error) {
	hc := conf.Client(ctx, tok)
	var user struct {
		ID    int64  `json:"id"`
		Email string `json:"email"`
	}
	if err := c.getJSON(ctx, hc, "/user", &user); err != nil {
		return Identity{}, err
	}
	if user.ID <= 0 {
		return Identity{}, fmt.Errorf("provider %s: the user has no id: %w", c.s.Name, ErrNotProven)
	}
	id := Identity{Provider: c.s.Name, Subject: strconv.FormatInt(user.ID, 10), Email: user.Email}
	var emails []struct {
		Email    string `json:"email"`
		Primary  bool   `json:"primary"`
		Verified bool   `json:"verified"`
	}
	// Without the user:email scope GitHub answers 404; the public email stays, unverified.
	if err := c.getJSON(ctx, hc, "/user/emails", &emails); err == nil {
		for _, e := range emails {
			if e.Primary {
				id.Email, id.EmailVerified = e.Email, e.Verified
			}
		}
	} else if errors.Is(err, ErrUnreachable) {
		return Identity{}, err
	}
	return id, nil
}

func (c *Client) getJSON(ctx context.Context, hc *http.Client, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(c.s.APIURL, "/")+path, nil)
	if err != nil {
		return fmt.Errorf("provider %s: %w", c.s.Name, err)
	}
	req.Header.Set("Accept", "application/vnd.github+json")
	res, err := hc.Do(req)
	if err != nil {
		return c.fail("GET "+path, err)
	}
	defer res.Body.Close()
	switch {
	case res.StatusCode >= 500:
		return fmt.Errorf("provider %s: GET %s: %d: %w", c.s.Name, path, res.StatusCode, ErrUnreachable)
	case res.StatusCode != http.StatusOK:
		return fmt.Errorf("provider %s: GET %s: %d: %w", c.s.Name, path, res.StatusCode, ErrNotProven)
	}
	if err := json.NewDecoder(io.LimitReader(res.Body, 1<<20)).Decode(v); err != nil {
		return fmt.Errorf("provider %s: GET %s: %w: %w", c.s.Name, path, err, ErrNotProven)
	}
	return nil
}

// config is the provider's OAuth2 client for callback.
func (c *Client) config(ctx context.Context, callback string) (*oauth2.Config, error) {
	conf := &oauth2.Config{ClientID: c.s.ClientID, ClientSecret: string(c.s.ClientSecret), RedirectURL: callback, Scopes: c.s.Scopes}
	if c.s.Type == TypeGitHub {
		conf.Endpoint = oauth2.Endpoint{AuthURL: c.s.AuthURL, TokenURL: c.s.TokenURL, AuthStyle: oauth2.AuthStyleInParams}
		return conf, nil
	}
	p, err := c.provider(ctx)
	if err != nil {
		return nil, err
	}
	conf.Endpoint = p.Endpoint()
	return conf, nil
}

// provider is the OIDC provider as its discovery document describes it, fetched once
// it is first needed and kept (with the JWK Set go-oidc caches) for the process's
// life; a failed discovery is tried again next time.
func (c *Client) provider(ctx context.Context) (*oidc.Provider, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.discovered != nil {
		return c.discovered, nil
	}
	p, err := oidc.NewProvider(c.ctx(ctx), c.s.Issuer)
	if err != nil {
		return nil, fmt.Errorf("provider %s: discovery: %w: %w", c.s.Name, err, ErrUnreachable)
	}
	c.discovered = p
	return p, nil
}

// ctx makes oauth2 and go-oidc send their requests through the client's HTTP client.
func (c *Client) ctx(ctx context.Context) context.Context {
	return oidc.ClientContext(context.WithValue(ctx, oauth2.HTTPClient, c.http), c.http)
}

// fail classifies a failed request to the provider: an answer that refuses
// (ErrNotProven), or none (ErrUnreachable). A refusal's body is left out: it is the
// provider's to word, and what it words is not Lanyard's to log.
func (c *Client) fail(what string, err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		status := 0
		if re.Response != nil {
			status = re.Response.StatusCode
		}
		if status >= 500 {
			return fmt.Errorf("provider %s: %s: status %d: %w", c.s.Name, what, status, ErrUnreachable)
		}
		return fmt.Errorf("provider %s: %s: refused (status %d, error %q): %w", c.s.Name, what, status, re.ErrorCode, ErrNotProven)
	}
	var ue *url.Error
	var ne net.Error
	if errors.As(err, &ue) || errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("provider %s: %s: %w: %w", c.s.Name, what, err, ErrUnreachable)
	}
	return fmt.Errorf("provider %s: %s: %w: %w", c.s.Name, what, err, ErrNotProven)
}
