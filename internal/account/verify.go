package account

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/lanyard/lanyard"
	"github.com/lanyard/lanyard/internal/flow"
	"github.com/lanyard/lanyard/internal/mail"
	"github.com/lanyard/lanyard/internal/store"
)

// FlowVerifyEmail is the kind of the flows behind the links that prove an address:
// a verification link, and an email change's confirmation. Its payload names the
// address the link was mailed to (payloadEmail), which decides what taking it does.
const FlowVerifyEmail lanyard.FlowKind = "verify_email"

const payloadEmail = "email"

// Mailer records a mail for delivery before it returns (mail.Outbox).
type Mailer interface {
	Queue(ctx context.Context, m mail.Mail) error
}

// Verification is what mailing links that prove an address needs.
type Verification struct {
	Flows *flow.Service
	Mail  Mailer
	// URL is the link a mail carries, {token} standing for the token
	// (LANYARD_VERIFY_URL).
	URL string
	TTL time.Duration // how long a link works (LANYARD_VERIFY_TTL)
	// Logger records a registration whose verification mail could not be queued;
	// the registration stands.
	Logger *slog.Logger
}

// UseVerification makes registration mail a verification link, an email change wait
// for the link mailed to the new address, and RequestVerification and VerifyEmail
// work. Without it an email change applies at once, as before there was mail.
func (s *Service) UseVerification(v Verification) {
	if v.Logger == nil {
		v.Logger = slog.New(slog.DiscardHandler)
	}
	s.verify = &v
}

// RequestVerification mails u a new link that verifies its email. An email verified
// already is lanyard.ErrEmailAlreadyVerified; beyond the account's limit of such mails
// it is a *lanyard.ThrottledError. Earlier links keep working until they expire.
func (s *Service) RequestVerification(ctx context.Context, u lanyard.User) error {
	if s.verify == nil {
		return errors.New("request verification: no mail configured")
	}
	if u.EmailVerified {
		return fmt.Errorf("request verification: %w", lanyard.ErrEmailAlreadyVerified)
	}
	if err := s.limiter.VerifyMail(ctx, u.ID.Hex()); err != nil {
		return fmt.Errorf("request verification: %w", err)
	}
	if err := s.mailLink(ctx, u.ID, u.Email, mail.KindVerifyEmail, nil); err != nil {
		return fmt.Errorf("request verification: %w", err)
	}
	return nil
}

// VerifyEmail takes the link's token and does what it was mailed for: the user's
// email is verified, or, for the pending email the link was mailed to, that email
// becomes the user's (verified). A token that is unknown, spent or expired, of an
// account gone or being deleted, or of an address the account no longer has or
// waits for (a later change replaced it) is lanyard.ErrFlowInvalid. An email change
// whose address another account took meanwhile is a *lanyard.ConflictError on email;
// the token is spent and the pending change dropped.
func (s *Service) VerifyEmail(ctx context.Context, token string) (lanyard.User, error) {
	if s.verify == nil {
		return lanyard.User{}, fmt.Errorf("verify email: %w", lanyard.ErrFlowInvalid)
	}
	f, err := s.verify.Flows.Take(ctx, FlowVerifyEmail, token)
	if err != nil {
		return lanyard.User{}, fmt.Errorf("verify email: %w", err)
	}
	u, err := s.st.UserByID(ctx, f.UserID)
	if errors.Is(err, lanyard.ErrNotFound) || (err == nil && !u.IsActive()) {
		return lanyard.User{}, fmt.Errorf("verify email: %w", lanyard.ErrFlowInvalid)
	}
	if err != nil {
		return lanyard.User{}, fmt.Errorf("verify email: %w", err)
	}
	email, yes, none := f.Payload[payloadEmail], true, ""
	switch {
	case email == "":
	case email == u.Email:
		if u.EmailVerified {
			return u, nil
		}
		out, err := s.st.UpdateUser(ctx, u.ID, store.UserChange{EmailVerified: &yes}, s.now())
		if err != nil {
			return lanyard.User{}, fmt.Errorf("verify email: %w", err)
		}
		return out, nil
	case email == u.PendingEmail:
		out, err := s.st.UpdateUser(ctx, u.ID, store.UserChange{Email: &email, PendingEmail: &none, EmailVerified: &yes}, s.now())
		if errors.Is(err, store.ErrDuplicate) {
			// Taken meanwhile: the change cannot happen, and waiting for it would
			// only show an address the account will never get.
			if _, err := s.st.UpdateUser(ctx, u.ID, store.UserChange{PendingEmail: &none}, s.now()); err != nil {
				s.verify.Logger.ErrorContext(ctx, "the pending email taken meanwhile was not dropped", "user", u, "err", err)
			}
		}
		if err != nil {
			return lanyard.User{}, fmt.Errorf("verify email: %w", conflict(err))
		}
		return out, nil
	}
	return lanyard.User{}, fmt.Errorf("verify email: %w", lanyard.ErrFlowInvalid)
}

// mailVerification mails a new account its first verification link. It is part of
// the registration only as a courtesy: a failure is logged, never the
// registration's, and the user can ask for another link.
func (s *Service) mailVerification(ctx context.Context, u lanyard.User) {
	if s.verify == nil {
		return
	}
	if err := s.mailLink(ctx, u.ID, u.Email, mail.KindVerifyEmail, nil); err != nil {
		s.verify.Logger.ErrorContext(ctx, "the verification mail of a new account was not queued", "user", u, "err", err)
	}
}

// mailChange mails the confirmation link of an email change to the new address and
// a notice to the old one, which may not have asked for it.
func (s *Service) mailChange(ctx context.Context, u lanyard.User, newEmail string) error {
	if err := s.mailLink(ctx, u.ID, newEmail, mail.KindEmailChange, map[string]string{"new_email": newEmail}); err != nil {
		return fmt.Errorf("email change: %w", err)
	}
	notice := mail.Mail{Kind: mail.KindEmailChangeNotice, To: u.Email, Data: map[string]string{"new_email": newEmail}}
	if err := s.verify.Mail.Queue(ctx, notice); err != nil {
		return fmt.Errorf("email change: %w", err)
	}
	return nil
}

// mailLink starts a flow proving address to for user id and queues the mail of kind
// that carries its link.
func (s *Service) mailLink(ctx context.Context, id lanyard.ID, to string, kind mail.Kind, data map[string]string) error {
	tok, err := s.verify.Flows.Start(ctx, FlowVerifyEmail, id, map[string]string{payloadEmail: to}, s.verify.TTL)
	if err != nil {
		return err
	}
	d := map[string]string{
		// A token is base64url: it needs no escaping in a query or a path.
		"link":       strings.Replace(s.verify.URL, "{token}", string(tok), 1),
		"expires_in": mail.Duration(s.verify.TTL),
	}
	for k, v := range data {
		d[k] = v
	}
	return s.verify.Mail.Queue(ctx, mail.Mail{Kind: kind, To: to, Data: d})
}

// emailFree reports, as a *store.DuplicateError on email, whether another account
// holds email now. It claims nothing: the confirmation's change of email does.
func (s *Service) emailFree(ctx context.Context, id lanyard.ID, email string) error {
	holder, err := s.st.UserByEmail(ctx, email)
	switch {
	case errors.Is(err, lanyard.ErrNotFound):
		return nil
	case err != nil:
		return err
	case holder.ID != id:
		return &store.DuplicateError{Keys: []string{"email"}}
	}
	return nil
}
