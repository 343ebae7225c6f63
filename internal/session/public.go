package session

import (
	"fmt"
	"time"

	"github.com/lanyard/lanyard"
	"github.com/lanyard/lanyard/internal/store"
)

// Public is a session as its owner and admins see it: when and from where, never the
// hashes of its refresh secrets, its rotations or the token version it was made under.
type Public struct {
	ID         string
	CreatedAt  time.Time
	LastUsedAt time.Time
	ExpiresAt  time.Time
	IP         string // the client address at login; empty when unknown
	UserAgent  string // the client's User-Agent at login; empty when unknown
}

// PublicOf is the public view of ss.
func PublicOf(ss lanyard.Session) Public {
	return Public{
		ID: ss.ID.Hex(), CreatedAt: ss.CreatedAt, LastUsedAt: ss.LastUsedAt, ExpiresAt: ss.ExpiresAt,
		IP: ss.IP, UserAgent: ss.UserAgent,
	}
}

// View is the built-in relation sessions' view (relation.View): a stored session as
// its Public value.
func View(d store.Document) (any, error) {
	ss, err := d.Session()
	if err != nil {
		return nil, fmt.Errorf("session view: %w", err)
	}
	return PublicOf(ss), nil
}
