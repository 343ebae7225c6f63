package httpapi

import (
	"context"
)

// Relation is one relation of the registry in effect.
type Relation struct {
	Name       string `json:"name" doc:"The name used in expand paths and deletion reports"`
	Collection string `json:"collection"`
	Parent     string `json:"parent" doc:"users, or the name of another relation"`
	Field      string `json:"field" doc:"The child's field that holds the parent's _id"`
	OnDelete   string `json:"on_delete" enum:"cascade,nullify,restrict"`
	IDFormat   string `json:"id_format" enum:"objectid,string"`
	BuiltIn    bool   `json:"built_in" doc:"One of Lanyard's own relations, present in every deployment"`
}

type relationsOutput struct {
	Body struct {
		Relations []Relation `json:"relations" nullable:"false"`
	}
}

// listRelations shows the registry: the built-ins, then the relations file's entries.
func (s *Server) listRelations(ctx context.Context, _ *struct{}) (*relationsOutput, error) {
	all := s.rels.All()
	out := &relationsOutput{}
	out.Body.Relations = make([]Relation, len(all))
	for i, r := range all {
		out.Body.Relations[i] = Relation{
			Name: r.Name, Collection: r.Collection, Parent: r.Parent, Field: r.Field,
			OnDelete: r.OnDelete, IDFormat: r.IDFormat, BuiltIn: r.BuiltIn,
		}
	}
	return out, nil
}
