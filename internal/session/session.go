// Package session owns sessions: issuing one for a proof (internal/method), access
// and refresh tokens, refresh rotation with reuse detection, logout, password change,
// and the authentication of every request.
package session

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/lanyard/lanyard"
	"github.com/lanyard/lanyard/internal/account"
	"github.com/lanyard/lanyard/internal/password"
	"github.com/lanyard/lanyard/internal/store"
	"github.com/lanyard/lanyard/internal/token"
)

// maxLiveSessions is how many sessions an account may hold; a login beyond that ends
// the least recently used one.
const maxLiveSessions = 100

// maxEndedSessions bounds the list of recently ended sessions in a user's document,
// which every authenticated request reads. Past it the oldest entries give way to
// User.AccessNotBefore, which refuses every access token issued up to their end
// (notBeforeFor): the user's other sessions lose their access tokens too, and refresh.
const maxEndedSessions = 32

// endedSlack is how much longer than an access token's lifetime an ended session is
// remembered: a refresh that had passed its checks when the session ended may still
// sign one more access token a moment later.
const endedSlack = time.Minute

// Service logs users in and out and authenticates requests.
type Service struct {
	st         *store.Store
	accounts   *account.Service
	hasher     *password.Hasher
	signer     *token.Signer
	refresher  *token.Refresher
	refreshTTL time.Duration
	reuseGrace time.Duration
	now        func() time.Time
	tidy       sync.WaitGroup
	// afterRotate, when a test sets it (export_test.go), runs between a refresh's
	// winning rotation and its reading of the user: where a concurrent replay lands.
	afterRotate func()
}

// Options are what a Service needs.
type Options struct {
	Store      *store.Store
	Accounts   *account.Service
	Hasher     *password.Hasher
	Signer     *token.Signer
	Refresher  *token.Refresher // chains each session's refresh secrets
	RefreshTTL time.Duration
	// ReuseGrace is how long after a rotation the spent token still answers with
	// its successor (LANYARD_REFRESH_REUSE_GRACE); zero: never.
	ReuseGrace time.Duration
	Now        func() time.Time // nil: time.Now
}

// New returns a Service.
func New(o Options) *Service {
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Service{st: o.Store, accounts: o.Accounts, hasher: o.Hasher, signer: o.Signer, refresher: o.Refresher,
		refreshTTL: o.RefreshTTL, reuseGrace: o.ReuseGrace, now: o.Now}
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
	User         lanyard.User
}

// Principal is an authenticated caller.
type Principal struct {
	User      lanyard.User
	SessionID string
}

// Issue starts a session for what p proved and signs its first token pair: the one
// place a session begins. It does not judge p — the method that made it decided that
// its user may have a session — and records how they proved themselves (p.AMR) on the
// session, which every access token of the session then carries. An account at the
// cap loses its least recently used session to the new one.
func (s *Service) Issue(ctx context.Context, p lanyard.Proof, c Client) (Pair, error) {
	if len(p.AMR) == 0 {
		return Pair{}, errors.New("issue session: the proof says not how")
	}
	return s.start(ctx, p, c)
}

// start creates a session for p and issues its first token pair. p.KnownAddrs,
// unless nil, replace the user's known addresses in the same write that lists the
// session.
func (s *Service) start(ctx context.Context, p lanyard.Proof, c Client) (Pair, error) {
	now, u := s.now(), p.User
	ss := lanyard.Session{
		ID:           store.NewID(),
		UserID:       u.ID,
		AMR:          p.AMR,
		TokenVersion: u.TokenVersion,
		CreatedAt:    store.Millis(now),
		LastUsedAt:   store.Millis(now),
		ExpiresAt:    store.Millis(now.Add(s.refreshTTL)),
		IP:           c.IP,
		UserAgent:    truncate(c.UserAgent, 256),
	}
	refresh, hash, err := token.NewRefresh(ss.ID.Hex())
	if err != nil {
		return Pair{}, fmt.Errorf("start session: %w", err)
	}
	ss.SecretHash = hash
	change, evict, err := s.makeRoom(ctx, u, now)
	if err != nil {
		return Pair{}, fmt.Errorf("start session: %w", err)
	}
	if err := s.st.InsertSession(ctx, &ss); err != nil {
		return Pair{}, fmt.Errorf("start session: %w", err)
	}
	for _, id := range evict {
		if err := s.st.DeleteSession(ctx, id); err != nil {
			return Pair{}, fmt.Errorf("start session: end the least recently used session: %w", err)
		}
	}
	change.List[ss.ID] = now
	change.KnownAddrs = p.KnownAddrs
	s.noteEnded(u, now, evict, &change)
	if err := s.st.ChangeUserSessions(ctx, u.ID, change); err != nil {
		// Unlisted, the session would escape the cap: better no session at all.
		_ = s.st.DeleteSession(ctx, ss.ID)
		return Pair{}, fmt.Errorf("start session: %w", err)
	}
	return s.pair(u, ss, refresh)
}

