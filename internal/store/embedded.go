package store

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"

	"github.com/FerretDB/FerretDB/ferretdb"
)

// EmbeddedOptions configure the in-process MongoDB-protocol store.
type EmbeddedOptions struct {
	// Dir holds one SQLite file per database.
	Dir string
	// Addr is the loopback host:port to listen on; port 0 picks a free one.
	Addr string
	// PostgreSQLURL, when set, keeps the data in PostgreSQL instead of SQLite.
	PostgreSQLURL string
	// Logger receives FerretDB's own logs (nil: none), never below info and never a
	// document (see ferretLog). FerretDB logs every connection at info and every
	// failed command at warn, so callers pass a logger at error unless debugging.
	Logger *slog.Logger
}

// Embedded is a FerretDB instance running in this process.
type Embedded struct {
	uri    string
	addr   string
	cancel context.CancelFunc
	done   chan struct{}
}

// StartEmbedded starts FerretDB and returns once it accepts connections.
func StartEmbedded(o EmbeddedOptions) (*Embedded, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	cfg := &ferretdb.Config{
		Listener: ferretdb.ListenerConfig{TCP: o.Addr},
		Logger:   slog.New(newFerretLog(o.Logger.Handler())),
	}
	if o.PostgreSQLURL != "" {
		cfg.Handler = "postgresql"
		cfg.PostgreSQLURL = o.PostgreSQLURL
	} else {
		if err := os.MkdirAll(o.Dir, 0o700); err != nil {
			return nil, fmt.Errorf("embedded store: %w", err)
		}
		abs, err := filepath.Abs(o.Dir)
		if err != nil {
			return nil, fmt.Errorf("embedded store: %w", err)
		}
		cfg.Handler = "sqlite"
		// FerretDB keeps WAL mode; synchronous=NORMAL makes a commit skip fsync, so a
		// power cut may lose the last writes but never corrupts the file (README, "The
		// embedded store").
		cfg.SQLiteURL = (&url.URL{Scheme: "file", Opaque: filepath.ToSlash(abs) + "/", RawQuery: "_pragma=synchronous(normal)"}).String()
	}
	f, err := ferretdb.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("embedded store on %s: %w", o.Addr, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	e := &Embedded{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(e.done)
		_ = f.Run(ctx) // returns only when ctx ends; its errors are logged by FerretDB
	}()
	// MongoDBURI blocks until the listener is up, which is the readiness we want.
	e.uri = f.MongoDBURI()
	if u, err := url.Parse(e.uri); err == nil {
		e.addr = u.Host
	}
	return e, nil
}

// URI is the mongodb:// URI clients use to reach the store.
func (e *Embedded) URI() string { return e.uri }

// Addr is the address the store listens on (with the real port when 0 was asked for).
func (e *Embedded) Addr() string { return e.addr }

// Stop closes the listener and every connection and waits until FerretDB has shut down.
func (e *Embedded) Stop() {
	e.cancel()
	<-e.done
}
