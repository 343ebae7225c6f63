package store

import (
	"context"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Serial writes. The embedded store's SQLite file lets one writer in at a time, and
// writers that collide there wait in SQLite's busy handler, which sleeps in steps of
// up to 100 ms. With Options.SerialWrites this process's single-document writes share
// one driver connection instead, so they queue in the driver and cost only their own
// time. Every write of one document by _id goes through keyed — the claim and update
// primitives (claims.go, serialize.go) and the entity code's inserts and deletes by
// _id; writes that first read a whole collection (a delete or update by another
// filter) keep the pool's connections, so that a long sweep does not hold every keyed
// write behind it. Without SerialWrites (MongoDB) keyed is the ordinary pool.

// keyed returns coll for a write of one document by _id.
func (s *Store) keyed(coll string) *mongo.Collection { return s.w.Collection(coll) }

// writeChunk is how many single-document statements one delete or update command
// carries on the embedded store: large enough that a chain delete costs few round
// trips, small enough that other keyed writes are not held up long behind one.
const writeChunk = 200

// writeEach sends n single-document statements to coll (model(i) makes the i-th, a
// delete or update by _id), writeChunk to a command, unordered, through keyed, and
// says how many documents they deleted or changed. It is how the embedded store
// writes many documents: it answers {_id: {$in: …}} by reading the whole collection,
// and {_id: value} through the _id index.
func (s *Store) writeEach(ctx context.Context, op, coll string, n int, model func(i int) mongo.WriteModel) (int64, error) {
	var done int64
	for start := 0; start < n; start += writeChunk {
		end := min(start+writeChunk, n)
		models := make([]mongo.WriteModel, 0, end-start)
		for i := start; i < end; i++ {
			models = append(models, model(i))
		}
		r, err := s.keyed(coll).BulkWrite(ctx, models, options.BulkWrite().SetOrdered(false))
		if err != nil {
			return done, s.translate(op, err)
		}
		done += r.DeletedCount + r.ModifiedCount
	}
	return done, nil
}
