package lanyard

import (
	"log/slog"
	"time"
)

// LinkedID is an external identifier (a Google subject, a student number) attached to
// a user. The clear value is kept nowhere: Lookup is its keyed hash (unique across
// all accounts, so it decides who holds it) and ExternalIDEnc its ciphertext, bound
// to the user and provider (internal/linkid makes both). ExternalID is the clear
// value, set only once linkid has opened the ciphertext for its owner or an admin.
type LinkedID struct {
	ID            ID
	UserID        ID
	Provider      string // lower-cased (linkid.Canonical)
	ExternalID    string // in clear; empty unless opened, and never stored
	Lookup        string
	ExternalIDEnc []byte
	Label         string
	// Verified: proven through the provider's own flow (an identity provider named
	// in the providers file); a link typed in by a user or an admin never is.
	Verified  bool
	CreatedAt time.Time
}

// LogValue keeps the external id, its hash and its ciphertext out of any log line.
func (l LinkedID) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", l.ID.Hex()), slog.String("user_id", l.UserID.Hex()), slog.String("provider", l.Provider))
}
