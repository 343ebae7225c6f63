package linkid

import (
	"fmt"
	"time"

	"github.com/lanyard/lanyard"
	"github.com/lanyard/lanyard/internal/store"
)

// Public is a linked ID as its owner and admins see it: the external id in clear,
// and neither its lookup hash nor its ciphertext, which a lanyard.LinkedID carries.
type Public struct {
	ID         string
	Provider   string
	ExternalID string
	Label      string
	Verified   bool
	CreatedAt  time.Time
}

// PublicOf is the public view of l, whose external id has been opened.
func PublicOf(l lanyard.LinkedID) Public {
	return Public{ID: l.ID.Hex(), Provider: l.Provider, ExternalID: l.ExternalID, Label: l.Label, Verified: l.Verified, CreatedAt: l.CreatedAt}
}

// View is the built-in relation linked_ids' view (relation.View): a stored link,
// decrypted, as its Public value. Expand and export answer only the link's owner and
// admins, who may see the external id.
func (s *Service) View(d store.Document) (any, error) {
	l, err := d.LinkedID()
	if err != nil {
		return nil, fmt.Errorf("linked id view: %w", err)
	}
	open, err := s.decrypt(l)
	if err != nil {
		return nil, fmt.Errorf("linked id view: %s: %w", l.ID.Hex(), err)
	}
	return PublicOf(open), nil
}
