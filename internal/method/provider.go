package method

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/lanyard/lanyard"
	"github.com/lanyard/lanyard/internal/account"
	"github.com/lanyard/lanyard/internal/flow"
	"github.com/lanyard/lanyard/internal/linkid"
	"github.com/lanyard/lanyard/internal/provider"
	"github.com/lanyard/lanyard/internal/store"
)

// The flows of a sign-in through an identity provider.
const (
	// FlowOAuthState is what authorize leaves for the provider's callback; its token
	// is the state sent to the provider.
	FlowOAuthState lanyard.FlowKind = "oauth_state"
	// FlowOAuthCode is the application's one-time code, redeemed at the token endpoint.
	FlowOAuthCode lanyard.FlowKind = "oauth_code"
)

// StateTTL is how long a person may take at the provider; CodeTTL how long the
// application has to redeem its code.
const (
	StateTTL = 10 * time.Minute
	CodeTTL  = 60 * time.Second
)

// Errors of a sign-in through a provider, each its own answer to the application.
var (
	// ErrRedirectNotAllowed: the redirect_uri is not one of LANYARD_REDIRECT_URLS.
	// Nobody is sent there, not even with an error.
	ErrRedirectNotAllowed = errors.New("redirect_uri is not one of the allowed redirect URLs")
	// ErrAccountExists: the provider's email belongs to an account that this sign-in
	// does not prove is the same person's (the provider does not assert the email
	// verified, or the account's email is not verified). The person signs in as
	// before and links the provider while signed in.
	ErrAccountExists = errors.New("an account with this email exists; sign in to it and link the provider")
	// ErrSignupClosed: no account holds the identity and the provider allows no sign-up.
	ErrSignupClosed = errors.New("no account is linked to this identity and sign-up through this provider is closed")
	// ErrNoEmail: a sign-up needs an email and the provider shared none.
	ErrNoEmail = errors.New("the provider shared no email address to sign up with")
)

// Providers signs people in through the identity providers: it sends them there
// (Begin), turns the provider's answer into a proof or a proven link (Finish), and
// redeems the application's one-time code (Redeem). Which account an identity opens
// is decided here, in signIn.
type Providers struct {
	set      *provider.Set
	flows    *flow.Service
	st       *store.Store
	accounts *account.Service
	links    *linkid.Service
	redirect []string
}

// NewProviders returns the provider method. redirectURLs are where a flow may return.
func NewProviders(set *provider.Set, flows *flow.Service, st *store.Store, accounts *account.Service, links *linkid.Service, redirectURLs []string) *Providers {
	return &Providers{set: set, flows: flows, st: st, accounts: accounts, links: links, redirect: redirectURLs}
}

// List is the configured providers.
func (m *Providers) List() []*provider.Client { return m.set.All() }

// Allows reports whether a flow may return to uri: exactly one of the redirect URLs.
func (m *Providers) Allows(uri string) bool { return slices.Contains(m.redirect, uri) }

// Start is what a flow begins with.
type Start struct {
	Provider string
	// Callback is Lanyard's own callback URL for the provider, as registered there.
	Callback string
	// RedirectURI is the application's, where the flow ends; CodeChallenge its PKCE
	// S256 challenge (sign-in only); AppState its state, handed back as it came.
	RedirectURI, CodeChallenge, AppState string
	// Link is the signed-in user a linking flow adds the proven ID to; zero for a
	// sign-in.
	Link lanyard.ID
}

