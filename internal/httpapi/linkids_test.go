package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/lanyard/lanyard/internal/lanyardtest"
)

func link(env *lanyardtest.Env, a lanyardtest.Account, provider, id string) *lanyardtest.Response {
	return env.Do("POST", "/api/users/me/linked-ids", map[string]any{"provider": provider, "external_id": id}, "Bearer", a.Access)
}

func TestLinkedIDs_LinkListUnlink(t *testing.T) {
	t.Parallel()
	env := lanyardtest.New(t)
	a := env.Register("ada")

	r := env.Do("POST", "/api/users/me/linked-ids", map[string]any{"provider": "Google", "external_id": "  1234567890 ", "label": "work"}, "Bearer", a.Access).Must(t, http.StatusCreated)
	first := r.Map(t)
	if first["provider"] != "google" || first["external_id"] != "1234567890" || first["label"] != "work" {
		t.Fatalf("link = %v; want the canonical provider and external id with the label", first)
	}
	if loc := r.Header.Get("Location"); !strings.HasSuffix(loc, "/linked-ids/"+first["id"].(string)) {
		t.Errorf("Location = %q; want it to name the new link", loc)
	}
	second := link(env, a, "student", "S-42").Must(t, http.StatusCreated).Map(t)

	var list struct{ Items []map[string]any }
	env.Do("GET", "/api/users/me/linked-ids", nil, "Bearer", a.Access).Must(t, http.StatusOK).JSON(t, &list)
	if len(list.Items) != 2 || list.Items[0]["id"] != second["id"] || list.Items[1]["id"] != first["id"] {
		t.Fatalf("list = %v; want [second, first] (newest first)", list.Items)
	}
	if list.Items[1]["external_id"] != "1234567890" {
		t.Errorf("listed external_id = %v; want it in clear for the owner", list.Items[1]["external_id"])
	}

	env.Do("DELETE", "/api/users/me/linked-ids/"+first["id"].(string), nil, "Bearer", a.Access).Must(t, http.StatusNoContent)
	env.Do("DELETE", "/api/users/me/linked-ids/"+first["id"].(string), nil, "Bearer", a.Access).Must(t, http.StatusNotFound)
	env.Do("GET", "/api/users/me/linked-ids", nil, "Bearer", a.Access).Must(t, http.StatusOK).JSON(t, &list)
	if len(list.Items) != 1 {
		t.Fatalf("after unlink, list has %d items; want 1", len(list.Items))
	}
	// Once unlinked, the ID is free again, for anyone.
	b := env.Register("bob")
	link(env, b, "google", "1234567890").Must(t, http.StatusCreated)
}

func TestLinkedIDs_SameIDOnAnyAccountConflictsWithoutSayingWhose(t *testing.T) {
	t.Parallel()
	env := lanyardtest.New(t)
	a, b := env.Register("ada"), env.Register("bob")
	link(env, a, "google", "123").Must(t, http.StatusCreated)
	for _, c := range []struct {
		who      lanyardtest.Account
		provider string
		id       string
	}{
		{b, "google", "123"},
		{b, "GOOGLE", " 123"},
		{a, "google", "123"}, // the holder itself
	} {
		r := link(env, c.who, c.provider, c.id)
		if r.Status != http.StatusConflict {
			t.Fatalf("link(%q, %q) = %d; want 409", c.provider, c.id, r.Status)
		}
		if strings.Contains(string(r.Body), a.ID) || strings.Contains(string(r.Body), a.Email) {
			t.Errorf("409 body %s names the holder", r.Body)
		}
	}
	// Same external id under another provider is another ID.
	link(env, b, "github", "123").Must(t, http.StatusCreated)
}

