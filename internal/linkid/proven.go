package linkid

import (
	"context"
	"errors"
	"fmt"

	"github.com/lanyard/lanyard"
	"github.com/lanyard/lanyard/internal/store"
)

// Reserve makes the providers named (the providers file's) linkable only through
// their flows: a link typed in with one of these names is refused (422), and only a
// link LinkProven made counts as proof of its subject.
func (s *Service) Reserve(providers []string) {
	s.reserved = make(map[string]bool, len(providers))
	for _, p := range providers {
		s.reserved[p] = true
	}
}

// Holding is who holds an external ID, and whether the link was proven.
type Holding struct {
	UserID   lanyard.ID
	Verified bool
}

// Holder says who holds (provider, subject) and whether that link is proven: a link
// typed in before the provider was configured names a subject but proves nothing.
// lanyard.ErrNotFound when no account holds it.
func (s *Service) Holder(ctx context.Context, provider, subject string) (Holding, error) {
	p, e, err := Canonical(provider, subject)
	if err != nil {
		return Holding{}, err
	}
	l, err := s.st.LinkedIDByLookup(ctx, s.keys.Lookup(p, e))
	if err != nil {
		return Holding{}, fmt.Errorf("linked id holder: %w", err)
	}
	return Holding{UserID: l.UserID, Verified: l.Verified}, nil
}

// LinkProven attaches (provider, subject), which the provider has just proven to
// belong to the person signed in as u, as a verified link. A verified link of
// another account is a conflict (the answer never says whose). A link that only
// typed the subject in proves nothing and gives way: u's own becomes verified,
// another account's is removed from it (its audit trail says so) and the subject
// goes to u — so pre-claiming a victim's subject gains nothing.
func (s *Service) LinkProven(ctx context.Context, u lanyard.User, provider, subject string, by Actor) (Public, error) {
	p, e, err := Canonical(provider, subject)
	if err != nil {
		return Public{}, err
	}
	if !u.IsActive() {
		return Public{}, &lanyard.ConflictError{Message: "the account is being deleted"}
	}
	held, err := s.st.LinkedIDByLookup(ctx, s.keys.Lookup(p, e))
	switch {
	case errors.Is(err, lanyard.ErrNotFound):
	case err != nil:
		return Public{}, fmt.Errorf("link proven id: %w", err)
	case held.UserID == u.ID && held.Verified:
		held.ExternalID = e
		return PublicOf(held), nil
	case held.UserID == u.ID:
		l, err := s.st.VerifyLinkedID(ctx, u.ID, held.ID)
		if err != nil {
			return Public{}, fmt.Errorf("link proven id: %w", err)
		}
		s.audit(ctx, u.ID, "linked_id.verified", l, by)
		l.ExternalID = e
		return PublicOf(l), nil
	case held.Verified:
		return Public{}, takenConflict()
	default:
		old, err := s.st.UnlinkID(ctx, held.UserID, held.ID)
		if err != nil && !errors.Is(err, lanyard.ErrNotFound) {
			return Public{}, fmt.Errorf("link proven id: supersede: %w", err)
		}
		if err == nil {
			s.audit(ctx, old.UserID, "linked_id.superseded", old, Actor{UserID: u.ID.Hex(), IP: by.IP, UserAgent: by.UserAgent})
		}
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
		Verified:      true,
		CreatedAt:     store.Millis(s.now()),
	}
	if err := s.st.LinkID(ctx, &l, MaxPerUser, s.now()); err != nil {
		switch {
		case errors.Is(err, store.ErrDuplicate):
			return Public{}, takenConflict()
		case errors.Is(err, store.ErrTooManyLinks):
			return Public{}, tooMany()
		}
		return Public{}, fmt.Errorf("link proven id: %w", err)
	}
	s.audit(ctx, u.ID, "linked_id.linked", l, by)
	l.ExternalID = e
	return PublicOf(l), nil
}

func takenConflict() error {
	return &lanyard.ConflictError{
		Message: "this external id is already linked to an account",
		Fields:  []lanyard.FieldError{{Location: "external_id", Message: "is already linked to an account"}},
	}
}
