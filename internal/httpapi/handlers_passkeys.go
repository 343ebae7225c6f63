package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/lanyard/lanyard"
	"github.com/lanyard/lanyard/internal/passkey"
)

// Passkey is the public view of a passkey: no credential id, key or counter.
type Passkey struct {
	ID         string  `json:"id"`
	Name       string  `json:"name"`
	CreatedAt  string  `json:"created_at" format:"date-time"`
	LastUsedAt *string `json:"last_used_at" format:"date-time" nullable:"true" doc:"The last sign-in with it; null until then"`
}

func renderPasskey(p passkey.Public) Passkey {
	out := Passkey{ID: p.ID, Name: p.Name, CreatedAt: formatTime(p.CreatedAt)}
	if !p.LastUsedAt.IsZero() {
		t := formatTime(p.LastUsedAt)
		out.LastUsedAt = &t
	}
	return out
}

const (
	createdDoc  = "PublicKeyCredential.toJSON() of the credential navigator.credentials.create() made from the creation options: {id, rawId, type, response: {clientDataJSON, attestationObject, ...}, ...}, base64url throughout."
	assertedDoc = "PublicKeyCredential.toJSON() of the assertion navigator.credentials.get() made from the request options: {id, rawId, type, response: {clientDataJSON, authenticatorData, signature, userHandle}, ...}, base64url throughout."
)

// WebAuthnCredential and WebAuthnAssertion are bodies in WebAuthn's own JSON
// (base64url throughout), handed to the library as they came: their shape is
// WebAuthn's, so the document declares only their top level.
type (
	WebAuthnCredential map[string]any
	WebAuthnAssertion  map[string]any
)

// Schema implements huma.SchemaProvider.
func (WebAuthnCredential) Schema(huma.Registry) *huma.Schema { return webauthnSchema(createdDoc) }

// Schema implements huma.SchemaProvider.
func (WebAuthnAssertion) Schema(huma.Registry) *huma.Schema { return webauthnSchema(assertedDoc) }

func webauthnSchema(doc string) *huma.Schema {
	s := &huma.Schema{
		Type: huma.TypeObject, Description: doc, AdditionalProperties: true,
		Required: []string{"id", "rawId", "type", "response"},
		Properties: map[string]*huma.Schema{
			"id":       {Type: huma.TypeString, Description: "The credential id, base64url"},
			"rawId":    {Type: huma.TypeString, Description: "The credential id, base64url"},
			"type":     {Type: huma.TypeString, Enum: []any{"public-key"}},
			"response": {Type: huma.TypeObject, AdditionalProperties: true, Description: "The authenticator's response, base64url fields"},
		},
	}
	s.PrecomputeMessages()
	return s
}

