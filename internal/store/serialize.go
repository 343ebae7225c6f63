package store

import (
	"bytes"
	"context"
	"hash/maphash"
	"sync"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

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

// lock serialises this process's writers of one document of one collection, named by
// its id; unlock with the result. On MongoDB (s.stripes nil) it does nothing. The
// update primitives below take it; code that reads and writes a document in several
// steps takes it around them.
func (s *Store) lock(coll string, id lanyard.ID) func() { return s.lockStripe(coll, id[:]) }

// lockKey is lock for a document whose _id is a string (a throttle counter).
func (s *Store) lockKey(coll, key string) func() { return s.lockStripe(coll, []byte(key)) }

func (s *Store) lockStripe(coll string, id []byte) func() {
	if s.stripes == nil {
		return func() {}
	}
	var h maphash.Hash
	h.SetSeed(s.stripes.seed)
	h.WriteString(coll)
	h.WriteByte(0)
	h.Write(id)
	m := &s.stripes.mu[h.Sum64()%uint64(len(s.stripes.mu))]
	m.Lock()
	return m.Unlock
}

// updateByID applies update to the document of coll with this id: one write by _id,
// through the serial write connection, under this process's lock of the document. It
// reports whether a document matched.
func (s *Store) updateByID(ctx context.Context, op, coll string, id lanyard.ID, update any) (bool, error) {
	defer s.lock(coll, id)()
	r, err := s.keyed(coll).UpdateOne(ctx, byID(id), update)
	if err != nil {
		return false, s.translate(op, err)
	}
	return r.MatchedCount == 1, nil
}

// modifyByID is updateByID that decodes the document as it is afterwards into doc;
// lanyard.ErrNotFound when there is none.
func (s *Store) modifyByID(ctx context.Context, op, coll string, id lanyard.ID, update, doc any) error {
	defer s.lock(coll, id)()
	err := s.keyed(coll).FindOneAndUpdate(ctx, byID(id), update,
		options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(doc)
	return s.translate(op, err)
}

// swapByID is the compare-and-set of one document: it applies update to the document
// of coll with this id only while its field still equals want, and reports whether it
// did. When it did not, the document as it is now is decoded into cur
// (lanyard.ErrNotFound when it is gone). On MongoDB the filter makes it atomic. On the
// embedded store, whose filtered updates are no compare-and-set, the read and the
// write are made under this process's lock of the document, which every update
// primitive takes; a process sharing the store is not held back by it, so across
// processes only a claim decides.
func (s *Store) swapByID(ctx context.Context, op, coll string, id lanyard.ID, field string, want, update, cur any) (bool, error) {
	if s.stripes == nil {
		r, err := s.keyed(coll).UpdateOne(ctx, bson.D{{Key: "_id", Value: bson.ObjectID(id)}, {Key: field, Value: want}}, update)
		if err != nil {
			return false, s.translate(op, err)
		}
		if r.MatchedCount == 1 {
			return true, nil
		}
		return false, s.translate(op, s.db.Collection(coll).FindOne(ctx, byID(id)).Decode(cur))
	}
	defer s.lock(coll, id)()
	raw, err := s.db.Collection(coll).FindOne(ctx, byID(id)).Raw()
	if err != nil {
		return false, s.translate(op, err)
	}
	typ, data, err := bson.MarshalValue(want)
	if err != nil {
		return false, s.translate(op, err)
	}
	if v := raw.Lookup(field); v.Type != typ || !bytes.Equal(v.Value, data) {
		return false, s.translate(op, bson.Unmarshal(raw, cur))
	}
	if _, err := s.keyed(coll).UpdateOne(ctx, byID(id), update); err != nil {
		return false, s.translate(op, err)
	}
	return true, nil
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
