package store

import (
	"context"
	"errors"
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
	return s.translate("insert linked id", err)
}

// LinkedIDsOf lists a user's links, newest first.
func (s *Store) LinkedIDsOf(ctx context.Context, userID ID) ([]LinkedID, error) {
	cur, err := s.linkedIDs().Find(ctx, bson.D{{Key: "user_id", Value: userID}},
		options.Find().SetSort(bson.D{{Key: "_id", Value: -1}}))
	if err != nil {
		return nil, s.translate("list linked ids", err)
	}
	var out []LinkedID
	if err := cur.All(ctx, &out); err != nil {
		return nil, s.translate("list linked ids", err)
	}
	return out, nil
}

// CountLinkedIDs counts a user's links.
func (s *Store) CountLinkedIDs(ctx context.Context, userID ID) (int, error) {
	n, err := s.linkedIDs().CountDocuments(ctx, bson.D{{Key: "user_id", Value: userID}})
	return int(n), s.translate("count linked ids", err)
}

// DeleteLinkedID removes one link of one user; lanyard.ErrNotFound if the user has no
// such link.
func (s *Store) DeleteLinkedID(ctx context.Context, userID, id ID) (LinkedID, error) {
	var l LinkedID
	err := s.linkedIDs().FindOneAndDelete(ctx, bson.D{{Key: "_id", Value: id}, {Key: "user_id", Value: userID}}).Decode(&l)
	return l, s.translate("delete linked id", err)
}

// LinkedIDByLookup finds the link with this keyed hash.
func (s *Store) LinkedIDByLookup(ctx context.Context, lookup string) (LinkedID, error) {
	var l LinkedID
	err := s.linkedIDs().FindOne(ctx, bson.D{{Key: "lookup", Value: lookup}}).Decode(&l)
	return l, s.translate("linked id by lookup", err)
}

// UsersWithProvider returns the ids of users holding a linked ID of provider, in
// ascending order: at most limit distinct ids, each greater than after (NoID: from
// the start). The links are read in user id order and the reading stops once limit
// users are found, so a page costs what it shows, not what the provider holds.
func (s *Store) UsersWithProvider(ctx context.Context, provider string, after ID, limit int) ([]ID, error) {
	f := bson.D{{Key: "provider", Value: provider}}
	if !after.IsZero() {
		f = append(f, bson.E{Key: "user_id", Value: bson.D{{Key: "$gt", Value: after}}})
	}
	o := options.Find().
		SetSort(bson.D{{Key: "user_id", Value: 1}}).
		SetProjection(bson.D{{Key: "_id", Value: 0}, {Key: "user_id", Value: 1}})
	cur, err := s.linkedIDs().Find(ctx, f, o)
	if err != nil {
		return nil, s.translate("users with provider", err)
	}
	defer cur.Close(context.WithoutCancel(ctx))
	var out []ID
	for len(out) < limit && cur.Next(ctx) {
		var l struct {
			UserID ID `bson:"user_id"`
		}
		if err := cur.Decode(&l); err != nil {
			return nil, s.translate("users with provider", err)
		}
		// Sorted by user id, so one user's links are adjacent.
		if n := len(out); n == 0 || out[n-1] != l.UserID {
			out = append(out, l.UserID)
		}
	}
	if err := cur.Err(); err != nil {
		return nil, s.translate("users with provider", err)
	}
	return out, nil
}

// HoldsProvider reports whether the user holds a linked ID of provider.
func (s *Store) HoldsProvider(ctx context.Context, userID ID, provider string) (bool, error) {
	err := s.linkedIDs().FindOne(ctx, bson.D{{Key: "user_id", Value: userID}, {Key: "provider", Value: provider}},
		options.FindOne().SetProjection(bson.D{{Key: "_id", Value: 1}})).Err()
	if errors.Is(err, mongo.ErrNoDocuments) {
		return false, nil
	}
	return err == nil, s.translate("holds provider", err)
}
