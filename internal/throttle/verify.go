package throttle

import (
	"context"
	"fmt"
	"time"
)

// The limit of mails that carry a link to an address of the account's choosing: a
// verification mail asked for again, an email change's confirmation. Each goes to an
// inbox that may not be the caller's, so an account cannot make Lanyard mail anyone
// more often than this.
const (
	VerifyMailLimit  = 10
	VerifyMailWindow = time.Hour
)

// VerifyMail counts one such mail for the account with this user id, before it is
// sent, and refuses it with a *lanyard.ThrottledError beyond VerifyMailLimit within
// VerifyMailWindow.
func (l *Limiter) VerifyMail(ctx context.Context, userID string) error {
	if l == nil {
		return nil
	}
	key := "verify-mail:acct:" + userID
	now := l.now()
	e, err := l.st.ThrottleAdd(ctx, key, now, VerifyMailWindow)
	if err != nil {
		return fmt.Errorf("throttle: %w", err)
	}
	if e.Failures > VerifyMailLimit {
		return l.refuse(rule{name: "verify_mail", limit: VerifyMailLimit, window: VerifyMailWindow}, e.ExpiresAt.Sub(now))
	}
	return nil
}
