// Package reset is the password reset: a mail with a one-time link to the address of
// an account, and the confirmation that sets a new password through the link. The
// link's token is a flow (internal/flow) of kind password_reset: random, kept only as
// a keyed hash, taken once, expiring after LANYARD_RESET_TTL.
//
// A request by email answers the same whether or not the address names an account,
// and does the same work either way: where a known account's request reads its user
// and writes its flow and its mail, an unknown address (or an account over its limit)
// reads a user that does not exist, renders the mail it does not send and writes two
// decoy flows for no one, one of the mail's size. So neither the answer nor its time
// tells who has an account.
package reset

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/lanyard/lanyard"
	"github.com/lanyard/lanyard/internal/account"
	"github.com/lanyard/lanyard/internal/flow"
	"github.com/lanyard/lanyard/internal/mail"
	"github.com/lanyard/lanyard/internal/password"
	"github.com/lanyard/lanyard/internal/store"
	"github.com/lanyard/lanyard/internal/throttle"
)

// FlowKind is the kind of a reset link's flow.
const FlowKind lanyard.FlowKind = "password_reset"

// AMR is how the session a reset starts was proved: the holder of the link read a
// mail sent to the account's address. RFC 8176 names no such method; "email" is
// Lanyard's.
const AMR = "email"

// Payload keys of a reset flow: the address the link was mailed to and the account's
// token version then. A link mailed to an address the account has since left, or
// issued before a later reset, password change or logout everywhere, is refused.
const (
	payloadEmail   = "email"
	payloadVersion = "ver"
)

// Options are what a Service needs.
type Options struct {
	Store    *store.Store
	Accounts *account.Service
	Flows    *flow.Service
	Mail     *mail.Outbox
	Hasher   *password.Hasher
	Limiter  *throttle.Limiter
	// Link is the link of a reset mail, {token} standing for the token
	// (LANYARD_RESET_URL).
	Link string
	TTL  time.Duration    // LANYARD_RESET_TTL
	Now  func() time.Time // nil: time.Now
}

// Service requests and confirms password resets.
type Service struct {
	o Options
}

// New returns a Service.
func New(o Options) *Service {
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Service{o: o}
}

// Request mails a reset link to the account with this email, if there is one and it
// is active and under its limit of MailAccountLimit reset mails an hour; it answers
// nil either way. Only a client address over its own limit (a *lanyard.ThrottledError)
// or a failing store is an error.
func (s *Service) Request(ctx context.Context, email, clientAddr string) error {
	if err := s.o.Limiter.MailRequest(ctx, clientAddr); err != nil {
		return err
	}
	email = account.NormalizeEmail(email)
	u, err := s.o.Store.UserByEmail(ctx, email)
	switch {
	case errors.Is(err, lanyard.ErrNotFound):
	case err != nil:
		return fmt.Errorf("password reset: %w", err)
	}
	found := err == nil
	known := found && u.IsActive()
	acct := throttle.KnownAccount(u)
	if !known {
		acct = s.o.Limiter.UnknownAccount(email)
	}
	err = s.o.Limiter.MailTo(ctx, string(FlowKind), acct)
	var over *lanyard.ThrottledError
	switch {
	case errors.As(err, &over):
		known = false // answered as if sent
	case err != nil:
		return fmt.Errorf("password reset: %w", err)
	}
	if !known {
		return s.decoy(ctx, found)
	}
	return s.send(ctx, u)
}

// RequestFor mails a reset link to u (an admin's request): an account over its limit
// is a *lanyard.ThrottledError, one being deleted lanyard.ErrNotFound.
func (s *Service) RequestFor(ctx context.Context, u lanyard.User) error {
	if !u.IsActive() {
		return fmt.Errorf("password reset: %w", lanyard.ErrNotFound)
	}
	if err := s.o.Limiter.MailTo(ctx, string(FlowKind), throttle.KnownAccount(u)); err != nil {
		return err
	}
	return s.send(ctx, u)
}

// send starts u's reset flow and queues its mail, durably, before returning.
func (s *Service) send(ctx context.Context, u lanyard.User) error {
	tok, err := s.o.Flows.Start(ctx, FlowKind, u.ID, map[string]string{
		payloadEmail: u.Email, payloadVersion: strconv.FormatInt(u.TokenVersion, 10),
	}, s.o.TTL)
	if err != nil {
		return fmt.Errorf("password reset: %w", err)
	}
	err = s.o.Mail.Queue(ctx, mail.Mail{Kind: mail.KindPasswordReset, To: u.Email, Data: map[string]string{
		"link": strings.Replace(s.o.Link, "{token}", string(tok), 1), "expires_in": mail.Duration(s.o.TTL),
	}})
	if err != nil {
		return fmt.Errorf("password reset: %w", err)
	}
	return nil
}

