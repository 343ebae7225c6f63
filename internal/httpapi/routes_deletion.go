package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"

	"github.com/danielgtaylor/huma/v2"

	"github.com/lanyard/lanyard/internal/relation"
	"github.com/lanyard/lanyard/internal/store"
)

// deletionRoutes registers chain delete, its dry-run plan and the data export.
func (s *Server) deletionRoutes(api huma.API, authed []int) {
	op(s, api, accessAuthenticated, huma.Operation{OperationID: "delete-me", Method: http.MethodDelete, Path: "/api/users/me",
		Summary: "Delete the caller's account and everything hanging off it",
		Description: "Requires the password. 200 with the counts once done; 202 when the work outlives the request " +
			"deadline (it finishes in the background); 409 with blockers while a restrict relation holds documents " +
			"(nothing is changed).",
		Tags: []string{"deletion"}, Responses: deletionResponses(api),
		Errors: append([]int{http.StatusConflict, http.StatusTooManyRequests}, authed...)}, s.deleteMe)
	op(s, api, accessAdmin, huma.Operation{OperationID: "delete-user", Method: http.MethodDelete, Path: "/api/users/{user_id}",
		Summary: "Admin: delete an account and everything hanging off it", Tags: []string{"deletion"},
		Description: "200 with the counts once done; 202 when the work outlives the request deadline (it finishes in " +
			"the background, and a later DELETE answers 404); 409 with blockers while a restrict relation holds " +
			"documents, or for the last admin (nothing is changed).",
		Responses: deletionResponses(api),
		Errors:    append([]int{http.StatusForbidden, http.StatusNotFound, http.StatusConflict}, authed...)}, s.deleteUser)
	op(s, api, accessSelfOrAdmin, huma.Operation{OperationID: "deletion-plan", Method: http.MethodGet, Path: "/api/users/{user_id}/deletion-plan",
		Summary: "Dry run: what deleting the account would remove and detach now, and what blocks it (yourself — or me — or, for admins, anyone)",
		Tags:    []string{"deletion"}, Errors: append([]int{http.StatusForbidden, http.StatusNotFound}, authed...)}, s.deletionPlan)
	op(s, api, accessAuthenticated, huma.Operation{OperationID: "export-me", Method: http.MethodGet, Path: "/api/users/me/export",
		Summary: "Every document reachable from the caller through the relations, as one JSON document",
		Description: "Linked IDs are decrypted; password hashes, refresh-token hashes and keys are never included. " +
			"Declared collections appear as relaxed Extended JSON.",
		Tags: []string{"deletion"}, Errors: authed}, s.exportMe)
}

// Export is a user's data, for portability.
type Export struct {
	ExportedAt string                       `json:"exported_at" format:"date-time"`
	User       User                         `json:"user"`
	Relations  map[string][]json.RawMessage `json:"relations"`
}

type exportOutput struct {
	ContentDisposition string `header:"Content-Disposition"`
	CacheControl       string `header:"Cache-Control"`
	Body               Export
}

func (s *Server) exportMe(ctx context.Context, _ *struct{}) (*exportOutput, error) {
	p := principal(ctx)
	docs, err := s.deleter.Export(ctx, p.User.ID)
	if err != nil {
		return nil, err
	}
	r := newExpandRenderer(s, p.SessionID)
	out := Export{ExportedAt: formatTime(s.now()), User: renderUser(p.User), Relations: make(map[string][]json.RawMessage, len(docs))}
	for name, vals := range docs {
		items := make([]json.RawMessage, 0, len(vals))
		for _, v := range vals {
			var b []byte
			if doc, ok := v.(store.Document); ok {
				b, err = doc.MarshalJSON()
			} else if v, err = r.public(v); err == nil {
				b, err = json.Marshal(v)
			}
			if err != nil {
				return nil, fmt.Errorf("export %s: %w", name, err)
			}
			items = append(items, b)
		}
		out.Relations[name] = items
	}
	return &exportOutput{
		ContentDisposition: `attachment; filename="lanyard-export-` + p.User.ID.Hex() + `.json"`,
		CacheControl:       "no-store",
		Body:               out,
	}, nil
}

