package relation

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/lanyard/lanyard/internal/store"
)

func TestParse_AcceptsYAMLAndJSONAndAddsBuiltIns(t *testing.T) {
	yamlDoc := `
relations:
  - {name: comments, collection: comments, parent: posts, field: post_id}
  - name: posts
    collection: posts
    parent: users
    field: author_id
    on_delete: cascade
  - {name: orders, collection: orders, parent: users, field: user_id, on_delete: restrict, id_format: string}
`
	jsonDoc := `{"relations":[{"name":"posts","collection":"posts","parent":"users","field":"author_id"},
	  {"name":"comments","collection":"comments","parent":"posts","field":"post_id","on_delete":"nullify"}]}`
	for name, doc := range map[string]string{"yaml": yamlDoc, "json": jsonDoc} {
		r, err := Parse([]byte(doc))
		if err != nil {
			t.Fatalf("%s: Parse = %v", name, err)
		}
		for _, want := range []string{"linked_ids", "sessions", "audit_events", "posts", "comments"} {
			if _, ok := r.Get(want); !ok {
				t.Errorf("%s: registry lacks %s", name, want)
			}
		}
		c, _ := r.Get("comments")
		if c.IDFormat != ObjectID {
			t.Errorf("%s: comments id_format = %q; want the default objectid", name, c.IDFormat)
		}
		if kids := r.Children("posts"); len(kids) != 1 || kids[0].Name != "comments" {
			t.Errorf("%s: children of posts = %v; want comments", name, kids)
		}
	}
}

func TestParse_ReportsOneLinePerWrongEntry(t *testing.T) {
	doc := `
relations:
  - {name: posts, collection: posts, parent: users, field: author_id}
  - {name: posts, collection: posts2, parent: users, field: author_id}
  - {name: sessions, collection: my_sessions, parent: users, field: user_id}
  - {name: orphans, collection: orphans, parent: nowhere, field: x_id}
  - {name: a, collection: a, parent: b, field: b_id}
  - {name: b, collection: b, parent: a, field: a_id}
  - {name: bad_coll, collection: "$x", parent: users, field: user_id}
  - {name: bad_field, collection: ok, parent: users, field: "a.b"}
  - {name: bad_policy, collection: ok2, parent: users, field: user_id, on_delete: explode}
  - {name: bad_format, collection: ok3, parent: users, field: user_id, id_format: uuid}
  - {name: mine, collection: users, parent: users, field: user_id}
  - {name: under_builtin, collection: x, parent: linked_ids, field: l_id}
`
	_, err := Parse([]byte(doc))
	if err == nil {
		t.Fatal("Parse accepted a file full of mistakes")
	}
	lines := strings.Split(err.Error(), "\n")
	for _, want := range []string{
		`relations[1] (posts): name "posts" is already taken`,
		`relations[2] (sessions): name "sessions" is already taken by a built-in`,
		`relations[3] (orphans): parent "nowhere"`,
		`relations[4] (a): parent chain`,
		`relations[5] (b): parent chain`,
		`relations[6] (bad_coll): collection "$x"`,
		`relations[7] (bad_field): field "a.b"`,
		`relations[8] (bad_policy): on_delete "explode"`,
		`relations[9] (bad_format): id_format "uuid"`,
		`relations[10] (mine): collection "users" is Lanyard's own`,
		`relations[11] (under_builtin): parent "linked_ids" is built in`,
	} {
		found := false
		for _, l := range lines {
			if strings.HasPrefix(l, want) {
				found = true
			}
		}
		if !found {
			t.Errorf("no line starting %q in:\n%s", want, err)
		}
	}
	if len(lines) != 11 {
		t.Errorf("got %d lines; want 11:\n%s", len(lines), err)
	}
}

func TestParse_RejectsUnknownKeys(t *testing.T) {
	if _, err := Parse([]byte(`relations: [{name: p, collection: p, parent: users, field: u, ondelete: cascade}]`)); err == nil {
		t.Fatal("Parse accepted an unknown key (ondelete)")
	}
}

func TestParse_RefusesEveryCollectionTheStoreKeeps(t *testing.T) {
	// user_keys and linked_id_keys hold Lanyard's uniqueness bookkeeping: a relation
	// over them would expand it or cascade into it.
	own := store.Collections()
	for _, c := range []string{"user_keys", "linked_id_keys", "users", "sessions", "refresh_claims", "throttle", "deletion_jobs"} {
		if !slices.Contains(own, c) {
			t.Fatalf("store.Collections() = %q; want %q among them", own, c)
		}
	}
	for _, c := range own {
		t.Run(c, func(t *testing.T) {
			doc := fmt.Sprintf("relations:\n  - {name: app_rel, collection: %q, parent: users, field: user_id}\n", c)
			_, err := Parse([]byte(doc))
			want := fmt.Sprintf(`relations[0] (app_rel): collection %q is Lanyard's own`, c)
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("Parse(a relation over %s) = %v; want a line %q", c, err, want)
			}
		})
	}
}
