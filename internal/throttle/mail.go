package throttle

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// The mail limits: requests that may send a mail, per client address, and mails of
// one kind to one account.
const (
	MailAddressLimit = 20
	MailAccountLimit = 3
	MailWindow       = time.Hour
)

// MailRequest counts one request from the client address addr that may send a mail
// (a password reset's), and refuses it with a *lanyard.ThrottledError when the address
// is over MailAddressLimit in MailWindow.
func (l *Limiter) MailRequest(ctx context.Context, addr string) error {
	if l == nil {
		return nil
	}
	key := addressKey("mail:ip:", addr)
	if key == "" {
		return nil
	}
	now := l.now()
	e, err := l.st.ThrottleAdd(ctx, key, now, l.mailAddress.window)
	if err != nil {
		return fmt.Errorf("throttle: %w", err)
	}
	if e.Failures > l.mailAddress.limit {
		return l.refuse(l.mailAddress, e.ExpiresAt.Sub(now))
	}
	return nil
}

// MailTo counts one mail of kind to an account — KnownAccount's, or UnknownAccount's
// for an address that names none, which costs the same store work — and refuses it
// with a *lanyard.ThrottledError beyond MailAccountLimit in MailWindow. A caller that
// must not reveal the account answers such a refusal as if the mail had gone.
func (l *Limiter) MailTo(ctx context.Context, kind string, acct Account) error {
	if l == nil {
		return nil
	}
	now := l.now()
	key := "mail:" + kind + ":" + strings.TrimPrefix(acct.key, "login:")
	e, err := l.st.ThrottleAdd(ctx, key, now, l.mailAccount.window)
	if err != nil {
		return fmt.Errorf("throttle: %w", err)
	}
	if e.Failures > l.mailAccount.limit {
		return l.refuse(l.mailAccount, e.ExpiresAt.Sub(now))
	}
	return nil
}
