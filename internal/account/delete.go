package account

import (
	"context"
	"errors"

	"github.com/lanyard/lanyard"
	"github.com/lanyard/lanyard/internal/relation"
)

// UseDeleter makes d the chain delete that Delete and DeleteSelf run.
func (s *Service) UseDeleter(d *relation.Deleter) { s.deleter = d }

// DeleteSelf chain-deletes u at its own request, which only the account's password
// proves: a stolen access token alone must not erase an account. The check is a login
// attempt to the throttle, as CheckPassword's is; a wrong password is an InvalidError
// on password, and nothing is changed. Then it is Delete.
func (s *Service) DeleteSelf(ctx context.Context, u lanyard.User, pw, addr string) (relation.Report, error) {
	if err := s.checkPassword(ctx, u, pw, addr, "password"); err != nil {
		return relation.Report{}, err
	}
	return s.Delete(ctx, u, u.ID)
}

// Delete chain-deletes u (relation.Deleter.Delete) at the request of by. An admin
// steps down first (StepDown), which the last admin cannot (lanyard.ErrLastAdmin),
// and gets the role back if the delete does not go ahead; one that goes on in the
// background (relation.ErrInProgress) has gone ahead.
func (s *Service) Delete(ctx context.Context, u lanyard.User, by lanyard.ID) (_ relation.Report, err error) {
	restore, err := s.StepDown(ctx, u)
	if err != nil {
		return relation.Report{}, err
	}
	defer func() {
		if err != nil && !errors.Is(err, relation.ErrInProgress) {
			err = errors.Join(err, restore())
		}
	}()
	return s.deleter.Delete(ctx, u.ID, by.Hex())
}
