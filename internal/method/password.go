// Package method holds the ways a person proves who they are. A method proves one
// thing — a password today; a provider's subject, a TOTP code, a passkey assertion
// or a one-time mail token later — and answers with a lanyard.Proof: who it is and
// how (amr). Methods know nothing of HTTP and nothing of sessions: what follows a
// proof (a session, or a flow that asks for a second factor) is the caller's choice.
package method

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/lanyard/lanyard"
	"github.com/lanyard/lanyard/internal/account"
	"github.com/lanyard/lanyard/internal/password"
	"github.com/lanyard/lanyard/internal/store"
	"github.com/lanyard/lanyard/internal/throttle"
)

// Password proves a person by an account's login (email or username) and password.
type Password struct {
	st      *store.Store
	hasher  *password.Hasher
	limiter *throttle.Limiter
	now     func() time.Time
	// requireVerified refuses the right password of an account whose email is not
	// verified (LANYARD_REQUIRE_VERIFIED_EMAIL).
	requireVerified bool
}

// NewPassword returns the password method. limiter nil: no throttling; now nil:
// time.Now.
func NewPassword(st *store.Store, hasher *password.Hasher, limiter *throttle.Limiter, now func() time.Time) *Password {
	if now == nil {
		now = time.Now
	}
	return &Password{st: st, hasher: hasher, limiter: limiter, now: now}
}

// RequireVerifiedEmail makes Prove refuse, with lanyard.ErrEmailNotVerified, the
// right password of an account whose email is not verified. A wrong password still
// fails as any other, so only someone who knows the password learns the state.
func (m *Password) RequireVerifiedEmail(on bool) { m.requireVerified = on }

// Prove checks a login (email or username) and password from the client address
// addr. Unknown accounts, wrong passwords and accounts being deleted fail alike, with
// lanyard.ErrBadCredentials, after the same amount of hashing. Before any hashing the
// throttle decides whether the account and the address may try now; if not, the
// answer is a *lanyard.ThrottledError, whatever the password. A proof makes addr one
// the throttle knows for the account (Proof.KnownAddrs), and a hash in an older form
// (bcrypt, or older argon2id parameters) is replaced by a current one.
func (m *Password) Prove(ctx context.Context, login, pw, addr string) (lanyard.Proof, error) {
	u, err := m.lookup(ctx, login)
	if err != nil && !errors.Is(err, lanyard.ErrNotFound) {
		return lanyard.Proof{}, fmt.Errorf("password: %w", err)
	}
	known := err == nil
	who := throttle.KnownAccount(u)
	if !known {
		who = m.limiter.UnknownAccount(normalizeLogin(login))
	}
	attempt, err := m.limiter.BeginLogin(ctx, who, addr)
	if err != nil {
		return lanyard.Proof{}, fmt.Errorf("password: %w", err)
	}
	var ok, rehash bool
	if known {
		ok, rehash, err = m.hasher.Verify(ctx, pw, u.PasswordHash)
		if errors.Is(err, password.ErrMalformed) {
			err = nil // an unreadable hash costs what an unknown account costs, and fails alike
		}
	} else {
		err = m.hasher.VerifyDummy(ctx, pw)
	}
	if err != nil {
		attempt.Abandon(ctx)
		return lanyard.Proof{}, fmt.Errorf("password: %w", err)
	}
	if !ok || u.Status != lanyard.StatusActive {
		if err := attempt.Failed(ctx); err != nil {
			return lanyard.Proof{}, fmt.Errorf("password: %w", err)
		}
		return lanyard.Proof{}, fmt.Errorf("password: %w", lanyard.ErrBadCredentials)
	}
	// A password that a second factor must follow forgets no failures: the second
	// factor's success does (SecondFactors.Prove), so wrong codes and wrong
	// passwords add up in one count.
	done := attempt.Succeeded
	if u.MFA.Any() {
		done = attempt.Passed
	}
	if err := done(ctx); err != nil {
		return lanyard.Proof{}, fmt.Errorf("password: %w", err)
	}
	if rehash {
		m.upgradeHash(ctx, &u, pw)
	}
	if m.requireVerified && !u.EmailVerified {
		return lanyard.Proof{}, fmt.Errorf("password: %w", lanyard.ErrEmailNotVerified)
	}
	return lanyard.Proof{User: u, AMR: []string{lanyard.AMRPassword}, KnownAddrs: m.limiter.Remember(u, addr)}, nil
}

// normalizeLogin is a login as lookup searches for it, which is also how the
// throttle counts a login that names no account.
func normalizeLogin(login string) string {
	login = strings.TrimSpace(login)
	if isEmail(login) {
		return account.NormalizeEmail(login)
	}
	return account.NormalizeUsername(login)
}

// isEmail reports whether a login names an email: it holds an '@', perhaps a
// fullwidth one that the email's normal form maps to '@'.
func isEmail(login string) bool { return strings.ContainsAny(login, "@＠") }

// lookup finds the account a login names. A username never contains '@', so the
// two kinds cannot be confused.
func (m *Password) lookup(ctx context.Context, login string) (lanyard.User, error) {
	login = strings.TrimSpace(login)
	if login == "" {
		return lanyard.User{}, lanyard.ErrNotFound
	}
	if isEmail(login) {
		return m.st.UserByEmail(ctx, account.NormalizeEmail(login))
	}
	return m.st.UserByUsernameKey(ctx, account.NormalizeUsername(login))
}

// upgradeHash replaces a bcrypt hash, or an argon2id hash with old parameters, with
// a current one. It is best-effort: the old hash stays valid, so a failure here only
// means the upgrade happens at a later login.
func (m *Password) upgradeHash(ctx context.Context, u *lanyard.User, pw string) {
	hash, err := m.hasher.Hash(ctx, pw)
	if err != nil {
		return
	}
	if nu, err := m.st.UpdateUser(ctx, u.ID, store.UserChange{PasswordHash: &hash}, m.now()); err == nil {
		*u = nu
	}
}
