package store

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Session is one login: the refresh token's server side. Only hashes of refresh
// secrets are stored. TokenVersion is the user's token_version when the session was
// made: once the user's version moves on (logout-all, password change) the session is
// dead even if deleting it was interrupted.
type Session struct {
	ID           bson.ObjectID `bson:"_id"`
	UserID       bson.ObjectID `bson:"user_id"`
	SecretHash   []byte        `bson:"secret_hash"`
	PreviousHash []byte        `bson:"previous_hash,omitempty"`
	TokenVersion int64         `bson:"token_version"`
	CreatedAt    time.Time     `bson:"created_at"`
	LastUsedAt   time.Time     `bson:"last_used_at"`
	ExpiresAt    time.Time     `bson:"expires_at"`
	IP           string        `bson:"ip,omitempty"`
	UserAgent    string        `bson:"user_agent,omitempty"`
}

func (s *Store) sessions() *mongo.Collection { return s.db.Collection(collSessions) }

// InsertSession stores a new session.
func (s *Store) InsertSession(ctx context.Context, ss *Session) error {
	_, err := s.sessions().InsertOne(ctx, ss)
	return translate("insert session", err)
}

// SessionByID loads one session.
func (s *Store) SessionByID(ctx context.Context, id bson.ObjectID) (Session, error) {
	var ss Session
	err := s.sessions().FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&ss)
	return ss, translate("session by id", err)
}

// RotateRefresh swaps the session's secret hash from oldHash to newHash in one atomic
// compare-and-set, so of two concurrent rotations of one token exactly one wins. It is
// lanyard.ErrNotFound when the session is gone, expired, or oldHash is not current.
func (s *Store) RotateRefresh(ctx context.Context, id bson.ObjectID, oldHash, newHash []byte, now, expires time.Time) (Session, error) {
	var ss Session
	err := s.sessions().FindOneAndUpdate(ctx,
		bson.D{{Key: "_id", Value: id}, {Key: "secret_hash", Value: oldHash}, {Key: "expires_at", Value: bson.M{"$gt": now}}},
		bson.D{{Key: "$set", Value: bson.M{
			"secret_hash":   newHash,
			"previous_hash": oldHash,
			"last_used_at":  Millis(now),
			"expires_at":    Millis(expires),
		}}},
		options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&ss)
	return ss, translate("rotate refresh", err)
}

// DeleteSession removes one session of one user; deleting nothing is not an error.
func (s *Store) DeleteSession(ctx context.Context, userID, id bson.ObjectID) error {
	_, err := s.sessions().DeleteOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "user_id", Value: userID}})
	return translate("delete session", err)
}

// DeleteUserSessions removes every session of a user, except keep when it is not zero.
func (s *Store) DeleteUserSessions(ctx context.Context, userID, keep bson.ObjectID) error {
	filter := bson.D{{Key: "user_id", Value: userID}}
	if !keep.IsZero() {
		filter = append(filter, bson.E{Key: "_id", Value: bson.M{"$ne": keep}})
	}
	_, err := s.sessions().DeleteMany(ctx, filter)
	return translate("delete user sessions", err)
}
