package httpapi

import (
	"context"
	"errors"
	"strings"

	"github.com/lanyard/lanyard"
	"github.com/lanyard/lanyard/internal/account"
	"github.com/lanyard/lanyard/internal/store"
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

// userDirectory is the store work behind the admin user list. Deps.Store provides it
// (the *store.Store the application passes as its Pinger).
type userDirectory interface {
	Users(ctx context.Context, q store.UserQuery) ([]store.User, error)
	UsersByIDs(ctx context.Context, ids []store.ID) ([]store.User, error)
	UsersWithProvider(ctx context.Context, provider string, after store.ID, limit int) ([]store.ID, error)
	HoldsProvider(ctx context.Context, userID store.ID, provider string) (bool, error)
}

var errNoDirectory = errors.New("list users: the store given to the server cannot list users")

// listUsers is the admin list of accounts, by id ascending. The cursor is the last id
// of the previous page, so pages never skip or repeat a user, whatever is inserted or
// deleted in between.
func (s *Server) listUsers(ctx context.Context, in *listUsersInput) (*userList, error) {
	if principal(ctx).User.Role != store.RoleAdmin {
		return nil, lanyard.ErrForbidden
	}
	dir, ok := s.store.(userDirectory)
	if !ok {
		return nil, errNoDirectory
	}
	bad := &lanyard.InvalidError{}
	var after store.ID
	if in.After != "" {
		id, err := store.ParseID(in.After)
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

	users, next, err := userPage(ctx, dir, in, after)
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

// userPage reads one page of the list and the cursor of the next (NoID on the last
// page). One more than the page is asked for, to know whether another page follows.
func userPage(ctx context.Context, dir userDirectory, in *listUsersInput, after store.ID) ([]store.User, store.ID, error) {
	limit := in.Limit
	email := account.NormalizeEmail(in.Email)
	provider := strings.ToLower(in.Provider)
	if provider != "" && email == "" {
		// The provider's links name the page's users; they are loaded with one query.
		ids, err := dir.UsersWithProvider(ctx, provider, after, limit+1)
		if err != nil {
			return nil, store.NoID, err
		}
		next := store.NoID
		if len(ids) > limit {
			ids, next = ids[:limit], ids[limit-1]
		}
		users, err := dir.UsersByIDs(ctx, ids)
		return users, next, err
	}
	users, err := dir.Users(ctx, store.UserQuery{After: after, Limit: limit + 1, Email: email})
	if err != nil {
		return nil, store.NoID, err
	}
	next := store.NoID
	if len(users) > limit {
		users, next = users[:limit], users[limit-1].ID
	}
	if provider != "" && len(users) > 0 {
		// An email names at most one user: keep it if it holds the provider.
		holds, err := dir.HoldsProvider(ctx, users[0].ID, provider)
		if err != nil || !holds {
			return nil, store.NoID, err
		}
	}
	return users, next, nil
}