// makeRoom decides which sessions end so that u, with one more, holds at most
// maxLiveSessions, and returns the change to u's list that goes with it. Under the cap
// it reads nothing. Over it, it reads listed sessions by id, least recently used
// (as listed) first: a session's real last use is never earlier than its listed one,
// so it can stop once the next listed use is no earlier than the real uses of the
// sessions it has picked. A session that is already dead (gone, expired, from before
// a logout-all) frees a place without ending anything.
func (s *Service) makeRoom(ctx context.Context, u lanyard.User, now time.Time) (store.SessionsChange, []lanyard.ID, error) {
	change := store.SessionsChange{List: map[lanyard.ID]time.Time{}}
	excess := len(u.LiveSessions) + 1 - maxLiveSessions
	if excess <= 0 {
		return change, nil, nil
	}
	type listed struct {
		id   lanyard.ID
		used time.Time
	}
	var queue []listed
	for hex, used := range u.LiveSessions {
		if id, err := lanyard.ParseID(hex); err == nil {
			queue = append(queue, listed{id, used})
		}
	}
	slices.SortFunc(queue, func(a, b listed) int { return a.used.Compare(b.used) })
	var picked []listed // live sessions read so far, by real last use
	for _, q := range queue {
		if excess <= 0 || (len(picked) >= excess && !q.used.Before(picked[excess-1].used)) {
			break
		}
		ss, err := s.st.SessionByID(ctx, q.id)
		if err != nil && !errors.Is(err, lanyard.ErrNotFound) {
			return change, nil, fmt.Errorf("make room for a session: %w", err)
		}
		if err != nil || !ss.ExpiresAt.After(now) || ss.TokenVersion != u.TokenVersion {
			change.Unlist = append(change.Unlist, q.id)
			excess--
			continue
		}
		if !ss.LastUsedAt.Equal(q.used) {
			change.List[q.id] = ss.LastUsedAt // the next login need not read it again
		}
		at, _ := slices.BinarySearchFunc(picked, ss.LastUsedAt, func(p listed, t time.Time) int { return p.used.Compare(t) })
		picked = slices.Insert(picked, at, listed{q.id, ss.LastUsedAt})
	}
	var evict []lanyard.ID
	for _, p := range picked[:min(max(excess, 0), len(picked))] {
		evict = append(evict, p.id)
		delete(change.List, p.id)
		change.Unlist = append(change.Unlist, p.id)
	}
	return change, evict, nil
}

// noteEnded adds to change what marks the sessions ended at now in u's document, so
// that their access tokens are refused at once, and forgets what u's document holds
// about sessions that ended longer ago than an access token lives. When more than
// maxEndedSessions would be remembered, the oldest give way to AccessNotBefore.
func (s *Service) noteEnded(u lanyard.User, now time.Time, ended []lanyard.ID, change *store.SessionsChange) {
	if change.End == nil {
		change.End = map[lanyard.ID]time.Time{}
	}
	type entry struct {
		id lanyard.ID
		at time.Time
	}
	var kept []entry
	for hex, at := range u.EndedSessions {
		id, err := lanyard.ParseID(hex)
		switch {
		case err != nil:
		case now.Sub(at) > s.signer.TTL()+endedSlack:
			change.Forget = append(change.Forget, id)
		case !slices.Contains(ended, id):
			kept = append(kept, entry{id, at})
		}
	}
	if len(ended) > maxEndedSessions {
		// They end at now, and the login that ends them issues its own token from now
		// on: now is as late as AccessNotBefore may go (notBeforeFor).
		change.NotBefore = now
		for _, e := range kept {
			change.Forget = append(change.Forget, e.id)
		}
		return
	}
	for _, id := range ended {
		change.End[id] = now
	}
	if over := len(kept) + len(ended) - maxEndedSessions; over > 0 {
		slices.SortFunc(kept, func(a, b entry) int { return a.at.Compare(b.at) })
		for _, e := range kept[:over] {
			change.Forget = append(change.Forget, e.id)
			if nb := notBeforeFor(e.at, now); nb.After(change.NotBefore) {
				change.NotBefore = nb
			}
		}
	}
}

