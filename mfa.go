package lanyard

import "errors"

// MFA says which second factors an account has: what User JSON shows as mfa, and
// what decides whether a first proof is enough to start a session.
type MFA struct {
	TOTP     bool // an authenticator app, confirmed
	Passkeys int  // passkeys registered
}

// Any reports whether the account has a second factor: a login then needs one too.
func (m MFA) Any() bool { return m.TOTP || m.Passkeys > 0 }

// TOTP is an account's authenticator-app state as internal/method keeps it. The
// secrets are sealed (AES-GCM under a subkey of LANYARD_DATA_KEY, bound to the
// user): neither leaves the method package open.
type TOTP struct {
	Secret  []byte // the confirmed secret, sealed; nil while TOTP is off
	Pending []byte // an enrolment's secret until its confirmation, sealed; nil when none
	// LastStep is the last RFC 6238 time step whose code was accepted: a code of
	// that step or an earlier one is refused.
	LastStep int64
	// Recovery are the keyed hashes of the recovery codes not used yet.
	Recovery [][]byte
}

// AMROTP is the AMR value (RFC 8176) of a one-time code: a TOTP or a recovery code.
const AMROTP = "otp"

// ErrTOTPEnabled: an enrolment was asked for, or confirmed, while TOTP is already on.
var ErrTOTPEnabled = errors.New("totp is already enabled")
