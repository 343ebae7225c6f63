package lanyard

import (
	"encoding/hex"
	"fmt"
)

// ID names a stored thing: a user, a session, a linked ID, an audit event. It has the
// size of a MongoDB ObjectId, which is how the store keeps it, but the layout of its
// bytes is the store's business: new ids come from store.NewID, and the domain only
// compares, prints and parses them.
type ID [12]byte

// Hex is the id's API form: 24 lowercase hex digits.
func (id ID) Hex() string { return hex.EncodeToString(id[:]) }

// String is Hex, so an id prints the same everywhere.
func (id ID) String() string { return id.Hex() }

// IsZero reports whether id is the zero ID, which means "none".
func (id ID) IsZero() bool { return id == ID{} }

// ParseID turns a 24-character lowercase hex id into an ID. Anything else cannot name
// a stored thing, so it is ErrNotFound rather than a validation error.
func ParseID(s string) (ID, error) {
	var id ID
	if len(s) != 2*len(id) {
		return ID{}, fmt.Errorf("parse id: %w", ErrNotFound)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return ID{}, fmt.Errorf("parse id: %w", ErrNotFound)
		}
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return ID{}, fmt.Errorf("parse id: %w", ErrNotFound)
	}
	return id, nil
}
