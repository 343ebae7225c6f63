package lanyard

import (
	"errors"
	"log/slog"
	"time"
)

// Client is a service client: an application service that authenticates to Lanyard
// with a client id and a client secret, to introspect and revoke tokens
// (internal/client). Holding one never lets a service mint tokens.
type Client struct {
	ID         string // the client_id, public
	Name       string // what the operator called it
	SecretHash []byte // SHA-256 of the client_secret, which only the service holds
	CreatedAt  time.Time
}

// LogValue keeps a careless log line to the client's id and name: never its hash.
func (c Client) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", c.ID), slog.String("name", c.Name))
}

// ErrClientInvalid: client authentication failed. An unknown client id and a wrong
// secret are one answer, so a refusal says nothing of which client ids exist.
var ErrClientInvalid = errors.New("client authentication failed")