// passkeyRoutes are the passkey operations: the caller's passkeys, and sign-in with one.
func (s *Server) passkeyRoutes(api huma.API, public, authed []int) {
	op(s, api, accessAuthenticated, huma.Operation{OperationID: "passkey-creation-options", Method: http.MethodPost, Path: "/api/users/me/passkeys/options",
		Summary: "Creation options for a new passkey of the caller", Tags: []string{"passkeys"},
		Description: "Answers {publicKey} as navigator.credentials.create() takes it (base64url fields decoded, or through PublicKeyCredential.parseCreationOptionsFromJSON): a discoverable credential (resident key required), user verification preferred, attestation none, the caller's passkeys excluded. The challenge answers one POST /api/users/me/passkeys within 5 minutes.",
		Errors:      append([]int{http.StatusConflict}, authed...)}, s.passkeyCreationOptions)
	op(s, api, accessAuthenticated, huma.Operation{OperationID: "add-passkey", Method: http.MethodPost, Path: "/api/users/me/passkeys",
		Summary: "Register a passkey for the caller", DefaultStatus: http.StatusCreated, Tags: []string{"passkeys"},
		Description: "The body is " + createdDoc + " It must answer the challenge of the caller's creation options, from one of LANYARD_WEBAUTHN_ORIGINS for LANYARD_WEBAUTHN_RP_ID; the challenge is spent either way. Attestation none is accepted.",
		Errors:      append([]int{http.StatusConflict}, authed...)}, s.addPasskey)
	op(s, api, accessAuthenticated, huma.Operation{OperationID: "list-my-passkeys", Method: http.MethodGet, Path: "/api/users/me/passkeys",
		Summary: "The caller's passkeys, newest first", Tags: []string{"passkeys"}, Errors: authed}, s.listPasskeys)
	op(s, api, accessAuthenticated, huma.Operation{OperationID: "remove-passkey", Method: http.MethodDelete, Path: "/api/users/me/passkeys/{passkey_id}",
		Summary: "Remove one of the caller's passkeys", DefaultStatus: http.StatusNoContent, Tags: []string{"passkeys"},
		Description: "Needs the caller to prove themselves again, with exactly one of: current_password (counted by the login throttle), or credential, a fresh assertion of any of the caller's passkeys answering POST /api/auth/passkey/options.",
		Errors:      append([]int{http.StatusNotFound, http.StatusTooManyRequests}, authed...)}, s.removePasskey)
	op(s, api, accessPublic, huma.Operation{OperationID: "passkey-request-options", Method: http.MethodPost, Path: "/api/auth/passkey/options",
		Summary: "Request options for signing in with a passkey", Tags: []string{"auth"},
		Description: "Answers {publicKey} as navigator.credentials.get() takes it: discoverable credentials (no allowCredentials), user verification required. The challenge answers one POST /api/auth/passkey (or a passkey removal) within 5 minutes.",
		Errors:      public}, s.passkeyRequestOptions)
	op(s, api, accessPublic, huma.Operation{OperationID: "passkey-login", Method: http.MethodPost, Path: "/api/auth/passkey",
		Summary: "Sign in with a passkey", Tags: []string{"auth"},
		Description: "The body is " + assertedDoc + " Answers a TokenPair whose access tokens carry amr [\"hwk\"]. A challenge that is unknown, spent or expired is 400 /problems/token-invalid; every other failure (unknown or removed passkey, wrong origin, RP ID or signature, no user verification, a signature counter that did not advance) is one 401.",
		Errors:      append([]int{http.StatusUnauthorized}, public...)}, s.passkeyLogin)
}

type webauthnOptions struct {
	CacheControl string `header:"Cache-Control"`
	Body         struct {
		PublicKey map[string]any `json:"publicKey" doc:"PublicKeyCredentialCreationOptionsJSON or PublicKeyCredentialRequestOptionsJSON (WebAuthn level 3 §5.1.8, §5.1.9): binary fields in base64url"`
	}
}

// renderOptions answers the library's options as {publicKey}: its JSON is already
// WebAuthn's.
func renderOptions(v any) (*webauthnOptions, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("webauthn options: %w", err)
	}
	var wrapped struct {
		PublicKey map[string]any `json:"publicKey"`
	}
	if err := json.Unmarshal(b, &wrapped); err != nil {
		return nil, fmt.Errorf("webauthn options: %w", err)
	}
	out := &webauthnOptions{CacheControl: "no-store"}
	out.Body.PublicKey = wrapped.PublicKey
	return out, nil
}

func passkeyActor(ctx context.Context) passkey.Actor {
	c := clientOf(ctx)
	return passkey.Actor{IP: c.IP, UserAgent: c.UserAgent}
}

func (s *Server) passkeyCreationOptions(ctx context.Context, _ *struct{}) (*webauthnOptions, error) {
	o, err := s.passkeys.Options(ctx, principal(ctx).User)
	if err != nil {
		return nil, err
	}
	return renderOptions(o)
}

type addPasskeyInput struct {
	Name string `query:"name" maxLength:"1024" doc:"A name to tell it by, at most 64 characters; default Passkey."`
	Body WebAuthnCredential
}

type passkeyCreated struct {
	Location string `header:"Location"`
	Body     Passkey
}

