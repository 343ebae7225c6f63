// Package relation owns the registry of what hangs off a user — Lanyard's own
// collections and the application's, declared in the relations file — and the two
// uses of that one description: joins (expand) for reading, and chain delete, its
// dry-run plan and the data export for erasing and carrying data away.
package relation

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/lanyard/lanyard/internal/store"
)

// OnDelete policies.
const (
	Cascade  = "cascade"
	Nullify  = "nullify"
	Restrict = "restrict"
)

// ID formats: how a child's field holds its parent's _id.
const (
	ObjectID = "objectid"
	String   = "string"
)

// Users is the root of the registry.
const Users = "users"

// Relation is one edge of the tree: documents of Collection whose Field holds the _id
// of a document of Parent.
type Relation struct {
	Name       string `json:"name" yaml:"name"`
	Collection string `json:"collection" yaml:"collection"`
	Parent     string `json:"parent" yaml:"parent"`
	Field      string `json:"field" yaml:"field"`
	OnDelete   string `json:"on_delete" yaml:"on_delete"`
	IDFormat   string `json:"id_format" yaml:"id_format"`
	BuiltIn    bool   `json:"built_in" yaml:"-"`
}

// Registry is the validated tree rooted at users. It is read-only once built and its
// views set.
type Registry struct {
	all      []*Relation
	byName   map[string]*Relation
	children map[string][]*Relation // by parent name, in declaration order
	views    map[string]View        // the built-ins' public views, by name (SetView)
}

// builtIns are Lanyard's own relations; they cannot be redeclared.
var builtIns = []Relation{
	{Name: "linked_ids", Collection: "linked_ids", Parent: Users, Field: "user_id", OnDelete: Cascade, IDFormat: ObjectID, BuiltIn: true},
	{Name: "sessions", Collection: "sessions", Parent: Users, Field: "user_id", OnDelete: Cascade, IDFormat: ObjectID, BuiltIn: true},
	{Name: "audit_events", Collection: "audit_events", Parent: Users, Field: "user_id", OnDelete: Cascade, IDFormat: ObjectID, BuiltIn: true},
	{Name: "passkeys", Collection: "passkeys", Parent: Users, Field: "user_id", OnDelete: Cascade, IDFormat: ObjectID, BuiltIn: true},
}

var (
	nameRE  = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)
	collRE  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]{0,119}$`)
	fieldRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,127}$`)
)

// Load reads the relations file at path (JSON or YAML); an empty path means only the
// built-ins. Every wrong entry is reported, one line each.
func Load(path string) (*Registry, error) {
	if path == "" {
		return Parse(nil)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("LANYARD_RELATIONS_FILE: %w", err)
	}
	r, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("LANYARD_RELATIONS_FILE %s:\n%w", path, err)
	}
	return r, nil
}

// Parse builds a registry from a relations document (JSON is YAML, so one parser
// reads both).
func Parse(data []byte) (*Registry, error) {
	var file struct {
		Relations []Relation `yaml:"relations"`
	}
	if len(bytes.TrimSpace(data)) > 0 {
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		if err := dec.Decode(&file); err != nil {
			return nil, fmt.Errorf("not a relations document: %w", err)
		}
	}
	return build(file.Relations)
}

