package relation

import (
	"context"
	"log/slog"
	"os"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/lanyard/lanyard"
	"github.com/lanyard/lanyard/internal/store"
)

// Expand's grouping is not separable from its query (expandNode reads the children
// and groups them in one pass), so BenchmarkExpand_10000Children measures both on a
// real store: 100 parents holding 100 children each, one $in query, every child
// grouped under its parent. BenchmarkParentKey_10000Children isolates the grouping's
// per-child work, the key of the child's parent field.

const (
	benchParents  = 100
	benchChildren = 100 // per parent: MaxChildren, so nothing is truncated
)

// benchStore starts a store for one benchmark, with the children of benchParents
// parents in collection posts (field author_id), and returns it with the parents' ids.
// LANYARD_TEST_MONGODB_URI, as for the tests, runs it against that server instead.
func benchStore(b *testing.B) (*store.Store, []bson.ObjectID) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	uri := os.Getenv("LANYARD_TEST_MONGODB_URI")
	if uri == "" {
		e, err := store.StartEmbedded(store.EmbeddedOptions{Dir: b.TempDir(), Addr: "127.0.0.1:0", Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			b.Fatalf("start store: %v", err)
		}
		b.Cleanup(e.Stop)
		uri = e.URI()
	}
	st, err := store.Open(ctx, uri, "bench_"+bson.NewObjectID().Hex(), store.Options{})
	if err != nil {
		b.Fatalf("open store: %v", err)
	}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = st.Drop(ctx)
		_ = st.Close(ctx)
	})
	if err := st.EnsureIndexes(ctx); err != nil {
		b.Fatalf("indexes: %v", err)
	}
	parents := make([]bson.ObjectID, benchParents)
	docs := make([]any, 0, benchParents*benchChildren)
	for i := range parents {
		parents[i] = bson.NewObjectID()
		for j := range benchChildren {
			docs = append(docs, bson.D{{Key: "_id", Value: bson.NewObjectID()}, {Key: "author_id", Value: parents[i]}, {Key: "title", Value: "post"}, {Key: "n", Value: j}})
		}
	}
	if _, err := st.Raw().Collection("posts").InsertMany(ctx, docs); err != nil {
		b.Fatalf("seed: %v", err)
	}
	return st, parents
}

func BenchmarkExpand_10000Children(b *testing.B) {
	st, parentIDs := benchStore(b)
	reg, err := Parse([]byte(`relations: [{name: posts, collection: posts, parent: users, field: author_id}]`))
	if err != nil {
		b.Fatal(err)
	}
	nodes, err := reg.ParseExpand("posts")
	if err != nil {
		b.Fatal(err)
	}
	x := NewExpander(st, reg)
	b.ReportAllocs()
	for b.Loop() {
		parents := make([]*Doc, len(parentIDs))
		for i, id := range parentIDs {
			parents[i] = &Doc{ID: lanyard.ID(id)} // a user's id, as httpapi passes it
		}
		if err := x.Expand(b.Context(), nodes, parents); err != nil {
			b.Fatal(err)
		}
		for _, p := range parents {
			if n := len(p.Expand["posts"]); n != benchChildren || len(p.Truncated) != 0 {
				b.Fatalf("parent %v: %d children, truncated %v; want %d, none", p.ID, n, p.Truncated, benchChildren)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/(benchParents*benchChildren), "ns/child")
}

func BenchmarkParentKey_10000Children(b *testing.B) {
	st, parentIDs := benchStore(b)
	parents := make([]any, len(parentIDs))
	for i, id := range parentIDs {
		parents[i] = id
	}
	children, err := st.Children(b.Context(), store.ChildQuery{Coll: "posts", Field: "author_id", Parents: parents})
	if err != nil || len(children) != benchParents*benchChildren {
		b.Fatalf("children: %d, %v; want %d", len(children), err, benchParents*benchChildren)
	}
	b.ReportAllocs()
	for b.Loop() {
		for _, c := range children {
			if keyOf(c.Value("author_id")) == "" {
				b.Fatal("no key")
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/(benchParents*benchChildren), "ns/child")
}