func (s *Server) addPasskey(ctx context.Context, in *addPasskeyInput) (*passkeyCreated, error) {
	body, err := json.Marshal(in.Body)
	if err != nil {
		return nil, fmt.Errorf("add passkey: %w", err)
	}
	u := principal(ctx).User
	p, err := s.passkeys.Register(ctx, u, in.Name, body, passkeyActor(ctx))
	if err != nil {
		return nil, err
	}
	return &passkeyCreated{Location: "/api/users/me/passkeys/" + p.ID, Body: renderPasskey(p)}, nil
}

type passkeyList struct {
	Body struct {
		Items []Passkey `json:"items" nullable:"false"`
	}
}

func (s *Server) listPasskeys(ctx context.Context, _ *struct{}) (*passkeyList, error) {
	ps, err := s.passkeys.List(ctx, principal(ctx).User)
	if err != nil {
		return nil, err
	}
	out := &passkeyList{}
	out.Body.Items = make([]Passkey, len(ps))
	for i, p := range ps {
		out.Body.Items[i] = renderPasskey(p)
	}
	return out, nil
}

type removePasskeyInput struct {
	PasskeyID string `path:"passkey_id"`
	Body      struct {
		CurrentPassword string            `json:"current_password,omitempty" maxLength:"1024" doc:"The caller's password; or give credential."`
		Credential      WebAuthnAssertion `json:"credential,omitempty" doc:"A fresh assertion of one of the caller's passkeys answering POST /api/auth/passkey/options: PublicKeyCredential.toJSON(); or give current_password."`
	}
}

func (s *Server) removePasskey(ctx context.Context, in *removePasskeyInput) (*struct{}, error) {
	u, b := principal(ctx).User, in.Body
	switch {
	case b.CurrentPassword == "" && b.Credential == nil:
		bad := &lanyard.InvalidError{}
		bad.Add("current_password", "is required: give current_password or credential")
		return nil, bad
	case b.CurrentPassword != "" && b.Credential != nil:
		bad := &lanyard.InvalidError{}
		bad.Add("credential", "give only one of current_password and credential")
		return nil, bad
	case b.CurrentPassword != "":
		if err := s.accounts.CheckPassword(ctx, u, b.CurrentPassword, clientOf(ctx).IP); err != nil {
			return nil, err
		}
	default:
		body, err := json.Marshal(b.Credential)
		if err != nil {
			return nil, fmt.Errorf("remove passkey: %w", err)
		}
		who, err := s.passkeys.Verify(ctx, body, passkeyActor(ctx))
		if err == nil && who.ID != u.ID {
			err = lanyard.ErrBadCredentials
		}
		if errors.Is(err, lanyard.ErrBadCredentials) {
			bad := &lanyard.InvalidError{}
			bad.Add("credential", "is not a valid assertion of one of your passkeys")
			return nil, bad
		}
		if err != nil {
			return nil, err
		}
	}
	return nil, s.passkeys.Remove(ctx, u, in.PasskeyID, passkeyActor(ctx))
}

func (s *Server) passkeyRequestOptions(ctx context.Context, _ *struct{}) (*webauthnOptions, error) {
	o, err := s.passkeyMethod.Options(ctx)
	if err != nil {
		return nil, err
	}
	return renderOptions(o)
}

type passkeyLoginInput struct {
	Body WebAuthnAssertion
}

func (s *Server) passkeyLogin(ctx context.Context, in *passkeyLoginInput) (*tokenOutput, error) {
	body, err := json.Marshal(in.Body)
	if err != nil {
		return nil, fmt.Errorf("passkey login: %w", err)
	}
	proof, err := s.passkeyMethod.Prove(ctx, body, passkeyActor(ctx))
	if err != nil {
		return nil, err
	}
	pair, err := s.sessions.Issue(ctx, proof, clientOf(ctx))
	if err != nil {
		return nil, err
	}
	return renderPair(pair), nil
}
