package lanyard

import "time"

// AuditEvent records something that happened to an account. Detail never holds a
// secret or an external id.
type AuditEvent struct {
	ID        ID
	UserID    ID
	Type      string // e.g. linked_id.linked
	At        time.Time
	IP        string
	UserAgent string
	Detail    map[string]string
}
