package store

import (
	"context"
	"errors"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// collThrottle holds one counter per throttle key ("login:acct:…", "login:ip:…",
// "register:ip:…"). Every operation on a single key filters on exactly {_id: key},
// the one filter the embedded store answers without reading the whole collection.
// Expiry is handled in code: a counter whose expires_at has passed counts as absent,
// and ThrottleSweep removes such counters (the embedded store has no TTL indexes).
const collThrottle = "throttle"

// ThrottleEntry is one throttle counter.
type ThrottleEntry struct {
	Key string
	// Failures counts failed logins, or registration attempts, since WindowStart.
	Failures     int
	WindowStart  time.Time
	BlockedUntil time.Time
	// ExpiresAt is when the counter is forgotten; from then on it reads as absent.
	ExpiresAt time.Time
}

// throttleDoc is a ThrottleEntry as stored.
type throttleDoc struct {
	Key          string    `bson:"_id"`
	Failures     int       `bson:"failures"`
	WindowStart  time.Time `bson:"window_start"`
	BlockedUntil time.Time `bson:"blocked_until,omitempty"`
	ExpiresAt    time.Time `bson:"expires_at"`
}

func (s *Store) throttle() *mongo.Collection { return s.db.Collection(collThrottle) }

// throttleLock serialises this process's read-modify-writes of one counter on the
// embedded store (see serialize.go); it does nothing on MongoDB, whose update
// operators are atomic. ThrottleAdd holds it across its two writes.
func (s *Store) throttleLock(key string) func() { return s.lockKey(collThrottle, key) }

func byKey(key string) bson.D { return bson.D{{Key: "_id", Value: key}} }

// EnsureExpiryIndexes creates the index on expires_at that the sweeps use, on the
// throttle counters, the sessions, the refresh claims and the flows. It does so only on MongoDB:
// the embedded store pushes down no filter but {_id: value}, so there an index would
// only slow every write down. Call it after EnsureIndexes, which finds out what the
// server is.
func (s *Store) EnsureExpiryIndexes(ctx context.Context) error {
	if s.IsFerretDB() {
		return nil
	}
	for _, coll := range []string{collThrottle, collSessions, collRefreshClaims, collFlows, collMailClaims, collOTPClaims} {
		if err := s.ensureIndex(ctx, indexSpec{coll: coll, name: "expires_at", fields: []string{"expires_at"}}); err != nil {
			return err
		}
	}
	return nil
}

// ThrottleAdd counts one more event for key and returns the counter afterwards. A
// counter that is absent or expired starts over: one event, a window starting now and
// expiring after window. The count is one atomic $inc on MongoDB; restarting an
// expired counter is a second write, so an event racing with the restart may go
// uncounted, which errs on the side of the client and only at a window's edge.
func (s *Store) ThrottleAdd(ctx context.Context, key string, now time.Time, window time.Duration) (ThrottleEntry, error) {
	now = Millis(now)
	defer s.throttleLock(key)()
	var d throttleDoc
	upsert := func() error {
		return s.keyed(collThrottle).FindOneAndUpdate(ctx, byKey(key),
			bson.D{
				{Key: "$inc", Value: bson.D{{Key: "failures", Value: 1}}},
				{Key: "$setOnInsert", Value: bson.D{
					{Key: "window_start", Value: now},
					{Key: "expires_at", Value: now.Add(window)},
				}},
			},
			options.FindOneAndUpdate().SetUpsert(true).SetReturnDocument(options.After)).Decode(&d)
	}
	err := upsert()
	if errors.Is(s.translate("throttle add", err), ErrDuplicate) {
		// Another process inserted the counter between this upsert's read and its
		// insert (the in-process lock does not span processes): it exists now.
		err = upsert()
	}
	if err != nil {
		return ThrottleEntry{}, s.translate("throttle add", err)
	}
	e := ThrottleEntry(d)
	if e.ExpiresAt.After(now) {
		return e, nil
	}
	e = ThrottleEntry{Key: key, Failures: 1, WindowStart: now, ExpiresAt: now.Add(window)}
	_, err = s.keyed(collThrottle).UpdateOne(ctx, byKey(key), bson.D{
		{Key: "$set", Value: bson.D{
			{Key: "failures", Value: e.Failures},
			{Key: "window_start", Value: e.WindowStart},
			{Key: "expires_at", Value: e.ExpiresAt},
		}},
		{Key: "$unset", Value: bson.D{{Key: "blocked_until", Value: ""}}},
	})
	return e, s.translate("throttle add: restart window", err)
}

// ThrottleBlock blocks key until until and keeps the counter at least until expires.
// Both only ever move forward ($max), so concurrent blocks agree on the longest.
// A counter that is absent (already reset) is left absent.
func (s *Store) ThrottleBlock(ctx context.Context, key string, until, expires time.Time) error {
	defer s.throttleLock(key)()
	_, err := s.keyed(collThrottle).UpdateOne(ctx, byKey(key), bson.D{
		{Key: "$max", Value: bson.D{
			{Key: "blocked_until", Value: Millis(until)},
			{Key: "expires_at", Value: Millis(expires)},
		}},
	})
	return s.translate("throttle block", err)
}

// ThrottleUndo takes one counted event back from key (a reserved attempt that turned
// out not to be a failure). An absent counter stays absent.
func (s *Store) ThrottleUndo(ctx context.Context, key string) error {
	defer s.throttleLock(key)()
	_, err := s.keyed(collThrottle).UpdateOne(ctx, bson.D{{Key: "_id", Value: key}}, bson.D{{Key: "$inc", Value: bson.D{{Key: "failures", Value: -1}}}})
	return s.translate("throttle undo", err)
}

// ThrottleReset forgets the counter for key; resetting an absent counter is no error.
func (s *Store) ThrottleReset(ctx context.Context, key string) error {
	defer s.throttleLock(key)()
	_, err := s.keyed(collThrottle).DeleteOne(ctx, byKey(key))
	return s.translate("throttle reset", err)
}

// ThrottleSweep deletes the counters that expired by now and says how many. It is the
// one throttle operation not keyed by _id: a periodic tidy-up, never on a request's
// path (on the embedded store it reads the whole collection; MongoDB uses the
// expires_at index).
func (s *Store) ThrottleSweep(ctx context.Context, now time.Time) (int64, error) {
	return s.deleteExpired(ctx, collThrottle, now)
}
