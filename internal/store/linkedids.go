package store

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

const collLinkedIDs = "linked_ids"

// LinkedID is an external identifier attached to a user, as stored: the clear value
// appears nowhere, only its keyed hash (Lookup, unique) and its ciphertext.
type LinkedID struct {
	ID            ID        `bson:"_id"`
	UserID        ID        `bson:"user_id"`
	Provider      string    `bson:"provider"`
	Lookup        string    `bson:"lookup"`
	ExternalIDEnc []byte    `bson:"external_id_enc"`
	Label         string    `bson:"label,omitempty"`
	CreatedAt     time.Time `bson:"created_at"`
}

func (s *Store) linkedIDs() *mongo.Collection { return s.db.Collection(collLinkedIDs) }

// InsertLinkedID stores a link; an ID already held by any account is ErrDuplicate.
func (s *Store) InsertLinkedID(ctx context.Context, l *LinkedID) error {
	_, err := s.linkedIDs().InsertOne(ctx, l)
	return translate("insert linked id", err)
}

// LinkedIDsOf lists a user's links, newest first.
func (s *Store) LinkedIDsOf(ctx context.Context, userID ID) ([]LinkedID, error) {
	cur, err := s.linkedIDs().Find(ctx, bson.D{{Key: "user_id", Value: userID}},
		options.Find().SetSort(bson.D{{Key: "_id", Value: -1}}))
	if err != nil {
		return nil, translate("list linked ids", err)
	}
	var out []LinkedID
	if err := cur.All(ctx, &out); err != nil {
		return nil, translate("list linked ids", err)
	}
	return out, nil
}

// CountLinkedIDs counts a user's links.
func (s *Store) CountLinkedIDs(ctx context.Context, userID ID) (int, error) {
	n, err := s.linkedIDs().CountDocuments(ctx, bson.D{{Key: "user_id", Value: userID}})
	return int(n), translate("count linked ids", err)
}

// DeleteLinkedID removes one link of one user; lanyard.ErrNotFound if the user has no
// such link.
func (s *Store) DeleteLinkedID(ctx context.Context, userID, id ID) (LinkedID, error) {
	var l LinkedID
	err := s.linkedIDs().FindOneAndDelete(ctx, bson.D{{Key: "_id", Value: id}, {Key: "user_id", Value: userID}}).Decode(&l)
	return l, translate("delete linked id", err)
}

// LinkedIDByLookup finds the link with this keyed hash.
func (s *Store) LinkedIDByLookup(ctx context.Context, lookup string) (LinkedID, error) {
	var l LinkedID
	err := s.linkedIDs().FindOne(ctx, bson.D{{Key: "lookup", Value: lookup}}).Decode(&l)
	return l, translate("linked id by lookup", err)
}
