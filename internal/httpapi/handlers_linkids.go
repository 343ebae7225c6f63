package httpapi

import (
	"context"

	"github.com/lanyard/lanyard"
	"github.com/lanyard/lanyard/internal/linkid"
)

// LinkedID is the public view of a linked ID: the external id in clear, shown only to
// its owner and admins.
type LinkedID struct {
	ID         string `json:"id"`
	Provider   string `json:"provider"`
	ExternalID string `json:"external_id"`
	Label      string `json:"label,omitempty"`
	Verified   bool   `json:"verified" doc:"Proven by signing in through the provider (an identity provider of this service); false for an ID typed in"`
	CreatedAt  string `json:"created_at" format:"date-time"`
}

// renderLinked is the one rendering of a linked ID, from its public view: httpapi
// never holds a link's lookup hash or ciphertext.
func renderLinked(l linkid.Public) LinkedID {
	return LinkedID{ID: l.ID, Provider: l.Provider, ExternalID: l.ExternalID, Label: l.Label, Verified: l.Verified, CreatedAt: formatTime(l.CreatedAt)}
}

type linkBody struct {
	Provider   string `json:"provider,omitempty" doc:"Required. Lower-cased, then 2-32 of [a-z0-9_.-] starting with a letter." maxLength:"1024"`
	ExternalID string `json:"external_id,omitempty" doc:"Required. Trimmed and Unicode-NFC-normalised; 1-256 characters, no control characters." maxLength:"4096"`
	Label      string `json:"label,omitempty" doc:"At most 100 characters." maxLength:"1024"`
}

type linkMeInput struct {
	Body linkBody
}

type linkUserInput struct {
	UserID string `path:"user_id"`
	Body   linkBody
}

type linkedCreated struct {
	Location string `header:"Location"`
	Body     LinkedID
}

type linkedList struct {
	Body struct {
		Items []LinkedID `json:"items" nullable:"false"`
	}
}

type unlinkMeInput struct {
	LinkedID string `path:"linked_id"`
}

type unlinkUserInput struct {
	UserID   string `path:"user_id"`
	LinkedID string `path:"linked_id"`
}

func (s *Server) actor(ctx context.Context) linkid.Actor {
	c := clientOf(ctx)
	return linkid.Actor{UserID: principal(ctx).User.ID.Hex(), IP: c.IP, UserAgent: c.UserAgent}
}

func (s *Server) link(ctx context.Context, u lanyard.User, b linkBody) (*linkedCreated, error) {
	l, err := s.linkIDs.Link(ctx, u, b.Provider, b.ExternalID, b.Label, s.actor(ctx))
	if err != nil {
		return nil, err
	}
	return &linkedCreated{Location: "/api/users/" + u.ID.Hex() + "/linked-ids/" + l.ID, Body: renderLinked(l)}, nil
}

func (s *Server) list(ctx context.Context, u lanyard.User) (*linkedList, error) {
	ls, err := s.linkIDs.List(ctx, u)
	if err != nil {
		return nil, err
	}
	out := &linkedList{}
	out.Body.Items = make([]LinkedID, len(ls))
	for i, l := range ls {
		out.Body.Items[i] = renderLinked(l)
	}
	return out, nil
}

func (s *Server) linkMe(ctx context.Context, in *linkMeInput) (*linkedCreated, error) {
	return s.link(ctx, principal(ctx).User, in.Body)
}

func (s *Server) listMine(ctx context.Context, _ *struct{}) (*linkedList, error) {
	return s.list(ctx, principal(ctx).User)
}

func (s *Server) unlinkMe(ctx context.Context, in *unlinkMeInput) (*struct{}, error) {
	return nil, s.linkIDs.Unlink(ctx, principal(ctx).User, in.LinkedID, s.actor(ctx))
}

// userNamed is the account a {user_id} path parameter names: the caller, or whoever
// it names (404 if no one). guard has already refused callers who may not name it.
func (s *Server) userNamed(ctx context.Context, userID string) (lanyard.User, error) {
	if p := principal(ctx); namesCaller(p, userID) {
		return p.User, nil
	}
	return s.accounts.Get(ctx, userID)
}

func (s *Server) linkUser(ctx context.Context, in *linkUserInput) (*linkedCreated, error) {
	u, err := s.userNamed(ctx, in.UserID)
	if err != nil {
		return nil, err
	}
	return s.link(ctx, u, in.Body)
}

func (s *Server) listUser(ctx context.Context, in *userIDInput) (*linkedList, error) {
	u, err := s.userNamed(ctx, in.UserID)
	if err != nil {
		return nil, err
	}
	return s.list(ctx, u)
}

func (s *Server) unlinkUser(ctx context.Context, in *unlinkUserInput) (*struct{}, error) {
	u, err := s.userNamed(ctx, in.UserID)
	if err != nil {
		return nil, err
	}
	return nil, s.linkIDs.Unlink(ctx, u, in.LinkedID, s.actor(ctx))
}

type resolveInput struct {
	Provider   string `query:"provider" maxLength:"1024" doc:"Required."`
	ExternalID string `query:"external_id" maxLength:"4096" doc:"Required."`
}

type resolveOutput struct {
	Body struct {
		UserID   string `json:"user_id"`
		LinkedID string `json:"linked_id"`
		Verified bool   `json:"verified" doc:"Whether the link was proven through the provider's sign-in"`
	}
}

func (s *Server) resolve(ctx context.Context, in *resolveInput) (*resolveOutput, error) {
	uid, lid, verified, err := s.linkIDs.Resolve(ctx, in.Provider, in.ExternalID)
	if err != nil {
		return nil, err
	}
	out := &resolveOutput{}
	out.Body.UserID, out.Body.LinkedID, out.Body.Verified = uid, lid, verified
	return out, nil
}
