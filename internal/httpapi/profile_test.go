package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
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

// profileSchema is a schema using every keyword LANYARD_PROFILE_SCHEMA allows.
const profileSchema = `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "bio": {"type": "string", "maxLength": 10, "description": "about me"},
    "age": {"type": "integer"},
    "score": {"type": "number"},
    "color": {"type": "string", "enum": ["red", "blue"]},
    "since": {"type": "string", "format": "date"},
    "site": {"type": "string", "format": "uri"},
    "mail": {"type": "string", "format": "email"},
    "tags": {"type": "array", "maxItems": 2},
    "public": {"type": "boolean"},
    "extra": {"type": "object"}
  }
}`

// withProfileSchema writes schema to a file and names it in LANYARD_PROFILE_SCHEMA.
func withProfileSchema(t *testing.T, schema string) lanyardtest.Option {
	t.Helper()
	path := filepath.Join(t.TempDir(), "profile.schema.json")
	if err := os.WriteFile(path, []byte(schema), 0o600); err != nil {
		t.Fatal(err)
	}
	return lanyardtest.WithEnv("LANYARD_PROFILE_SCHEMA", path)
}

// A profile that meets the schema replaces the user's profile as a whole; one that
// does not is a 422 with one error per wrong field, and changes nothing. No message
// quotes the value it refuses.
func TestUpdateMe_ProfileIsCheckedAgainstTheSchemaOneErrorPerWrongField(t *testing.T) {
	t.Parallel()
	env := newEnv(t, withProfileSchema(t, profileSchema))
	a := env.Register("ada")
	good := `{"bio":"Hi","age":37,"score":1.5,"color":"red","since":"2020-02-29","site":"https://example.com/ada","mail":"ada@example.com","tags":["x","y"],"public":true,"extra":{"any":"thing"}}`
	r := patchMe(t, env, a, json.RawMessage(`{"profile":`+good+`}`), http.StatusOK)
	want := map[string]any{}
	_ = json.Unmarshal([]byte(good), &want)
	if got := r.Map(t)["profile"]; !reflect.DeepEqual(got, want) {
		t.Fatalf("PATCH profile = %#v; want %#v", got, want)
	}

	for _, c := range []struct {
		name, profile string
		locs          []string
	}{
		{"a string too long", `{"bio":"12345678901"}`, []string{"body.profile.bio"}},
		{"a string where an integer goes", `{"age":"37"}`, []string{"body.profile.age"}},
		{"a fraction where an integer goes", `{"age":3.5}`, []string{"body.profile.age"}},
		{"a number as a string", `{"score":"1.5"}`, []string{"body.profile.score"}},
		{"a value outside the enum", `{"color":"green"}`, []string{"body.profile.color"}},
		{"a date that is not one", `{"since":"2021-02-29"}`, []string{"body.profile.since"}},
		{"a date in another form", `{"since":"29/02/2020"}`, []string{"body.profile.since"}},
		{"a relative URI", `{"site":"example.com/ada"}`, []string{"body.profile.site"}},
		{"an email without @", `{"mail":"ada.example.com"}`, []string{"body.profile.mail"}},
		{"too many items", `{"tags":["a","b","c"]}`, []string{"body.profile.tags"}},
		{"a string where a boolean goes", `{"public":"yes"}`, []string{"body.profile.public"}},
		{"an array where an object goes", `{"extra":[1]}`, []string{"body.profile.extra"}},
		{"a field the schema does not have", `{"bio":"Hi","nickname":"Ada"}`, []string{"body.profile.nickname"}},
		{"two fields the schema does not have", `{"nickname":"Ada","pet":"cat"}`, []string{"body.profile.nickname", "body.profile.pet"}},
		{"every field wrong at once, each named once", `{"bio":"12345678901","age":"x","color":"green","since":"x","site":"x","mail":"x","tags":[1,2,3],"nickname":1}`,
			[]string{"body.profile.age", "body.profile.bio", "body.profile.color", "body.profile.mail", "body.profile.nickname", "body.profile.since", "body.profile.site", "body.profile.tags"}},
		{"a field name starting with $", `{"extra":{"$where":"1"}}`, []string{"body.profile.extra"}},
		{"not an object", `"Hi"`, []string{"body.profile"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := env.Do("PATCH", "/api/users/me", json.RawMessage(`{"profile":`+c.profile+`}`), "Bearer", a.Access)
			p := problem(t, r, "PATCH /api/users/me", http.StatusUnprocessableEntity)
			wantLocations(t, p, "PATCH /api/users/me", c.locs...)
			for _, secret := range []string{"ada.example.com", "12345678901", "green"} {
				if strings.Contains(c.profile, secret) && bytes.Contains(r.Body, []byte(secret)) {
					t.Errorf("the problem quotes the refused value %q: %s", secret, r.Body)
				}
			}
			if got := me(t, env, a)["profile"]; !reflect.DeepEqual(got, want) {
				t.Errorf("after a refused PATCH the profile is %#v; want it unchanged", got)
			}
		})
	}

	patchMe(t, env, a, json.RawMessage(`{"profile":null}`), http.StatusOK)
	if got, ok := me(t, env, a)["profile"]; ok {
		t.Errorf("after profile null, profile = %#v; want none", got)
	}
}

