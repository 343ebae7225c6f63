package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"slices"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/lanyard/lanyard"
	"github.com/lanyard/lanyard/internal/method"
	"github.com/lanyard/lanyard/internal/session"
)

// MFARequired is login's answer for an account with a second factor: no tokens, an
// mfa_token for POST /api/auth/mfa instead.
type MFARequired struct {
	MFARequired bool     `json:"mfa_required" enum:"true" doc:"Always true: a second factor must follow"`
	MFAToken    string   `json:"mfa_token" doc:"For POST /api/auth/mfa; good for one try, for expires_in seconds"`
	Methods     []string `json:"methods" doc:"The second factors the account has: totp and recovery_code when TOTP is on, passkey when it has a passkey"`
	ExpiresIn   int      `json:"expires_in" doc:"Seconds until the mfa_token expires"`
}

// loginOutput is login's answer: a TokenPair, or an MFARequired.
type loginOutput struct {
	CacheControl string `header:"Cache-Control"`
	Pragma       string `header:"Pragma"`
	Body         any
}

// loginResponses documents login's 200 as either body (Huma cannot derive it from
// an any).
func loginResponses(api huma.API) map[string]*huma.Response {
	reg := api.OpenAPI().Components.Schemas
	pair := reg.Schema(reflect.TypeFor[TokenPair](), true, "TokenPair")
	mfa := reg.Schema(reflect.TypeFor[MFARequired](), true, "MFARequired")
	return map[string]*huma.Response{"200": {
		Description: "A token pair; or, for an account with a second factor, mfa_required with an mfa_token for POST /api/auth/mfa",
		Content:     map[string]*huma.MediaType{"application/json": {Schema: &huma.Schema{OneOf: []*huma.Schema{pair, mfa}}}},
	}}
}

// issueOrChallenge finishes a first proof: a session, or — when the user has a
// second factor — the mfa flow's challenge instead.
func (s *Server) issueOrChallenge(ctx context.Context, proof lanyard.Proof, c session.Client) (*tokenOutput, *method.Challenge, error) {
	ch, err := s.factors.Challenge(ctx, proof)
	if err != nil || ch != nil {
		return nil, ch, err
	}
	pair, err := s.sessions.Issue(ctx, proof, c)
	if err != nil {
		return nil, nil, err
	}
	return renderPair(pair), nil, nil
}

// loginAnswer is login's output for a first proof.
func (s *Server) loginAnswer(ctx context.Context, proof lanyard.Proof, c session.Client) (*loginOutput, error) {
	out, ch, err := s.issueOrChallenge(ctx, proof, c)
	switch {
	case err != nil:
		return nil, err
	case ch != nil:
		return &loginOutput{CacheControl: "no-store", Pragma: "no-cache", Body: renderChallenge(ch)}, nil
	}
	return &loginOutput{CacheControl: out.CacheControl, Pragma: out.Pragma, Body: out.Body}, nil
}

func renderChallenge(ch *method.Challenge) MFARequired {
	return MFARequired{MFARequired: true, MFAToken: string(ch.Token), Methods: ch.Methods, ExpiresIn: int(ch.TTL.Seconds())}
}

// mfaRequiredError is the token endpoint's password grant for an account with a
// second factor: RFC 6749 §5.2's shape, with the mfa_token (tokenErrorFor).
type mfaRequiredError struct{ ch *method.Challenge }

func (e *mfaRequiredError) Error() string { return "a second factor is required" }

type mfaInput struct {
	Body struct {
		MFAToken string `json:"mfa_token,omitempty" doc:"Required. The mfa_token of the login's mfa_required answer." maxLength:"1024"`
		Method   string `json:"method,omitempty" doc:"Required. One of the login's methods: totp, recovery_code (or passkey)." maxLength:"64"`
		Code     string `json:"code,omitempty" doc:"The authenticator's 6-digit code, or a recovery code: required for totp and recovery_code." maxLength:"1024"`
		// Credential is WebAuthn's own JSON, passed to the library as it came.
		Credential json.RawMessage `json:"credential,omitempty" doc:"For passkey: the assertion as PublicKeyCredential.toJSON() gives it from navigator.credentials.get() on the options of POST /api/auth/mfa/passkey/options."`
	}
}

