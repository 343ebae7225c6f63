package httpapi

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/lanyard/lanyard"
)

// resetRoutes are the password reset's operations: a reset link by mail, for an
// address (public) or an account (admin), and its confirmation.
func (s *Server) resetRoutes(api huma.API, public, authed []int) {
	op(s, api, accessPublic, huma.Operation{OperationID: "request-password-reset", Method: http.MethodPost, Path: "/api/auth/password-reset",
		Summary:       "Mail a password reset link to the account with this email, if there is one",
		Description:   "Answers 202 with the same body whether or not the email names an account, in about the same time. A known, active account gets a mail with a link (LANYARD_RESET_URL, the token in it) that works once, for LANYARD_RESET_TTL; at most 3 such mails an hour per account (beyond, still 202, no mail). Too many requests from one client address: 429.",
		DefaultStatus: http.StatusAccepted, Tags: []string{"auth"},
		Errors: append([]int{http.StatusTooManyRequests}, public...)}, s.requestPasswordReset)
	op(s, api, accessPublic, huma.Operation{OperationID: "confirm-password-reset", Method: http.MethodPost, Path: "/api/auth/password-reset/confirm",
		Summary:     "Set a new password with a reset link's token; ends every other session",
		Description: "Spends the token, sets the password, ends every session and access token of the account, marks its email verified, and answers a new session (amr [\"email\"]) — or, for an account with a second factor, mfa_required with an mfa_token for POST /api/auth/mfa, as a login does. A token that is unknown, spent, expired, or mailed before the account's address, password or sessions changed: 400 /problems/token-invalid. A password the policy refuses: 422, and the token still works.",
		Tags:        []string{"auth"}, Responses: loginResponses(api),
		Errors: public}, s.confirmPasswordReset)
	op(s, api, accessAdmin, huma.Operation{OperationID: "reset-user-password", Method: http.MethodPost, Path: "/api/users/{user_id}/password-reset",
		Summary:       "Admin: mail a password reset link to an account",
		DefaultStatus: http.StatusAccepted, Tags: []string{"users"},
		Errors: append([]int{http.StatusForbidden, http.StatusNotFound, http.StatusTooManyRequests}, authed...)}, s.resetUserPassword)
}

// MailAccepted says that a mail was accepted for delivery (or, for a reset request,
// would have been: the answer is the same).
type MailAccepted struct {
	Status string `json:"status" enum:"accepted" doc:"Always accepted."`
}

type mailAcceptedOutput struct {
	Body MailAccepted
}

func accepted() *mailAcceptedOutput {
	return &mailAcceptedOutput{Body: MailAccepted{Status: "accepted"}}
}

type passwordResetInput struct {
	Body struct {
		Email string `json:"email,omitempty" doc:"Required. The account's email, compared as registration normalises it." maxLength:"1024"`
	}
}

func (s *Server) requestPasswordReset(ctx context.Context, in *passwordResetInput) (*mailAcceptedOutput, error) {
	if in.Body.Email == "" {
		bad := &lanyard.InvalidError{}
		bad.Add("email", "is required")
		return nil, bad
	}
	if err := s.resets.Request(ctx, in.Body.Email, clientOf(ctx).IP); err != nil {
		return nil, err
	}
	return accepted(), nil
}

type confirmResetInput struct {
	Body struct {
		Token       string `json:"token,omitempty" doc:"Required. The token of the reset link." maxLength:"1024"`
		NewPassword string `json:"new_password,omitempty" doc:"Required. As at registration: 8-128 characters and hard to guess." maxLength:"1024"`
	}
}

func (s *Server) confirmPasswordReset(ctx context.Context, in *confirmResetInput) (*loginOutput, error) {
	bad := &lanyard.InvalidError{}
	if in.Body.Token == "" {
		bad.Add("token", "is required")
	}
	if in.Body.NewPassword == "" {
		bad.Add("new_password", "is required")
	}
	if err := bad.Err(); err != nil {
		return nil, err
	}
	proof, err := s.resets.Confirm(ctx, in.Body.Token, in.Body.NewPassword)
	if err != nil {
		return nil, err
	}
	// The link proves the mailbox, not the second factor: an account with one
	// finishes as a login does, through POST /api/auth/mfa.
	return s.loginAnswer(ctx, proof, clientOf(ctx))
}

func (s *Server) resetUserPassword(ctx context.Context, in *userIDInput) (*mailAcceptedOutput, error) {
	u, err := s.userNamed(ctx, in.UserID)
	if err != nil {
		return nil, err
	}
	if err := s.resets.RequestFor(ctx, u); err != nil {
		return nil, err
	}
	return accepted(), nil
}
