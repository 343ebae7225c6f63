// Package linkid owns linked IDs: external identifiers (a Google subject, a student
// number, a CRM id) attached to an account. Each is stored as a keyed hash, which a
// unique index makes unique across all accounts, and as AES-GCM ciphertext bound to
// its user and provider; the clear value is in no document, index or log line.
package linkid

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/lanyard/lanyard"
	"github.com/lanyard/lanyard/internal/store"
	"github.com/lanyard/lanyard/internal/throttle"
)

// Service links, lists, unlinks and resolves external IDs.
type Service struct {
	st      *store.Store
	keys    *Keys
	limiter *throttle.Limiter
	now     func() time.Time
	// reserved are the providers of the providers file: their IDs are linked only
	// through their flows (LinkProven), never typed in.
	reserved map[string]bool
}

// New returns a Service. now may be nil (time.Now).
func New(st *store.Store, keys *Keys, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{st: st, keys: keys, now: now}
}

// LimitConflicts makes l count the links of their own accounts that users find taken.
func (s *Service) LimitConflicts(l *throttle.Limiter) { s.limiter = l }

// Actor describes who asked, for the audit trail.
type Actor struct {
	UserID    string // who acted (the owner, or an admin)
	IP        string
	UserAgent string
}

// Link attaches (provider, externalID) to user u. An ID held by any account — this one
// included — is a conflict that does not say whose; so is an account at MaxPerUser or
// one being deleted. A user linking their own account may find IDs taken at most
// throttle.ConflictLimit times an hour, so linking is no way to find out who holds
// what; beyond, every link of theirs is a *lanyard.ThrottledError until the hour
// ends. An admin linking for someone else is not limited: resolve answers admins
// that question directly.
//
// It returns the link's public view, its external id in clear, for the caller to
// show: neither the lookup hash nor the ciphertext leaves the package.
func (s *Service) Link(ctx context.Context, u lanyard.User, provider, externalID, label string, by Actor) (Public, error) {
	p, e, err := Canonical(provider, externalID)
	bad, _ := err.(*lanyard.InvalidError)
	if bad == nil {
		bad = &lanyard.InvalidError{}
	}
	if msg := checkLabel(label); msg != "" {
		bad.Add("label", msg)
	}
	if s.reserved[p] {
		bad.Add("provider", "is an identity provider of this service: its IDs are linked only by signing in through it (POST /api/users/me/linked-ids/oauth/"+p+")")
	}
	if err := bad.Err(); err != nil {
		return Public{}, err
	}
	if !u.IsActive() {
		return Public{}, &lanyard.ConflictError{Message: "the account is being deleted"}
	}
	if len(u.Linked) >= MaxPerUser {
		return Public{}, tooMany()
	}
	l := lanyard.LinkedID{
		ID:            store.NewID(),
		UserID:        u.ID,
		Provider:      p,
		Lookup:        s.keys.Lookup(p, e),
		ExternalIDEnc: s.keys.Seal(u.ID.Hex(), p, e),
		Label:         label,
		CreatedAt:     store.Millis(s.now()),
	}
	var claim *throttle.Claim
	if by.UserID == u.ID.Hex() {
		if claim, err = s.limiter.BeginClaim(ctx, by.UserID); err != nil {
			return Public{}, fmt.Errorf("link id: %w", err)
		}
	}
	err = s.st.LinkID(ctx, &l, MaxPerUser, s.now())
	if !errors.Is(err, store.ErrDuplicate) {
		claim.Release(ctx)
	}
	if err != nil {
		switch {
		case errors.Is(err, store.ErrDuplicate):
			return Public{}, &lanyard.ConflictError{
				Message: "this external id is already linked to an account",
				Fields:  []lanyard.FieldError{{Location: "external_id", Message: "is already linked to an account"}},
			}
		case errors.Is(err, store.ErrTooManyLinks):
			return Public{}, tooMany()
		}
		return Public{}, fmt.Errorf("link id: %w", err)
	}
	s.audit(ctx, u.ID, "linked_id.linked", l, by)
	l.ExternalID = e
	return PublicOf(l), nil
}

