package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/lanyard/lanyard"
)

// The methods below serve the relation registry: they address a collection and field
// named by a relation, never by request input (the registry is validated at start-up).
// On the embedded SQLite store they find the _ids through the SQLite index (sqlite.go)
// and touch documents only by _id; elsewhere they send the filter to the server, whose
// indexes serve it.

// ChildQuery selects the children of some parents.
type ChildQuery struct {
	Coll      string
	Field     string // the child's field holding the parent's id
	Parents   []any  // parent id values as the field holds them (lanyard.ID, ObjectID or hex string)
	After     any    // only _id > After (ascending pages); nil for the first page
	Limit     int    // 0: no limit
	Newest    bool   // sort by _id descending instead of ascending
	IDsOnly   bool   // fetch only _id and Field
	PerParent int    // at most this many per parent, in the query's order; 0: no cap (a hint: a server's query may return more)
}

func (q ChildQuery) filter() bson.D {
	f := bson.D{{Key: q.Field, Value: bson.D{{Key: "$in", Value: idValues(q.Parents)}}}}
	if q.After != nil {
		f = append(f, bson.E{Key: "_id", Value: bson.D{{Key: "$gt", Value: idValue(q.After)}}})
	}
	return f
}

// idValue is v as a query compares it: a lanyard.ID (as Document hands out ids and
// references) is an ObjectId, not 12 bytes; any other value is itself.
func idValue(v any) any {
	if id, ok := v.(lanyard.ID); ok {
		return bson.ObjectID(id)
	}
	return v
}

func idValues(vs []any) []any {
	out := make([]any, len(vs))
	for i, v := range vs {
		out[i] = idValue(v)
	}
	return out
}

// Children reads the documents q selects (with IDsOnly, documents of only _id and
// q.Field).
func (s *Store) Children(ctx context.Context, q ChildQuery) ([]Document, error) {
	if s.lite != nil {
		refs, err := s.lite.childRefs(ctx, q)
		if err == nil {
			if q.IDsOnly {
				return refDocs(q.Coll, q.Field, refs)
			}
			return s.decodeRefs(ctx, q.Coll, refs)
		}
		if !errors.Is(err, errUnindexable) {
			return nil, s.translate("find "+q.Coll, err)
		}
	}
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
	var out []Document
	for cur.Next(ctx) {
		out = append(out, Document{coll: q.Coll, raw: append(bson.Raw(nil), cur.Current...)})
	}
	if err := cur.Err(); err != nil {
		return nil, s.translate("find "+q.Coll, err)
	}
	return out, nil
}

// refDocs builds {_id, field} documents from refs, as an IDsOnly query returns them.
func refDocs(coll, field string, refs []idRef) ([]Document, error) {
	out := make([]Document, 0, len(refs))
	for _, r := range refs {
		raw, err := bson.Marshal(bson.D{{Key: "_id", Value: r.ID}, {Key: field, Value: r.Field}})
		if err != nil {
			return nil, fmt.Errorf("store: ids: %w", err)
		}
		out = append(out, Document{coll: coll, raw: raw})
	}
	return out, nil
}

func refIDs(refs []idRef) []any {
	ids := make([]any, len(refs))
	for i, r := range refs {
		ids[i] = r.ID
	}
	return ids
}

// decodeRefs turns the rows the SQLite index read into documents. A row it cannot
// decode is read through FerretDB by _id instead; one that is gone by then was deleted
// meanwhile and is left out.
func (s *Store) decodeRefs(ctx context.Context, coll string, refs []idRef) ([]Document, error) {
	out := make([]Document, 0, len(refs))
	for _, r := range refs {
		raw, err := s.lite.decode(r.Doc)
		if err != nil {
			raw, err = s.db.Collection(coll).FindOne(ctx, bson.D{{Key: "_id", Value: r.ID}}).Raw()
			if errors.Is(err, mongo.ErrNoDocuments) {
				continue
			}
			if err != nil {
				return nil, s.translate("find "+coll, err)
			}
		}
		out = append(out, Document{coll: coll, raw: raw})
	}
	return out, nil
}

// CountChildren counts the documents q selects (After and Limit ignored).
func (s *Store) CountChildren(ctx context.Context, q ChildQuery) (int64, error) {
	if s.lite != nil {
		n, err := s.lite.countChildren(ctx, q)
		if !errors.Is(err, errUnindexable) {
			return n, s.translate("count "+q.Coll, err)
		}
	}
	q.After = nil
	n, err := s.db.Collection(q.Coll).CountDocuments(ctx, q.filter())
	return n, s.translate("count "+q.Coll, err)
}

// DeleteIDs deletes the documents of coll with these ids (as Document.ID gives them).
func (s *Store) DeleteIDs(ctx context.Context, coll string, ids []any) (int64, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	if s.lite == nil {
		r, err := s.db.Collection(coll).DeleteMany(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: idValues(ids)}}}})
		if err != nil {
			return 0, s.translate("delete from "+coll, err)
		}
		return r.DeletedCount, nil
	}
	return s.writeEach(ctx, "delete from "+coll, coll, len(ids), func(i int) mongo.WriteModel {
		return mongo.NewDeleteOneModel().SetFilter(bson.D{{Key: "_id", Value: idValue(ids[i])}})
	})
}

