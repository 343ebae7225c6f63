package method_test

import (
	"context"
	"errors"
	"testing"

	"github.com/lanyard/lanyard"
	"github.com/lanyard/lanyard/internal/store"
)

// TestProve_RequireVerifiedEmailRefusesOnlyTheRightPassword: with the requirement on,
// the right password of an unverified account is ErrEmailNotVerified (no proof), a
// wrong one is still ErrBadCredentials, and a verified account is proved.
func TestProve_RequireVerifiedEmailRefusesOnlyTheRightPassword(t *testing.T) {
	t.Parallel()
	r := setup(t, 100)
	r.m.RequireVerifiedEmail(true)
	ctx := context.Background()
	if _, err := r.m.Prove(ctx, "ada@example.com", pw, "192.0.2.1"); !errors.Is(err, lanyard.ErrEmailNotVerified) {
		t.Errorf("Prove(right password, unverified) = %v; want ErrEmailNotVerified", err)
	}
	if _, err := r.m.Prove(ctx, "ada@example.com", pw+"!", "192.0.2.1"); !errors.Is(err, lanyard.ErrBadCredentials) {
		t.Errorf("Prove(wrong password, unverified) = %v; want ErrBadCredentials", err)
	}
	yes := true
	if _, err := r.st.UpdateUser(ctx, r.ada.ID, store.UserChange{EmailVerified: &yes}, r.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if p, err := r.m.Prove(ctx, "ada", pw, "192.0.2.1"); err != nil || p.User.ID != r.ada.ID {
		t.Errorf("Prove(right password, verified) = %v, %v; want a proof of ada", p.User.ID, err)
	}
}
