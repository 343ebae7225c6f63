package store

import (
	"context"
	"errors"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/topology"

	"github.com/lanyard/lanyard"
)

// ErrDuplicate is a unique-index violation. Methods that can cause one say which key
// was taken with a *DuplicateError.
var ErrDuplicate = errors.New("duplicate key")

// DuplicateError names the unique keys that were already taken ("email", "username").
type DuplicateError struct {
	Keys []string
}

func (e *DuplicateError) Error() string { return fmt.Sprintf("store: duplicate %v", e.Keys) }

// Unwrap lets errors.Is(err, ErrDuplicate) match.
func (e *DuplicateError) Unwrap() error { return ErrDuplicate }

// opError keeps the driver's cause for the log while exposing only a kind
// (lanyard.ErrNotFound, lanyard.ErrUnavailable, ErrDuplicate) to errors.Is.
type opError struct {
	op    string
	kind  error
	cause error
}

func (e *opError) Error() string {
	if e.cause == nil {
		return "store: " + e.op + ": " + e.kind.Error()
	}
	return "store: " + e.op + ": " + e.cause.Error()
}

func (e *opError) Unwrap() []error {
	if e.kind == nil {
		return []error{e.cause}
	}
	return []error{e.kind, e.cause}
}

func notFound(op string) error { return &opError{op: op, kind: lanyard.ErrNotFound} }

// translate interprets err and counts store failures (the store unreachable, or an
// error nothing expects) for the metrics.
func (s *Store) translate(op string, err error) error {
	err = translate(op, err)
	var oe *opError
	if s.onError != nil && errors.As(err, &oe) && (oe.kind == nil || oe.kind == lanyard.ErrUnavailable) {
		s.onError(op)
	}
	return err
}

// translate is the one place that interprets driver errors. Everything above the
// store sees lanyard.ErrNotFound, lanyard.ErrUnavailable or ErrDuplicate (and
// context.Canceled when the caller gave up), never a driver type.
func translate(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, mongo.ErrNoDocuments):
		return &opError{op: op, kind: lanyard.ErrNotFound, cause: err}
	case mongo.IsDuplicateKeyError(err), isEmbeddedUniqueViolation(err):
		return &opError{op: op, kind: ErrDuplicate, cause: err}
	case errors.Is(err, context.Canceled):
		return &opError{op: op, kind: context.Canceled, cause: err}
	case mongo.IsTimeout(err), mongo.IsNetworkError(err), isSelectionError(err):
		return &opError{op: op, kind: lanyard.ErrUnavailable, cause: err}
	}
	return &opError{op: op, cause: err}
}

// isSelectionError matches the driver's "server selection error" and a client that
// was disconnected, both of which mean the store cannot be reached now.
func isSelectionError(err error) bool {
	var sse topology.ServerSelectionError
	return errors.Is(err, mongo.ErrClientDisconnected) || errors.As(err, &sse)
}

// isEmbeddedUniqueViolation matches the embedded store's answer to an update that
// breaks a unique index: FerretDB reports an insert as E11000, but an update or
// findAndModify as InternalError (code 1) carrying the backend's message.
func isEmbeddedUniqueViolation(err error) bool {
	var se mongo.ServerError
	return errors.As(err, &se) &&
		(se.HasErrorCodeWithMessage(1, "UNIQUE constraint failed") || // SQLite backend
			se.HasErrorCodeWithMessage(1, "duplicate key value violates unique constraint")) // PostgreSQL backend
}

func isNotFound(err error) bool { return errors.Is(err, lanyard.ErrNotFound) }

// errNotFoundKind is lanyard.ErrNotFound under a shorter name for this package.
var errNotFoundKind = lanyard.ErrNotFound
