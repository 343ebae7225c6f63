// Package session owns logins: password verification, access and refresh tokens,
// refresh rotation with reuse detection, logout, password change, and the
// authentication of every request.
package session

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/lanyard/lanyard"
	"github.com/lanyard/lanyard/internal/account"
	"github.com/lanyard/lanyard/internal/password"
	"github.com/lanyard/lanyard/internal/store"
	"github.com/lanyard/lanyard/internal/throttle"
	"github.com/lanyard/lanyard/internal/token"
)

// Service logs users in and out and authenticates requests.
type Service struct {
	st         *store.Store
	accounts   *account.Service
	hasher     *password.Hasher
	signer     *token.Signer
	limiter    *throttle.Limiter
	refreshTTL time.Duration
	now        func() time.Time
	tidy       sync.WaitGroup
}

// Options are what a Service needs.
type Options struct {
	Store      *store.Store
	Accounts   *account.Service
	Hasher     *password.Hasher
	Signer     *token.Signer
	Limiter    *throttle.Limiter // failed-login throttling; nil: none
	RefreshTTL time.Duration
	Now        func() time.Time // nil: time.Now
}

// New returns a Service.
func New(o Options) *Service {
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Service{st: o.Store, accounts: o.Accounts, hasher: o.Hasher, signer: o.Signer, limiter: o.Limiter, refreshTTL: o.RefreshTTL, now: o.Now}
}

// Client describes where a request came from, for the session record.
type Client struct {
	IP        string
	UserAgent string
}

// Pair is what a successful login, refresh or password change returns.
type Pair struct {
	AccessToken  string
	AccessTTL    time.Duration
	RefreshToken string
	RefreshTTL   time.Duration
	User         store.User
}

// Principal is an authenticated caller.
type Principal struct {
	User      store.User
	SessionID string
}

