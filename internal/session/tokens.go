package session

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/lanyard/lanyard"
	"github.com/lanyard/lanyard/internal/token"
)

// TokenKind is what a token presented for introspection or revocation turned out to
// be (RFC 7662's token_type).
type TokenKind string

// The kinds of token, as RFC 7662 names them.
const (
	AccessToken  TokenKind = "access_token"
	RefreshToken TokenKind = "refresh_token"
)

// Introspection is what Introspect says of a token (RFC 7662). Every field but
// Active is zero for an inactive token: nothing is said of a token that does not hold.
type Introspection struct {
	Active    bool
	Kind      TokenKind
	UserID    lanyard.ID
	SessionID lanyard.ID
	Role      lanyard.Role // the user's role now, which a demotion changes at once
	AMR       []string
	Issuer    string
	Audience  string // the access token's aud; "" for a refresh token or an HS256 one of the previous version
	IssuedAt  time.Time
	ExpiresAt time.Time
}

// Introspect says whether tok, an access or a refresh token, is active now, with the
// same checks as the requests it would make: an access token as Authenticate judges
// it (its user loaded, token version, status, the session's end), a refresh token as
// Refresh would before rotating (its session stored, unexpired, not rotated as often
// as it may, the secret its current one, its user active at the session's token
// version). It spends, rotates and ends nothing: a spent refresh token is inactive,
// and only a refresh ends its session for the replay. An error is the store's.
func (s *Service) Introspect(ctx context.Context, tok string) (Introspection, error) {
	if looksLikeRefresh(tok) {
		return s.introspectRefresh(ctx, tok)
	}
	p, c, err := s.authenticate(ctx, tok)
	switch {
	case errors.Is(err, lanyard.ErrUnauthorized):
		return Introspection{}, nil
	case err != nil:
		return Introspection{}, fmt.Errorf("introspect: %w", err)
	}
	sid, _ := lanyard.ParseID(c.SessionID) // token.Verify checked its form
	return Introspection{
		Active: true, Kind: AccessToken, UserID: p.User.ID, SessionID: sid, Role: p.User.Role,
		AMR: c.AMR, Issuer: s.signer.Issuer(), Audience: c.Audience, IssuedAt: c.IssuedAt, ExpiresAt: c.ExpiresAt,
	}, nil
}

// looksLikeRefresh tells the two kinds of token apart by their form: a refresh token
// is "<session id>.<secret>", a JWT has two dots.
func looksLikeRefresh(tok string) bool { return strings.Count(tok, ".") == 1 }

func (s *Service) introspectRefresh(ctx context.Context, tok string) (Introspection, error) {
	ss, ok, err := s.currentSession(ctx, tok)
	if err != nil || !ok {
		return Introspection{}, err
	}
	u, err := s.st.UserByID(ctx, ss.UserID)
	switch {
	case errors.Is(err, lanyard.ErrNotFound):
		return Introspection{}, nil
	case err != nil:
		return Introspection{}, fmt.Errorf("introspect: %w", err)
	}
	if _, ended := u.EndedSessions[ss.ID.Hex()]; ended || u.Status != lanyard.StatusActive || u.TokenVersion != ss.TokenVersion {
		return Introspection{}, nil
	}
	amr := ss.AMR
	if len(amr) == 0 {
		amr = legacyAMR
	}
	issued := ss.CreatedAt
	if !ss.RotatedAt.IsZero() {
		issued = ss.RotatedAt
	}
	return Introspection{
		Active: true, Kind: RefreshToken, UserID: u.ID, SessionID: ss.ID, Role: u.Role,
		AMR: amr, Issuer: s.signer.Issuer(), IssuedAt: issued, ExpiresAt: ss.ExpiresAt,
	}, nil
}

// currentSession loads the session of refresh token tok when tok is its current
// secret and the session may still rotate (what Refresh checks before a rotation);
// ok is false otherwise. It reads and changes nothing else.
func (s *Service) currentSession(ctx context.Context, tok string) (ss lanyard.Session, ok bool, err error) {
	sidHex, hash, err := token.ParseRefresh(tok)
	if err != nil {
		return lanyard.Session{}, false, nil
	}
	sid, err := lanyard.ParseID(sidHex)
	if err != nil {
		return lanyard.Session{}, false, nil
	}
	ss, err = s.st.SessionByID(ctx, sid)
	switch {
	case errors.Is(err, lanyard.ErrNotFound):
		return lanyard.Session{}, false, nil
	case err != nil:
		return lanyard.Session{}, false, fmt.Errorf("introspect: %w", err)
	}
	if !ss.ExpiresAt.After(s.now()) || !bytes.Equal(ss.SecretHash, hash) || ss.Generation >= token.MaxRotations {
		return lanyard.Session{}, false, nil
	}
	return ss, true, nil
}

// Revoke ends the session of tok (RFC 7009), an access token or a refresh token, with
// its refresh token and every access token of it, at once. A refresh token ends its
// session when the session issued it — its current secret or one it spent, as a
// refresh of a spent one would end it too —; an access token when Authenticate would
// let it in. Anything else — garbage, an expired or forged token, a secret the session
// never issued, a session already ended — changes nothing and is no error: the caller
// answers alike whether or not the token was valid. An error is the store's.
func (s *Service) Revoke(ctx context.Context, tok string) error {
	if looksLikeRefresh(tok) {
		return s.revokeRefresh(ctx, tok)
	}
	p, _, err := s.authenticate(ctx, tok)
	switch {
	case errors.Is(err, lanyard.ErrUnauthorized):
		return nil
	case err != nil:
		return fmt.Errorf("revoke: %w", err)
	}
	if err := s.Logout(ctx, p, false); err != nil {
		return fmt.Errorf("revoke: %w", err)
	}
	return nil
}

func (s *Service) revokeRefresh(ctx context.Context, tok string) error {
	sidHex, hash, err := token.ParseRefresh(tok)
	if err != nil {
		return nil
	}
	sid, err := lanyard.ParseID(sidHex)
	if err != nil {
		return nil
	}
	ss, err := s.st.SessionByID(ctx, sid)
	switch {
	case errors.Is(err, lanyard.ErrNotFound):
		return nil
	case err != nil:
		return fmt.Errorf("revoke: %w", err)
	}
	if !bytes.Equal(ss.SecretHash, hash) {
		// Knowing a session id (every access token carries it) must not be enough
		// to end the session: only a secret it issued is.
		k, err := s.refresher.StepsTo(ctx, tok, ss.SecretHash, ss.Generation)
		if err != nil {
			return fmt.Errorf("revoke: %w", err)
		}
		spentLast := len(ss.PreviousHash) > 0 && bytes.Equal(ss.PreviousHash, hash)
		if k == 0 && !spentLast {
			return nil
		}
	}
	if err := s.st.DeleteSession(ctx, ss.ID); err != nil {
		return fmt.Errorf("revoke: %w", err)
	}
	if err := s.ended(ctx, ss.UserID, ss.ID, s.now()); err != nil {
		return fmt.Errorf("revoke: %w", err)
	}
	return nil
}
