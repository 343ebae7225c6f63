package store

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/lanyard/lanyard"
)

// collFlows holds flows: state that one request leaves for a later one (an OAuth
// state, an mfa_token, a mail token, a WebAuthn challenge). A flow's _id is the keyed
// hash of the token its client holds, so every operation but the sweep is by _id.
const collFlows = "flows"

// flowDoc is a lanyard.Flow as stored.
type flowDoc struct {
	ID        string            `bson:"_id"`
	Kind      string            `bson:"kind"`
	UserID    *bson.ObjectID    `bson:"user_id,omitempty"`
	Payload   map[string]string `bson:"payload,omitempty"`
	CreatedAt time.Time         `bson:"created_at"`
	ExpiresAt time.Time         `bson:"expires_at"`
}

// InsertFlow stores a new flow f under id, the keyed hash of its token (internal/flow),
// which is made of fresh random bytes: a duplicate is ErrDuplicate, which no caller
// should ever see.
func (s *Store) InsertFlow(ctx context.Context, id string, f lanyard.Flow) error {
	d := flowDoc{ID: id, Kind: string(f.Kind), Payload: f.Payload, CreatedAt: Millis(f.CreatedAt), ExpiresAt: Millis(f.ExpiresAt)}
	if !f.UserID.IsZero() {
		uid := bson.ObjectID(f.UserID)
		d.UserID = &uid
	}
	_, err := s.keyed(collFlows).InsertOne(ctx, d)
	return s.translate("insert flow", err)
}

// FlowByID loads a flow, expired or not: lanyard.ErrNotFound when there is none.
func (s *Store) FlowByID(ctx context.Context, id string) (lanyard.Flow, error) {
	var d flowDoc
	if err := s.db.Collection(collFlows).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&d); err != nil {
		return lanyard.Flow{}, s.translate("flow by id", err)
	}
	f := lanyard.Flow{Kind: lanyard.FlowKind(d.Kind), Payload: d.Payload, CreatedAt: d.CreatedAt, ExpiresAt: d.ExpiresAt}
	if d.UserID != nil {
		f.UserID = lanyard.ID(*d.UserID)
	}
	return f, nil
}

// DeleteFlow deletes a flow and reports whether this call deleted it. Of concurrent
// deletes of one flow exactly one reports true, on MongoDB and on the embedded store
// alike (take, claims.go), so it is what decides who takes a flow: a filtered update
// or findAndModify would be no compare-and-set on the embedded store.
func (s *Store) DeleteFlow(ctx context.Context, id string) (bool, error) {
	return s.take(ctx, "delete flow", collFlows, id)
}

// SweepFlows deletes the flows that expired by now and says how many. An expired flow
// is refused whether or not it is still stored, so this only reclaims space; it is
// never on a request's path.
func (s *Store) SweepFlows(ctx context.Context, now time.Time) (int64, error) {
	return s.deleteExpired(ctx, collFlows, now)
}