// jsonOfSize is a JSON object of exactly n bytes when encoded.
func jsonOfSize(n int) string {
	const frame = `{"s":""}`
	return `{"s":"` + strings.Repeat("x", n-len(frame)) + `"}`
}

// Without a schema a profile is any JSON object; a profile and app metadata may each
// take 16 KiB as JSON, and one byte more is a 422 that changes nothing.
func TestProfileAndAppMetadata_AtMost16KiB(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	a := env.Register("ada")
	admin := env.Register("root")
	env.Promote(admin)
	if got := patchMe(t, env, a, json.RawMessage(`{"profile":{"anything":{"goes":[1,"two",null]}}}`), http.StatusOK).Map(t)["profile"]; got == nil {
		t.Fatalf("without a schema, a free-form profile was not kept")
	}
	const max = 16 << 10
	for _, c := range []struct {
		name, method, path, field string
		as                        lanyardtest.Account
	}{
		{"profile", "PATCH", "/api/users/me", "profile", a},
		{"app_metadata", "PATCH", "/api/users/" + a.ID, "app_metadata", admin},
	} {
		t.Run(c.name, func(t *testing.T) {
			ok := jsonOfSize(max)
			r := env.Do(c.method, c.path, json.RawMessage(`{"`+c.field+`":`+ok+`}`), "Bearer", c.as.Access)
			expect(t, r, c.method+" "+c.path+" with 16 KiB", http.StatusOK)
			r = env.Do(c.method, c.path, json.RawMessage(`{"`+c.field+`":`+jsonOfSize(max+1)+`}`), "Bearer", c.as.Access)
			wantLocations(t, problem(t, r, c.method+" "+c.path+" with 16 KiB + 1", http.StatusUnprocessableEntity), c.path, "body."+c.field)
			got, _ := me(t, env, a)[c.field].(map[string]any)
			if s, _ := got["s"].(string); len(s) != max-len(`{"s":""}`) {
				t.Errorf("after the refused PATCH, %s.s holds %d bytes; want the 16 KiB value kept", c.field, len(s))
			}
		})
	}
}