// decoy does the work of send for an address that gets no mail: it renders the mail
// it does not send, reads a user by id unless the lookup read one already (as the
// lookup of a known address reads its user), and writes two documents, one the size of the mail, as send writes a flow and
// the mail. They are flows for no one, which no confirmation accepts and the flow
// sweep removes once they expire; the address limit bounds how many a client makes.
func (s *Service) decoy(ctx context.Context, userRead bool) error {
	size, err := s.o.Mail.Render(mail.Mail{Kind: mail.KindPasswordReset, To: "nobody@invalid", Data: map[string]string{
		"link": strings.Replace(s.o.Link, "{token}", strings.Repeat("x", 43), 1), "expires_in": mail.Duration(s.o.TTL),
	}})
	if err != nil {
		return fmt.Errorf("password reset: %w", err)
	}
	if !userRead {
		if _, err := s.o.Store.UserByID(ctx, store.NewID()); err != nil && !errors.Is(err, lanyard.ErrNotFound) {
			return fmt.Errorf("password reset: %w", err)
		}
	}
	for _, p := range []map[string]string{
		{payloadEmail: "", payloadVersion: "0"},
		{"size": strings.Repeat("x", min(size, flow.MaxPayload-8))},
	} {
		if _, err := s.o.Flows.Start(ctx, FlowKind, lanyard.ID{}, p, s.o.TTL); err != nil {
			return fmt.Errorf("password reset: %w", err)
		}
	}
	return nil
}

// Confirm sets newPassword on the account of the reset link whose token this is,
// ends every session and access token of the account, counts its email as verified
// (the link was mailed to it), and answers the proof the link gave (AMR): the caller
// decides what comes of it — a session, or the account's second factor first, since
// a mailbox alone must not get past it. A token that
// is unknown, spent or expired, or whose account changed its address, its password or
// its sessions since the link was mailed, is lanyard.ErrFlowInvalid; a password the
// policy refuses is a *lanyard.InvalidError on new_password and leaves the link as
// it was. Of concurrent confirmations of one link one succeeds.
func (s *Service) Confirm(ctx context.Context, token, newPassword string) (lanyard.Proof, error) {
	f, err := s.o.Flows.Peek(ctx, FlowKind, token)
	if err != nil {
		return lanyard.Proof{}, fmt.Errorf("confirm password reset: %w", err)
	}
	u, err := s.holder(ctx, f)
	if err != nil {
		return lanyard.Proof{}, fmt.Errorf("confirm password reset: %w", err)
	}
	if msg := s.o.Accounts.CheckNewPassword(newPassword, u); msg != "" {
		bad := &lanyard.InvalidError{}
		bad.Add("new_password", msg)
		return lanyard.Proof{}, bad
	}
	hash, err := s.o.Hasher.Hash(ctx, newPassword)
	if err != nil {
		return lanyard.Proof{}, fmt.Errorf("confirm password reset: %w", err)
	}
	// Everything is checked; the take is what only one confirmation can do.
	if _, err := s.o.Flows.Take(ctx, FlowKind, token); err != nil {
		return lanyard.Proof{}, fmt.Errorf("confirm password reset: %w", err)
	}
	// The version bump kills every session and access token from before it.
	// The link reached the account's address: it is verified.
	verified := true
	u, err = s.o.Store.UpdateUser(ctx, u.ID, store.UserChange{PasswordHash: &hash, EmailVerified: &verified, ForgetSessions: true, BumpVersion: true}, s.o.Now())
	if err != nil {
		return lanyard.Proof{}, fmt.Errorf("confirm password reset: %w", err)
	}
	// They are dead already; deleting them first only reclaims their space before the
	// new session is listed.
	if err := s.o.Store.DeleteUserSessions(ctx, u.ID, lanyard.ID{}); err != nil {
		return lanyard.Proof{}, fmt.Errorf("confirm password reset: %w", err)
	}
	return lanyard.Proof{User: u, AMR: []string{AMR}}, nil
}

// holder is the account a reset flow may still reset: active, at the address and the
// token version the link was mailed with.
func (s *Service) holder(ctx context.Context, f lanyard.Flow) (lanyard.User, error) {
	if f.UserID.IsZero() {
		return lanyard.User{}, lanyard.ErrFlowInvalid
	}
	u, err := s.o.Store.UserByID(ctx, f.UserID)
	if errors.Is(err, lanyard.ErrNotFound) {
		return lanyard.User{}, lanyard.ErrFlowInvalid
	}
	if err != nil {
		return lanyard.User{}, err
	}
	if !u.IsActive() || u.Email != f.Payload[payloadEmail] || strconv.FormatInt(u.TokenVersion, 10) != f.Payload[payloadVersion] {
		return lanyard.User{}, lanyard.ErrFlowInvalid
	}
	return u, nil
}
