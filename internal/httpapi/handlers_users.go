package httpapi

import (
	"bytes"
	"context"
	"encoding/json"

	"github.com/danielgtaylor/huma/v2"

	"github.com/lanyard/lanyard"
	"github.com/lanyard/lanyard/internal/account"
	"github.com/lanyard/lanyard/internal/relation"
)

type userOutput struct {
	Body User
}

type getMeInput struct {
	Expand string `query:"expand" maxLength:"2048" doc:"Comma-separated relation paths to join, e.g. linked_ids,posts.comments (GET /api/relations lists them): at most 10 paths of at most 3 levels"`
}

func (s *Server) getMe(ctx context.Context, in *getMeInput) (*userOutput, error) {
	nodes, err := s.rels.ParseExpand(in.Expand)
	if err != nil {
		return nil, err
	}
	return s.renderExpanded(ctx, principal(ctx).User, nodes)
}

// renderExpanded renders u with the relations nodes name; without any it costs no
// store work.
func (s *Server) renderExpanded(ctx context.Context, u lanyard.User, nodes []*relation.Node) (*userOutput, error) {
	users, err := s.expandUsers(ctx, []lanyard.User{u}, nodes)
	if err != nil {
		return nil, err
	}
	return &userOutput{Body: users[0]}, nil
}

// optString is a PATCH field: absent, a string, or null (remove the field).
type optString struct {
	account.Field
}

// UnmarshalJSON records that the field was present, and whether it was null.
func (o *optString) UnmarshalJSON(b []byte) error {
	o.Set = true
	if string(b) == "null" {
		o.Null = true
		return nil
	}
	return json.Unmarshal(b, &o.Value)
}

// Schema tells Huma (and the OpenAPI document) that the field is a string or null.
func (optString) Schema(huma.Registry) *huma.Schema {
	return &huma.Schema{Type: huma.TypeString, Nullable: true, MaxLength: ptr(1024)}
}

func ptr[T any](v T) *T { return &v }

// optObject is a PATCH field holding a JSON object: absent, an object (which replaces
// the whole field), or null (remove it). Numbers are kept as json.Number, as the
// domain holds them.
type optObject struct {
	account.Object
}

// UnmarshalJSON records that the field was present, and whether it was null.
func (o *optObject) UnmarshalJSON(b []byte) error {
	o.Set = true
	if string(b) == "null" {
		o.Null = true
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	return dec.Decode(&o.Value)
}

// Schema tells Huma (and the OpenAPI document) that the field is an object or null.
func (optObject) Schema(huma.Registry) *huma.Schema {
	return &huma.Schema{Type: huma.TypeObject, Nullable: true, AdditionalProperties: true}
}

type updateMeInput struct {
	Body struct {
		Username        optString `json:"username,omitempty" doc:"null removes it."`
		FirstName       optString `json:"first_name,omitempty" doc:"null removes it."`
		LastName        optString `json:"last_name,omitempty" doc:"null removes it."`
		Contact         optString `json:"contact,omitempty" doc:"null removes it."`
		Birthday        optString `json:"birthday,omitempty" doc:"null removes it."`
		Email           optString `json:"email,omitempty" doc:"Requires current_password. Not applied at once: it becomes pending_email, a link that confirms it is mailed to it (POST /api/auth/verify-email applies it) and a notice to the current address. The current address again drops a pending change."`
		Profile         optObject `json:"profile,omitempty" doc:"Replaces the custom profile as a whole (null or {} removes it): at most 16 KiB as JSON, checked against LANYARD_PROFILE_SCHEMA when one is configured, one error per wrong field. app_metadata is not accepted here: only an admin sets it, through PATCH /api/users/{user_id}."`
		CurrentPassword *string   `json:"current_password,omitempty" doc:"Required to change the email." maxLength:"1024"`
	}
}

func (s *Server) updateMe(ctx context.Context, in *updateMeInput) (*userOutput, error) {
	b := in.Body
	u, err := s.accounts.Update(ctx, principal(ctx).User, account.Patch{
		Username: b.Username.Field, FirstName: b.FirstName.Field, LastName: b.LastName.Field,
		Contact: b.Contact.Field, Birthday: b.Birthday.Field, Email: b.Email.Field, Profile: b.Profile.Object,
		CurrentPassword: b.CurrentPassword, ClientAddr: clientOf(ctx).IP,
	})
	if err != nil {
		return nil, err
	}
	return &userOutput{Body: renderUser(u)}, nil
}

type changePasswordInput struct {
	Body struct {
		CurrentPassword string `json:"current_password" maxLength:"1024"`
		NewPassword     string `json:"new_password" maxLength:"1024" doc:"8-128 characters and hard to guess, as at registration."`
	}
}

func (s *Server) changePassword(ctx context.Context, in *changePasswordInput) (*tokenOutput, error) {
	pair, err := s.sessions.ChangePassword(ctx, principal(ctx), in.Body.CurrentPassword, in.Body.NewPassword, clientOf(ctx))
	if err != nil {
		return nil, err
	}
	return renderPair(pair), nil
}

type userIDInput struct {
	UserID string `path:"user_id" doc:"24-character hex id"`
}

type getUserInput struct {
	UserID string `path:"user_id" doc:"24-character hex id"`
	Expand string `query:"expand" maxLength:"2048" doc:"Comma-separated relation paths to join, e.g. linked_ids,posts.comments (GET /api/relations lists them): at most 10 paths of at most 3 levels"`
}

// getUser is yourself, or for admins anyone (accessSelfOrAdmin). A bad expand is
// reported before the account is looked up.
func (s *Server) getUser(ctx context.Context, in *getUserInput) (*userOutput, error) {
	nodes, err := s.rels.ParseExpand(in.Expand)
	if err != nil {
		return nil, err
	}
	u, err := s.userNamed(ctx, in.UserID)
	if err != nil {
		return nil, err
	}
	return s.renderExpanded(ctx, u, nodes)
}