// notBeforeFor is the AccessNotBefore that stands for a session that ended at end,
// set by a request at now. Authenticate refuses only tokens issued strictly before
// it, to the millisecond, and a session can sign an access token in the very
// millisecond it ends (a refresh, then a logout): so it is the millisecond after the
// end. It is never after now, or the token this request may issue itself (a login's,
// signed from now on) would be refused. So a session's tokens from its last
// millisecond stay valid until they expire only when it ended in now's own
// millisecond, with 32 more ends in that millisecond after it.
func notBeforeFor(end, now time.Time) time.Time {
	nb, limit := store.Millis(end).Add(time.Millisecond), store.Millis(now)
	if nb.After(limit) {
		return limit
	}
	return nb
}

// legacyAMR is the amr of a session stored before sessions recorded one: every such
// session came from a password login or a password change.
var legacyAMR = []string{lanyard.AMRPassword}

// pair signs an access token for session ss of u, to go with refresh token refresh.
func (s *Service) pair(u lanyard.User, ss lanyard.Session, refresh string) (Pair, error) {
	amr := ss.AMR
	if len(amr) == 0 {
		amr = legacyAMR
	}
	access, _, err := s.signer.Issue(u.ID.Hex(), ss.ID.Hex(), u.TokenVersion, string(u.Role), amr)
	if err != nil {
		return Pair{}, fmt.Errorf("issue access token: %w", err)
	}
	return Pair{AccessToken: access, AccessTTL: s.signer.TTL(), RefreshToken: refresh, RefreshTTL: s.refreshTTL, User: u}, nil
}

// Refresh spends a refresh token and returns a new pair. Presenting any token the
// session already spent ends the whole session: either the client or a thief holds a
// copy, and both lose. The exception is the grace: the token spent last, presented
// again within the grace of its rotation, answers with the same successor, so two
// refreshes at once (two tabs, a retry after a lost answer) leave one valid token.
// A secret the session never issued is refused and changes nothing, or anyone who
// learnt a session id could end that session.
func (s *Service) Refresh(ctx context.Context, tok string, c Client) (Pair, error) {
	sidHex, oldHash, err := token.ParseRefresh(tok)
	if err != nil {
		return Pair{}, fmt.Errorf("refresh: %w", errors.Join(lanyard.ErrBadCredentials, err))
	}
	sid, err := lanyard.ParseID(sidHex)
	if err != nil {
		return Pair{}, fmt.Errorf("refresh: %w", lanyard.ErrBadCredentials)
	}
	// Successors are derived, so every request that spends this token, at any time,
	// hands out the same next one.
	next, nextHash, err := s.refresher.Next(tok)
	if err != nil {
		return Pair{}, fmt.Errorf("refresh: %w", errors.Join(lanyard.ErrBadCredentials, err))
	}
	now := s.now()
	ss, err := s.st.SessionByID(ctx, sid)
	switch {
	case errors.Is(err, lanyard.ErrNotFound):
		return Pair{}, fmt.Errorf("refresh: %w", lanyard.ErrBadCredentials)
	case err != nil:
		return Pair{}, fmt.Errorf("refresh: %w", err)
	case !ss.ExpiresAt.After(now):
		// An expired session is as good as gone; the sweep deletes it.
		return Pair{}, fmt.Errorf("refresh: %w", lanyard.ErrBadCredentials)
	case !bytes.Equal(ss.SecretHash, oldHash):
		return s.notCurrent(ctx, ss, tok, next, now)
	case ss.Generation >= token.MaxRotations:
		return Pair{}, s.endSession(ctx, ss, now, "end a session that rotated as often as it may")
	}
	ss, err = s.st.RotateRefresh(ctx, ss, nextHash, now, now.Add(s.refreshTTL))
	switch {
	case errors.Is(err, store.ErrRefreshSpent):
		// Spent by another request at the same moment, the token is now the one spent
		// last, like any other.
		return s.notCurrent(ctx, ss, tok, next, now)
	case errors.Is(err, lanyard.ErrNotFound):
		return Pair{}, fmt.Errorf("refresh: %w", lanyard.ErrBadCredentials)
	case err != nil:
		return Pair{}, fmt.Errorf("refresh: %w", err)
	}
	if s.afterRotate != nil {
		s.afterRotate()
	}
	return s.refreshed(ctx, ss, next, true)
}

