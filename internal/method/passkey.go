package method

import (
	"context"
	"fmt"

	"github.com/go-webauthn/webauthn/protocol"

	"github.com/lanyard/lanyard"
	"github.com/lanyard/lanyard/internal/passkey"
)

// Passkey proves a person by an assertion of one of their passkeys: a signature over
// a challenge Lanyard made, by a key their authenticator holds (amr "hwk").
type Passkey struct {
	keys *passkey.Service
}

// NewPasskey returns the passkey method over the relying party keys.
func NewPasskey(keys *passkey.Service) *Passkey { return &Passkey{keys: keys} }

// Options are the request options of a passwordless sign-in (discoverable passkeys).
func (m *Passkey) Options(ctx context.Context) (*protocol.CredentialAssertion, error) {
	return m.keys.LoginOptions(ctx)
}

// Prove verifies an assertion answering Options. Failures are those of
// passkey.Service.Verify: lanyard.ErrFlowInvalid for the challenge, otherwise
// lanyard.ErrBadCredentials, alike for every reason.
func (m *Passkey) Prove(ctx context.Context, assertion []byte, by passkey.Actor) (lanyard.Proof, error) {
	u, err := m.keys.Verify(ctx, assertion, by)
	if err != nil {
		return lanyard.Proof{}, fmt.Errorf("passkey: %w", err)
	}
	return lanyard.Proof{User: u, AMR: []string{lanyard.AMRHardwareKey}}, nil
}

// MethodPasskey is the passkey's name in SecondFactors.
const MethodPasskey = "passkey"

// Factor is the passkey as a second factor: an account holding one answers its
// password with mfa_required, and an assertion answering the options MFAOptions made
// for the account (Answer.Credential) completes the login with "hwk".
func (m *Passkey) Factor() Factor { return passkeyFactor{m.keys} }

// MFAOptions are the request options of the second step for u.
func (m *Passkey) MFAOptions(ctx context.Context, u lanyard.User) (*protocol.CredentialAssertion, error) {
	return m.keys.MFAOptions(ctx, u)
}

type passkeyFactor struct{ keys *passkey.Service }

func (f passkeyFactor) Enrolled(u lanyard.User) bool { return u.MFA.Passkeys > 0 }

func (f passkeyFactor) Check(ctx context.Context, u lanyard.User, a Answer) (string, error) {
	if len(a.Credential) == 0 {
		return "", fmt.Errorf("passkey: no assertion: %w", lanyard.ErrBadCredentials)
	}
	if err := f.keys.VerifySecond(ctx, u, a.Credential, passkey.Actor{IP: a.IP, UserAgent: a.UserAgent}); err != nil {
		return "", fmt.Errorf("passkey: %w", err)
	}
	return lanyard.AMRHardwareKey, nil
}
