package relation

import (
	"context"
	"errors"
	"fmt"

	"github.com/lanyard/lanyard"
	"github.com/lanyard/lanyard/internal/store"
)

// Export reads every document reachable from the user through the relations, whatever
// their on_delete policy, grouped by relation name: a built-in relation's documents as
// their public values (as expand's Doc.Public), a declared relation's as
// store.Documents. It changes nothing.
func (d *Deleter) Export(ctx context.Context, userID lanyard.ID) (map[string][]any, error) {
	out := make(map[string][]any, len(d.reg.all))
	for _, rel := range d.reg.all {
		out[rel.Name] = []any{}
	}
	w := &walker{
		st: d.st, reg: d.reg,
		follow: func(*Relation) bool { return true },
		page: func(_ context.Context, rel *Relation, docs []store.Document) error {
			for _, doc := range docs {
				v, err := d.reg.value(rel, doc)
				if errors.Is(err, store.ErrForeign) {
					d.st.NoteForeign(rel.Collection) // not Lanyard's: not the user's either
					continue
				}
				if err != nil {
					return err
				}
				out[rel.Name] = append(out[rel.Name], v)
			}
			return nil
		},
	}
	if err := w.children(ctx, Users, []any{userID}); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	return out, nil
}
