package lanyard

import "time"

// Session is one login: the refresh token's server side. Only hashes of refresh
// secrets are kept. TokenVersion is the user's token version when the session was
// made: once the user's version moves on (logout-all, password change) the session is
// dead even if deleting it was interrupted. Each secret after the first is derived
// from the one before (token.Refresher), so SecretHash, Generation (the rotations
// so far) and RotatedAt (the last one) are enough to recognise every secret the
// session ever spent.
type Session struct {
	ID     ID
	UserID ID
	// AMR is how the user proved themselves for the session (RFC 8176 values), which
	// its access tokens carry. Sessions stored before it was recorded have none.
	AMR        []string
	SecretHash []byte
	// PreviousHash is the hash of the secret spent last. Sessions rotated before
	// secrets were chained know no other, so a replay of it still ends them.
	PreviousHash []byte
	Generation   int64
	RotatedAt    time.Time
	TokenVersion int64
	CreatedAt    time.Time
	LastUsedAt   time.Time
	ExpiresAt    time.Time
	IP           string
	UserAgent    string
}
