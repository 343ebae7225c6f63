package method_test

import (
	"context"
	"errors"
	"testing"

	"github.com/lanyard/lanyard"
	"github.com/lanyard/lanyard/internal/throttle"
)

// TestProve_FailuresByEmailAndByUsernameCountForTheOneAccount: the throttle counts an
// account's failures whichever login names it, and a login that names no account by
// its normal form, so neither a change of case nor of login dodges the limit.
func TestProve_FailuresByEmailAndByUsernameCountForTheOneAccount(t *testing.T) {
	t.Parallel()
	r := setup(t, 3)
	const addr = "192.0.2.1"
	for _, login := range []string{"ada@example.com", "ADA", "Ada@Example.com"} {
		if _, err := r.m.Prove(context.Background(), login, "wrong", addr); !errors.Is(err, lanyard.ErrBadCredentials) {
			t.Fatalf("Prove(%q, wrong) = %v; want ErrBadCredentials", login, err)
		}
	}
	var te *lanyard.ThrottledError
	if _, err := r.m.Prove(context.Background(), "ada", pw, addr); !errors.As(err, &te) || te.RetryAfter != throttle.FirstBlock {
		t.Fatalf("Prove with the right password after 3 failures by email and username = %v; want throttled for %v", err, throttle.FirstBlock)
	}
	for _, login := range []string{"nobody@example.com", " NoBody@Example.COM", "ｎｏｂｏｄｙ@example.com"} {
		if _, err := r.m.Prove(context.Background(), login, "wrong", addr); !errors.Is(err, lanyard.ErrBadCredentials) {
			t.Fatalf("Prove(%q) = %v; want ErrBadCredentials", login, err)
		}
	}
	if _, err := r.m.Prove(context.Background(), "NOBODY@example.com", "wrong", addr); !errors.As(err, &te) {
		t.Fatalf("a fourth Prove for one unknown email in another spelling = %v; want throttled", err)
	}
}
