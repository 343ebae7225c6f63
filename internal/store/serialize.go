package store

import (
	"context"
	"hash/maphash"
	"sync"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/lanyard/lanyard"
)

// FerretDB (the embedded store) executes an update by reading the document, applying
// the change in Go and writing the whole document back by _id, in two steps. Two
// concurrent updates of one document can therefore lose one of them — a login's
// password re-hash could undo a logout-all's token_version bump. MongoDB applies each
// update atomically. On FerretDB this process serialises its own updates of a document,
// which makes the single-process deployment exact; inserts (unique _id) and deletes
// are atomic on both and carry every guarantee that must hold across processes.

// stripes is a fixed set of mutexes, chosen by document id.
type stripes struct {
	seed maphash.Seed
	mu   [256]sync.Mutex
}

func newStripes() *stripes { return &stripes{seed: maphash.MakeSeed()} }

// lock serialises writers of one document of one collection; unlock with the result.
// On MongoDB (s.stripes nil) it does nothing.
func (s *Store) lock(coll string, id lanyard.ID) func() {
	if s.stripes == nil {
		return func() {}
	}
	var h maphash.Hash
	h.SetSeed(s.stripes.seed)
	h.WriteString(coll)
	h.Write(id[:])
	m := &s.stripes.mu[h.Sum64()%uint64(len(s.stripes.mu))]
	m.Lock()
	return m.Unlock
}

// detectFerretDB asks the server what it is. FerretDB answers buildInfo with a
// ferretdbVersion field.
func (s *Store) detectFerretDB(ctx context.Context) error {
	var info bson.M
	if err := s.db.RunCommand(ctx, bson.D{{Key: "buildInfo", Value: 1}}).Decode(&info); err != nil {
		return s.translate("build info", err)
	}
	if _, ok := info["ferretdbVersion"]; ok {
		s.stripes = newStripes()
	}
	return nil
}

// IsFerretDB reports whether the server is FerretDB (known after EnsureIndexes).
func (s *Store) IsFerretDB() bool { return s.stripes != nil }
