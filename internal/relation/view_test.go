package relation

import (
	"testing"

	"github.com/lanyard/lanyard/internal/store"
)

func TestSetView_OnlyForBuiltInRelations(t *testing.T) {
	t.Parallel()
	r, err := Parse([]byte(`relations: [{name: posts, collection: posts, parent: users, field: author_id}]`))
	if err != nil {
		t.Fatal(err)
	}
	view := func(store.Document) (any, error) { return "public", nil }
	for _, tt := range []struct {
		name string
		ok   bool
	}{{"sessions", true}, {"linked_ids", true}, {"audit_events", true}, {"posts", false}, {"users", false}, {"nope", false}} {
		if err := r.SetView(tt.name, view); (err == nil) != tt.ok {
			t.Errorf("SetView(%q) = %v; want ok %v", tt.name, err, tt.ok)
		}
	}
}

// A built-in relation's documents leave the package only through their view: with
// none registered, expand and export fail rather than hand the document out.
func TestBuiltInDocuments_LeaveOnlyThroughTheirView(t *testing.T) {
	t.Parallel()
	r, err := Parse([]byte(`relations: [{name: posts, collection: posts, parent: users, field: author_id}]`))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.SetView("sessions", func(store.Document) (any, error) { return "public", nil }); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		rel     string
		want    any // nil: refused
		isStore bool
	}{
		{"sessions", "public", false},
		{"linked_ids", nil, false},
		{"audit_events", nil, false},
		{"posts", nil, true},
	} {
		rel, _ := r.Get(tt.rel)
		v, err := r.value(rel, store.Document{})
		switch {
		case tt.isStore:
			if _, ok := v.(store.Document); !ok || err != nil {
				t.Errorf("value(%s) = %T, %v; want the store.Document", tt.rel, v, err)
			}
		case tt.want == nil:
			if err == nil || v != nil {
				t.Errorf("value(%s) = %T, %v; want refused", tt.rel, v, err)
			}
		case v != tt.want || err != nil:
			t.Errorf("value(%s) = %v, %v; want %v", tt.rel, v, err, tt.want)
		}
	}
}
