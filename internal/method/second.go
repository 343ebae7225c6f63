package method

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/lanyard/lanyard"
	"github.com/lanyard/lanyard/internal/flow"
	"github.com/lanyard/lanyard/internal/store"
	"github.com/lanyard/lanyard/internal/throttle"
)

// FlowMFA is the kind of the flow between a first proof and the second factor that
// must follow it: its token is the mfa_token.
const FlowMFA lanyard.FlowKind = "mfa"

// MFATTL is how long an mfa_token may be used.
const MFATTL = 5 * time.Minute

// Answer is what a person gives a second factor to check.
type Answer struct {
	Code string // a TOTP or a recovery code
	// Credential is a passkey's assertion (PublicKeyCredential.toJSON()), made on
	// the options the second step's passkey options answered.
	Credential []byte
	// IP and UserAgent say where the answer came from, for the audit trail.
	IP, UserAgent string
}

// Factor is a second factor: a way to prove, after a first proof, that the person
// also holds something. Its check is one login attempt to the throttle, which
// SecondFactors makes around it.
type Factor interface {
	// Enrolled reports whether u has this factor.
	Enrolled(u lanyard.User) bool
	// Check says whether a proves u: the AMR value (RFC 8176) of what it proved, or
	// an error wrapping lanyard.ErrBadCredentials when it does not. An answer that
	// is accepted is never accepted again.
	Check(ctx context.Context, u lanyard.User, a Answer) (amr string, err error)
}

// SecondFactors is the two-step login: a table of second factors by name (the
// "method" of POST /api/auth/mfa and the "methods" an mfa_required answer lists), the
// mfa flow between the two steps, and the throttle that counts each check as a login.
type SecondFactors struct {
	st      *store.Store
	flows   *flow.Service
	limiter *throttle.Limiter
	names   []string
	table   map[string]Factor
}

// NewSecondFactors returns an empty table; Add the factors. limiter nil: no
// throttling.
func NewSecondFactors(st *store.Store, flows *flow.Service, limiter *throttle.Limiter) *SecondFactors {
	return &SecondFactors{st: st, flows: flows, limiter: limiter, table: map[string]Factor{}}
}

// Add makes f the factor called name. Names are listed in the order they were added.
func (s *SecondFactors) Add(name string, f Factor) {
	if _, ok := s.table[name]; !ok {
		s.names = append(s.names, name)
	}
	s.table[name] = f
}

// Names are the names of every factor, in the order they were added.
func (s *SecondFactors) Names() []string { return slices.Clone(s.names) }

// Of are the names of the factors u has, in the order they were added.
func (s *SecondFactors) Of(u lanyard.User) []string {
	var out []string
	for _, n := range s.names {
		if s.table[n].Enrolled(u) {
			out = append(out, n)
		}
	}
	return out
}

// Challenge is what a first proof yields when a second factor must follow it.
type Challenge struct {
	Token   flow.Token // the mfa_token
	Methods []string
	TTL     time.Duration
}

// Challenge starts the mfa flow for p when p's user has a second factor; nil when p
// is enough for a session. The flow carries the user and p's AMR, and nothing else:
// the second step loads the user afresh.
func (s *SecondFactors) Challenge(ctx context.Context, p lanyard.Proof) (*Challenge, error) {
	methods := s.Of(p.User)
	if len(methods) == 0 {
		return nil, nil
	}
	tok, err := s.flows.Start(ctx, FlowMFA, p.User.ID, map[string]string{"amr": strings.Join(p.AMR, " ")}, MFATTL)
	if err != nil {
		return nil, fmt.Errorf("second factor: %w", err)
	}
	return &Challenge{Token: tok, Methods: methods, TTL: MFATTL}, nil
}

// Prove is the second step: it takes the mfa flow tok names — whatever comes of the
// check, so each mfa_token buys one check — and checks a with the factor called
// name, as one login attempt of the user from addr. The proof is the user with the
// first proof's AMR and the factor's. A token that names no mfa flow that may be
// taken now is lanyard.ErrFlowInvalid; a factor the user lacks and a wrong answer are
// lanyard.ErrBadCredentials; past the throttle's limit, a *lanyard.ThrottledError.
func (s *SecondFactors) Prove(ctx context.Context, tok, name string, a Answer, addr string) (lanyard.Proof, error) {
	f, err := s.flows.Take(ctx, FlowMFA, tok)
	if err != nil {
		return lanyard.Proof{}, fmt.Errorf("second factor: %w", err)
	}
	u, err := s.st.UserByID(ctx, f.UserID)
	if errors.Is(err, lanyard.ErrNotFound) {
		return lanyard.Proof{}, fmt.Errorf("second factor: %w", lanyard.ErrBadCredentials)
	}
	if err != nil {
		return lanyard.Proof{}, fmt.Errorf("second factor: %w", err)
	}
	amr, err := s.Check(ctx, u, name, a, addr)
	if err != nil {
		return lanyard.Proof{}, err
	}
	first := strings.Fields(f.Payload["amr"])
	if !slices.Contains(first, amr) {
		first = append(first, amr)
	}
	return lanyard.Proof{User: u, AMR: first, KnownAddrs: s.limiter.Remember(u, addr)}, nil
}

// UserOf is the user of the mfa flow tok names, read without taking the flow: what a
// factor's own preparation (a passkey's options) needs. Its failures are Prove's.
func (s *SecondFactors) UserOf(ctx context.Context, tok string) (lanyard.User, error) {
	f, err := s.flows.Peek(ctx, FlowMFA, tok)
	if err != nil {
		return lanyard.User{}, fmt.Errorf("second factor: %w", err)
	}
	u, err := s.st.UserByID(ctx, f.UserID)
	if errors.Is(err, lanyard.ErrNotFound) {
		return lanyard.User{}, fmt.Errorf("second factor: %w", lanyard.ErrBadCredentials)
	}
	if err != nil {
		return lanyard.User{}, fmt.Errorf("second factor: %w", err)
	}
	return u, nil
}

// Check checks a with u's factor called name, as one login attempt of u from addr:
// a wrong answer counts as a failed login, a right one forgets the account's
// failures. It answers the factor's AMR value. A factor u lacks, an unknown name and
// a wrong answer are lanyard.ErrBadCredentials, and so is an account that is not
// active; past the limit, a *lanyard.ThrottledError.
func (s *SecondFactors) Check(ctx context.Context, u lanyard.User, name string, a Answer, addr string) (string, error) {
	attempt, err := s.limiter.BeginLogin(ctx, throttle.KnownAccount(u), addr)
	if err != nil {
		return "", fmt.Errorf("second factor: %w", err)
	}
	f := s.table[name]
	var amr string
	switch {
	case f == nil || !f.Enrolled(u) || !u.IsActive():
		err = lanyard.ErrBadCredentials
	default:
		amr, err = f.Check(ctx, u, a)
	}
	switch {
	case errors.Is(err, lanyard.ErrBadCredentials):
		if ferr := attempt.Failed(ctx); ferr != nil {
			return "", fmt.Errorf("second factor: %w", ferr)
		}
		return "", fmt.Errorf("second factor %s: %w", name, err)
	case err != nil:
		attempt.Abandon(ctx)
		return "", fmt.Errorf("second factor %s: %w", name, err)
	}
	if err := attempt.Succeeded(ctx); err != nil {
		return "", fmt.Errorf("second factor: %w", err)
	}
	return amr, nil
}