func TestLinkedIDs_RejectsEachBadField(t *testing.T) {
	t.Parallel()
	env := lanyardtest.New(t)
	a := env.Register("ada")
	cases := []struct {
		name string
		body any
		want []string
	}{
		{"provider too short", map[string]any{"provider": "g", "external_id": "1"}, []string{"body.provider"}},
		{"provider starts with a digit", map[string]any{"provider": "9lives", "external_id": "1"}, []string{"body.provider"}},
		{"provider with a space", map[string]any{"provider": "my crm", "external_id": "1"}, []string{"body.provider"}},
		{"external id blank", map[string]any{"provider": "google", "external_id": "   "}, []string{"body.external_id"}},
		{"external id too long", map[string]any{"provider": "google", "external_id": strings.Repeat("x", 257)}, []string{"body.external_id"}},
		{"external id control character", map[string]any{"provider": "google", "external_id": "a\u0007b"}, []string{"body.external_id"}},
		{"label too long", map[string]any{"provider": "google", "external_id": "1", "label": strings.Repeat("l", 101)}, []string{"body.label"}},
		{"everything at once", map[string]any{"label": strings.Repeat("l", 101)}, []string{"body.provider", "body.external_id", "body.label"}},
		{"operator object", map[string]any{"provider": "google", "external_id": map[string]any{"$ne": nil}}, []string{"body.external_id"}},
		{"unknown field", map[string]any{"provider": "google", "external_id": "1", "user_id": a.ID}, []string{"body.user_id"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := env.Do("POST", "/api/users/me/linked-ids", c.body, "Bearer", a.Access)
			if r.Status != http.StatusUnprocessableEntity {
				t.Fatalf("POST /api/users/me/linked-ids = %d; want 422; body %s", r.Status, r.Body)
			}
			for _, loc := range c.want {
				if !strings.Contains(string(r.Body), `"location":"`+loc+`"`) {
					t.Errorf("422 body %s does not name %s", r.Body, loc)
				}
			}
		})
	}
	var list struct{ Items []any }
	env.Do("GET", "/api/users/me/linked-ids", nil, "Bearer", a.Access).Must(t, http.StatusOK).JSON(t, &list)
	if len(list.Items) != 0 {
		t.Fatalf("bad requests left %d links; want none", len(list.Items))
	}
}

func TestLinkedIDs_SomeoneElsesLinkIsNotFound(t *testing.T) {
	t.Parallel()
	env := lanyardtest.New(t)
	a, b := env.Register("ada"), env.Register("bob")
	id := link(env, a, "google", "1").Must(t, http.StatusCreated).Map(t)["id"].(string)
	for _, path := range []string{"/api/users/me/linked-ids/" + id, "/api/users/me/linked-ids/not-an-id"} {
		env.Do("DELETE", path, nil, "Bearer", b.Access).Must(t, http.StatusNotFound)
	}
	var list struct{ Items []any }
	env.Do("GET", "/api/users/me/linked-ids", nil, "Bearer", a.Access).Must(t, http.StatusOK).JSON(t, &list)
	if len(list.Items) != 1 {
		t.Fatalf("owner's links after another user's delete = %d; want 1", len(list.Items))
	}
}

func TestLinkedIDs_AtMost50PerAccount(t *testing.T) {
	t.Parallel()
	env := lanyardtest.New(t)
	a := env.Register("ada")
	for i := range 50 {
		link(env, a, "crm", fmt.Sprint("id-", i)).Must(t, http.StatusCreated)
	}
	link(env, a, "crm", "one-too-many").Must(t, http.StatusConflict)
}

