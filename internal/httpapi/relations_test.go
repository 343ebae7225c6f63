package httpapi_test

import (
	"net/http"
	"slices"
	"testing"

	"github.com/lanyard/lanyard/internal/lanyardtest"
)

// relationEntry is one relation as GET /api/relations shows it.
type relationEntry struct {
	Name       string `json:"name"`
	Collection string `json:"collection"`
	Parent     string `json:"parent"`
	Field      string `json:"field"`
	OnDelete   string `json:"on_delete"`
	IDFormat   string `json:"id_format"`
	BuiltIn    bool   `json:"built_in"`
}

func TestRelations_AdminSeesBuiltInsAndDeclared(t *testing.T) {
	t.Parallel()
	env := newEnv(t, lanyardtest.WithRelations(t, `relations:
  - {name: posts, collection: posts, parent: users, field: author_id}
  - {name: comments, collection: comments, parent: posts, field: post_id, on_delete: nullify, id_format: string}
  - {name: invoices, collection: billing.invoices, parent: users, field: customer, on_delete: restrict}
`))
	admin := newAdmin(t, env)
	var got struct{ Relations []relationEntry }
	env.Do("GET", "/api/relations", nil, "Bearer", admin.Access).Must(t, http.StatusOK).JSON(t, &got)
	want := []relationEntry{
		{"linked_ids", "linked_ids", "users", "user_id", "cascade", "objectid", true},
		{"sessions", "sessions", "users", "user_id", "cascade", "objectid", true},
		{"audit_events", "audit_events", "users", "user_id", "cascade", "objectid", true},
		{"passkeys", "passkeys", "users", "user_id", "cascade", "objectid", true},
		{"posts", "posts", "users", "author_id", "cascade", "objectid", false},
		{"comments", "comments", "posts", "post_id", "nullify", "string", false},
		{"invoices", "billing.invoices", "users", "customer", "restrict", "objectid", false},
	}
	if !slices.Equal(got.Relations, want) {
		t.Errorf("GET /api/relations = %+v; want %+v", got.Relations, want)
	}
}

func TestRelations_WithoutARelationsFileOnlyBuiltIns(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	admin := newAdmin(t, env)
	var got struct{ Relations []relationEntry }
	env.Do("GET", "/api/relations", nil, "Bearer", admin.Access).Must(t, http.StatusOK).JSON(t, &got)
	var names []string
	for _, r := range got.Relations {
		names = append(names, r.Name)
	}
	if !slices.Equal(names, []string{"linked_ids", "sessions", "audit_events", "passkeys"}) {
		t.Errorf("GET /api/relations names = %v; want the four built-ins", names)
	}
}

func TestRelations_OnlyForAdmins(t *testing.T) {
	t.Parallel()
	env := newEnv(t, lanyardtest.WithRelations(t, postsAndComments))
	a := env.Register("ada")
	problem(t, env.Do("GET", "/api/relations", nil, "Bearer", a.Access), "GET /api/relations as non-admin", http.StatusForbidden)
	problem(t, env.Do("GET", "/api/relations", nil), "GET /api/relations without a token", http.StatusUnauthorized)
}