// mfa is the second step of a login: the mfa_token and a code for one of the
// account's second factors give a session. Each mfa_token buys one check: a wrong
// code spends it (and counts as a failed login), so the client starts again with
// the password.
func (s *Server) mfa(ctx context.Context, in *mfaInput) (*tokenOutput, error) {
	b := in.Body
	bad := &lanyard.InvalidError{}
	if b.MFAToken == "" {
		bad.Add("mfa_token", "is required")
	}
	switch names := s.factors.Names(); {
	case b.Method == "":
		bad.Add("method", "is required")
	case !slices.Contains(names, b.Method):
		bad.Add("method", "must be one of "+strings.Join(names, ", "))
	}
	if b.Method == method.MethodPasskey {
		if len(b.Credential) == 0 || string(b.Credential) == "null" {
			bad.Add("credential", "is required for passkey")
		}
	} else if strings.TrimSpace(b.Code) == "" {
		bad.Add("code", "is required")
	}
	if err := bad.Err(); err != nil {
		return nil, err
	}
	c := clientOf(ctx)
	answer := method.Answer{Code: b.Code, Credential: b.Credential, IP: c.IP, UserAgent: c.UserAgent}
	proof, err := s.factors.Prove(ctx, b.MFAToken, b.Method, answer, c.IP)
	if err != nil {
		return nil, err
	}
	pair, err := s.sessions.Issue(ctx, proof, c)
	if err != nil {
		return nil, err
	}
	return renderPair(pair), nil
}

// TOTPEnrolment is a new TOTP secret, pending until confirmed.
type TOTPEnrolment struct {
	Secret     string `json:"secret" doc:"The secret in base32 (RFC 4648), for typing into an authenticator app; shown this once"`
	OtpauthURI string `json:"otpauth_uri" doc:"otpauth://totp/… URI for a QR code (SHA-1, 6 digits, 30 s)"`
}

type totpEnrolOutput struct {
	Body TOTPEnrolment
}

func (s *Server) enrolTOTP(ctx context.Context, _ *struct{}) (*totpEnrolOutput, error) {
	e, err := s.totp.Enrol(ctx, principal(ctx).User)
	if err != nil {
		return nil, err
	}
	return &totpEnrolOutput{Body: TOTPEnrolment{Secret: e.Secret, OtpauthURI: e.URI}}, nil
}

type totpCodeInput struct {
	Body struct {
		Code string `json:"code,omitempty" doc:"Required. The authenticator's current code for the pending secret." maxLength:"1024"`
	}
}

// RecoveryCodes are shown once, when TOTP is turned on.
type RecoveryCodes struct {
	RecoveryCodes []string `json:"recovery_codes" doc:"Ten single-use codes for when the authenticator is lost; shown this once, stored only as keyed hashes"`
}

type recoveryCodesOutput struct {
	Body RecoveryCodes
}

func (s *Server) confirmTOTP(ctx context.Context, in *totpCodeInput) (*recoveryCodesOutput, error) {
	if err := requireCode(in.Body.Code); err != nil {
		return nil, err
	}
	codes, err := s.totp.Confirm(ctx, principal(ctx).User, in.Body.Code, s.origin(ctx))
	if err != nil {
		return nil, err
	}
	return &recoveryCodesOutput{Body: RecoveryCodes{RecoveryCodes: codes}}, nil
}

type totpDisableInput struct {
	Body struct {
		Code string `json:"code,omitempty" doc:"Required. A code from the authenticator app, or an unused recovery code." maxLength:"1024"`
	}
}