// UnsetChildren removes q.Field from every document q selects, detaching them from
// their parents.
func (s *Store) UnsetChildren(ctx context.Context, q ChildQuery) (int64, error) {
	unset := bson.D{{Key: "$unset", Value: bson.D{{Key: q.Field, Value: ""}}}}
	if s.lite != nil {
		q.After, q.Limit, q.PerParent = nil, 0, 0
		refs, err := s.lite.childRefs(ctx, q)
		if err == nil {
			return s.writeEach(ctx, "unset "+q.Coll+"."+q.Field, q.Coll, len(refs), func(i int) mongo.WriteModel {
				return mongo.NewUpdateOneModel().SetFilter(bson.D{{Key: "_id", Value: refs[i].ID}}).SetUpdate(unset)
			})
		}
		if !errors.Is(err, errUnindexable) {
			return 0, s.translate("unset "+q.Coll+"."+q.Field, err)
		}
	}
	r, err := s.db.Collection(q.Coll).UpdateMany(ctx, q.filter(), unset)
	if err != nil {
		return 0, s.translate("unset "+q.Coll+"."+q.Field, err)
	}
	return r.ModifiedCount, nil
}

// EnsureRelationIndex indexes a declared relation's field: a MongoDB index on
// MongoDB, an expression index on the embedded SQLite store (made now if the
// collection exists, else when it first appears).
func (s *Store) EnsureRelationIndex(ctx context.Context, coll, field string) error {
	if s.lite != nil {
		return s.translate(fmt.Sprintf("create index %s.%s", coll, field), s.lite.addIndex(ctx, coll, field))
	}
	if s.IsFerretDB() {
		return nil // FerretDB's other backends scan whatever the indexes
	}
	return s.ensureIndex(ctx, indexSpec{coll: coll, name: "lanyard_" + field, fields: []string{field}, forQueries: true})
}

// MismatchedIDFormat counts the documents of coll whose field holds a parent id in
// the other format than the relation declares (a string where an ObjectId is
// expected, or the reverse): expand and chain delete never find them.
func (s *Store) MismatchedIDFormat(ctx context.Context, coll, field string, wantString bool) (int64, error) {
	other := "string"
	if wantString {
		other = "objectId"
	}
	if s.lite != nil {
		n, err := s.lite.countType(ctx, coll, field, other)
		return n, s.translate("check id format of "+coll+"."+field, err)
	}
	n, err := s.db.Collection(coll).CountDocuments(ctx, bson.D{{Key: field, Value: bson.D{{Key: "$type", Value: other}}}})
	return n, s.translate("check id format of "+coll+"."+field, err)
}

// IndexPlans returns SQLite's plan for each kind of query the embedded store's index
// answers (nil elsewhere), named as "users page", "users by email", "users with
// provider", "holds provider" and "<collection>.<field>" for the children of each
// relation given (coll, field) and of the built-ins. Tests use it to prove that the
// indexes are used. Collections that do not exist yet are left out.
func (s *Store) IndexPlans(ctx context.Context, rels [][2]string) (map[string]string, error) {
	if s.lite == nil {
		return nil, nil
	}
	return s.lite.plans(ctx, rels)
}

// SQLiteQueries is how many SQL queries the SQLite index has run on requests' behalf
// (background work left out; 0 elsewhere).
func (s *Store) SQLiteQueries() int64 {
	if s.lite == nil {
		return 0
	}
	return s.lite.queries.Load()
}

// deleteByUser deletes the documents of one of Lanyard's collections whose user_id is
// userID, except the one whose _id is except (nil: none).
func (s *Store) deleteByUser(ctx context.Context, coll, op string, userID lanyard.ID, except any) error {
	if s.lite != nil {
		refs, err := s.lite.childRefs(ctx, ChildQuery{Coll: coll, Field: "user_id", Parents: []any{userID}})
		if err != nil {
			return s.translate(op, err)
		}
		ids := refIDs(refs)
		if except != nil {
			ids = slices.DeleteFunc(ids, func(id any) bool { return id == except })
		}
		_, err = s.DeleteIDs(ctx, coll, ids)
		return err
	}
	f := bson.D{{Key: "user_id", Value: bson.ObjectID(userID)}}
	if except != nil {
		f = append(f, bson.E{Key: "_id", Value: bson.D{{Key: "$ne", Value: except}}})
	}
	_, err := s.db.Collection(coll).DeleteMany(ctx, f)
	return s.translate(op, err)
}

// deleteExpired deletes the documents of one of Lanyard's collections whose expires_at
// is at or before now, and says how many.
func (s *Store) deleteExpired(ctx context.Context, coll string, now time.Time) (int64, error) {
	if s.lite != nil {
		ids, err := s.lite.expired(ctx, coll, Millis(now))
		if err != nil {
			return 0, s.translate("sweep "+coll, err)
		}
		return s.DeleteIDs(ctx, coll, ids)
	}
	r, err := s.db.Collection(coll).DeleteMany(ctx, bson.D{{Key: "expires_at", Value: bson.D{{Key: "$lte", Value: Millis(now)}}}})
	if err != nil {
		return 0, s.translate("sweep "+coll, err)
	}
	return r.DeletedCount, nil
}
