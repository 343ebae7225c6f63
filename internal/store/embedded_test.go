package store_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/lanyard/lanyard/internal/store"
)

// startEmbedded starts a store on dir, stopped at cleanup.
func startEmbedded(t *testing.T, o store.EmbeddedOptions) *store.Embedded {
	t.Helper()
	e, err := store.StartEmbedded(o)
	if err != nil {
		t.Fatalf("StartEmbedded: %v", err)
	}
	t.Cleanup(e.Stop)
	return e
}

// insertAndRead writes one document through uri and reads it back.
func insertAndRead(t *testing.T, uri string) {
	t.Helper()
	client, err := mongo.Connect(options.Client().ApplyURI(uri).SetTimeout(10 * time.Second))
	if err != nil {
		t.Fatalf("connect to %s: %v", uri, err)
	}
	defer client.Disconnect(context.Background())
	coll := client.Database("t").Collection("c")
	id := bson.NewObjectID()
	if _, err := coll.InsertOne(context.Background(), bson.D{{Key: "_id", Value: id}}); err != nil {
		t.Fatalf("insert through %s: %v", uri, err)
	}
	if err := coll.FindOne(context.Background(), bson.D{{Key: "_id", Value: id}}).Err(); err != nil {
		t.Fatalf("read through %s: %v", uri, err)
	}
}

// Without Addr the store accepts clients only on its socket in the data directory: the
// socket is 0600 in a directory made 0700 (even one that was open to others, which
// the store says it tightened), its URI is the socket's, and stopping the store
// removes the socket.
func TestEmbedded_ListensOnlyOnASocketTheOwnerAloneCanReach(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil { // whatever the umask
		t.Fatal(err)
	}
	var log bytes.Buffer
	e := startEmbedded(t, store.EmbeddedOptions{Dir: dir, Log: slog.New(slog.NewTextHandler(&log, nil))})
	sock := filepath.Join(dir, "store.sock")
	fi, err := os.Lstat(sock)
	if err != nil {
		t.Fatalf("socket: %v", err)
	}
	if fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o600 {
		t.Errorf("%s mode = %v; want a socket, 0600", sock, fi.Mode())
	}
	di, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if di.Mode().Perm() != 0o700 {
		t.Errorf("data directory mode = %v; want 0700", di.Mode().Perm())
	}
	if !strings.Contains(log.String(), "now private") {
		t.Errorf("log %q does not say the data directory was made private", log.String())
	}
	if e.Addr() != "" {
		t.Errorf("Addr() = %q; want none without Addr", e.Addr())
	}
	want := "mongodb://" + strings.ReplaceAll(sock, "/", "%2F") + "/"
	if e.URI() != want || e.SocketURI() != want {
		t.Errorf("URI() = %q, SocketURI() = %q; want %q", e.URI(), e.SocketURI(), want)
	}
	insertAndRead(t, e.URI())
	e.Stop()
	if _, err := os.Lstat(sock); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket after Stop: %v; want it removed", err)
	}
}

// With Addr the store listens there as well, and its URI is the TCP one.
func TestEmbedded_WithAddrListensOnTCPToo(t *testing.T) {
	t.Parallel()
	e := startEmbedded(t, store.EmbeddedOptions{Dir: t.TempDir(), Addr: "127.0.0.1:0"})
	if host, _, err := net.SplitHostPort(e.Addr()); err != nil || host != "127.0.0.1" {
		t.Fatalf("Addr() = %q; want 127.0.0.1:<port>", e.Addr())
	}
	if e.URI() != "mongodb://"+e.Addr()+"/" {
		t.Errorf("URI() = %q; want the TCP address's", e.URI())
	}
	insertAndRead(t, e.URI())
	insertAndRead(t, e.SocketURI())
}

// A second store on the same data directory is refused while the first runs; a
// socket left behind by a store that died is taken over.
func TestEmbedded_OneStorePerDataDirectory(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	e := startEmbedded(t, store.EmbeddedOptions{Dir: dir})
	if _, err := store.StartEmbedded(store.EmbeddedOptions{Dir: dir}); !errors.Is(err, store.ErrStoreRunning) {
		t.Fatalf("second StartEmbedded on the data directory = %v; want ErrStoreRunning", err)
	}
	e.Stop()

	// A socket nobody listens on, as a killed store leaves it.
	sock := filepath.Join(dir, "store.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()
	if _, err := os.Lstat(sock); err != nil {
		t.Fatalf("stale socket: %v", err)
	}
	e = startEmbedded(t, store.EmbeddedOptions{Dir: dir})
	insertAndRead(t, e.URI())
}

// A data directory that another user owns could be read or swapped by that user
// (its owner can always change its mode back): the store refuses it, naming it,
// rather than keep hashes and keys there.
func TestEmbedded_RefusesADataDirectoryOwnedByAnotherUser(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("giving a directory to another user takes root; this test runs as uid", os.Geteuid())
	}
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	const nobody = 65534
	if err := os.Chown(dir, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	e, err := store.StartEmbedded(store.EmbeddedOptions{Dir: dir})
	if err == nil {
		e.Stop()
		t.Fatalf("StartEmbedded on a data directory owned by uid %d: no error; want a refusal", nobody)
	}
	if msg := err.Error(); !strings.Contains(msg, dir) || !strings.Contains(msg, "owned by uid 65534") {
		t.Errorf("StartEmbedded error = %q; want it to name %s and its owner", msg, dir)
	}
	if _, err := os.Stat(filepath.Join(dir, "store.sock")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket in the refused directory: %v; want none", err)
	}
}
