package store

import (
	"context"
	"errors"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
)

// Claims: deciding by a unique _id. The embedded store has no transactions and no
// compare-and-set update (it reads a document, applies the update in Go and writes it
// back), but an insert with a unique _id is atomic there as on MongoDB: of concurrent
// inserts of one _id exactly one succeeds. Every decision that must hold across
// requests and processes is therefore made by inserting a document whose _id names
// what is decided — an email (user_keys), an external ID (linked_id_keys), a spent
// refresh secret (refresh_claims), the takeover of a deletion job (deletion_claims).
// The primitives below are the only way the entity code makes one.

// claim inserts doc, whose _id names what it decides, into coll through the serial
// write connection. It is ErrDuplicate when another claim holds that _id.
func (s *Store) claim(ctx context.Context, op, coll string, doc any) error {
	_, err := s.keyed(coll).InsertOne(ctx, doc)
	return s.translate(op, err)
}

// claimed reports whether the claim with this _id exists. It is a find by _id, not a
// count: a count is an aggregation, which the embedded store answers by reading the
// whole collection.
func (s *Store) claimed(ctx context.Context, op, coll string, id any) (bool, error) {
	err := s.db.Collection(coll).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Err()
	if errors.Is(err, mongo.ErrNoDocuments) {
		return false, nil
	}
	return err == nil, s.translate(op, err)
}

// keyVerdict is what a key claim that found its key taken learns of the holder.
type keyVerdict int

const (
	keyHeld  keyVerdict = iota // held by someone else: the claim fails
	keyOurs                    // held by this very claimant already (an earlier step of its write)
	keyStale                   // left by an interrupted write: it names nothing, and is taken over
)

// claimKey claims the key document doc, whose _id is key, in coll. A key that is taken
// is judged: held by another is ErrDuplicate, held by the claimant already is success,
// and a stale one — a crash between two steps of a write leaves such keys, naming
// nothing — is deleted and the claim tried once more. A key document therefore never
// blocks anyone for longer than its judge says.
func (s *Store) claimKey(ctx context.Context, op, coll, key string, doc any, judge func(context.Context) (keyVerdict, error)) error {
	for range 2 {
		err := s.claim(ctx, op, coll, doc)
		if !errors.Is(err, ErrDuplicate) {
			return err
		}
		v, err := judge(ctx)
		switch {
		case err != nil:
			return err
		case v == keyOurs:
			return nil
		case v == keyHeld:
			return &opError{op: op, kind: ErrDuplicate}
		}
		if err := s.dropKey(ctx, coll, key); err != nil {
			return s.translate(op, err)
		}
	}
	return &opError{op: op, kind: ErrDuplicate}
}

// dropKey deletes the key or claim document with this _id from coll, if it exists. Its
// error is the driver's, for the caller to translate or ignore.
func (s *Store) dropKey(ctx context.Context, coll, key string) error {
	_, err := s.keyed(coll).DeleteOne(ctx, bson.D{{Key: "_id", Value: key}})
	return err
}

// take deletes the document with this _id from coll and reports whether this call
// deleted it. A delete by _id is atomic on the embedded store as on MongoDB, and
// FerretDB reports the rows SQLite deleted, so of concurrent takes of one document
// exactly one gets true: the other decision by _id there is, for state that is spent
// once (a flow). A read before it decides nothing, a filtered delete would not help.
func (s *Store) take(ctx context.Context, op, coll string, id any) (bool, error) {
	r, err := s.keyed(coll).DeleteOne(ctx, bson.D{{Key: "_id", Value: id}})
	if err != nil {
		return false, s.translate(op, err)
	}
	return r.DeletedCount == 1, nil
}
