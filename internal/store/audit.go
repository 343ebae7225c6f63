package store

import (
	"context"
	"time"
)

const collAudit = "audit_events"

// AuditEvent records something that happened to an account. Detail never holds a
// secret or an external id.
type AuditEvent struct {
	ID        ID                `bson:"_id"`
	UserID    ID                `bson:"user_id"`
	Type      string            `bson:"type"`
	At        time.Time         `bson:"at"`
	IP        string            `bson:"ip,omitempty"`
	UserAgent string            `bson:"user_agent,omitempty"`
	Detail    map[string]string `bson:"detail,omitempty"`
}

// InsertAudit stores an audit event, filling its id and time if unset.
func (s *Store) InsertAudit(ctx context.Context, e *AuditEvent, now time.Time) error {
	if e.ID.IsZero() {
		e.ID = NewObjectID()
	}
	if e.At.IsZero() {
		e.At = Millis(now)
	}
	_, err := s.keyed(collAudit).InsertOne(ctx, e)
	return s.translate("insert audit event", err)
}
