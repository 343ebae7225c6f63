package store

import (
	"context"
	"errors"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/lanyard/lanyard"
)

// collImports records what `lanyard import` has done with each source record, keyed
// by _id (importer.SourceKey: the source collection and a digest of the record's id),
// so that a rerun, or a run resumed after a crash, finds every record again: a user
// record's Lanyard id (recorded before its account is written, so a resumed run
// writes the same account), and whether the record is done (its account or link is
// written). A record done is never imported again, even if its account has since been
// deleted.
const collImports = "imports"

type importDoc struct {
	ID        string        `bson:"_id"`
	UserID    bson.ObjectID `bson:"user_id,omitempty"`
	Done      bool          `bson:"done"`
	CreatedAt time.Time     `bson:"created_at"`
}

// ImportRecord is what an import recorded for one source record.
type ImportRecord struct {
	UserID lanyard.ID // the Lanyard id of a user record; zero for a link's
	Done   bool
}

// ImportRecordOf loads the record of key; lanyard.ErrNotFound when there is none.
func (s *Store) ImportRecordOf(ctx context.Context, key string) (ImportRecord, error) {
	var d importDoc
	err := s.db.Collection(collImports).FindOne(ctx, bson.D{{Key: "_id", Value: key}}).Decode(&d)
	if err = s.translate("import record", err); err != nil {
		return ImportRecord{}, err
	}
	return ImportRecord{UserID: lanyard.ID(d.UserID), Done: d.Done}, nil
}

// ClaimImport records key with userID (zero for a link's record), not done, unless it
// is recorded already, and returns the record as it is: of two runs at once, one
// decides the id.
func (s *Store) ClaimImport(ctx context.Context, key string, userID lanyard.ID, now time.Time) (ImportRecord, error) {
	err := s.claim(ctx, "claim import", collImports, importDoc{ID: key, UserID: bson.ObjectID(userID), CreatedAt: Millis(now)})
	switch {
	case err == nil:
		return ImportRecord{UserID: userID}, nil
	case errors.Is(err, ErrDuplicate):
		return s.ImportRecordOf(ctx, key)
	}
	return ImportRecord{}, err
}

// ImportDone marks the record of key done.
func (s *Store) ImportDone(ctx context.Context, key string) error {
	_, err := s.keyed(collImports).UpdateOne(ctx, bson.D{{Key: "_id", Value: key}}, bson.D{{Key: "$set", Value: bson.D{{Key: "done", Value: true}}}})
	return s.translate("import done", err)
}

// ImportLink attaches l to its user as LinkID does, for an import that may be
// resuming one of its own interrupted writes: a key naming l's user whose link was
// never stored is taken over at once, instead of after keyGrace (no registration
// can be in progress for it: the import writes its users' links itself).
func (s *Store) ImportLink(ctx context.Context, l *lanyard.LinkedID, max int, now time.Time) error {
	var k linkKey
	err := s.db.Collection(collLinkKeys).FindOne(ctx, bson.D{{Key: "_id", Value: l.Lookup}}).Decode(&k)
	switch err = s.translate("import link: key", err); {
	case isNotFound(err):
	case err != nil:
		return err
	case k.UserID == bson.ObjectID(l.UserID):
		if _, err := s.LinkedIDByID(ctx, lanyard.ID(k.LinkedID)); isNotFound(err) {
			if err := s.dropKey(ctx, collLinkKeys, l.Lookup); err != nil {
				return s.translate("import link: key", err)
			}
			_ = s.pullLink(ctx, l.UserID, lanyard.ID(k.LinkedID))
		} else if err != nil {
			return err
		}
	}
	return s.LinkID(ctx, l, max, now)
}
