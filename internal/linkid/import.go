package linkid

import (
	"context"
	"errors"
	"fmt"

	"github.com/lanyard/lanyard"
	"github.com/lanyard/lanyard/internal/store"
)

// Outcome is what an import of one linked ID came to.
type Outcome int

// Outcomes of Import.
const (
	Linked        Outcome = iota // attached to the user now
	AlreadyLinked                // the user holds it already (a rerun)
	HeldByOther                  // another account holds it: the first to claim it keeps it
	TooMany                      // the user holds MaxPerUser links already
)

// Import attaches (provider, externalID) to user u for `lanyard import`: sealed,
// hashed and claimed as Link does it, so it is unique across all accounts, but
// without the conflict limit (no person is probing) and with the answer saying
// whose it is — u's already, or another's — since the import reports it. A
// provider or external id that breaks the rules is a *lanyard.InvalidError. With
// dryRun nothing is written: the outcome is what the import would come to.
func (s *Service) Import(ctx context.Context, u lanyard.User, provider, externalID string, dryRun bool) (Outcome, error) {
	p, e, err := Canonical(provider, externalID)
	if err != nil {
		return 0, err
	}
	lookup := s.keys.Lookup(p, e)
	held, err := s.st.LinkedIDByLookup(ctx, lookup)
	switch {
	case err == nil && held.UserID == u.ID:
		return AlreadyLinked, nil
	case err == nil:
		return HeldByOther, nil
	case !errors.Is(err, lanyard.ErrNotFound):
		return 0, fmt.Errorf("import linked id: %w", err)
	case len(u.Linked) >= MaxPerUser:
		return TooMany, nil
	case dryRun:
		return Linked, nil
	}
	l := lanyard.LinkedID{
		ID:            store.NewID(),
		UserID:        u.ID,
		Provider:      p,
		Lookup:        lookup,
		ExternalIDEnc: s.keys.Seal(u.ID.Hex(), p, e),
		CreatedAt:     store.Millis(s.now()),
	}
	switch err := s.st.ImportLink(ctx, &l, MaxPerUser, s.now()); {
	case errors.Is(err, store.ErrDuplicate):
		return HeldByOther, nil
	case errors.Is(err, store.ErrTooManyLinks):
		return TooMany, nil
	case err != nil:
		return 0, fmt.Errorf("import linked id: %w", err)
	}
	s.audit(ctx, u.ID, "linked_id.linked", l, Actor{UserAgent: "lanyard import"})
	return Linked, nil
}
