// Package audit owns the public form of the audit trail: what an account's owner and
// admins may see of the events recorded about it (lanyard.AuditEvent; today linkid
// records links and unlinks).
package audit

import (
	"fmt"
	"time"

	"github.com/lanyard/lanyard"
	"github.com/lanyard/lanyard/internal/store"
)

// Event is an audit event as its account's owner and admins see it. Detail holds
// only what the recorder put there for them (never a secret or an external id); the
// actor's User-Agent is kept back.
type Event struct {
	ID     string
	Type   string // e.g. linked_id.linked
	At     time.Time
	IP     string // the actor's client address; empty when unknown
	Detail map[string]string
}

// PublicOf is the public view of e. Detail is never nil.
func PublicOf(e lanyard.AuditEvent) Event {
	if e.Detail == nil {
		e.Detail = map[string]string{}
	}
	return Event{ID: e.ID.Hex(), Type: e.Type, At: e.At, IP: e.IP, Detail: e.Detail}
}

// View is the built-in relation audit_events' view (relation.View): a stored event as
// its public Event.
func View(d store.Document) (any, error) {
	e, err := d.AuditEvent()
	if err != nil {
		return nil, fmt.Errorf("audit view: %w", err)
	}
	return PublicOf(e), nil
}