func TestLinkedIDs_AdminPathsAndResolve(t *testing.T) {
	t.Parallel()
	env := lanyardtest.New(t)
	a, admin := env.Register("ada"), env.Register("root")
	env.Promote(admin)
	base := "/api/users/" + a.ID + "/linked-ids"

	// Non-admins get 403 on every admin path, their own id included.
	for _, c := range []struct{ method, path string }{
		{"POST", base}, {"GET", base}, {"DELETE", base + "/0123456789abcdef01234567"},
		{"GET", "/api/users/" + admin.ID + "/linked-ids"},
		{"GET", "/api/linked-ids/resolve?provider=google&external_id=1"},
	} {
		r := env.Do(c.method, c.path, map[string]any{"provider": "google", "external_id": "x"}, "Bearer", a.Access)
		if c.method == "GET" || c.method == "DELETE" {
			r = env.Do(c.method, c.path, nil, "Bearer", a.Access)
		}
		if r.Status != http.StatusForbidden {
			t.Errorf("%s %s as non-admin = %d; want 403", c.method, c.path, r.Status)
		}
	}

	l := env.Do("POST", base, map[string]any{"provider": "google", "external_id": "sub-77"}, "Bearer", admin.Access).Must(t, http.StatusCreated).Map(t)
	var list struct{ Items []map[string]any }
	env.Do("GET", base, nil, "Bearer", admin.Access).Must(t, http.StatusOK).JSON(t, &list)
	if len(list.Items) != 1 || list.Items[0]["external_id"] != "sub-77" {
		t.Fatalf("admin list = %v; want the one link in clear", list.Items)
	}

	q := url.Values{"provider": {"GOOGLE"}, "external_id": {" sub-77 "}}
	res := env.Do("GET", "/api/linked-ids/resolve?"+q.Encode(), nil, "Bearer", admin.Access).Must(t, http.StatusOK).Map(t)
	if res["user_id"] != a.ID || res["linked_id"] != l["id"] {
		t.Fatalf("resolve = %v; want user %s link %s", res, a.ID, l["id"])
	}
	q.Set("external_id", "sub-78")
	env.Do("GET", "/api/linked-ids/resolve?"+q.Encode(), nil, "Bearer", admin.Access).Must(t, http.StatusNotFound)

	env.Do("DELETE", base+"/"+l["id"].(string), nil, "Bearer", admin.Access).Must(t, http.StatusNoContent)
	env.Do("GET", "/api/users/0123456789abcdef01234567/linked-ids", nil, "Bearer", admin.Access).Must(t, http.StatusNotFound)
}

func TestLinkedIDs_OneExternalIDFrom20AccountsAtOnceLinksExactlyOnce(t *testing.T) {
	t.Parallel()
	env := lanyardtest.New(t)
	accounts := make([]lanyardtest.Account, 20)
	for i := range accounts {
		accounts[i] = env.Register(fmt.Sprint("user", i))
	}
	statuses := make([]int, len(accounts))
	lanyardtest.AtOnce(len(accounts), func(i int) {
		statuses[i] = link(env, accounts[i], "google", "contested-subject").Status
	})
	created, conflicts := 0, 0
	for _, s := range statuses {
		switch s {
		case http.StatusCreated:
			created++
		case http.StatusConflict:
			conflicts++
		}
	}
	if created != 1 || conflicts != 19 {
		t.Fatalf("20 concurrent links: %d created, %d conflicts (statuses %v); want 1 and 19", created, conflicts, statuses)
	}
	if n := lanyardtest.RawCount(t, env.DB, "linked_ids", nil); n != 1 {
		t.Fatalf("linked_ids documents = %d; want 1", n)
	}
}

func TestLinkedIDs_StoredEncryptedAndBoundToTheirOwner(t *testing.T) {
	t.Parallel()
	env := lanyardtest.New(t)
	a, b := env.Register("ada"), env.Register("bob")
	const secretA, secretB = "ada-external-7f3a9", "bob-external-2c81d"
	link(env, a, "crm", secretA).Must(t, http.StatusCreated)
	link(env, b, "crm", secretB).Must(t, http.StatusCreated)

	docs := lanyardtest.RawDocs(t, env.DB, "linked_ids", nil)
	for _, d := range docs {
		raw, _ := bson.Marshal(d)
		for _, s := range []string{secretA, secretB} {
			if strings.Contains(string(raw), s) {
				t.Fatalf("stored document contains the external id %q in clear: %v", s, d)
			}
		}
	}

	// Swap the two ciphertexts: each must now fail to decrypt, not show the other's id.
	encOf := map[any]any{}
	for _, d := range docs {
		encOf[d["user_id"]] = d["external_id_enc"]
	}
	for _, d := range docs {
		var other any
		for uid, enc := range encOf {
			if uid != d["user_id"] {
				other = enc
			}
		}
		if _, err := env.DB.Collection("linked_ids").UpdateOne(context.Background(), bson.D{{Key: "_id", Value: d["_id"]}}, bson.D{{Key: "$set", Value: bson.M{"external_id_enc": other}}}); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		who   lanyardtest.Account
		other string
	}{{a, secretB}, {b, secretA}} {
		r := env.Do("GET", "/api/users/me/linked-ids", nil, "Bearer", c.who.Access)
		if r.Status == http.StatusOK || strings.Contains(string(r.Body), c.other) {
			t.Fatalf("list after swapping ciphertexts = %d %s; want a failure that shows nothing", r.Status, r.Body)
		}
	}
}