// app_metadata is an admin's: PATCH /api/users/{user_id} sets it, the user reads it
// (and finds it in the export) but can change it neither through PATCH
// /api/users/me (422) nor through the admin route (403).
func TestAppMetadata_OnlyAdminsChangeIt(t *testing.T) {
	t.Parallel()
	env := newEnv(t, withProfileSchema(t, profileSchema))
	a := env.Register("ada")
	admin := env.Register("root")
	env.Promote(admin)

	r := env.Do("PATCH", "/api/users/"+a.ID, json.RawMessage(`{"app_metadata":{"plan":"pro","seats":3,"free":{"form":true}}}`), "Bearer", admin.Access)
	expect(t, r, "admin PATCH /api/users/{id}", http.StatusOK)
	wantMeta := map[string]any{"plan": "pro", "seats": 3.0, "free": map[string]any{"form": true}}
	if got := r.Map(t)["app_metadata"]; !reflect.DeepEqual(got, wantMeta) {
		t.Fatalf("admin PATCH app_metadata = %#v; want %#v", got, wantMeta)
	}
	patchMe(t, env, a, json.RawMessage(`{"profile":{"bio":"Hi"}}`), http.StatusOK)

	for _, c := range []struct {
		name, path, body string
		want             int
		loc              string
	}{
		{"the user's own PATCH with app_metadata", "/api/users/me", `{"app_metadata":{"plan":"free"}}`, http.StatusUnprocessableEntity, "body.app_metadata"},
		{"the user's own PATCH with profile and app_metadata", "/api/users/me", `{"profile":{"bio":"Yo"},"app_metadata":{"plan":"free"}}`, http.StatusUnprocessableEntity, "body.app_metadata"},
		{"the admin route by the user, by id", "/api/users/" + a.ID, `{"app_metadata":{"plan":"free"}}`, http.StatusForbidden, ""},
		{"the admin route by the user, as me", "/api/users/me", `{"app_metadata":null}`, http.StatusUnprocessableEntity, "body.app_metadata"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := env.Do("PATCH", c.path, json.RawMessage(c.body), "Bearer", a.Access)
			p := problem(t, r, "PATCH "+c.path, c.want)
			if c.loc != "" {
				wantLocations(t, p, "PATCH "+c.path, c.loc)
			}
		})
	}
	u := me(t, env, a)
	if !reflect.DeepEqual(u["app_metadata"], wantMeta) || !reflect.DeepEqual(u["profile"], map[string]any{"bio": "Hi"}) {
		t.Errorf("after the refused changes, profile %#v, app_metadata %#v; want {bio: Hi} and the admin's", u["profile"], u["app_metadata"])
	}

	// What the admin route takes is app metadata only; the profile is its user's.
	r = env.Do("PATCH", "/api/users/"+a.ID, json.RawMessage(`{"profile":{"bio":"Admin"}}`), "Bearer", admin.Access)
	wantLocations(t, problem(t, r, "admin PATCH with profile", http.StatusUnprocessableEntity), "admin PATCH", "body", "body.profile")
	r = env.Do("PATCH", "/api/users/0123456789abcdef01234567", json.RawMessage(`{"app_metadata":{}}`), "Bearer", admin.Access)
	problem(t, r, "admin PATCH of nobody", http.StatusNotFound)

	ex := env.Do("GET", "/api/users/me/export", nil, "Bearer", a.Access)
	expect(t, ex, "GET /api/users/me/export", http.StatusOK)
	exported, _ := ex.Map(t)["user"].(map[string]any)
	if !reflect.DeepEqual(exported["app_metadata"], wantMeta) || !reflect.DeepEqual(exported["profile"], map[string]any{"bio": "Hi"}) {
		t.Errorf("export user = %#v; want the profile and the app metadata", exported)
	}

	r = env.Do("PATCH", "/api/users/"+a.ID, json.RawMessage(`{"app_metadata":null}`), "Bearer", admin.Access)
	expect(t, r, "admin PATCH app_metadata null", http.StatusOK)
	if got, ok := me(t, env, a)["app_metadata"]; ok {
		t.Errorf("after app_metadata null, app_metadata = %#v; want none", got)
	}
}

// A contact with a leading + is kept as + and its digits (E.164); one without is
// kept as the digits given, never turned into +0….
func TestUpdateMe_ContactKeepsNationalNumbersAsGiven(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	a := env.Register("ada")
	for _, c := range []struct {
		in, want string // want "": refused on contact
	}{
		{"+44 (20) 7946-0958", "+442079460958"},
		{" +1 202-555-0147 ", "+12025550147"},
		{"0771234567", "0771234567"},
		{"077 123 4567", "0771234567"},
		{"(020) 7946-0958", "02079460958"},
		{"1234567", "1234567"},
		{"+0771234567", ""},
		{"123456", ""},
		{"+1234567890123456", ""},
	} {
		r := env.Do("PATCH", "/api/users/me", map[string]any{"contact": c.in}, "Bearer", a.Access)
		if c.want == "" {
			wantLocations(t, problem(t, r, "PATCH contact "+c.in, http.StatusUnprocessableEntity), "PATCH contact "+c.in, "body.contact")
			continue
		}
		expect(t, r, "PATCH contact "+c.in, http.StatusOK)
		if got := me(t, env, a)["contact"]; got != c.want {
			t.Errorf("contact %q is stored as %v; want %q", c.in, got, c.want)
		}
	}
}
