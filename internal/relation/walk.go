package relation

import (
	"context"
	"fmt"

	"github.com/lanyard/lanyard/internal/store"
)

// BatchSize is how many documents of one relation are read (and, when deleting,
// erased) at a time. Store commands grow with the number of batches, not documents.
const BatchSize = 1000

// walker visits the tree of documents under a set of parents, depth-first, in pages of
// BatchSize. It is the one traversal behind chain delete, its plan and the export.
type walker struct {
	st  *store.Store
	reg *Registry
	// follow reports whether the walk descends into rel (and reads its documents).
	follow func(rel *Relation) bool
	// page sees each page of rel's documents before their descendants are visited.
	page func(ctx context.Context, rel *Relation, docs []store.Document) error
	// done is called with a page's ids after all their descendants were visited:
	// deleting there deletes children before parents.
	done func(ctx context.Context, rel *Relation, ids []any) error
	// other handles a relation that is not followed, with the parents' ids.
	other func(ctx context.Context, rel *Relation, parents []any) error
	// idsOnly fetches only _id and the parent field.
	idsOnly bool
}

// children walks every relation below parent for the given parent ids.
func (w *walker) children(ctx context.Context, parent string, parentIDs []any) error {
	for _, rel := range w.reg.Children(parent) {
		vals := make([]any, len(parentIDs))
		for i, id := range parentIDs {
			vals[i] = parentValue(id, rel.IDFormat)
		}
		if !w.follow(rel) {
			if w.other != nil {
				if err := w.other(ctx, rel, vals); err != nil {
					return err
				}
			}
			continue
		}
		if err := w.relation(ctx, rel, vals); err != nil {
			return err
		}
	}
	return nil
}

// relation pages through rel's documents whose field is one of vals.
func (w *walker) relation(ctx context.Context, rel *Relation, vals []any) error {
	var after any
	for {
		docs, err := w.st.Children(ctx, store.ChildQuery{
			Coll: rel.Collection, Field: rel.Field, Parents: vals, After: after, Limit: BatchSize, IDsOnly: w.idsOnly,
		})
		if err != nil {
			return fmt.Errorf("%s: %w", rel.Name, err)
		}
		if len(docs) == 0 {
			return nil
		}
		ids := make([]any, len(docs))
		for i, d := range docs {
			if ids[i] = d.ID(); ids[i] == nil {
				return fmt.Errorf("%s: a document without a readable _id", rel.Name)
			}
		}
		if w.page != nil {
			if err := w.page(ctx, rel, docs); err != nil {
				return err
			}
		}
		if err := w.children(ctx, rel.Name, ids); err != nil {
			return err
		}
		if w.done != nil {
			if err := w.done(ctx, rel, ids); err != nil {
				return err
			}
		}
		if len(docs) < BatchSize {
			return nil
		}
		after = ids[len(ids)-1]
	}
}
