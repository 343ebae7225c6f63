package bench

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/lanyard/lanyard/internal/app"
	"github.com/lanyard/lanyard/internal/config"
	"github.com/lanyard/lanyard/internal/store"
)

// relationsFile declares the collections of --posts, expand and chain_delete for the
// in-process server.
const relationsFile = `relations:
  - {name: posts, collection: posts, parent: users, field: author_id, on_delete: cascade, id_format: objectid}
  - {name: comments, collection: comments, parent: posts, field: post_id, on_delete: cascade, id_format: objectid}
`

// inProcessChain is relationsFile's chain.
var inProcessChain = chain{
	posts:    relInfo{collection: "posts", field: "author_id"},
	comments: relInfo{collection: "comments", field: "post_id"},
}

// local is a Lanyard server this process runs for the benchmark: the embedded store
// in a temporary directory, the real service on a loopback port.
type local struct {
	dir  string
	cfg  config.Config
	emb  *store.Embedded
	app  *app.App
	srv  *http.Server
	url  string
	errc chan error
	// indexed is how many collections were created before the service started.
	indexed int
}

// startLocal starts the store and the service the way `lanyard serve` does, with the
// real hash cost (o.Hash), as many hashing slots as cores, keys generated here, and
// throttling limits too high to distort the figures.
func startLocal(ctx context.Context, o Options) (l *local, err error) {
	dir, err := os.MkdirTemp("", "lanyard-bench-")
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	l = &local{dir: dir}
	defer func() {
		if err != nil {
			l.close()
		}
	}()
	rels := filepath.Join(dir, "relations.yaml")
	if err := os.WriteFile(rels, []byte(relationsFile), 0o600); err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	env := map[string]string{
		"LANYARD_DATA_DIR":            filepath.Join(dir, "data"),
		"LANYARD_DB":                  "lanyard",
		"LANYARD_STORE_ADDR":          "127.0.0.1:0",
		"LANYARD_ADDR":                "127.0.0.1:0",
		"LANYARD_DATA_KEY":            randomKey(),
		"LANYARD_RELATIONS_FILE":      rels,
		"LANYARD_HASH_CONCURRENCY":    strconv.Itoa(runtime.NumCPU()),
		"LANYARD_REGISTER_LIMIT":      "1000000000",
		"LANYARD_LOGIN_FAILURE_LIMIT": "1000000000",
		// The bench is the proxy of its simulated clients (see run.request).
		"LANYARD_TRUSTED_PROXIES": "127.0.0.1/32",
	}
	if l.cfg, err = config.Load(func(k string) string { return env[k] }); err != nil {
		return nil, fmt.Errorf("bench: in-process configuration: %w", err)
	}
	l.emb, err = store.StartEmbedded(store.EmbeddedOptions{Dir: l.cfg.DataDir, Addr: l.cfg.StoreAddr, Logger: o.StoreLogger})
	if err != nil {
		return nil, fmt.Errorf("bench: embedded store: %w", err)
	}
	sctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	// The service indexes the collections that exist when it starts (FerretDB's
	// missing _id index and the relations' fields) and the others only as its
	// periodic check finds them; creating them all first has every index in place
	// before anything is seeded or measured.
	colls := append(store.Collections(), inProcessChain.posts.collection, inProcessChain.comments.collection)
	if err := createCollections(sctx, l.emb.URI(), l.cfg.DB, colls); err != nil {
		return nil, err
	}
	l.indexed = len(colls)
	file := store.SQLiteFile(l.cfg.DataDir, l.cfg.DB)
	l.app, err = app.New(sctx, l.cfg, l.emb.URI(), app.Options{Logger: o.Logger, Version: "bench", Hash: o.Hash, SQLiteFile: file})
	if err != nil {
		return nil, fmt.Errorf("bench: start the service: %w", err)
	}
	ln, err := net.Listen("tcp", l.cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	// The timeouts of `lanyard serve`.
	l.srv = &http.Server{
		Handler:           l.app.Handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(o.Logger.Handler(), slog.LevelWarn),
	}
	l.url = "http://" + ln.Addr().String()
	l.errc = make(chan error, 1)
	go func() { l.errc <- l.srv.Serve(ln) }()
	return l, nil
}

// close stops everything startLocal started and removes the temporary directory.
func (l *local) close() error {
	var errs []error
	if l.srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		l.app.Handler.ShuttingDown()
		errs = append(errs, l.srv.Shutdown(ctx))
		if err := <-l.errc; !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, err)
		}
	}
	if l.app != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		errs = append(errs, l.app.Close(ctx))
	}
	if l.emb != nil {
		l.emb.Stop()
	}
	errs = append(errs, os.RemoveAll(l.dir))
	return errors.Join(errs...)
}

func randomKey() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// createCollections creates those of names that do not exist yet in the store at uri.
func createCollections(ctx context.Context, uri, dbName string, names []string) error {
	cl, err := mongo.Connect(options.Client().ApplyURI(uri).SetAppName("lanyard-bench"))
	if err != nil {
		return fmt.Errorf("bench: store: %w", err)
	}
	defer cl.Disconnect(context.WithoutCancel(ctx))
	db := cl.Database(dbName)
	have, err := db.ListCollectionNames(ctx, bson.D{})
	if err != nil {
		return fmt.Errorf("bench: list collections: %w", err)
	}
	for _, n := range names {
		if slices.Contains(have, n) {
			continue
		}
		if err := db.CreateCollection(ctx, n); err != nil {
			return fmt.Errorf("bench: create collection %s: %w", n, err)
		}
	}
	return nil
}
