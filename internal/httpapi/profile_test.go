package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/lanyard/lanyard"
	"github.com/lanyard/lanyard/internal/lanyardtest"
	"github.com/lanyard/lanyard/internal/store"
)

// jsonObject decodes s as the domain holds an object (UseNumber).
func jsonObject(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("decode %s: %v", s, err)
	}
	return m
}

// A profile and app metadata written by the store come back in the user's view and
// its export as the JSON they were, and are stored as embedded documents the
// application can query (an integer as an integer, not a double).
func TestProfile_StoredAsDocumentsAndShownInUserAndExport(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	a := env.Register("ada")
	id, _ := lanyard.ParseID(a.ID)
	profile := jsonObject(t, `{"bio":"Hi","age":37,"score":1.5,"tags":["a","b"],"links":{"home":"https://example.com"},"ok":true,"none":null}`)
	meta := jsonObject(t, `{"plan":"pro","seats":3}`)
	if _, err := env.App.Store.UpdateUser(context.Background(), id, store.UserChange{Profile: &profile, AppMetadata: &meta}, time.Now()); err != nil {
		t.Fatalf("UpdateUser: %v", err)
	}

	var stored bson.Raw
	lanyardtest.RawDoc(t, env.DB, "users", bson.D{{Key: "_id", Value: bson.ObjectID(id)}}, &stored)
	for path, typ := range map[string]bson.Type{"profile": bson.TypeEmbeddedDocument, "app_metadata": bson.TypeEmbeddedDocument, "profile.age": bson.TypeInt64, "profile.score": bson.TypeDouble, "profile.tags": bson.TypeArray} {
		if got := stored.Lookup(strings.Split(path, ".")...).Type; got != typ {
			t.Errorf("stored %s is a %v; want a %v", path, got, typ)
		}
	}

	b := env.Register("bob")
	bid, _ := lanyard.ParseID(b.ID)
	var plain bson.M
	lanyardtest.RawDoc(t, env.DB, "users", bson.D{{Key: "_id", Value: bson.ObjectID(bid)}}, &plain)
	for _, k := range []string{"profile", "app_metadata"} {
		if v, ok := plain[k]; ok {
			t.Errorf("a user without %s has it stored as %#v; want it absent", k, v)
		}
	}

	want := map[string]any{
		"profile":      map[string]any{"bio": "Hi", "age": 37.0, "score": 1.5, "tags": []any{"a", "b"}, "links": map[string]any{"home": "https://example.com"}, "ok": true, "none": nil},
		"app_metadata": map[string]any{"plan": "pro", "seats": 3.0},
	}
	u := me(t, env, a)
	ex := env.Do("GET", "/api/users/me/export", nil, "Bearer", a.Access)
	expect(t, ex, "GET /api/users/me/export", http.StatusOK)
	exported, _ := ex.Map(t)["user"].(map[string]any)
	for name, got := range map[string]map[string]any{"GET /api/users/me": u, "export": exported} {
		for k, v := range want {
			if !reflect.DeepEqual(got[k], v) {
				t.Errorf("%s: %s = %#v; want %#v", name, k, got[k], v)
			}
		}
	}
}
