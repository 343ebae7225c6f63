package store

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// indexSpec is an index Lanyard needs: on coll, ascending on fields, in that order.
// A unique index is sparse wherever a document may lack the field (on MongoDB a
// missing field indexes as null, so a second such document would be a duplicate and
// the index would not build over an application's documents).
type indexSpec struct {
	coll, name     string
	fields         []string
	unique, sparse bool
	// forQueries: the index only serves Lanyard's queries (a declared relation's
	// field, in the application's collection), so any index on the same keys does,
	// whatever rules the application gave it.
	forQueries bool
}

// existingIndex is an index as listIndexes describes it.
type existingIndex struct {
	Name    string   `bson:"name"`
	Key     bson.Raw `bson:"key"`
	Unique  bool     `bson:"unique"`
	Sparse  bool     `bson:"sparse"`
	Partial bson.Raw `bson:"partialFilterExpression"`
}

// ensureIndex creates sp unless the collection already has an index equivalent to it,
// under any name: the same keys in the same order, as unique as sp, and covering no
// fewer documents (a unique index that is not sparse where sp is sparse, as earlier
// versions made them, is stricter than needed and serves as well). An index on the
// same keys that differs otherwise (unique where sp is not, or partial) stops the
// start, naming it: MongoDB would refuse to create sp beside it, and Lanyard would
// not rely on rules it did not choose.
func (s *Store) ensureIndex(ctx context.Context, sp indexSpec) error {
	op := "create index " + sp.coll + "." + sp.name
	existing, err := s.listIndexes(ctx, sp.coll)
	if err != nil {
		return s.translate(op, err)
	}
	for _, ix := range existing {
		if !sameKeys(ix.Key, sp.fields) {
			continue
		}
		if sp.forQueries && len(ix.Partial) == 0 {
			return nil
		}
		if ix.Unique == sp.unique && len(ix.Partial) == 0 && (ix.Sparse == sp.sparse || sp.sparse && !ix.Sparse) {
			return nil
		}
		return fmt.Errorf("store: the index %q of %s on (%s) is not the one Lanyard needs (%s): drop it, and Lanyard creates its own at the next start",
			ix.Name, Physical(s.prefix, sp.coll), strings.Join(sp.fields, ", "), describe(sp))
	}
	keys := bson.D{}
	for _, f := range sp.fields {
		keys = append(keys, bson.E{Key: f, Value: 1})
	}
	o := options.Index().SetName(sp.name)
	if sp.unique {
		o.SetUnique(true)
	}
	if sp.sparse {
		o.SetSparse(true)
	}
	_, err = s.db.Collection(sp.coll).Indexes().CreateOne(ctx, mongo.IndexModel{Keys: keys, Options: o})
	return s.translate(op, err)
}

func describe(sp indexSpec) string {
	switch {
	case sp.unique && sp.sparse:
		return "unique, sparse"
	case sp.unique:
		return "unique"
	}
	return "not unique"
}

// listIndexes lists coll's indexes; none when the collection does not exist yet.
func (s *Store) listIndexes(ctx context.Context, coll string) ([]existingIndex, error) {
	cur, err := s.db.Collection(coll).Indexes().List(ctx)
	if err != nil {
		var ce mongo.CommandError
		if errors.As(err, &ce) && ce.Code == 26 { // NamespaceNotFound
			return nil, nil
		}
		return nil, err
	}
	var out []existingIndex
	if err := cur.All(ctx, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// sameKeys reports whether key is an ascending index on exactly fields, in order.
func sameKeys(key bson.Raw, fields []string) bool {
	elems, err := key.Elements()
	if err != nil || len(elems) != len(fields) {
		return false
	}
	for i, e := range elems {
		if e.Key() != fields[i] {
			return false
		}
		v := e.Value()
		n, ok := v.AsInt64OK()
		if !ok {
			f, fok := v.DoubleOK()
			n, ok = int64(f), fok && f == 1
		}
		if !ok || n != 1 {
			return false
		}
	}
	return true
}
