package lanyard

import (
	"log/slog"
	"time"
)

// Passkey is a WebAuthn credential registered to a user: a public key the user's
// authenticator holds the private half of. It is a credential, not a linked ID: it
// proves who someone is (method.Passkey), it names nobody outside Lanyard.
// CredentialID and PublicKey (COSE) are what verification needs; neither is secret,
// but neither leaves the service (the public view is id, name and times).
type Passkey struct {
	ID           ID
	UserID       ID
	Name         string
	CredentialID []byte
	PublicKey    []byte // COSE_Key, as the authenticator gave it
	// SignCount is the authenticator's signature counter as last seen: an assertion
	// must carry a greater one unless both are zero (authenticators that keep none).
	SignCount         uint32
	AAGUID            []byte
	Transports        []string
	AttestationFormat string
	BackupEligible    bool
	BackupState       bool
	UserVerified      bool // the authenticator verified its user when the passkey was made
	CreatedAt         time.Time
	LastUsedAt        time.Time // zero: never used to sign in
}

// LogValue keeps a passkey's key material out of any log line.
func (p Passkey) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", p.ID.Hex()), slog.String("user_id", p.UserID.Hex()))
}

// AMRHardwareKey is the AMR value (RFC 8176) of a proof of possession of a key held
// by an authenticator: a passkey.
const AMRHardwareKey = "hwk"