// refreshed answers a refresh of session ss with refresh token tok, if its user may
// still have it. won says this request's rotation spent the token: it answers even
// when the session ended since, because a replay of the token it spent may well have
// ended it in the meantime, and the outcome must not depend on which of the two
// reached the user document first; the pair it answers is dead either way.
func (s *Service) refreshed(ctx context.Context, ss lanyard.Session, tok string, won bool) (Pair, error) {
	u, err := s.st.UserByID(ctx, ss.UserID)
	if err != nil && !errors.Is(err, lanyard.ErrNotFound) {
		return Pair{}, fmt.Errorf("refresh: %w", err)
	}
	if err != nil || u.Status != lanyard.StatusActive || u.TokenVersion != ss.TokenVersion {
		// The user is gone, being deleted, or logged out everywhere since.
		_ = s.st.DeleteSession(ctx, ss.ID)
		return Pair{}, fmt.Errorf("refresh: %w", lanyard.ErrBadCredentials)
	}
	if _, ended := u.EndedSessions[ss.ID.Hex()]; ended && !won {
		// Ended since the rotation this request repeats.
		return Pair{}, fmt.Errorf("refresh: %w", lanyard.ErrBadCredentials)
	}
	return s.pair(u, ss, tok)
}

// notCurrent judges a token that is not session ss's current one: the one spent
// last, within the grace, gets its successor (next) again; any other spent one ends
// the session; one the session never issued changes nothing.
func (s *Service) notCurrent(ctx context.Context, ss lanyard.Session, tok, next string, now time.Time) (Pair, error) {
	k, err := s.refresher.StepsTo(ctx, tok, ss.SecretHash, ss.Generation)
	switch {
	case err != nil:
		return Pair{}, fmt.Errorf("refresh: %w", err)
	case k == 1 && s.reuseGrace > 0 && now.Before(ss.RotatedAt.Add(s.reuseGrace)):
		return s.refreshed(ctx, ss, next, false)
	case k > 0:
		return Pair{}, s.endSession(ctx, ss, now, "end replayed session")
	case len(ss.PreviousHash) > 0 && bytes.Equal(ss.PreviousHash, secretHash(tok)):
		// A session rotated before secrets were chained knows only its last one.
		return Pair{}, s.endSession(ctx, ss, now, "end replayed session")
	}
	return Pair{}, fmt.Errorf("refresh: %w", lanyard.ErrBadCredentials)
}

// endSession ends session ss with its access tokens (what says why), and answers
// the refresh that ended it.
func (s *Service) endSession(ctx context.Context, ss lanyard.Session, now time.Time, what string) error {
	if err := s.st.DeleteSession(ctx, ss.ID); err != nil {
		return fmt.Errorf("refresh: %s: %w", what, err)
	}
	if err := s.ended(ctx, ss.UserID, ss.ID, now); err != nil {
		return fmt.Errorf("refresh: %s: %w", what, err)
	}
	return fmt.Errorf("refresh: %w", lanyard.ErrBadCredentials)
}

// ended records in the user's document that session sid ended at now, loading the
// user for what it already holds.
func (s *Service) ended(ctx context.Context, userID, sid lanyard.ID, now time.Time) error {
	u, err := s.st.UserByID(ctx, userID)
	if errors.Is(err, lanyard.ErrNotFound) {
		return nil // no user, no access token that could pass
	}
	if err != nil {
		return err
	}
	change := store.SessionsChange{Unlist: []lanyard.ID{sid}}
	s.noteEnded(u, now, []lanyard.ID{sid}, &change)
	return s.st.ChangeUserSessions(ctx, userID, change)
}

func secretHash(tok string) []byte {
	_, h, _ := token.ParseRefresh(tok)
	return h
}

// Authenticate verifies an access token and loads its user: the one store read that
// authentication costs. A token whose version or user status no longer matches is
// lanyard.ErrUnauthorized.
func (s *Service) Authenticate(ctx context.Context, bearer string) (Principal, error) {
	p, _, err := s.authenticate(ctx, bearer)
	return p, err
}

