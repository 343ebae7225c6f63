package store

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/lanyard/lanyard"
)

// sessionDoc is a lanyard.Session as stored.
type sessionDoc struct {
	ID           bson.ObjectID `bson:"_id"`
	UserID       bson.ObjectID `bson:"user_id"`
	AMR          []string      `bson:"amr,omitempty"`
	SecretHash   []byte        `bson:"secret_hash"`
	PreviousHash []byte        `bson:"previous_hash,omitempty"`
	Generation   int64         `bson:"generation,omitempty"`
	RotatedAt    time.Time     `bson:"rotated_at,omitempty"`
	TokenVersion int64         `bson:"token_version"`
	CreatedAt    time.Time     `bson:"created_at"`
	LastUsedAt   time.Time     `bson:"last_used_at"`
	ExpiresAt    time.Time     `bson:"expires_at"`
	IP           string        `bson:"ip,omitempty"`
	UserAgent    string        `bson:"user_agent,omitempty"`
}

func toSessionDoc(ss *lanyard.Session) *sessionDoc {
	return &sessionDoc{
		ID: bson.ObjectID(ss.ID), UserID: bson.ObjectID(ss.UserID), AMR: ss.AMR, SecretHash: ss.SecretHash, PreviousHash: ss.PreviousHash,
		Generation: ss.Generation, RotatedAt: ss.RotatedAt, TokenVersion: ss.TokenVersion, CreatedAt: ss.CreatedAt,
		LastUsedAt: ss.LastUsedAt, ExpiresAt: ss.ExpiresAt, IP: ss.IP, UserAgent: ss.UserAgent,
	}
}

func (d *sessionDoc) session() lanyard.Session {
	return lanyard.Session{
		ID: lanyard.ID(d.ID), UserID: lanyard.ID(d.UserID), AMR: d.AMR, SecretHash: d.SecretHash, PreviousHash: d.PreviousHash,
		Generation: d.Generation, RotatedAt: d.RotatedAt, TokenVersion: d.TokenVersion, CreatedAt: d.CreatedAt,
		LastUsedAt: d.LastUsedAt, ExpiresAt: d.ExpiresAt, IP: d.IP, UserAgent: d.UserAgent,
	}
}

func (s *Store) sessions() *mongo.Collection { return s.db.Collection(collSessions) }

// InsertSession stores a new session.
func (s *Store) InsertSession(ctx context.Context, ss *lanyard.Session) error {
	_, err := s.keyed(collSessions).InsertOne(ctx, toSessionDoc(ss))
	return s.translate("insert session", err)
}