// Begin starts the flow s describes and answers the provider's authorization URL to
// send the person to: state (the flow's token), a nonce and a PKCE challenge of a
// verifier kept in the flow. An unknown provider is lanyard.ErrNotFound, a
// redirect_uri not allowed ErrRedirectNotAllowed.
func (m *Providers) Begin(ctx context.Context, s Start) (string, error) {
	c, ok := m.set.Get(s.Provider)
	if !ok {
		return "", fmt.Errorf("begin sign-in: provider: %w", lanyard.ErrNotFound)
	}
	if !m.Allows(s.RedirectURI) {
		return "", fmt.Errorf("begin sign-in: %w", ErrRedirectNotAllowed)
	}
	verifier, nonce := provider.NewVerifier(), provider.NewNonce()
	payload := map[string]string{
		"provider": s.Provider, "callback": s.Callback, "verifier": verifier, "nonce": nonce,
		"redirect_uri": s.RedirectURI, "code_challenge": s.CodeChallenge, "app_state": s.AppState,
	}
	// Discovery first: a provider that cannot be reached leaves no flow behind.
	if err := c.Ready(ctx); err != nil {
		return "", fmt.Errorf("begin sign-in: %w", err)
	}
	state, err := m.flows.Start(ctx, FlowOAuthState, s.Link, payload, StateTTL)
	if err != nil {
		return "", fmt.Errorf("begin sign-in: %w", err)
	}
	return c.AuthCodeURL(ctx, s.Callback, string(state), nonce, verifier)
}

// Return is where a finished flow sends the person: the application's redirect_uri
// with its state. Empty when no flow was found, and then nobody is sent anywhere.
type Return struct {
	RedirectURI, AppState string
}

// Result is what a flow ended with: a sign-in's one-time code for the application,
// or a linking flow's new link.
type Result struct {
	Return
	Code   flow.Token
	Linked *linkid.Public
}

// Finish takes the flow state names (once; lanyard.ErrFlowInvalid if it names none,
// or one of another provider) and, unless the provider answered providerErr, redeems
// the provider's code: a sign-in's proof becomes a one-time code for the application
// (FlowOAuthCode, CodeTTL), a linking flow's identity a verified link of its user.
// Once the flow is taken every failure comes with the Return to report it to.
func (m *Providers) Finish(ctx context.Context, name, state, code, providerErr string, addr string, by linkid.Actor) (Result, error) {
	f, err := m.flows.Take(ctx, FlowOAuthState, state)
	if err != nil {
		return Result{}, fmt.Errorf("finish sign-in: %w", err)
	}
	p := f.Payload
	if p["provider"] != name {
		return Result{}, fmt.Errorf("finish sign-in: the state is another provider's: %w", lanyard.ErrFlowInvalid)
	}
	res := Result{Return: Return{RedirectURI: p["redirect_uri"], AppState: p["app_state"]}}
	c, ok := m.set.Get(name)
	switch {
	case !ok:
		return res, fmt.Errorf("finish sign-in: provider %s is no longer configured: %w", name, ErrSignupClosed)
	case providerErr != "":
		return res, &ProviderError{Code: providerErr}
	case code == "":
		return res, fmt.Errorf("finish sign-in: the provider sent no code: %w", provider.ErrNotProven)
	}
	id, err := c.Exchange(ctx, p["callback"], code, p["verifier"], p["nonce"])
	if err != nil {
		return res, fmt.Errorf("finish sign-in: %w", err)
	}
	if !f.UserID.IsZero() {
		u, err := m.st.UserByID(ctx, f.UserID)
		if err != nil {
			return res, fmt.Errorf("finish linking: %w", err)
		}
		l, err := m.links.LinkProven(ctx, u, id.Provider, id.Subject, by)
		if err != nil {
			return res, fmt.Errorf("finish linking: %w", err)
		}
		res.Linked = &l
		return res, nil
	}
	u, err := m.signIn(ctx, c, id, addr, by)
	if err != nil {
		return res, fmt.Errorf("finish sign-in: %w", err)
	}
	res.Code, err = m.flows.Start(ctx, FlowOAuthCode, u.ID, map[string]string{
		"provider": name, "redirect_uri": p["redirect_uri"], "code_challenge": p["code_challenge"],
	}, CodeTTL)
	if err != nil {
		return res, fmt.Errorf("finish sign-in: %w", err)
	}
	return res, nil
}

// ProviderError is the provider's own refusal (RFC 6749 §4.1.2.1), e.g. the person
// declined.
type ProviderError struct{ Code string }

func (e *ProviderError) Error() string { return "the provider answered " + e.Code }

