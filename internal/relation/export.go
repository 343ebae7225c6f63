package relation

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/lanyard/lanyard"
)

// Export reads every document reachable from the user through the relations, whatever
// their on_delete policy, grouped by relation name. It changes nothing.
func (d *Deleter) Export(ctx context.Context, userID lanyard.ID) (map[string][]bson.Raw, error) {
	out := map[string][]bson.Raw{}
	for _, rel := range d.reg.all {
		out[rel.Name] = []bson.Raw{}
	}
	w := &walker{
		st: d.st, reg: d.reg,
		follow: func(*Relation) bool { return true },
		page: func(_ context.Context, rel *Relation, docs []bson.Raw) error {
			out[rel.Name] = append(out[rel.Name], docs...)
			return nil
		},
	}
	if err := w.children(ctx, Users, []any{userID}); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	return out, nil
}