// SessionByID loads one session.
func (s *Store) SessionByID(ctx context.Context, id lanyard.ID) (lanyard.Session, error) {
	var d sessionDoc
	if err := s.sessions().FindOne(ctx, byID(id)).Decode(&d); err != nil {
		return lanyard.Session{}, s.translate("session by id", err)
	}
	return d.session(), nil
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

// claimLife is when a claim expires after it was made, for the sweep to delete it.
// A claim matters only while a request that read the session before the rotation
// may still try to spend the same secret, which the request deadline (5 s by default)
// and rotationWriteTimeout bound; the reuse grace needs none (it is decided from the
// session's rotated_at). Keeping claims for the session's life (30 days) would let a
// client that refreshes in a loop pile up one document per refresh.
const claimLife = 5 * time.Minute

// rotationWriteTimeout bounds the session update that follows a claim, which runs
// even when the request is cancelled.
const rotationWriteTimeout = 10 * time.Second

// ErrRefreshSpent means another request spent this refresh secret first, at about
// the same moment: it was current when this request read the session.
var ErrRefreshSpent = errors.New("refresh secret already spent")

func (s *Store) refreshClaims() *mongo.Collection { return s.db.Collection(collRefreshClaims) }

// refreshClaimID names the claim on one secret of one session.
func refreshClaimID(id lanyard.ID, secretHash []byte) string {
	return id.Hex() + "." + hex.EncodeToString(secretHash)
}

// RotateRefresh spends the current secret of session ss (the session as the caller
// read it and judged the secret it holds to be current, unexpired and allowed to
// rotate) and stores its successor newHash, counting the rotation and renewing the
// session until expires, so of two concurrent rotations of one secret exactly one
// wins. The winner gets its session even if the session is ended while it rotates (a
// replay detected by a loser ends it). When another request spent the secret first it
// is ErrRefreshSpent, with the session as it stands once that rotation is stored: the
// other request may have been cut off between its claim and its update (a crash, a
// store error), and then this one stores the rotation for it, which is what it would
// have stored. The caller then judges the secret against the session returned.
func (s *Store) RotateRefresh(ctx context.Context, ss lanyard.Session, newHash []byte, now, expires time.Time) (lanyard.Session, error) {
	id, oldHash := ss.ID, ss.SecretHash
	err := s.claim(ctx, "rotate refresh: claim", collRefreshClaims, bson.D{
		{Key: "_id", Value: refreshClaimID(id, oldHash)},
		{Key: "session_id", Value: bson.ObjectID(id)},
		{Key: "expires_at", Value: Millis(now.Add(claimLife))},
	})
	if errors.Is(err, ErrDuplicate) {
		cur, err := s.finishRotation(ctx, ss, newHash, now, expires)
		if err != nil {
			return lanyard.Session{}, err
		}
		return cur, fmt.Errorf("rotate refresh: %w", ErrRefreshSpent)
	}
	if err != nil {
		return lanyard.Session{}, err
	}
	// The claim says oldHash is spent: from here the session must move on to newHash
	// even if the client goes away, or it would keep a secret that can no longer
	// rotate while its successor never becomes current.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rotationWriteTimeout)
	defer cancel()
	// A request that found this claim may store the same rotation meanwhile
	// (finishRotation); this write could only undo a later one if that request's
	// answer reached a client and came back spent before this one write is sent.
	next := rotated(ss, newHash, now, expires)
	if _, err := s.updateByID(wctx, "rotate refresh", collSessions, id, rotation(next)); err != nil {
		return lanyard.Session{}, err
	}
	// The claim before this one has served its purpose once no request can still be
	// racing for it; younger ones are left to expire.
	if len(ss.PreviousHash) > 0 && now.Sub(ss.LastUsedAt) > claimTidyAfter {
		_ = s.dropKey(ctx, collRefreshClaims, refreshClaimID(id, ss.PreviousHash))
	}
	return next, nil
}

// finishRotation stores the rotation of read (the session as read while its secret
// was current) to newHash unless the session has moved on from that secret, and
// returns the session as it is then. Done twice, by the claimer and by a request that
// found the claim, the rotation is the same both times (the successor is derived, the
// generation read.Generation+1); the compare-and-set on the secret is what keeps a
// late one from undoing a later rotation.
func (s *Store) finishRotation(ctx context.Context, read lanyard.Session, newHash []byte, now, expires time.Time) (lanyard.Session, error) {
	next := rotated(read, newHash, now, expires)
	var cur sessionDoc
	swapped, err := s.swapByID(ctx, "finish rotation", collSessions, read.ID, "secret_hash", read.SecretHash, rotation(next), &cur)
	switch {
	case err != nil:
		return lanyard.Session{}, err
	case swapped:
		return next, nil
	}
	return cur.session(), nil
}

// rotated is session ss moved on to the secret whose hash is newHash at now.
func rotated(ss lanyard.Session, newHash []byte, now, expires time.Time) lanyard.Session {
	ss.SecretHash, ss.PreviousHash = newHash, ss.SecretHash
	ss.Generation++
	ss.RotatedAt, ss.LastUsedAt, ss.ExpiresAt = Millis(now), Millis(now), Millis(expires)
	return ss
}

// rotation is the update that stores session ss's rotation.
func rotation(ss lanyard.Session) bson.D {
	return bson.D{{Key: "$set", Value: bson.M{
		"secret_hash":   ss.SecretHash,
		"previous_hash": ss.PreviousHash,
		"generation":    ss.Generation,
		"rotated_at":    ss.RotatedAt,
		"last_used_at":  ss.LastUsedAt,
		"expires_at":    ss.ExpiresAt,
	}}}
}

// DeleteSession removes one session by id; deleting nothing is not an error.
func (s *Store) DeleteSession(ctx context.Context, id lanyard.ID) error {
	_, err := s.keyed(collSessions).DeleteOne(ctx, byID(id))
	return s.translate("delete session", err)
}

// SessionsChange is a change of the session bookkeeping in a user's document
// (User.LiveSessions, EndedSessions and AccessNotBefore).
type SessionsChange struct {
	List      map[lanyard.ID]time.Time // sessions to list as live, or whose last known use moved on
	Unlist    []lanyard.ID             // sessions no longer live
	End       map[lanyard.ID]time.Time // sessions that ended, with when
	Forget    []lanyard.ID             // ended sessions no longer worth remembering
	NotBefore time.Time                // refuse access tokens issued before this (never moves back); zero: no change
	// KnownAddrs replace the user's known addresses (User.KnownAddrs); nil: no change.
	KnownAddrs []lanyard.KnownAddress
}

// ChangeUserSessions applies c to the user's document in one write. Every session is
// a field of its own ($set and $unset of live_sessions.<id>, ended_sessions.<id>), so
// concurrent changes for different sessions never undo each other on MongoDB; on the
// embedded store this process serialises them as it does every update of a user. A
// user that is gone is not an error: there is nothing left to keep track of.
func (s *Store) ChangeUserSessions(ctx context.Context, userID lanyard.ID, c SessionsChange) error {
	set, unset := bson.M{}, bson.M{}
	for id, at := range c.List {
		set["live_sessions."+id.Hex()] = Millis(at)
	}
	for _, id := range c.Unlist {
		unset["live_sessions."+id.Hex()] = ""
	}
	for id, at := range c.End {
		set["ended_sessions."+id.Hex()] = Millis(at)
	}
	for _, id := range c.Forget {
		unset["ended_sessions."+id.Hex()] = ""
	}
	if c.KnownAddrs != nil {
		set["known_addrs"] = toKnownAddrDocs(c.KnownAddrs)
	}
	var update bson.D
	if len(set) > 0 {
		update = append(update, bson.E{Key: "$set", Value: set})
	}
	if len(unset) > 0 {
		update = append(update, bson.E{Key: "$unset", Value: unset})
	}
	if !c.NotBefore.IsZero() {
		update = append(update, bson.E{Key: "$max", Value: bson.M{"access_not_before": Millis(c.NotBefore)}})
	}
	if len(update) == 0 {
		return nil
	}
	_, err := s.updateByID(ctx, "change user sessions", collUsers, userID, update)
	return err
}

// DeleteUserSessions removes every session of a user, except keep when it is not zero.
func (s *Store) DeleteUserSessions(ctx context.Context, userID, keep lanyard.ID) error {
	var except any
	if !keep.IsZero() {
		except = bson.ObjectID(keep)
	}
	return s.deleteByUser(ctx, collSessions, "delete user sessions", userID, except)
}

// SweepSessions deletes sessions and refresh claims that expired by now, and says how
// many. A periodic tidy-up, never on a request's path.
func (s *Store) SweepSessions(ctx context.Context, now time.Time) (int64, error) {
	var total int64
	for _, coll := range []string{collSessions, collRefreshClaims} {
		n, err := s.deleteExpired(ctx, coll, now)
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}
