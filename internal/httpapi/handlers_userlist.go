package httpapi

import (
	"context"
	"errors"

	"github.com/lanyard/lanyard"
	"github.com/lanyard/lanyard/internal/account"
)

type listUsersInput struct {
	Limit    int    `query:"limit" minimum:"1" maximum:"100" default:"20" doc:"Page size"`
	After    string `query:"after" maxLength:"64" doc:"The next cursor of the previous page; absent for the first page"`
	Email    string `query:"email" maxLength:"1024" doc:"Only the user with this email (case-insensitive)"`
	Provider string `query:"provider" pattern:"^[A-Za-z][A-Za-z0-9_.-]{1,31}$" patternDescription:"a linked-ID provider name" doc:"Only users holding a linked ID of this provider (case-insensitive)"`
	Expand   string `query:"expand" maxLength:"2048" doc:"Comma-separated relation paths to join for every user of the page, e.g. linked_ids,posts.comments: at most 10 paths of at most 3 levels"`
}

type userList struct {
	Body struct {
		Items []User  `json:"items" nullable:"false"`
		Next  *string `json:"next" nullable:"true" doc:"Pass as after for the next page; null on the last page"`
	}
}

// listUsers is the admin list of accounts, by id ascending. The cursor is the last id
// of the previous page, so pages never skip or repeat a user, whatever is inserted or
// deleted in between.
func (s *Server) listUsers(ctx context.Context, in *listUsersInput) (*userList, error) {
	bad := &lanyard.InvalidError{}
	var after lanyard.ID
	if in.After != "" {
		id, err := lanyard.ParseID(in.After)
		if err != nil {
			bad.Add("query.after", "is not a cursor from a previous page")
		}
		after = id
	}
	nodes, err := s.rels.ParseExpand(in.Expand)
	var inv *lanyard.InvalidError
	switch {
	case errors.As(err, &inv):
		bad.Fields = append(bad.Fields, inv.Fields...)
	case err != nil:
		return nil, err
	}
	if err := bad.Err(); err != nil {
		return nil, err
	}

	users, next, err := s.accounts.List(ctx, account.ListQuery{Limit: in.Limit, After: after, Email: in.Email, Provider: in.Provider})
	if err != nil {
		return nil, err
	}
	out := &userList{}
	if out.Body.Items, err = s.expandUsers(ctx, users, nodes); err != nil {
		return nil, err
	}
	if !next.IsZero() {
		cursor := next.Hex()
		out.Body.Next = &cursor
	}
	return out, nil
}
