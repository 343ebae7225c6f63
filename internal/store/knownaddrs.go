package store

import "time"

// KnownAddress is a client address a user logged in from successfully, kept in the
// user document so that the login that loads the user has it at no extra cost (and
// writes it with the session's listing: SessionsChange.KnownAddrs). The address
// itself is not stored: Mark is a keyed hash of it (the throttle's), so the document
// tells nobody where its user has been.
type KnownAddress struct {
	Mark []byte    `bson:"m"`
	Seen time.Time `bson:"at"`
}

// knownAddrs is addrs as stored, times in milliseconds. The whole list is replaced:
// two concurrent logins from new addresses may each write their own, and then one
// address is remembered only at its next login, which errs towards the throttle,
// never towards an attacker.
func knownAddrs(addrs []KnownAddress) []KnownAddress {
	out := make([]KnownAddress, len(addrs))
	for i, a := range addrs {
		out[i] = KnownAddress{Mark: a.Mark, Seen: Millis(a.Seen)}
	}
	return out
}
