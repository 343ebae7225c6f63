package relation

import (
	"fmt"

	"github.com/lanyard/lanyard/internal/store"
)

// View turns a document of a built-in relation into its public value: what expand
// and export may hand out. Each built-in's package owns its view (session,
// linkid, audit), so the rule of what is public is written once, next to the type.
type View func(store.Document) (any, error)

// SetView registers the public view of the built-in relation name; assembly does it
// once, before the registry is used. Expand and export fail on a built-in relation that
// has none, so a document of Lanyard's own never leaves this package as stored.
func (r *Registry) SetView(name string, v View) error {
	rel, ok := r.byName[name]
	if !ok || !rel.BuiltIn {
		return fmt.Errorf("relation: %q is not a built-in relation", name)
	}
	if r.views == nil {
		r.views = map[string]View{}
	}
	r.views[name] = v
	return nil
}

// value is what export hands out for a document of rel: the public value of a
// built-in (see public), the document itself (opaque, rendered only as relaxed
// Extended JSON) for a declared relation.
func (r *Registry) value(rel *Relation, d store.Document) (any, error) {
	if !rel.BuiltIn {
		return d, nil
	}
	return r.public(rel, d)
}

// public is the public value of a document of the built-in relation rel, through its
// view.
func (r *Registry) public(rel *Relation, d store.Document) (any, error) {
	v := r.views[rel.Name]
	if v == nil {
		return nil, fmt.Errorf("relation %s: no public view registered", rel.Name)
	}
	pub, err := v(d)
	if err != nil {
		return nil, fmt.Errorf("relation %s: %w", rel.Name, err)
	}
	return pub, nil
}
