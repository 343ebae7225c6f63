package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
)

// EmbeddedOptions configure the in-process MongoDB-protocol store.
type EmbeddedOptions struct {
	// Dir holds one SQLite file per database, and the store's Unix socket (SocketPath),
	// which only Dir's owner can reach: Dir is made private to its owner (0700).
	Dir string
	// Addr, when set, is a loopback host:port the store listens on besides its socket;
	// port 0 picks a free one. The store has no authentication: there, any local user
	// can read and change the data.
	Addr string
	// PostgreSQLURL, when set, keeps the data in PostgreSQL instead of SQLite.
	PostgreSQLURL string
	// Logger receives FerretDB's own logs (nil: none), never below info and never a
	// document (see ferretLog). FerretDB logs every connection at info and every
	// failed command at warn, so callers pass a logger at error unless debugging.
	Logger *slog.Logger
	// Log receives what StartEmbedded itself has to say (nil: nothing), such as a
	// data directory it had to make private.
	Log *slog.Logger
}

// Embedded is a FerretDB instance running in this process.
type Embedded struct {
	uri    string
	addr   string
	socket string
	cancel context.CancelFunc
	done   chan struct{}
}

// ErrStoreRunning means another store already serves the data directory: its socket
// answers.
var ErrStoreRunning = errors.New("another store is running on this data directory")

// socketName is the embedded store's socket in its data directory.
const socketName = "store.sock"

// maxSocketPath is the longest socket path Linux takes (its sun_path holds 108 bytes
// with the terminating NUL).
const maxSocketPath = 107

// SocketPath is the absolute path of the socket where the embedded store on data
// directory dir accepts MongoDB clients.
func SocketPath(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("embedded store: %w", err)
	}
	return filepath.Join(abs, socketName), nil
}

// SocketURI is the mongodb:// URI of the Unix socket at path: the path, every
// reserved character percent-encoded, as the host. The Go, Python and Node drivers
// take it so.
func SocketURI(path string) string {
	return "mongodb://" + strings.ReplaceAll(url.QueryEscape(path), "+", "%20") + "/"
}

// SocketAnswers reports whether a store accepts connections on the socket at path.
func SocketAnswers(path string) bool {
	c, err := net.DialTimeout("unix", path, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// StartEmbedded starts FerretDB and returns once it accepts connections, on its
// socket in o.Dir and, if o.Addr is set, on that TCP address too. It refuses to start
// while another store serves o.Dir (ErrStoreRunning): two stores on one set of SQLite
// files would each cache its own view of them.
func StartEmbedded(o EmbeddedOptions) (*Embedded, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	abs, err := filepath.Abs(o.Dir)
	if err != nil {
		return nil, fmt.Errorf("embedded store: %w", err)
	}
	if err := privateDir(abs, o.Log); err != nil {
		return nil, err
	}
	sock := filepath.Join(abs, socketName)
	if len(sock) > maxSocketPath {
		return nil, fmt.Errorf("embedded store: its socket path %s is longer than %d bytes, which a Unix socket cannot have: use a shorter data directory", sock, maxSocketPath)
	}
	if err := clearStaleSocket(sock); err != nil {
		return nil, err
	}
	cfg := &ferretdb.Config{
		Listener: ferretdb.ListenerConfig{TCP: o.Addr, Unix: sock},
		Logger:   slog.New(newFerretLog(o.Logger.Handler())),
	}
	if o.PostgreSQLURL != "" {
		cfg.Handler = "postgresql"
		cfg.PostgreSQLURL = o.PostgreSQLURL
	} else {
		cfg.Handler = "sqlite"
		// FerretDB keeps WAL mode; synchronous=NORMAL makes a commit skip fsync, so a
		// power cut may lose the last writes but never corrupts the file (docs/operations.md, "The
		// embedded store").
		cfg.SQLiteURL = (&url.URL{Scheme: "file", Opaque: filepath.ToSlash(abs) + "/", RawQuery: "_pragma=synchronous(normal)"}).String()
	}
	f, err := ferretdb.New(cfg) // binds the listeners
	if err != nil {
		return nil, fmt.Errorf("embedded store on %s: %w", strings.TrimPrefix(o.Addr+" and "+sock, " and "), err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	e := &Embedded{socket: sock, cancel: cancel, done: make(chan struct{})}
	// The socket takes its mode from the umask; the directory is private already, and
	// the socket is made so too before any connection is accepted.
	chmodErr := os.Chmod(sock, 0o600)
	go func() {
		defer close(e.done)
		_ = f.Run(ctx) // returns only when ctx ends; its errors are logged by FerretDB
	}()
	if chmodErr != nil {
		e.Stop()
		return nil, fmt.Errorf("embedded store: %w", chmodErr)
	}
	// MongoDBURI blocks until the listeners are up, which is the readiness we want.
	uri := f.MongoDBURI()
	e.uri = SocketURI(sock)
	if o.Addr != "" {
		e.uri = uri
		if u, err := url.Parse(uri); err == nil {
			e.addr = u.Host
		}
	}
	return e, nil
}

// privateDir creates dir (0700), or makes an existing one private to its owner: it
// holds the socket, the SQLite files (which SQLite creates readable by anyone) and the
// generated keys. A directory another user owns is refused: its owner can open it
// again, or put its own keys and socket there, whatever mode is set now.
func privateDir(dir string, log *slog.Logger) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("embedded store: %w", err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("embedded store: %w", err)
	}
	if uid, ok := ownerUID(fi); ok && uid != os.Geteuid() {
		return fmt.Errorf("embedded store: the data directory %s is owned by uid %d, not by this process's uid %d: use a directory of this user's own, or run as its owner", dir, uid, os.Geteuid())
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		if err := os.Chmod(dir, perm&0o700); err != nil {
			return fmt.Errorf("embedded store: the data directory %s is open to other users (%v) and cannot be made private: %w", dir, perm, err)
		}
		log.Warn("the data directory was open to other users; it is now private to its owner", "data_dir", dir, "mode_was", perm.String(), "mode", (perm & 0o700).String())
	}
	return nil
}

// clearStaleSocket removes a socket that a store which did not stop cleanly left at
// path; a socket that answers is another store's.
func clearStaleSocket(path string) error {
	fi, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("embedded store: %w", err)
	case fi.Mode()&fs.ModeSocket == 0:
		return fmt.Errorf("embedded store: %s exists and is not a socket; move it away", path)
	case SocketAnswers(path):
		return fmt.Errorf("embedded store: %w (%s answers): stop that store, or use it through MONGODB_URI=%s", ErrStoreRunning, path, SocketURI(path))
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("embedded store: a stale socket: %w", err)
	}
	return nil
}

// URI is the mongodb:// URI clients use to reach the store: its TCP address when it
// has one, else its socket.
func (e *Embedded) URI() string { return e.uri }

// SocketURI is the mongodb:// URI of the store's socket.
func (e *Embedded) SocketURI() string { return SocketURI(e.socket) }

// Addr is the TCP address the store listens on (with the real port when 0 was asked
// for), or "" when it listens only on its socket.
func (e *Embedded) Addr() string { return e.addr }

// Stop closes the listeners (which removes the socket) and every connection, and waits
// until FerretDB has shut down.
func (e *Embedded) Stop() {
	e.cancel()
	<-e.done
}