// Login checks a login (email or username) and password. Unknown accounts, wrong
// passwords and accounts being deleted fail alike, with lanyard.ErrBadCredentials, after
// the same amount of hashing. Before any hashing the throttle decides whether the
// account and the client address may try now; if not, the answer is a
// *lanyard.ThrottledError, whatever the password.
func (s *Service) Login(ctx context.Context, login, pw string, c Client) (Pair, error) {
	u, err := s.lookup(ctx, login)
	if err != nil && !errors.Is(err, lanyard.ErrNotFound) {
		return Pair{}, fmt.Errorf("login: %w", err)
	}
	known := err == nil
	who := throttle.KnownAccount(u.ID.Hex())
	if !known {
		who = s.limiter.UnknownAccount(normalizeLogin(login))
	}
	attempt, err := s.limiter.BeginLogin(ctx, who, c.IP)
	if err != nil {
		return Pair{}, fmt.Errorf("login: %w", err)
	}
	var ok, rehash bool
	if known {
		ok, rehash, err = s.hasher.Verify(ctx, pw, u.PasswordHash)
		if errors.Is(err, password.ErrMalformed) {
			err = nil
		}
	} else {
		err = s.hasher.VerifyDummy(ctx, pw)
	}
	if err != nil {
		attempt.Abandon(ctx)
		return Pair{}, fmt.Errorf("login: %w", busy(err))
	}
	if !ok || u.Status != store.StatusActive {
		if err := attempt.Failed(ctx); err != nil {
			return Pair{}, fmt.Errorf("login: %w", err)
		}
		return Pair{}, fmt.Errorf("login: %w", lanyard.ErrBadCredentials)
	}
	if err := attempt.Succeeded(ctx); err != nil {
		return Pair{}, fmt.Errorf("login: %w", err)
	}
	if rehash {
		s.upgradeHash(ctx, &u, pw)
	}
	return s.start(ctx, u, c)
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
func (s *Service) lookup(ctx context.Context, login string) (store.User, error) {
	login = strings.TrimSpace(login)
	if login == "" {
		return store.User{}, lanyard.ErrNotFound
	}
	if isEmail(login) {
		return s.st.UserByEmail(ctx, account.NormalizeEmail(login))
	}
	return s.st.UserByUsernameKey(ctx, account.NormalizeUsername(login))
}

// upgradeHash replaces a bcrypt hash, or an argon2id hash with old parameters, with
// a current one. It is best-effort: the old hash stays valid, so a failure here only
// means the upgrade happens at a later login.
func (s *Service) upgradeHash(ctx context.Context, u *store.User, pw string) {
	hash, err := s.hasher.Hash(ctx, pw)
	if err != nil {
		return
	}
	if nu, err := s.st.UpdateUser(ctx, u.ID, store.UserChange{Set: map[string]any{"password_hash": hash}}, s.now()); err == nil {
		*u = nu
	}
}

// start creates a session for u and issues its first token pair.
func (s *Service) start(ctx context.Context, u store.User, c Client) (Pair, error) {
	now := store.Millis(s.now())
	ss := store.Session{
		ID:           store.NewObjectID(),
		UserID:       u.ID,
		TokenVersion: u.TokenVersion,
		CreatedAt:    now,
		LastUsedAt:   now,
		ExpiresAt:    now.Add(s.refreshTTL),
		IP:           c.IP,
		UserAgent:    truncate(c.UserAgent, 256),
	}
	refresh, hash, err := token.NewRefresh(ss.ID.Hex())
	if err != nil {
		return Pair{}, fmt.Errorf("start session: %w", err)
	}
	ss.SecretHash = hash
	if err := s.st.InsertSession(ctx, &ss); err != nil {
		return Pair{}, fmt.Errorf("start session: %w", err)
	}
	return s.pair(u, ss.ID.Hex(), refresh)
}

func (s *Service) pair(u store.User, sid, refresh string) (Pair, error) {
	access, _, err := s.signer.Issue(u.ID.Hex(), sid, u.TokenVersion, u.Role)
	if err != nil {
		return Pair{}, fmt.Errorf("issue access token: %w", err)
	}
	return Pair{AccessToken: access, AccessTTL: s.signer.TTL(), RefreshToken: refresh, RefreshTTL: s.refreshTTL, User: u}, nil
}

// Refresh spends a refresh token and returns a new pair. Presenting a token that was
// already spent ends its whole session: either the client or a thief holds a copy, and
// both lose.
func (s *Service) Refresh(ctx context.Context, tok string, c Client) (Pair, error) {
	sidHex, oldHash, err := token.ParseRefresh(tok)
	if err != nil {
		return Pair{}, fmt.Errorf("refresh: %w", errors.Join(lanyard.ErrBadCredentials, err))
	}
	sid, err := store.ParseID(sidHex)
	if err != nil {
		return Pair{}, fmt.Errorf("refresh: %w", lanyard.ErrBadCredentials)
	}
	refresh, newHash, err := token.NewRefresh(sidHex)
	if err != nil {
		return Pair{}, fmt.Errorf("refresh: %w", err)
	}
	now := s.now()
	ss, err := s.st.RotateRefresh(ctx, sid, oldHash, newHash, now, now.Add(s.refreshTTL))
	if errors.Is(err, lanyard.ErrNotFound) || errors.Is(err, store.ErrRefreshSpent) {
		return Pair{}, s.rejectRefresh(ctx, sid, oldHash, errors.Is(err, store.ErrRefreshSpent))
	}
	if err != nil {
		return Pair{}, fmt.Errorf("refresh: %w", err)
	}
	u, err := s.st.UserByID(ctx, ss.UserID)
	if err != nil && !errors.Is(err, lanyard.ErrNotFound) {
		return Pair{}, fmt.Errorf("refresh: %w", err)
	}
	if err != nil || u.Status != store.StatusActive || u.TokenVersion != ss.TokenVersion {
		// The user is gone, being deleted, or logged out everywhere since.
		_ = s.st.DeleteSession(ctx, ss.ID)
		return Pair{}, fmt.Errorf("refresh: %w", lanyard.ErrBadCredentials)
	}
	return s.pair(u, sidHex, refresh)
}

// rejectRefresh handles a refresh token that is not the session's current one. If it
// was spent by another request (spent), or is the one spent just before, this is a
// replay: the session ends.
func (s *Service) rejectRefresh(ctx context.Context, sid store.ID, oldHash []byte, spent bool) error {
	ss, err := s.st.SessionByID(ctx, sid)
	if err != nil && !errors.Is(err, lanyard.ErrNotFound) {
		return fmt.Errorf("refresh: %w", err)
	}
	if err == nil && (spent || (len(ss.PreviousHash) > 0 && bytes.Equal(ss.PreviousHash, oldHash))) {
		if err := s.st.DeleteSession(ctx, ss.ID); err != nil {
			return fmt.Errorf("refresh: revoke replayed session: %w", err)
		}
	}
	return fmt.Errorf("refresh: %w", lanyard.ErrBadCredentials)
}

// Authenticate verifies an access token and loads its user: the one store read that
// authentication costs. A token whose version or user status no longer matches is
// lanyard.ErrUnauthorized.
func (s *Service) Authenticate(ctx context.Context, bearer string) (Principal, error) {
	c, err := s.signer.Verify(bearer)
	if err != nil {
		return Principal{}, fmt.Errorf("authenticate: %w", errors.Join(lanyard.ErrUnauthorized, err))
	}
	uid, err := store.ParseID(c.UserID)
	if err != nil {
		return Principal{}, fmt.Errorf("authenticate: %w", lanyard.ErrUnauthorized)
	}
	u, err := s.st.UserByID(ctx, uid)
	if errors.Is(err, lanyard.ErrNotFound) {
		return Principal{}, fmt.Errorf("authenticate: %w", lanyard.ErrUnauthorized)
	}
	if err != nil {
		return Principal{}, fmt.Errorf("authenticate: %w", err)
	}
	if u.TokenVersion != c.Version || u.Status != store.StatusActive {
		return Principal{}, fmt.Errorf("authenticate: %w", lanyard.ErrUnauthorized)
	}
	return Principal{User: u, SessionID: c.SessionID}, nil
}

// Logout ends the caller's session, or with all every session of the user and every
// access token issued before now.
func (s *Service) Logout(ctx context.Context, p Principal, all bool) error {
	if all {
		if _, err := s.st.UpdateUser(ctx, p.User.ID, store.UserChange{BumpVersion: true}, s.now()); err != nil {
			return fmt.Errorf("logout all: %w", err)
		}
		s.tidySessions(p.User.ID, store.NoID)
		return nil
	}
	sid, err := store.ParseID(p.SessionID)
	if err != nil {
		return nil
	}
	if err := s.st.DeleteSession(ctx, sid); err != nil {
		return fmt.Errorf("logout: %w", err)
	}
	return nil
}

// ChangePassword checks the current password, stores the new one, ends every other
// session and outstanding access token, and starts a fresh session.
func (s *Service) ChangePassword(ctx context.Context, p Principal, current, next string, c Client) (Pair, error) {
	bad := &lanyard.InvalidError{}
	if err := s.accounts.CheckPassword(ctx, p.User, current); err != nil {
		var inv *lanyard.InvalidError
		if !errors.As(err, &inv) {
			return Pair{}, fmt.Errorf("change password: %w", err)
		}
		bad.Fields = append(bad.Fields, inv.Fields...)
	}
	if msg := s.accounts.CheckNewPassword(next, p.User); msg != "" {
		bad.Add("new_password", msg)
	}
	if err := bad.Err(); err != nil {
		return Pair{}, err
	}
	hash, err := s.hasher.Hash(ctx, next)
	if err != nil {
		return Pair{}, fmt.Errorf("change password: %w", busy(err))
	}
	u, err := s.st.UpdateUser(ctx, p.User.ID, store.UserChange{Set: map[string]any{"password_hash": hash}, BumpVersion: true}, s.now())
	if err != nil {
		return Pair{}, fmt.Errorf("change password: %w", err)
	}
	pair, err := s.start(ctx, u, c)
	if err != nil {
		return Pair{}, fmt.Errorf("change password: %w", err)
	}
	if sid, err := store.ParseID(pairSessionID(pair.RefreshToken)); err == nil {
		s.tidySessions(u.ID, sid)
	}
	return pair, nil
}

// tidySessions deletes a user's sessions other than keep, in the background. The
// version bump already killed them (refresh checks it), so the request need not wait:
// finding a user's sessions reads every session on the embedded store.
func (s *Service) tidySessions(userID, keep store.ID) {
	s.tidy.Add(1)
	go func() {
		defer s.tidy.Done()
		ctx, cancel := context.WithTimeout(store.Background(context.Background()), time.Minute)
		defer cancel()
		_ = s.st.DeleteUserSessions(ctx, userID, keep) // the expiry sweep gets what this misses
	}()
}

// Wait blocks until background tidying has finished.
func (s *Service) Wait() { s.tidy.Wait() }

func pairSessionID(refresh string) string {
	sid, _, _ := strings.Cut(refresh, ".")
	return sid
}

func busy(err error) error {
	if errors.Is(err, password.ErrBusy) {
		return errors.Join(lanyard.ErrBusy, err)
	}
	return err
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