// DeletionReport is what a chain delete removed and detached.
type DeletionReport struct {
	UserID    string           `json:"user_id"`
	Deleted   map[string]int64 `json:"deleted" doc:"Documents removed, per relation, users included"`
	Nullified map[string]int64 `json:"nullified" doc:"Documents detached (field removed), per relation"`
	Total     int64            `json:"total"`
}

// BlockerOut names a restrict relation that holds documents.
type BlockerOut struct {
	Relation string `json:"relation"`
	Count    int64  `json:"count"`
}

// DeletionPlan is a dry run of a chain delete.
type DeletionPlan struct {
	DeletionReport
	Blockers []BlockerOut `json:"blockers" doc:"Empty when the delete may go ahead"`
}

func renderReport(r relation.Report) DeletionReport {
	return DeletionReport{UserID: r.UserID, Deleted: r.Deleted, Nullified: r.Nullified, Total: r.Total}
}

func renderBlockers(bs []relation.Blocker) []BlockerOut {
	out := make([]BlockerOut, len(bs))
	for i, b := range bs {
		out[i] = BlockerOut{Relation: b.Relation, Count: b.Count}
	}
	return out
}

type deleteMeInput struct {
	Body struct {
		Password string `json:"password" maxLength:"1024"`
	}
}

// DeletionAccepted is the answer to a chain delete that outlives its request.
type DeletionAccepted struct {
	Status string `json:"status" enum:"in_progress" doc:"The delete goes on in the background; a later DELETE answers 404 once it is done"`
}

// deletionOutput is 200 with the report or 202 with {"status":"in_progress"}.
type deletionOutput struct {
	Status int
	Body   any
}

// deletionResponses documents deletionOutput's two bodies, which its Body of type
// any cannot tell Huma.
func deletionResponses(api huma.API) map[string]*huma.Response {
	reg := api.OpenAPI().Components.Schemas
	return map[string]*huma.Response{
		"200": {Description: "Deleted: what was removed and detached", Content: map[string]*huma.MediaType{
			"application/json": {Schema: reg.Schema(reflect.TypeFor[DeletionReport](), true, "DeletionReport")}}},
		"202": {Description: "Accepted: the delete outlived the request deadline and finishes in the background", Content: map[string]*huma.MediaType{
			"application/json": {Schema: reg.Schema(reflect.TypeFor[DeletionAccepted](), true, "DeletionAccepted")}}},
	}
}

func (s *Server) deleteMe(ctx context.Context, in *deleteMeInput) (*deletionOutput, error) {
	return renderDeletion(s.accounts.DeleteSelf(ctx, principal(ctx).User, in.Body.Password, clientOf(ctx).IP))
}

func (s *Server) deleteUser(ctx context.Context, in *userIDInput) (*deletionOutput, error) {
	u, err := s.userNamed(ctx, in.UserID)
	if err != nil {
		return nil, err
	}
	return renderDeletion(s.accounts.Delete(ctx, u, principal(ctx).User.ID))
}

// renderDeletion answers a chain delete: 200 with its report, or 202 while it goes on
// in the background.
func renderDeletion(r relation.Report, err error) (*deletionOutput, error) {
	if errors.Is(err, relation.ErrInProgress) {
		return &deletionOutput{Status: http.StatusAccepted, Body: DeletionAccepted{Status: "in_progress"}}, nil
	}
	if err != nil {
		return nil, err
	}
	return &deletionOutput{Status: http.StatusOK, Body: renderReport(r)}, nil
}

type planOutput struct {
	Body DeletionPlan
}

func (s *Server) deletionPlan(ctx context.Context, in *userIDInput) (*planOutput, error) {
	target, err := s.userNamed(ctx, in.UserID)
	if err != nil {
		return nil, err
	}
	plan, err := s.deleter.PlanFor(ctx, target.ID)
	if err != nil {
		return nil, err
	}
	return &planOutput{Body: DeletionPlan{DeletionReport: renderReport(plan.Report), Blockers: renderBlockers(plan.Blockers)}}, nil
}