func (s *Server) disableTOTP(ctx context.Context, in *totpDisableInput) (*struct{}, error) {
	if err := requireCode(in.Body.Code); err != nil {
		return nil, err
	}
	return nil, s.totp.Disable(ctx, principal(ctx).User, in.Body.Code, s.origin(ctx))
}

func requireCode(code string) error {
	if strings.TrimSpace(code) == "" {
		bad := &lanyard.InvalidError{}
		bad.Add("code", "is required")
		return bad
	}
	return nil
}

// origin is the request's client, for the throttle and the audit trail.
func (s *Server) origin(ctx context.Context) method.Origin {
	c := clientOf(ctx)
	return method.Origin{IP: c.IP, UserAgent: c.UserAgent}
}

// mfaRoutes registers the second step of a login and TOTP's enrolment and removal.
type mfaPasskeyOptionsInput struct {
	Body struct {
		MFAToken string `json:"mfa_token" required:"true" doc:"The mfa_token of the login's mfa_required answer; it stays good for POST /api/auth/mfa." maxLength:"1024"`
	}
}

// mfaPasskeyOptions answers the request options for a passkey as the second step of
// the login mfa_token belongs to: the account's own passkeys. It reads the mfa flow
// without spending it (POST /api/auth/mfa spends it).
func (s *Server) mfaPasskeyOptions(ctx context.Context, in *mfaPasskeyOptionsInput) (*webauthnOptions, error) {
	if in.Body.MFAToken == "" {
		bad := &lanyard.InvalidError{}
		bad.Add("mfa_token", "is required")
		return nil, bad.Err()
	}
	u, err := s.factors.UserOf(ctx, in.Body.MFAToken)
	if err != nil {
		return nil, err
	}
	o, err := s.passkeyMethod.MFAOptions(ctx, u)
	if err != nil {
		return nil, err
	}
	return renderOptions(o)
}

func (s *Server) mfaRoutes(api huma.API, public, authed []int) {
	op(s, api, accessPublic, huma.Operation{OperationID: "login-mfa", Method: http.MethodPost, Path: "/api/auth/mfa",
		Summary: "Second step of a login: the mfa_token and a code of one of the account's second factors", Tags: []string{"auth"},
		Errors: append([]int{http.StatusUnauthorized, http.StatusTooManyRequests}, public...)}, s.mfa)
	op(s, api, accessPublic, huma.Operation{OperationID: "login-mfa-passkey-options", Method: http.MethodPost, Path: "/api/auth/mfa/passkey/options",
		Summary: "Request options for a passkey as the second step of a login (the account's own passkeys)", Tags: []string{"auth"},
		Errors: append([]int{http.StatusUnauthorized}, public...)}, s.mfaPasskeyOptions)
	op(s, api, accessAuthenticated, huma.Operation{OperationID: "enrol-totp", Method: http.MethodPost, Path: "/api/users/me/mfa/totp",
		Summary: "Start (or restart) a TOTP enrolment: a new secret, pending until confirmed", Tags: []string{"mfa"},
		Errors: append([]int{http.StatusConflict}, authed...)}, s.enrolTOTP)
	op(s, api, accessAuthenticated, huma.Operation{OperationID: "confirm-totp", Method: http.MethodPost, Path: "/api/users/me/mfa/totp/confirm",
		Summary: "Turn TOTP on with a code of the pending secret; answers the recovery codes, once", Tags: []string{"mfa"},
		Errors: append([]int{http.StatusNotFound, http.StatusConflict}, authed...)}, s.confirmTOTP)
	op(s, api, accessAuthenticated, huma.Operation{OperationID: "disable-totp", Method: http.MethodDelete, Path: "/api/users/me/mfa/totp",
		Summary: "Turn TOTP off, with a TOTP or a recovery code", DefaultStatus: http.StatusNoContent, Tags: []string{"mfa"},
		Errors: append([]int{http.StatusNotFound, http.StatusTooManyRequests}, authed...)}, s.disableTOTP)
}
