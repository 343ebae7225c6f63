package store

import "go.mongodb.org/mongo-driver/v2/mongo"

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
