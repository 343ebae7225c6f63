package store

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/lanyard/lanyard"
)

const collAudit = "audit_events"

// auditDoc is a lanyard.AuditEvent as stored.
type auditDoc struct {
	ID        bson.ObjectID     `bson:"_id"`
	UserID    bson.ObjectID     `bson:"user_id"`
	Type      string            `bson:"type"`
	At        time.Time         `bson:"at"`
	IP        string            `bson:"ip,omitempty"`
	UserAgent string            `bson:"user_agent,omitempty"`
	Detail    map[string]string `bson:"detail,omitempty"`
}

func (d *auditDoc) event() lanyard.AuditEvent {
	return lanyard.AuditEvent{ID: lanyard.ID(d.ID), UserID: lanyard.ID(d.UserID), Type: d.Type, At: d.At, IP: d.IP, UserAgent: d.UserAgent, Detail: d.Detail}
}

// InsertAudit stores an audit event, filling its id and time if unset.
func (s *Store) InsertAudit(ctx context.Context, e *lanyard.AuditEvent, now time.Time) error {
	if e.ID.IsZero() {
		e.ID = NewID()
	}
	if e.At.IsZero() {
		e.At = Millis(now)
	}
	_, err := s.keyed(collAudit).InsertOne(ctx, &auditDoc{
		ID: bson.ObjectID(e.ID), UserID: bson.ObjectID(e.UserID), Type: e.Type, At: e.At, IP: e.IP, UserAgent: e.UserAgent, Detail: e.Detail,
	})
	return s.translate("insert audit event", err)
}
