package account_test

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lanyard/lanyard"
	"github.com/lanyard/lanyard/internal/account"
	"github.com/lanyard/lanyard/internal/flow"
	"github.com/lanyard/lanyard/internal/mail"
	"github.com/lanyard/lanyard/internal/store"
)

// outbox keeps the mails the account queues, for the test to read their links.
type outbox struct {
	mu    sync.Mutex
	mails []mail.Mail
}

func (o *outbox) Queue(_ context.Context, m mail.Mail) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.mails = append(o.mails, m)
	return nil
}

// last is the token of the newest mail of kind to to.
func (o *outbox) last(t *testing.T, kind mail.Kind, to string) string {
	t.Helper()
	o.mu.Lock()
	defer o.mu.Unlock()
	for i := len(o.mails) - 1; i >= 0; i-- {
		if m := o.mails[i]; m.Kind == kind && m.To == to {
			u, err := url.Parse(m.Data["link"])
			if err != nil {
				t.Fatal(err)
			}
			return u.Query().Get("token")
		}
	}
	t.Fatalf("no %s mail to %s", kind, to)
	return ""
}

func withVerification(t *testing.T) (fixture, *outbox) {
	t.Helper()
	f := newAccounts(t, limits{})
	flows, err := flow.New(f.st, []byte(strings.Repeat("k", 32)), f.clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	ob := &outbox{}
	f.svc.UseVerification(account.Verification{Flows: flows, Mail: ob, URL: "https://app.example/verify?token={token}", TTL: time.Hour})
	return f, ob
}

// TestVerifyEmail_TheLinkDoesWhatItsAddressSays: a registration's link verifies the
// email; an email change's link applies the change; a link whose address the account
// no longer has or waits for, or of an account being deleted, is ErrFlowInvalid.
func TestVerifyEmail_TheLinkDoesWhatItsAddressSays(t *testing.T) {
	t.Parallel()
	f, ob := withVerification(t)
	ctx := context.Background()
	u := f.register(t, "ada@example.com", nil)
	first := ob.last(t, mail.KindVerifyEmail, "ada@example.com")
	if got := ob.mails[0].Data["expires_in"]; got != "1 hour" {
		t.Errorf("expires_in = %q; want 1 hour", got)
	}

	pw := goodPassword
	changed, err := f.svc.Update(ctx, u, account.Patch{Email: account.Field{Set: true, Value: "ada.new@example.com"}, CurrentPassword: &pw})
	if err != nil || changed.Email != "ada@example.com" || changed.PendingEmail != "ada.new@example.com" {
		t.Fatalf("Update(email) = email %q, pending %q, %v; want the email kept and ada.new pending", changed.Email, changed.PendingEmail, err)
	}
	ob.last(t, mail.KindEmailChangeNotice, "ada@example.com")
	change := ob.last(t, mail.KindEmailChange, "ada.new@example.com")
	out, err := f.svc.VerifyEmail(ctx, change)
	if err != nil || out.Email != "ada.new@example.com" || out.PendingEmail != "" || !out.EmailVerified {
		t.Fatalf("VerifyEmail(change) = email %q, pending %q, verified %v, %v; want ada.new, verified, nothing pending", out.Email, out.PendingEmail, out.EmailVerified, err)
	}
	// The registration's link names an address the account no longer has.
	if _, err := f.svc.VerifyEmail(ctx, first); !errors.Is(err, lanyard.ErrFlowInvalid) {
		t.Errorf("VerifyEmail(link of the old address) = %v; want ErrFlowInvalid", err)
	}

	b := f.register(t, "bob@example.com", nil)
	link := ob.last(t, mail.KindVerifyEmail, "bob@example.com")
	deleting := lanyard.StatusDeleting
	if _, err := f.st.UpdateUser(ctx, b.ID, store.UserChange{Status: &deleting}, f.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.VerifyEmail(ctx, link); !errors.Is(err, lanyard.ErrFlowInvalid) {
		t.Errorf("VerifyEmail(link of an account being deleted) = %v; want ErrFlowInvalid", err)
	}
}

// TestVerifyEmail_AnAddressTakenMeanwhileIsAConflictAndDropsTheChange: the pending
// address is not claimed, so a registration may take it; the confirmation then is a
// ConflictError on email and the account keeps its email, nothing pending.
func TestVerifyEmail_AnAddressTakenMeanwhileIsAConflictAndDropsTheChange(t *testing.T) {
	t.Parallel()
	f, ob := withVerification(t)
	ctx := context.Background()
	u := f.register(t, "ada@example.com", nil)
	pw := goodPassword
	if _, err := f.svc.Update(ctx, u, account.Patch{Email: account.Field{Set: true, Value: "wanted@example.com"}, CurrentPassword: &pw}); err != nil {
		t.Fatal(err)
	}
	f.register(t, "wanted@example.com", nil)
	_, err := f.svc.VerifyEmail(ctx, ob.last(t, mail.KindEmailChange, "wanted@example.com"))
	var c *lanyard.ConflictError
	if !errors.As(err, &c) || len(c.Fields) != 1 || c.Fields[0].Location != "email" {
		t.Fatalf("VerifyEmail(taken meanwhile) = %v; want a ConflictError on email", err)
	}
	got, err := f.st.UserByID(ctx, u.ID)
	if err != nil || got.Email != "ada@example.com" || got.PendingEmail != "" {
		t.Errorf("after the conflict: email %q, pending %q, %v; want ada@example.com, nothing pending", got.Email, got.PendingEmail, err)
	}
	// A change to an address held now is refused at once, and nothing is mailed there.
	if _, err := f.svc.Update(ctx, got, account.Patch{Email: account.Field{Set: true, Value: "wanted@example.com"}, CurrentPassword: &pw}); !errors.As(err, &c) {
		t.Errorf("Update(email held by another) = %v; want a ConflictError", err)
	}
}
