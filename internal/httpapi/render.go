package httpapi

import (
	"time"

	"github.com/lanyard/lanyard"
	"github.com/lanyard/lanyard/internal/session"
)

// timeLayout is RFC 3339 in UTC with milliseconds, as the contract fixes.
const timeLayout = "2006-01-02T15:04:05.000Z07:00"

func formatTime(t time.Time) string { return t.UTC().Format(timeLayout) }

// User is the public view of an account: never its password hash or token version.
type User struct {
	ID        string `json:"id" doc:"24-character hex id"`
	Email     string `json:"email"`
	Username  string `json:"username,omitempty"`
	FirstName string `json:"first_name,omitempty"`
	LastName  string `json:"last_name,omitempty"`
	Contact   string `json:"contact,omitempty" doc:"Phone number: '+' and 7-15 digits (E.164), or the 7-15 digits of a national number as given"`
	Birthday  string `json:"birthday,omitempty" doc:"YYYY-MM-DD"`
	Role      string `json:"role" enum:"user,admin"`
	Status    string `json:"status" enum:"active,deleting"`
	CreatedAt string `json:"created_at" format:"date-time"`
	UpdatedAt string `json:"updated_at" format:"date-time"`

	EmailVerified bool   `json:"email_verified" doc:"Whether the owner of the email followed a verification link mailed to it (or reset the password through one)"`
	PendingEmail  string `json:"pending_email,omitempty" doc:"An email change awaiting confirmation through the link mailed to this address; email stays as it is until then"`

	// HasPassword is false for an account made through an identity provider until
	// its owner sets a password through a password reset.
	HasPassword bool `json:"has_password" doc:"Whether the account has a password; false for one made by signing in through an identity provider, until a password reset sets one"`
	// Profile and AppMetadata are left out when empty.
	Profile     map[string]any `json:"profile,omitempty" doc:"Custom profile fields, which the user edits (PATCH /api/users/me); checked against LANYARD_PROFILE_SCHEMA when one is configured"`
	AppMetadata map[string]any `json:"app_metadata,omitempty" doc:"What an admin keeps about the account (PATCH /api/users/{user_id}); the user reads it but cannot change it"`

	MFA UserMFA `json:"mfa" doc:"The account's second factors"`
	// Expand and ExpandTruncated are set only when the request asked for expand.
	Expand          Expansion `json:"expand,omitempty"`
	ExpandTruncated []string  `json:"expand_truncated,omitempty" nullable:"false" doc:"The relations of this object that had more than 100 children; only the newest 100 are shown"`
}

func renderUser(u lanyard.User) User {
	return User{
		ID:        u.ID.Hex(),
		Email:     u.Email,
		Username:  u.Username,
		FirstName: u.FirstName,
		LastName:  u.LastName,
		Contact:   u.Contact,
		Birthday:  u.Birthday,
		Role:      string(u.Role),
		Status:    string(u.Status),
		CreatedAt: formatTime(u.CreatedAt),
		UpdatedAt: formatTime(u.UpdatedAt),

		EmailVerified: u.EmailVerified,
		PendingEmail:  u.PendingEmail,
		HasPassword:   u.PasswordHash != "",
		Profile:       u.Profile, AppMetadata: u.AppMetadata,
		MFA: UserMFA{TOTP: u.MFA.TOTP, Passkeys: u.MFA.Passkeys},
	}
}

// UserMFA is which second factors an account has.
type UserMFA struct {
	TOTP     bool `json:"totp" doc:"An authenticator app (TOTP) is on"`
	Passkeys int  `json:"passkeys" doc:"How many passkeys the account has"`
}

// TokenPair is what login, refresh and password change return.
type TokenPair struct {
	AccessToken      string `json:"access_token" doc:"EdDSA JWT (RFC 9068), verifiable through /.well-known/jwks.json; send as Authorization: Bearer"`
	TokenType        string `json:"token_type" enum:"Bearer"`
	ExpiresIn        int    `json:"expires_in" doc:"Seconds until the access token expires"`
	RefreshToken     string `json:"refresh_token" doc:"<session id>.<secret>; single use, rotated on every refresh"`
	RefreshExpiresIn int    `json:"refresh_expires_in" doc:"Seconds until the refresh token expires"`
	User             User   `json:"user"`
}

// tokenOutput carries a TokenPair with the headers that keep it out of caches.
type tokenOutput struct {
	CacheControl string `header:"Cache-Control"`
	Pragma       string `header:"Pragma"`
	Body         TokenPair
}

func renderPair(p session.Pair) *tokenOutput {
	return &tokenOutput{
		CacheControl: "no-store",
		Pragma:       "no-cache",
		Body: TokenPair{
			AccessToken:      p.AccessToken,
			TokenType:        "Bearer",
			ExpiresIn:        int(p.AccessTTL.Seconds()),
			RefreshToken:     p.RefreshToken,
			RefreshExpiresIn: int(p.RefreshTTL.Seconds()),
			User:             renderUser(p.User),
		},
	}
}
