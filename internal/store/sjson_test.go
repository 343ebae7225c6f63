package store

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// Documents found through the SQLite index are decoded from FerretDB's rows by this
// package: each must be, byte for byte, what FerretDB itself answers for that _id.
func TestSJSON_DecodesAsFerretDBReads(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	e, err := StartEmbedded(EmbeddedOptions{Dir: dir, Addr: "127.0.0.1:0", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := Open(ctx, e.URI(), "sjson", Options{SQLiteFile: SQLiteFile(dir, "sjson")})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close(ctx)

	docs := []bson.D{
		{{Key: "_id", Value: bson.NewObjectID()}, {Key: "author_id", Value: bson.NewObjectID()}, {Key: "title", Value: "plain"}},
		{{Key: "_id", Value: "a string id"}, {Key: "n32", Value: int32(-7)}, {Key: "n64", Value: int64(1) << 60}, {Key: "f", Value: 2.5},
			{Key: "whole", Value: 3.0}, {Key: "neg0", Value: -0.0}, {Key: "big", Value: 1e300}, {Key: "t", Value: true}, {Key: "no", Value: false},
			{Key: "nil", Value: nil}, {Key: "when", Value: bson.DateTime(1764576245123)}, {Key: "before1970", Value: bson.DateTime(-86400000)},
			{Key: "bin", Value: bson.Binary{Subtype: 0, Data: []byte{0, 1, 2, 255}}}, {Key: "uuid", Value: bson.Binary{Subtype: 4, Data: bytes.Repeat([]byte{9}, 16)}},
			{Key: "re", Value: bson.Regex{Pattern: `^a.*"b"$`, Options: "i"}}, {Key: "ts", Value: bson.Timestamp{T: 1764576245, I: 3}},
			{Key: "unicode ключ", Value: "é\u0301 \"quoted\" \\ \n\t\u2028"}, {Key: "empty", Value: ""}},
		{{Key: "_id", Value: int32(42)}, {Key: "nested", Value: bson.D{{Key: "z", Value: 1}, {Key: "a", Value: bson.D{{Key: "deep", Value: bson.A{int64(1), "two", bson.D{{Key: "x", Value: nil}}}}}}}},
			{Key: "emptyDoc", Value: bson.D{}}, {Key: "emptyArr", Value: bson.A{}}, {Key: "mixed", Value: bson.A{1.5, bson.NewObjectID(), bson.D{}, nil, true}}}, // FerretDB refuses nested arrays
		{{Key: "_id", Value: int64(1) << 40}, {Key: "keys in odd order", Value: 1}, {Key: "b", Value: 2}, {Key: "a", Value: 3}},
	}
	coll := st.Raw().Collection("things")
	for _, d := range docs {
		if _, err := coll.InsertOne(ctx, d); err != nil {
			t.Fatalf("insert %v: %v", d, err)
		}
	}
	seen := 0
	err = st.lite.query(ctx, "things", func(table string) (string, []any) {
		return fmt.Sprintf(`SELECT _ferretdb_sjson FROM %q`, table), nil
	}, func(rows *sql.Rows) error {
		var row []byte
		if err := rows.Scan(&row); err != nil {
			return err
		}
		got, err := st.lite.dec.decode(row)
		if err != nil {
			t.Errorf("decode %s: %v", row, err)
			return nil
		}
		want, err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: got.Lookup("_id")}}).Raw()
		if err != nil {
			t.Errorf("FindOne %s: %v", got.Lookup("_id"), err)
			return nil
		}
		if !bytes.Equal(got, want) {
			t.Errorf("decoded\n%s\nFerretDB answers\n%s", got, want)
		}
		// A second time, with the schema from the decoder's cache.
		if again, err := st.lite.dec.decode(row); err != nil || !bytes.Equal(again, want) {
			t.Errorf("decoded again (cached schema): %s, %v; want %s", again, err, want)
		}
		seen++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if seen != len(docs) {
		t.Errorf("compared %d documents; want %d", seen, len(docs))
	}
}
