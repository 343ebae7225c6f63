package lanyardtest

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
)

// The raw reads: what a test checks in the database as stored, past the store
// package (a hash that must not be there, a key document left behind, a count).
// Every test reads documents this way, so a change of how documents are stored
// has one place to look at, and a read's failure is always the test's.

// RawDocs returns the documents of collection coll in db that match filter (nil:
// every one), in no particular order.
func RawDocs(t testing.TB, db *mongo.Database, coll string, filter any) []bson.M {
	t.Helper()
	var docs []bson.M
	RawAll(t, db, coll, filter, &docs)
	return docs
}

// RawAll decodes into out, a pointer to a slice, the documents of collection coll
// in db that match filter (nil: every one), in no particular order.
func RawAll(t testing.TB, db *mongo.Database, coll string, filter, out any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if filter == nil {
		filter = bson.D{}
	}
	cur, err := db.Collection(coll).Find(ctx, filter)
	if err != nil {
		t.Fatalf("lanyardtest: read %s: %v", coll, err)
	}
	if err := cur.All(ctx, out); err != nil {
		t.Fatalf("lanyardtest: read %s: %v", coll, err)
	}
}

// RawDoc decodes into v the document of collection coll in db that matches filter,
// and reports whether there is one.
func RawDoc(t testing.TB, db *mongo.Database, coll string, filter, v any) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := db.Collection(coll).FindOne(ctx, filter).Decode(v)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return false
	}
	if err != nil {
		t.Fatalf("lanyardtest: read %s: %v", coll, err)
	}
	return true
}

// RawCount counts the documents of collection coll in db that match filter (nil:
// every one).
func RawCount(t testing.TB, db *mongo.Database, coll string, filter any) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if filter == nil {
		filter = bson.D{}
	}
	n, err := db.Collection(coll).CountDocuments(ctx, filter)
	if err != nil {
		t.Fatalf("lanyardtest: count %s: %v", coll, err)
	}
	return n
}
