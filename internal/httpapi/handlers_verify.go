package httpapi

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/lanyard/lanyard"
)

// verifyRoutes registers email verification: asking for a link, and taking one
// (which also confirms an email change).
func (s *Server) verifyRoutes(api huma.API, public, authed []int) {
	op(s, api, accessAuthenticated, huma.Operation{OperationID: "request-email-verification", Method: http.MethodPost, Path: "/api/users/me/email-verification",
		Summary: "Mail the caller a new link that verifies their email", DefaultStatus: http.StatusAccepted, Tags: []string{"users"},
		Description: "Queues a mail with a link to LANYARD_VERIFY_URL (by default Lanyard's /verify-email page) carrying a token that POST /api/auth/verify-email takes; " +
			"it works for LANYARD_VERIFY_TTL (default 24h), once. Registration sends one. At most 10 such mails (verification and email change) per account per hour.",
		Errors: append([]int{http.StatusConflict, http.StatusTooManyRequests}, authed...)}, s.requestVerification)
	op(s, api, accessPublic, huma.Operation{OperationID: "verify-email", Method: http.MethodPost, Path: "/api/auth/verify-email",
		Summary: "Take a verification link's token: the email is verified, or a pending email change applied", Tags: []string{"auth"},
		Description: "The token of a verification mail verifies the account's email; the token of an email change's mail (sent to the new address) makes that address the account's email, verified. " +
			"A token works once, until it expires, and only while the account still has (or waits for) the address it was mailed to.",
		Errors: append([]int{http.StatusConflict}, public...)}, s.verifyEmail)
}

// mailQueued is the answer to a request that queued a mail.
type mailQueued struct {
	Body struct {
		Status string `json:"status" enum:"queued" doc:"The mail is recorded and will be delivered (retried for up to 24 h)"`
	}
}

func (s *Server) requestVerification(ctx context.Context, _ *struct{}) (*mailQueued, error) {
	if err := s.accounts.RequestVerification(ctx, principal(ctx).User); err != nil {
		return nil, err
	}
	out := &mailQueued{}
	out.Body.Status = "queued"
	return out, nil
}

type verifyEmailInput struct {
	Body struct {
		Token string `json:"token,omitempty" doc:"Required. The token of the link mailed to the address." maxLength:"1024"`
	}
}

func (s *Server) verifyEmail(ctx context.Context, in *verifyEmailInput) (*userOutput, error) {
	if in.Body.Token == "" {
		bad := &lanyard.InvalidError{}
		bad.Add("token", "is required")
		return nil, bad
	}
	u, err := s.accounts.VerifyEmail(ctx, in.Body.Token)
	if err != nil {
		return nil, err
	}
	return &userOutput{Body: renderUser(u)}, nil
}
