package relation

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/lanyard/lanyard"
	"github.com/lanyard/lanyard/internal/store"
)

// Limits of an expand request.
const (
	MaxExpandPaths = 10
	MaxExpandDepth = 3
	// MaxChildren is how many children of one relation one parent shows; a parent with
	// more names the relation in its truncated list.
	MaxChildren = 100
)

// Node is one relation in an expand request, with the relations to expand below it.
type Node struct {
	Rel      *Relation
	Children []*Node
}

// ParseExpand turns "linked_ids,posts.comments" into a tree of relation nodes rooted at
// users. Paths that share a prefix share its node, so each relation is queried once.
func (r *Registry) ParseExpand(spec string) ([]*Node, error) {
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return nil, nil
	}
	paths := strings.Split(spec, ",")
	bad := &lanyard.InvalidError{}
	if len(paths) > MaxExpandPaths {
		bad.Add("query.expand", fmt.Sprintf("at most %d paths; relations: %s", MaxExpandPaths, strings.Join(r.Names(), ", ")))
		return nil, bad
	}
	var roots []*Node
	for _, p := range paths {
		segs := strings.Split(strings.TrimSpace(p), ".")
		if len(segs) > MaxExpandDepth {
			bad.Add("query.expand", fmt.Sprintf("%q is deeper than %d levels; relations: %s", p, MaxExpandDepth, strings.Join(r.Names(), ", ")))
			continue
		}
		level, parent := &roots, Users
		for _, seg := range segs {
			rel, ok := r.byName[seg]
			if !ok || rel.Parent != parent {
				bad.Add("query.expand", fmt.Sprintf("%q is not a relation of %s; valid: %s", seg, parent, r.validBelow(parent)))
				break
			}
			n := findNode(*level, rel)
			if n == nil {
				n = &Node{Rel: rel}
				*level = append(*level, n)
			}
			level, parent = &n.Children, rel.Name
		}
	}
	if err := bad.Err(); err != nil {
		return nil, err
	}
	return roots, nil
}

func findNode(nodes []*Node, rel *Relation) *Node {
	for _, n := range nodes {
		if n.Rel == rel {
			return n
		}
	}
	return nil
}

// validBelow lists the relations that may follow parent in a path, or every relation
// when parent has none (so the message always helps).
func (r *Registry) validBelow(parent string) string {
	var names []string
	for _, c := range r.children[parent] {
		names = append(names, c.Name)
	}
	if len(names) == 0 {
		return "(none below " + parent + "; relations: " + strings.Join(r.Names(), ", ") + ")"
	}
	return strings.Join(names, ", ")
}

// Doc is one document of an expanded tree.
// What may be shown of it is in one of two fields: Public for a built-in relation's
// document, Document for a declared relation's; neither for the users the caller
// passes in.
type Doc struct {
	ID any // the document's _id as stored
	// Public is a built-in relation's document as its public value (its View's result:
	// session.Public, linkid.Public, audit.Event).
	Public any
	// Document is a declared relation's document, opaque, rendered only as relaxed
	// Extended JSON. It is a field of its own, not boxed into Public, so that expand
	// allocates nothing more per document than the store's read.
	Document  store.Document
	Expand    map[string][]*Doc
	Truncated []string
}

// Expander runs expand requests against the store.
type Expander struct {
	st  *store.Store
	reg *Registry
}

// NewExpander returns an Expander of reg's relations.
func NewExpander(st *store.Store, reg *Registry) *Expander { return &Expander{st: st, reg: reg} }

// Expand fills the Expand and Truncated fields of parents (users) for the requested
// nodes. It costs one query per node, whatever the number of parents: the children of
// every parent are fetched with one $in and grouped in memory.
func (x *Expander) Expand(ctx context.Context, nodes []*Node, parents []*Doc) error {
	for _, n := range nodes {
		if err := x.expandNode(ctx, n, parents); err != nil {
			return err
		}
	}
	return nil
}

func (x *Expander) expandNode(ctx context.Context, n *Node, parents []*Doc) error {
	byKey := make(map[string]*Doc, len(parents))
	vals := make([]any, 0, len(parents))
	for _, p := range parents {
		if p.Expand == nil {
			p.Expand = map[string][]*Doc{}
		}
		p.Expand[n.Rel.Name] = []*Doc{}
		v := parentValue(p.ID, n.Rel.IDFormat)
		if k := keyOf(v); byKey[k] == nil {
			byKey[k] = p
			vals = append(vals, v)
		}
	}
	if len(vals) == 0 {
		return nil
	}
	// One more than is shown per parent tells that a parent has more.
	docs, err := x.st.Children(ctx, store.ChildQuery{Coll: n.Rel.Collection, Field: n.Rel.Field, Parents: vals, Newest: true, PerParent: MaxChildren + 1})
	if err != nil {
		return fmt.Errorf("expand %s: %w", n.Rel.Name, err)
	}
	var kept []*Doc
	for _, doc := range docs {
		p := byKey[keyOf(doc.Value(n.Rel.Field))]
		if p == nil {
			continue
		}
		if len(p.Expand[n.Rel.Name]) == MaxChildren {
			if !slices.Contains(p.Truncated, n.Rel.Name) {
				p.Truncated = append(p.Truncated, n.Rel.Name)
			}
			continue
		}
		d := &Doc{ID: doc.ID()}
		if !n.Rel.BuiltIn {
			d.Document = doc
		} else if d.Public, err = x.reg.public(n.Rel, doc); errors.Is(err, store.ErrForeign) {
			x.st.NoteForeign(n.Rel.Collection) // not Lanyard's: not the user's either
			continue
		} else if err != nil {
			return fmt.Errorf("expand: %w", err)
		}
		p.Expand[n.Rel.Name] = append(p.Expand[n.Rel.Name], d)
		kept = append(kept, d)
	}
	for _, c := range n.Children {
		if err := x.expandNode(ctx, c, kept); err != nil {
			return err
		}
	}
	return nil
}

// parentValue is how a child of this id format refers to a parent with id.
func parentValue(id any, format string) any {
	if oid, ok := id.(lanyard.ID); ok && format == String {
		return oid.Hex()
	}
	return id
}

// keyOf gives the same grouping key for a parent id value and a child's field: an
// ObjectId (a lanyard.ID, as the store reads it) and its 24-character hex form group
// together.
func keyOf(v any) string {
	switch t := v.(type) {
	case lanyard.ID:
		return t.Hex()
	case string:
		return t
	case nil:
		return ""
	}
	return fmt.Sprintf("%T:%v", v, v)
}
