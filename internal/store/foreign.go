package store

import (
	"errors"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// ErrForeign is a document in one of Lanyard's collections that is not one of
// Lanyard's: it does not decode into the collection's document, or lacks what every
// one of Lanyard's holds (an application's own linked_ids in a database shared
// without LANYARD_COLLECTION_PREFIX, say). Whoever reads such a document skips it and
// tells NoteForeign; it is never an error of the request.
var ErrForeign = errors.New("store: not one of Lanyard's documents")

// ownDoc is a document of Lanyard's that can tell whether it holds what every one of
// its kind holds.
type ownDoc interface{ complete() bool }

func (d *userDoc) complete() bool { return d.Email != "" && d.Role != "" && d.Status != "" }
func (d *sessionDoc) complete() bool {
	return !d.UserID.IsZero() && len(d.SecretHash) > 0
}
func (d *linkedIDDoc) complete() bool {
	return !d.UserID.IsZero() && d.Lookup != "" && len(d.ExternalIDEnc) > 0
}
func (d *auditDoc) complete() bool { return !d.UserID.IsZero() && d.Type != "" }

// decodeOwn decodes raw, a document of coll, into d; ErrForeign when it is not one of
// Lanyard's. The error names the collection only: the document may hold anything.
func decodeOwn(coll string, raw bson.Raw, d ownDoc) error {
	if err := bson.Unmarshal(raw, d); err != nil || !d.complete() {
		return fmt.Errorf("%w: in %s", ErrForeign, coll)
	}
	return nil
}

// NoteForeign counts a document of coll that was skipped as not Lanyard's (ErrForeign):
// Options.OnForeign hears of it, by the collection's name in the database.
func (s *Store) NoteForeign(coll string) {
	if s.onForeign != nil {
		s.onForeign(Physical(s.prefix, coll))
	}
}
