package store

import (
	"time"

	"github.com/lanyard/lanyard"
)

// knownAddrDoc is a lanyard.KnownAddress as stored in the user document, with short
// field names: it is read by every login and authenticated request.
type knownAddrDoc struct {
	Mark []byte    `bson:"m"`
	Seen time.Time `bson:"at"`
}

// toKnownAddrDocs is addrs as stored, times in milliseconds. The whole list is
// replaced: two concurrent logins from new addresses may each write their own, and
// then one address is remembered only at its next login, which errs towards the
// throttle, never towards an attacker.
func toKnownAddrDocs(addrs []lanyard.KnownAddress) []knownAddrDoc {
	if addrs == nil {
		return nil
	}
	out := make([]knownAddrDoc, len(addrs))
	for i, a := range addrs {
		out[i] = knownAddrDoc{Mark: a.Mark, Seen: Millis(a.Seen)}
	}
	return out
}

func fromKnownAddrDocs(docs []knownAddrDoc) []lanyard.KnownAddress {
	if docs == nil {
		return nil
	}
	out := make([]lanyard.KnownAddress, len(docs))
	for i, d := range docs {
		out[i] = lanyard.KnownAddress{Mark: d.Mark, Seen: d.Seen}
	}
	return out
}