func tooMany() error {
	return &lanyard.ConflictError{Message: fmt.Sprintf("the account already holds %d linked ids", MaxPerUser)}
}

// List returns u's linked IDs, newest first, as their public views (decrypted).
func (s *Service) List(ctx context.Context, u lanyard.User) ([]Public, error) {
	ls, err := s.st.LinkedIDsOf(ctx, u, s.now())
	if err != nil {
		return nil, fmt.Errorf("list linked ids: %w", err)
	}
	out := make([]Public, 0, len(ls))
	for _, l := range ls {
		d, err := s.decrypt(l)
		if err != nil {
			return nil, fmt.Errorf("list linked ids: %s: %w", l.ID.Hex(), err)
		}
		out = append(out, PublicOf(d))
	}
	return out, nil
}

// decrypt returns l with its external id in clear (ExternalID), opened from its
// ciphertext, which opens only in l's own place (its user and provider).
func (s *Service) decrypt(l lanyard.LinkedID) (lanyard.LinkedID, error) {
	e, err := s.keys.Open(l.UserID.Hex(), l.Provider, l.ExternalIDEnc)
	if err != nil {
		return lanyard.LinkedID{}, err
	}
	l.ExternalID = e
	return l, nil
}

// Unlink removes one of u's linked IDs; someone else's, or a malformed id, is
// lanyard.ErrNotFound. An account without a password keeps its last verified link:
// removing it would leave no way in (lanyard.ErrLastWayIn).
func (s *Service) Unlink(ctx context.Context, u lanyard.User, linkedID string, by Actor) error {
	id, err := lanyard.ParseID(linkedID)
	if err != nil {
		return err
	}
	if u.PasswordHash == "" {
		if err := s.keepsAWayIn(ctx, u, id); err != nil {
			return err
		}
	}
	l, err := s.st.UnlinkID(ctx, u.ID, id)
	if err != nil {
		return fmt.Errorf("unlink id: %w", err)
	}
	s.audit(ctx, u.ID, "linked_id.unlinked", l, by)
	return nil
}

// keepsAWayIn refuses to remove link id of the password-less u when it is u's only
// verified link.
func (s *Service) keepsAWayIn(ctx context.Context, u lanyard.User, id lanyard.ID) error {
	ls, err := s.st.LinkedIDsOf(ctx, u, s.now())
	if err != nil {
		return fmt.Errorf("unlink id: %w", err)
	}
	removing, others := false, 0
	for _, l := range ls {
		switch {
		case l.ID == id:
			removing = l.Verified
		case l.Verified:
			others++
		}
	}
	if removing && others == 0 {
		return fmt.Errorf("unlink id: %w", lanyard.ErrLastWayIn)
	}
	return nil
}

// Resolve finds who holds (provider, externalID), through the keyed hash, and
// whether that link was proven through the provider.
func (s *Service) Resolve(ctx context.Context, provider, externalID string) (userID, linkedID string, verified bool, err error) {
	p, e, err := Canonical(provider, externalID)
	if err != nil {
		return "", "", false, err
	}
	l, err := s.st.LinkedIDByLookup(ctx, s.keys.Lookup(p, e))
	if err != nil {
		return "", "", false, fmt.Errorf("resolve linked id: %w", err)
	}
	return l.UserID.Hex(), l.ID.Hex(), l.Verified, nil
}

// audit records a link or unlink. It is best-effort: the change itself has happened,
// and failing the request now would invite a retry that conflicts with it.
func (s *Service) audit(ctx context.Context, userID lanyard.ID, typ string, l lanyard.LinkedID, by Actor) {
	detail := map[string]string{"linked_id": l.ID.Hex(), "provider": l.Provider}
	if by.UserID != "" && by.UserID != userID.Hex() {
		detail["by"] = by.UserID
	}
	_ = s.st.InsertAudit(ctx, &lanyard.AuditEvent{UserID: userID, Type: typ, IP: by.IP, UserAgent: by.UserAgent, Detail: detail}, s.now())
}
