package store_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/lanyard/lanyard/internal/store"
)

// BenchmarkChildren_EmbeddedStoreScans measures what one expand level (or one
// chain-delete batch query) over an application collection costs on the embedded
// store, by the collection's size: FerretDB's SQLite backend filters anything but
// {_id: value} in Go, so the cost grows with the collection, not with the result.
//
//	go test ./internal/store -run '^$' -bench Children -benchtime 5x
func BenchmarkChildren_EmbeddedStoreScans(b *testing.B) {
	e, err := store.StartEmbedded(store.EmbeddedOptions{Dir: b.TempDir(), Addr: "127.0.0.1:0", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Stop()
	ctx := context.Background()
	st, err := store.Open(ctx, e.URI(), "bench", store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close(ctx)
	coll := st.Raw().Collection("posts")
	author := bson.NewObjectID()
	if _, err := coll.InsertOne(ctx, bson.M{"author_id": author}); err != nil {
		b.Fatal(err)
	}
	have := 1
	for _, size := range []int{1_000, 10_000, 100_000} {
		var docs []any
		for ; have < size; have++ {
			docs = append(docs, bson.M{"author_id": bson.NewObjectID(), "title": "a post", "body": "lorem ipsum dolor sit amet"})
			if len(docs) == 5000 || have == size-1 {
				if _, err := coll.InsertMany(ctx, docs); err != nil {
					b.Fatal(err)
				}
				docs = docs[:0]
			}
		}
		q := store.ChildQuery{Coll: "posts", Field: "author_id", Parents: []any{author}, Newest: true}
		b.Run(fmt.Sprintf("docs=%d", size), func(b *testing.B) {
			for b.Loop() {
				if got, err := st.Children(ctx, q); err != nil || len(got) != 1 {
					b.Fatalf("Children = %d docs, %v; want the one post", len(got), err)
				}
			}
		})
	}
}