// authenticate is Authenticate, with the token's claims (for introspection).
func (s *Service) authenticate(ctx context.Context, bearer string) (Principal, token.Claims, error) {
	c, err := s.signer.VerifyContext(ctx, bearer)
	if err != nil {
		return Principal{}, c, fmt.Errorf("authenticate: %w", errors.Join(lanyard.ErrUnauthorized, err))
	}
	uid, err := lanyard.ParseID(c.UserID)
	if err != nil {
		return Principal{}, c, fmt.Errorf("authenticate: %w", lanyard.ErrUnauthorized)
	}
	u, err := s.st.UserByID(ctx, uid)
	if errors.Is(err, lanyard.ErrNotFound) {
		return Principal{}, c, fmt.Errorf("authenticate: %w", lanyard.ErrUnauthorized)
	}
	if err != nil {
		return Principal{}, c, fmt.Errorf("authenticate: %w", err)
	}
	if u.TokenVersion != c.Version || u.Status != lanyard.StatusActive {
		return Principal{}, c, fmt.Errorf("authenticate: %w", lanyard.ErrUnauthorized)
	}
	// An access token never outlives its session: the sessions that ended lately are
	// listed in the user's document, and AccessNotBefore stands for those that no
	// longer fit in the list. Both iat and AccessNotBefore are truncated to the
	// millisecond, so a token issued before AccessNotBefore's millisecond is refused
	// and one issued from it on, such as the login's own that set it, is not.
	if _, ended := u.EndedSessions[c.SessionID]; ended || c.IssuedAt.Before(u.AccessNotBefore) {
		return Principal{}, c, fmt.Errorf("authenticate: %w", lanyard.ErrUnauthorized)
	}
	return Principal{User: u, SessionID: c.SessionID}, c, nil
}

// Logout ends the caller's session and its access tokens, or with all every session
// of the user and every access token issued before now.
func (s *Service) Logout(ctx context.Context, p Principal, all bool) error {
	if all {
		if _, err := s.st.UpdateUser(ctx, p.User.ID, store.UserChange{ForgetSessions: true, BumpVersion: true}, s.now()); err != nil {
			return fmt.Errorf("logout all: %w", err)
		}
		s.tidySessions(p.User.ID, lanyard.ID{})
		return nil
	}
	sid, err := lanyard.ParseID(p.SessionID)
	if err != nil {
		return nil
	}
	if err := s.st.DeleteSession(ctx, sid); err != nil {
		return fmt.Errorf("logout: %w", err)
	}
	// The session is gone first, so that no refresh can start from it once its
	// access tokens are refused; p.User was loaded by this request's authentication.
	change := store.SessionsChange{Unlist: []lanyard.ID{sid}}
	s.noteEnded(p.User, s.now(), []lanyard.ID{sid}, &change)
	if err := s.st.ChangeUserSessions(ctx, p.User.ID, change); err != nil {
		return fmt.Errorf("logout: %w", err)
	}
	return nil
}

// ChangePassword checks the current password, stores the new one, ends every other
// session and outstanding access token, and starts a fresh session.
func (s *Service) ChangePassword(ctx context.Context, p Principal, current, next string, c Client) (Pair, error) {
	bad := &lanyard.InvalidError{}
	if err := s.accounts.CheckPassword(ctx, p.User, current, c.IP); err != nil {
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
		return Pair{}, fmt.Errorf("change password: %w", err)
	}
	// The version bump makes the session lists moot: every session and access token
	// from before it is dead anyway.
	u, err := s.st.UpdateUser(ctx, p.User.ID, store.UserChange{PasswordHash: &hash, ForgetSessions: true, BumpVersion: true}, s.now())
	if err != nil {
		return Pair{}, fmt.Errorf("change password: %w", err)
	}
	// The new session is proved by the current password, just checked; the address
	// stays as unknown to the throttle as it was (no login happened).
	pair, err := s.Issue(ctx, lanyard.Proof{User: u, AMR: []string{lanyard.AMRPassword}}, c)
	if err != nil {
		return Pair{}, fmt.Errorf("change password: %w", err)
	}
	if sid, err := lanyard.ParseID(pairSessionID(pair.RefreshToken)); err == nil {
		s.tidySessions(u.ID, sid)
	}
	return pair, nil
}

// tidySessions deletes a user's sessions other than keep, in the background. The
// version bump already killed them (refresh checks it), so the request need not wait
// for what only reclaims space.
func (s *Service) tidySessions(userID, keep lanyard.ID) {
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

// truncate cuts s to at most n bytes, before the character that would cross the
// limit: the user agent is kept and shown as text, and half a character is not
// valid UTF-8.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
