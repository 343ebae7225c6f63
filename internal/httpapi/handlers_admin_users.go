package httpapi

import (
	"context"

	"github.com/lanyard/lanyard/internal/account"
)

type updateUserInput struct {
	UserID string `path:"user_id" doc:"24-character hex id"`
	Body   struct {
		AppMetadata optObject `json:"app_metadata" doc:"Replaces the account's app metadata as a whole (null or {} removes it): any JSON object of at most 16 KiB; the user reads it but cannot change it."`
	}
}

// updateUser is an admin's change of an account (accessAdmin): what only an admin
// sets, its app metadata. A role changes through lanyard admin promote|demote, a
// status through the chain delete, the profile through its user.
func (s *Server) updateUser(ctx context.Context, in *updateUserInput) (*userOutput, error) {
	u, err := s.userNamed(ctx, in.UserID)
	if err != nil {
		return nil, err
	}
	u, err = s.accounts.AdminUpdate(ctx, u, account.AdminPatch{AppMetadata: in.Body.AppMetadata.Object})
	if err != nil {
		return nil, err
	}
	return &userOutput{Body: renderUser(u)}, nil
}