// signIn is the linking policy: which account a proven identity opens.
//
//  1. A verified link of (provider, subject): its account. A link that only typed the
//     subject in is no proof and never opens its account (it gives way to the proven
//     one in LinkProven).
//  2. An account with the provider's email: linked, and opened, only when the
//     provider asserts the email verified and the account's own email is verified
//     too; otherwise ErrAccountExists — whoever holds the email at the provider need
//     not be the account's owner.
//  3. Neither, and the provider allows sign-up: a new account without a password.
//  4. Otherwise ErrSignupClosed.
func (m *Providers) signIn(ctx context.Context, c *provider.Client, id provider.Identity, addr string, by linkid.Actor) (lanyard.User, error) {
	held, err := m.links.Holder(ctx, id.Provider, id.Subject)
	switch {
	case err == nil && held.Verified:
		u, err := m.st.UserByID(ctx, held.UserID)
		if err != nil {
			return lanyard.User{}, err
		}
		if !u.IsActive() {
			return lanyard.User{}, lanyard.ErrBadCredentials
		}
		return u, nil
	case err != nil && !errors.Is(err, lanyard.ErrNotFound):
		return lanyard.User{}, err
	}
	email := account.NormalizeEmail(id.Email)
	if email != "" {
		u, err := m.st.UserByEmail(ctx, email)
		switch {
		case err == nil:
			if !id.EmailVerified || !u.EmailVerified || !u.IsActive() {
				return lanyard.User{}, ErrAccountExists
			}
			if _, err := m.links.LinkProven(ctx, u, id.Provider, id.Subject, by); err != nil {
				return lanyard.User{}, err
			}
			return u, nil
		case !errors.Is(err, lanyard.ErrNotFound):
			return lanyard.User{}, err
		}
	}
	switch {
	case !c.AllowSignup():
		return lanyard.User{}, ErrSignupClosed
	case email == "":
		return lanyard.User{}, ErrNoEmail
	}
	u, err := m.accounts.RegisterProven(ctx, email, id.EmailVerified, addr)
	var conflict *lanyard.ConflictError
	if errors.As(err, &conflict) {
		return lanyard.User{}, ErrAccountExists // signed up meanwhile
	}
	if err != nil {
		return lanyard.User{}, err
	}
	by.UserID = u.ID.Hex()
	if _, err := m.links.LinkProven(ctx, u, id.Provider, id.Subject, by); err != nil {
		return lanyard.User{}, err
	}
	return u, nil
}

// Redeem spends the application's one-time code and answers the proof it stands
// for: the user, amr the provider's name. The code is spent whatever follows; a
// redirect_uri other than the flow's, or a code_verifier whose S256 is not the
// flow's challenge, is lanyard.ErrFlowInvalid as a spent or unknown code is, and so
// is a user who can no longer sign in.
func (m *Providers) Redeem(ctx context.Context, code, verifier, redirectURI string) (lanyard.Proof, error) {
	f, err := m.flows.Take(ctx, FlowOAuthCode, code)
	if err != nil {
		return lanyard.Proof{}, fmt.Errorf("redeem code: %w", err)
	}
	p := f.Payload
	sum := sha256.Sum256([]byte(verifier))
	challenge := base64.RawURLEncoding.EncodeToString(sum[:])
	switch {
	case p["redirect_uri"] != redirectURI:
		return lanyard.Proof{}, fmt.Errorf("redeem code: another redirect_uri: %w", lanyard.ErrFlowInvalid)
	case subtle.ConstantTimeCompare([]byte(challenge), []byte(p["code_challenge"])) != 1:
		return lanyard.Proof{}, fmt.Errorf("redeem code: the code_verifier does not match: %w", lanyard.ErrFlowInvalid)
	}
	u, err := m.st.UserByID(ctx, f.UserID)
	if errors.Is(err, lanyard.ErrNotFound) || err == nil && !u.IsActive() {
		return lanyard.Proof{}, fmt.Errorf("redeem code: the account cannot sign in: %w", lanyard.ErrFlowInvalid)
	}
	if err != nil {
		return lanyard.Proof{}, fmt.Errorf("redeem code: %w", err)
	}
	return lanyard.Proof{User: u, AMR: []string{p["provider"]}}, nil
}
