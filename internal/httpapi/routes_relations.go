package httpapi

import (
	"net/http"

	"github.com/danielgtaylor/huma/v2"
)

// relationRoutes registers the reads that understand expand, the admin user list and
// the registry. (GET /api/users/me and /api/users/{user_id} take expand too; they are
// registered in routes.go.)
func (s *Server) relationRoutes(api huma.API, authed []int) {
	op(s, api, accessAdmin, huma.Operation{OperationID: "list-users", Method: http.MethodGet, Path: "/api/users",
		Summary: "Admin: list accounts by id, filtered by email or linked-ID provider, with expand", Tags: []string{"users"},
		Description: "Pages are ordered by id and never skip or repeat a user, also with provider: next is the id of " +
			"the page's last user, and null on the last page. email and provider together give the user with that " +
			"email if it holds such a linked ID. Users being deleted are listed with status deleting. " +
			"expand costs one query per relation for the whole page.",
		Errors: append([]int{http.StatusForbidden}, authed...)}, s.listUsers)
	op(s, api, accessAdmin, huma.Operation{OperationID: "list-relations", Method: http.MethodGet, Path: "/api/relations",
		Summary: "Admin: the relations in effect (built-ins and the relations file)", Tags: []string{"relations"},
		Errors: append([]int{http.StatusForbidden}, authed...)}, s.listRelations)
}
