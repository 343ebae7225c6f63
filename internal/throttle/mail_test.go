package throttle_test

import (
	"context"
	"testing"
	"time"

	"github.com/lanyard/lanyard"
	"github.com/lanyard/lanyard/internal/store"
	"github.com/lanyard/lanyard/internal/throttle"
)

func TestMailRequest_AtMostTwentyPerAddressInAFixedHour(t *testing.T) {
	t.Parallel()
	l, clock := newLimiter(t, limits{login: 1, register: 1})
	for i := range throttle.MailAddressLimit {
		if err := l.MailRequest(context.Background(), addr); err != nil {
			t.Fatalf("MailRequest %d = %v; want let through", i+1, err)
		}
	}
	clock.Advance(50 * time.Minute)
	if wait, ok := retryAfter(l.MailRequest(context.Background(), addr)); !ok || wait != 10*time.Minute {
		t.Fatalf("MailRequest past the limit: retry after %v, %v; want 10m", wait, ok)
	}
	if err := l.MailRequest(context.Background(), "203.0.113.8"); err != nil {
		t.Fatalf("MailRequest from another address = %v; want let through", err)
	}
	clock.Advance(10 * time.Minute)
	if err := l.MailRequest(context.Background(), addr); err != nil {
		t.Fatalf("MailRequest in the next hour = %v; want let through", err)
	}
}

func TestMailTo_AtMostThreeOfAKindPerAccountInAFixedHour(t *testing.T) {
	t.Parallel()
	l, clock := newLimiter(t, limits{login: 1, register: 1})
	ada := throttle.KnownAccount(lanyard.User{ID: store.NewID()})
	unknown := l.UnknownAccount("nobody@example.com")
	for _, acct := range []throttle.Account{ada, unknown} {
		for i := range throttle.MailAccountLimit {
			if err := l.MailTo(context.Background(), "password_reset", acct); err != nil {
				t.Fatalf("MailTo %d = %v; want let through", i+1, err)
			}
		}
		if _, ok := retryAfter(l.MailTo(context.Background(), "password_reset", acct)); !ok {
			t.Fatal("the fourth MailTo in an hour was let through")
		}
	}
	if err := l.MailTo(context.Background(), "verify_email", ada); err != nil {
		t.Fatalf("MailTo of another kind = %v; want let through: each kind has its own count", err)
	}
	clock.Advance(throttle.MailWindow)
	if err := l.MailTo(context.Background(), "password_reset", ada); err != nil {
		t.Fatalf("MailTo in the next hour = %v; want let through", err)
	}
}