func build(declared []Relation) (*Registry, error) {
	r := &Registry{byName: map[string]*Relation{}, children: map[string][]*Relation{}}
	var errs []error
	fail := func(i int, name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("relations[%d] (%s): %s", i, name, fmt.Sprintf(format, args...)))
	}
	for i := range builtIns {
		b := builtIns[i]
		r.add(&b)
	}
	type entry struct {
		i   int
		rel *Relation
	}
	var added []entry
	for i := range declared {
		d := declared[i]
		if d.OnDelete == "" {
			d.OnDelete = Cascade
		}
		if d.IDFormat == "" {
			d.IDFormat = ObjectID
		}
		bad := false
		check := func(ok bool, format string, args ...any) {
			if !ok {
				fail(i, d.Name, format, args...)
				bad = true
			}
		}
		check(nameRE.MatchString(d.Name), "name %q must be 1-64 of [a-z0-9_] starting with a letter", d.Name)
		_, dup := r.byName[d.Name]
		check(!dup || d.Name == "", "name %q is already taken%s", d.Name, builtInNote(d.Name))
		check(d.Name != Users, "name %q is the root", d.Name)
		check(collRE.MatchString(d.Collection) && !strings.HasPrefix(d.Collection, "system.") && !strings.Contains(d.Collection, ".."),
			"collection %q is not a valid collection name", d.Collection)
		// The store's own collections (users, their uniqueness keys, sessions, …)
		// are never an application's: an expand would read Lanyard's bookkeeping and
		// a chain delete erase it. The store owns the one list.
		check(!slices.Contains(store.Collections(), d.Collection), "collection %q is Lanyard's own", d.Collection)
		check(fieldRE.MatchString(d.Field) && d.Field != "_id", "field %q must be a top-level field name (no '$', no '.', not _id)", d.Field)
		check(d.Parent != "", "parent is required")
		check(slices.Contains([]string{Cascade, Nullify, Restrict}, d.OnDelete), "on_delete %q must be cascade, nullify or restrict", d.OnDelete)
		check(slices.Contains([]string{ObjectID, String}, d.IDFormat), "id_format %q must be objectid or string", d.IDFormat)
		if !bad {
			r.add(&d)
			added = append(added, entry{i, &d})
		}
	}
	// Parents are checked once every name is known, so a file may declare a child
	// before its parent.
	valid := added[:0:0]
	for _, e := range added {
		p, ok := r.byName[e.rel.Parent]
		switch {
		case e.rel.Parent != Users && !ok:
			fail(e.i, e.rel.Name, "parent %q is neither users nor a declared relation", e.rel.Parent)
		case ok && p.BuiltIn:
			fail(e.i, e.rel.Name, "parent %q is built in; declared relations hang off users or each other", e.rel.Parent)
		default:
			valid = append(valid, e)
		}
	}
	for _, e := range valid {
		if r.cyclic(e.rel) {
			fail(e.i, e.rel.Name, "parent chain %s loops back to itself", r.chain(e.rel))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	for _, rel := range r.all {
		r.children[rel.Parent] = append(r.children[rel.Parent], rel)
	}
	return r, nil
}

func builtInNote(name string) string {
	for _, b := range builtIns {
		if b.Name == name {
			return " by a built-in relation, which cannot be redeclared"
		}
	}
	return ""
}

func (r *Registry) add(rel *Relation) {
	r.all = append(r.all, rel)
	r.byName[rel.Name] = rel
}

// cyclic reports whether following parents from rel never reaches users.
func (r *Registry) cyclic(rel *Relation) bool {
	seen := map[string]bool{}
	for cur := rel; cur != nil; cur = r.byName[cur.Parent] {
		if seen[cur.Name] {
			return true
		}
		seen[cur.Name] = true
		if cur.Parent == Users {
			return false
		}
	}
	return false
}

func (r *Registry) chain(rel *Relation) string {
	var names []string
	seen := map[string]bool{}
	for cur := rel; cur != nil && !seen[cur.Name]; cur = r.byName[cur.Parent] {
		seen[cur.Name] = true
		names = append(names, cur.Name)
	}
	return strings.Join(append(names, rel.Name), " -> ")
}

// All returns every relation, built-ins first, in declaration order.
func (r *Registry) All() []Relation {
	out := make([]Relation, len(r.all))
	for i, rel := range r.all {
		out[i] = *rel
	}
	return out
}

// Get returns the relation called name.
func (r *Registry) Get(name string) (*Relation, bool) {
	rel, ok := r.byName[name]
	return rel, ok
}

// Children returns the relations whose parent is name ("users" or a relation).
func (r *Registry) Children(name string) []*Relation { return r.children[name] }

// Names returns every relation name, for messages that list the valid ones.
func (r *Registry) Names() []string {
	out := make([]string, len(r.all))
	for i, rel := range r.all {
		out[i] = rel.Name
	}
	return out
}

// Declared returns the relations from the relations file.
func (r *Registry) Declared() []*Relation {
	var out []*Relation
	for _, rel := range r.all {
		if !rel.BuiltIn {
			out = append(out, rel)
		}
	}
	return out
}
