package lanyard

import (
	"log/slog"
	"time"
)

// Role is what an account may do beyond its own data.
type Role string

// Roles.
const (
	RoleUser  Role = "user"
	RoleAdmin Role = "admin"
)

// Status is where an account is in its life.
type Status string

// Statuses.
const (
	StatusActive Status = "active"
	// StatusDeleting: a chain delete has begun; every token of the account is dead and
	// login, refresh and linking refuse it.
	StatusDeleting Status = "deleting"
)

// User is an account. Optional profile fields are empty when unset.
type User struct {
	ID           ID
	Email        string // lower-cased (account.NormalizeEmail)
	Username     string
	UsernameKey  string // lower-cased Username: unique case-insensitively
	FirstName    string
	LastName     string
	Contact      string
	Birthday     string
	PasswordHash string // PHC string
	Role         Role
	Status       Status
	TokenVersion int64
	Linked       []ID // ids of the user's linked IDs (at most a few dozen)
	PasskeyIDs   []ID // ids of the user's passkeys (at most passkey.MaxPerUser)
	CreatedAt    time.Time
	UpdatedAt    time.Time

	// Profile holds the custom profile fields the user edits (checked against
	// LANYARD_PROFILE_SCHEMA when one is configured); AppMetadata what an admin keeps
	// about the account, which its user reads but cannot change. Both are JSON
	// objects as encoding/json decodes them with UseNumber: values are string,
	// json.Number, bool, nil, []any and map[string]any, so no layer above the store
	// sees a storage type. nil when the user has none; each at most 16 KiB encoded
	// (profile.MaxBytes).
	Profile     map[string]any
	AppMetadata map[string]any

	// Session bookkeeping lives here because every authenticated request loads the
	// user anyway (see store.ChangeUserSessions). Keys are session ids in hex.
	// LiveSessions: the user's sessions, each with its last use as last known here
	// (a session's own last_used_at can only be later); the cap on sessions picks
	// the least recently used one from it. EndedSessions: sessions ended in the last
	// access-token lifetime, with when; their access tokens are refused.
	// AccessNotBefore: access tokens issued before it are refused (set when the list
	// of ended sessions overflowed).
	LiveSessions    map[string]time.Time
	EndedSessions   map[string]time.Time
	AccessNotBefore time.Time
	// KnownAddrs are where the user logged in from lately (see KnownAddress).
	KnownAddrs []KnownAddress

	// EmailVerified: the owner of Email followed a link mailed to it (or reset the
	// password through one). Accounts stored before verification existed decode as
	// not verified.
	EmailVerified bool
	// PendingEmail is an email change waiting for its confirmation link; Email stays
	// as it is until then. Empty when none.
	PendingEmail string

	// MFA is which second factors the account has (their secrets stay in the store
	// and the methods: see TOTP).
	MFA MFA
}

// IsAdmin reports whether the account holds the admin role.
func (u User) IsAdmin() bool { return u.Role == RoleAdmin }

// IsActive reports whether the account may log in, refresh and link.
func (u User) IsActive() bool { return u.Status == StatusActive }

// LogValue keeps a careless log line to the account's id, role and status: never its
// email, names or password hash.
func (u User) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", u.ID.Hex()), slog.String("role", string(u.Role)), slog.String("status", string(u.Status)))
}

// KnownAddress is a client address a user logged in from successfully, kept with the
// user so that the login that loads the user has it at no extra cost (and writes it
// with the session's listing: store.SessionsChange.KnownAddrs). The address itself is
// not kept: Mark is a keyed hash of it (the throttle's), so the account tells nobody
// where its user has been.
type KnownAddress struct {
	Mark []byte
	Seen time.Time
}
