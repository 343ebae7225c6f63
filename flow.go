package lanyard

import (
	"errors"
	"time"
)

// Flow is state that one request of a way in leaves for a later one: an OAuth state
// with its nonce and PKCE verifier, an mfa_token between a password and a second
// factor, a mail token, a WebAuthn challenge. It is kept until it is taken, once, or
// expires (internal/flow).
type Flow struct {
	Kind      FlowKind
	UserID    ID                // the zero ID: none
	Payload   map[string]string // what the kind carries; small
	CreatedAt time.Time
	ExpiresAt time.Time
}

// FlowKind names what a flow is for ("mfa", "password_reset", …). A flow is taken
// only as the kind it was started as.
type FlowKind string

// ErrFlowInvalid: a flow token that names no flow that may be taken now — unknown,
// already taken, expired, or started for another kind of flow. The four are one
// answer, so a token's holder learns nothing more from a refusal.
var ErrFlowInvalid = errors.New("flow token is invalid")
