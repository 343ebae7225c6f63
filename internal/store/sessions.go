package store

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
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
	_, err := s.keyed(collSessions).InsertOne(ctx, ss)
	return s.translate("insert session", err)
}

// SessionByID loads one session.
func (s *Store) SessionByID(ctx context.Context, id bson.ObjectID) (Session, error) {
	var ss Session
	err := s.sessions().FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&ss)
	return ss, s.translate("session by id", err)
}

// collRefreshClaims holds one document per spent refresh secret, keyed by session id
// and secret hash. Inserting it is what spends the secret: the unique _id decides
// which of two concurrent rotations wins, on MongoDB and on the embedded store alike.
// (The embedded store's findAndModify and update read the document, apply the filter
// in Go, then write by _id alone, so a filtered update there is no compare-and-set.)
const collRefreshClaims = "refresh_claims"

// claimTidyAfter is how long a claim is kept after the secret that followed it was
// made: far longer than any request runs, so no request that read the session while
// the claimed secret was current can still be trying to spend it.
const claimTidyAfter = time.Minute

// ErrRefreshSpent means another request spent this refresh secret first, earlier or
// at the same moment: the token was replayed.
var ErrRefreshSpent = errors.New("refresh secret already spent")

func (s *Store) refreshClaims() *mongo.Collection { return s.db.Collection(collRefreshClaims) }

// refreshClaimID names the claim on one secret of one session.
func refreshClaimID(id bson.ObjectID, secretHash []byte) string {
	return id.Hex() + "." + hex.EncodeToString(secretHash)
}

// RotateRefresh swaps the session's secret hash from oldHash to newHash, so of two
// concurrent rotations of one token exactly one wins. It is lanyard.ErrNotFound when
// the session is gone, expired, or oldHash is not current, and ErrRefreshSpent when
// another request has already spent oldHash. The winner gets its session even if the
// session is ended while it rotates (a replay detected by a loser ends it).
func (s *Store) RotateRefresh(ctx context.Context, id bson.ObjectID, oldHash, newHash []byte, now, expires time.Time) (Session, error) {
	ss, err := s.SessionByID(ctx, id)
	if err != nil {
		return Session{}, err
	}
	if !bytes.Equal(ss.SecretHash, oldHash) || !ss.ExpiresAt.After(now) {
		return Session{}, notFound("rotate refresh")
	}
	_, err = s.keyed(collRefreshClaims).InsertOne(ctx, bson.D{
		{Key: "_id", Value: refreshClaimID(id, oldHash)},
		{Key: "session_id", Value: id},
		{Key: "expires_at", Value: ss.ExpiresAt},
	})
	if err = s.translate("rotate refresh: claim", err); errors.Is(err, ErrDuplicate) {
		return Session{}, fmt.Errorf("rotate refresh: %w", ErrRefreshSpent)
	}
	if err != nil {
		return Session{}, err
	}
	prevHash, prevAt := ss.PreviousHash, ss.LastUsedAt
	ss.SecretHash, ss.PreviousHash = newHash, oldHash
	ss.LastUsedAt, ss.ExpiresAt = Millis(now), Millis(expires)
	_, err = s.keyed(collSessions).UpdateOne(ctx, bson.D{{Key: "_id", Value: id}},
		bson.D{{Key: "$set", Value: bson.M{
			"secret_hash":   ss.SecretHash,
			"previous_hash": ss.PreviousHash,
			"last_used_at":  ss.LastUsedAt,
			"expires_at":    ss.ExpiresAt,
		}}})
	if err != nil {
		return Session{}, s.translate("rotate refresh", err)
	}
	// The claim before this one has served its purpose once no request can still be
	// racing for it; younger ones are left to expire.
	if len(prevHash) > 0 && now.Sub(prevAt) > claimTidyAfter {
		_, _ = s.keyed(collRefreshClaims).DeleteOne(ctx, bson.D{{Key: "_id", Value: refreshClaimID(id, prevHash)}})
	}
	return ss, nil
}

// DeleteSession removes one session by id; deleting nothing is not an error.
func (s *Store) DeleteSession(ctx context.Context, id bson.ObjectID) error {
	_, err := s.keyed(collSessions).DeleteOne(ctx, bson.D{{Key: "_id", Value: id}})
	return s.translate("delete session", err)
}

// DeleteUserSessions removes every session of a user, except keep when it is not zero.
func (s *Store) DeleteUserSessions(ctx context.Context, userID, keep bson.ObjectID) error {
	var except any
	if !keep.IsZero() {
		except = keep
	}
	return s.deleteByUser(ctx, collSessions, "delete user sessions", userID, except)
}

// SweepSessions deletes sessions and refresh claims that expired by now, and says how
// many. A periodic tidy-up, never on a request's path.
func (s *Store) SweepSessions(ctx context.Context, now time.Time) (int64, error) {
	expired := bson.D{{Key: "expires_at", Value: bson.D{{Key: "$lte", Value: Millis(now)}}}}
	var total int64
	for _, c := range []*mongo.Collection{s.sessions(), s.refreshClaims()} {
		r, err := c.DeleteMany(ctx, expired)
		if err != nil {
			return total, s.translate("sweep "+c.Name(), err)
		}
		total += r.DeletedCount
	}
	return total, nil
}
