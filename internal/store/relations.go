package store

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// The methods below serve the relation registry: they address a collection and field
// named by a relation, never by request input (the registry is validated at start-up).

// ChildQuery selects the children of some parents.
type ChildQuery struct {
	Coll    string
	Field   string // the child's field holding the parent's id
	Parents []any  // parent id values as the field holds them (ObjectID or hex string)
	After   any    // only _id > After (ascending pages); nil for the first page
	Limit   int    // 0: no limit
	Newest  bool   // sort by _id descending instead of ascending
	IDsOnly bool   // fetch only _id and Field
}

func (q ChildQuery) filter() bson.D {
	f := bson.D{{Key: q.Field, Value: bson.D{{Key: "$in", Value: q.Parents}}}}
	if q.After != nil {
		f = append(f, bson.E{Key: "_id", Value: bson.D{{Key: "$gt", Value: q.After}}})
	}
	return f
}

// Children reads the documents q selects, as raw BSON.
func (s *Store) Children(ctx context.Context, q ChildQuery) ([]bson.Raw, error) {
	dir := 1
	if q.Newest {
		dir = -1
	}
	o := options.Find().SetSort(bson.D{{Key: "_id", Value: dir}})
	if q.Limit > 0 {
		o.SetLimit(int64(q.Limit))
	}
	if q.IDsOnly {
		o.SetProjection(bson.D{{Key: "_id", Value: 1}, {Key: q.Field, Value: 1}})
	}
	cur, err := s.db.Collection(q.Coll).Find(ctx, q.filter(), o)
	if err != nil {
		return nil, s.translate("find "+q.Coll, err)
	}
	defer cur.Close(context.WithoutCancel(ctx))
	var out []bson.Raw
	for cur.Next(ctx) {
		out = append(out, append(bson.Raw(nil), cur.Current...))
	}
	if err := cur.Err(); err != nil {
		return nil, s.translate("find "+q.Coll, err)
	}
	return out, nil
}

// CountChildren counts the documents q selects (After and Limit ignored).
func (s *Store) CountChildren(ctx context.Context, q ChildQuery) (int64, error) {
	q.After = nil
	n, err := s.db.Collection(q.Coll).CountDocuments(ctx, q.filter())
	return n, s.translate("count "+q.Coll, err)
}

// AnyChild reports whether q selects at least one document.
func (s *Store) AnyChild(ctx context.Context, q ChildQuery) (bool, error) {
	q.Limit, q.IDsOnly, q.After = 1, true, nil
	docs, err := s.Children(ctx, q)
	return len(docs) > 0, err
}

// DeleteIDs deletes the documents of coll with these ids.
func (s *Store) DeleteIDs(ctx context.Context, coll string, ids []any) (int64, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	r, err := s.db.Collection(coll).DeleteMany(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}})
	if err != nil {
		return 0, s.translate("delete from "+coll, err)
	}
	return r.DeletedCount, nil
}

// UnsetChildren removes q.Field from every document q selects, detaching them from
// their parents.
func (s *Store) UnsetChildren(ctx context.Context, q ChildQuery) (int64, error) {
	r, err := s.db.Collection(q.Coll).UpdateMany(ctx, q.filter(), bson.D{{Key: "$unset", Value: bson.D{{Key: q.Field, Value: ""}}}})
	if err != nil {
		return 0, s.translate("unset "+q.Coll+"."+q.Field, err)
	}
	return r.ModifiedCount, nil
}

// EnsureRelationIndex creates an index on a declared relation's field. Only on
// MongoDB: the embedded store scans whatever the indexes (see DESIGN.md), so there it
// would only cost writes.
func (s *Store) EnsureRelationIndex(ctx context.Context, coll, field string) error {
	if s.IsFerretDB() {
		return nil
	}
	_, err := s.db.Collection(coll).Indexes().CreateOne(ctx, mongo.IndexModel{
		Keys:    bson.D{{Key: field, Value: 1}},
		Options: options.Index().SetName("lanyard_" + field),
	})
	return s.translate(fmt.Sprintf("create index %s.%s", coll, field), err)
}
