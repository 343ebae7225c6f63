// Package lanyard holds the vocabulary shared by every part of the account service:
// the kinds of failure a domain package reports. Packages below httpapi return these
// (wrapped with context), and httpapi maps them to problem documents in one table,
// so no domain package knows anything of HTTP.
package lanyard

import (
	"errors"
	"strings"
	"time"
)

// Sentinel kinds. Wrap them with fmt.Errorf("...: %w", err) and test with errors.Is.
var (
	// ErrNotFound: the thing does not exist, or the caller may not know that it does.
	ErrNotFound = errors.New("not found")
	// ErrUnauthorized: no valid access token.
	ErrUnauthorized = errors.New("unauthorized")
	// ErrBadCredentials: a login or refresh token that does not hold. Unknown account,
	// wrong password and an account being deleted all look the same.
	ErrBadCredentials = errors.New("invalid credentials")
	// ErrForbidden: valid credentials that do not allow this.
	ErrForbidden = errors.New("forbidden")
	// ErrUnavailable: the store did not answer in time or is unreachable; the client may retry.
	ErrUnavailable = errors.New("service unavailable")
	// ErrBusy: a bounded resource (password hashing) is saturated; the client may retry.
	ErrBusy = errors.New("busy")
	// ErrLastAdmin: the change would leave no admin (deleting or demoting the last one).
	ErrLastAdmin = errors.New("the last admin cannot be deleted or demoted: make another user an admin first")
	// ErrLastWayIn: the change would leave an account with no way to sign in (its
	// last verified linked ID, on an account without a password).
	ErrLastWayIn = errors.New("the account's last way in cannot be removed: set a password first")
)

// FieldError names one problem with one input field, e.g. {"body.email", "is taken"}.
type FieldError struct {
	Location string
	Message  string
}

// InvalidError is bad input: every problem found, not only the first.
type InvalidError struct {
	Fields []FieldError
}

func (e *InvalidError) Error() string {
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.Location + ": " + f.Message
	}
	return "invalid input: " + strings.Join(parts, "; ")
}

// Add records one more problem.
func (e *InvalidError) Add(location, message string) {
	e.Fields = append(e.Fields, FieldError{Location: location, Message: message})
}

// Err returns e when it holds any problem and nil otherwise, so callers can collect
// problems and return the result unconditionally.
func (e *InvalidError) Err() error {
	if e == nil || len(e.Fields) == 0 {
		return nil
	}
	return e
}

// ConflictError is a uniqueness or state conflict; Fields names the inputs involved
// (for example body.email) when there are any.
type ConflictError struct {
	Message string
	Fields  []FieldError
}

func (e *ConflictError) Error() string { return "conflict: " + e.Message }

// ThrottledError asks the client to slow down for RetryAfter.
type ThrottledError struct {
	RetryAfter time.Duration
}

func (e *ThrottledError) Error() string { return "throttled" }
