package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"slices"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/lanyard/lanyard/internal/app"
	"github.com/lanyard/lanyard/internal/config"
	"github.com/lanyard/lanyard/internal/store"
)

const usage = `usage: lanyard [command]

commands:
  serve                 serve the API (the default)
  store                 run only the embedded MongoDB-protocol store, for several serve processes to share
  store-uri             print the mongodb:// URI of the embedded store's socket in the data directory
  admin promote EMAIL   make the user with this email an admin
  admin demote EMAIL    make that admin a plain user again (never the last admin)
  clients add NAME      add a service client and print its client_id and client_secret (shown once)
  clients list          list the service clients
  clients remove ID     remove a service client; its secret authenticates nothing from then on
  keys list             list the access tokens' signing keys (kid, created, signs from, retired, expires)
  keys rotate           add a signing key, published at once, signing from LANYARD_KEY_PUBLISH_DELAY on
  import --from URI --db NAME --map FILE [--dry-run] [--report FILE]
                        bring an application's users and linked IDs in as Lanyard accounts; import -h explains
  bench [flags]         load-test a server (or one it starts in-process) and print the figures; bench -h lists the flags
  version               print the version

Configuration comes from the environment; see the README.`

// run is the whole program. It reads nothing global: arguments, environment and
// output streams are parameters, so tests can run it in-process.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	cmd := "serve"
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "version", "--version", "-v":
		fmt.Fprintln(stdout, "lanyard", version())
		return nil
	case "help", "--help", "-h":
		fmt.Fprintln(stdout, usage)
		return nil
	}
	cfg, err := config.Load(getenv)
	if err != nil {
		return fmt.Errorf("configuration:\n%w", err)
	}
	log := newLogger(cfg, stderr)
	switch {
	case cmd == "serve" && len(args) == 0:
		if getenv("GOMEMLIMIT") == "" {
			debug.SetMemoryLimit(memoryLimit(cfg.HashConcurrency))
		}
		return serve(ctx, cfg, log, stdout)
	case cmd == "store" && len(args) == 0:
		return runStore(ctx, cfg, log)
	case cmd == "store-uri" && len(args) == 0:
		return printStoreURI(cfg, stdout)
	case cmd == "admin" && len(args) == 2 && (args[0] == "promote" || args[0] == "demote"):
		return admin(ctx, cfg, log, args[0], args[1], stdout)
	case cmd == "clients" && (len(args) == 2 && (args[0] == "add" || args[0] == "remove") || len(args) == 1 && args[0] == "list"):
		return clients(ctx, cfg, log, args, stdout)
	case cmd == "keys" && len(args) == 1 && (args[0] == "list" || args[0] == "rotate"):
		return keys(ctx, cfg, log, args[0], stdout)
	case cmd == "bench":
		return runBench(ctx, cfg, log, args, stdout, stderr)
	case cmd == "import":
		return runImport(ctx, cfg, log, args, stdout, stderr)
	}
	return fmt.Errorf("unknown command %q\n%s", cmd, usage)
}

// sqliteFile is the embedded SQLite store's file of the database, or "" when the
// store is MongoDB or PostgreSQL.
func sqliteFile(cfg config.Config) string {
	if cfg.MongoURI != "" || cfg.StorePostgre != "" {
		return ""
	}
	return store.SQLiteFile(cfg.DataDir, cfg.DB)
}

// memoryLimit is the soft memory limit serve sets unless GOMEMLIMIT says otherwise.
// Each password hash allocates 19 MiB; left alone, the garbage collector lets the heap
// grow to twice what is live, so a burst of logins would cost far more memory than the
// hashes running at once need. A soft limit makes the collector work harder instead.
func memoryLimit(hashConcurrency int) int64 {
	return int64(128+40*hashConcurrency) << 20
}

func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// storeLogger quiets FerretDB, which logs every connection and every failed command
// (a duplicate email is one, and so is the driver's endSessions at disconnect).
func storeLogger(cfg config.Config, log *slog.Logger) *slog.Logger {
	if cfg.LogLevel <= slog.LevelDebug {
		return log.With("component", "store")
	}
	return slog.New(levelFloor{Handler: log.Handler(), min: slog.LevelError}).With("component", "store")
}

// levelFloor drops records below min, also in the loggers derived from it. Those
// derived loggers' attributes and groups are applied only to a record that passes:
// FerretDB derives a logger for every SQL query it runs, and the text handler would
// otherwise format its attributes each time, for records that are then dropped.
type levelFloor struct {
	slog.Handler
	min  slog.Level
	with []func(slog.Handler) slog.Handler // WithAttrs and WithGroup calls, in order
}

func (h levelFloor) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h levelFloor) Handle(ctx context.Context, r slog.Record) error {
	inner := h.Handler
	for _, f := range h.with {
		inner = f(inner)
	}
	return inner.Handle(ctx, r)
}

func (h levelFloor) WithAttrs(as []slog.Attr) slog.Handler {
	return h.derive(func(in slog.Handler) slog.Handler { return in.WithAttrs(as) })
}

func (h levelFloor) WithGroup(name string) slog.Handler {
	return h.derive(func(in slog.Handler) slog.Handler { return in.WithGroup(name) })
}

func (h levelFloor) derive(f func(slog.Handler) slog.Handler) levelFloor {
	return levelFloor{h.Handler, h.min, append(slices.Clip(h.with), f)}
}

// openStore returns the URI to use: MONGODB_URI, or an embedded store it starts on
// the data directory's socket and, if addr is set, on that TCP address too. stopStore
// is never nil.
func openStore(cfg config.Config, log *slog.Logger, addr string) (uri string, stopStore func(), err error) {
	if cfg.MongoURI != "" {
		return cfg.MongoURI, func() {}, nil
	}
	e, err := store.StartEmbedded(store.EmbeddedOptions{
		Dir: cfg.DataDir, Addr: addr, PostgreSQLURL: cfg.StorePostgre, Logger: storeLogger(cfg, log), Log: log,
	})
	if err != nil {
		return "", nil, fmt.Errorf("cannot start the embedded store: %w", err)
	}
	log.Info("embedded store started", "uri", e.URI(), "data_dir", cfg.DataDir)
	if e.Addr() != "" {
		log.Warn("the embedded store also listens on LANYARD_STORE_ADDR, where any local user can read and change its data (it has no authentication); unset LANYARD_STORE_ADDR to keep it on its owner-only socket",
			"addr", e.Addr(), "socket_uri", e.SocketURI())
	}
	return e.URI(), e.Stop, nil
}

func serve(ctx context.Context, cfg config.Config, log *slog.Logger, stdout io.Writer) error {
	uri, stopStore, err := openStore(cfg, log, cfg.StoreAddr)
	if err != nil {
		return err
	}
	defer stopStore()
	o := app.Options{Logger: log, Version: version(), SQLiteFile: sqliteFile(cfg)}
	applyTestSettings(ctx, cfg, log, &o)
	a, err := app.New(ctx, cfg, uri, o)
	if err != nil {
		return err
	}
	defer a.Close(context.Background())

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("LANYARD_ADDR: %w", err)
	}
	srv := newHTTPServer(a.Handler, log)
	conns := newConnTracker()
	conns.install(srv)
	metrics, err := serveMetrics(cfg, a, log, stdout)
	if err != nil {
		ln.Close()
		return err
	}
	defer metrics.close() // on the early returns; after shutdown a no-op
	log.Info("serving", "addr", "http://"+ln.Addr().String(), "version", version())
	fmt.Fprintf(stdout, "lanyard listening on http://%s\n", ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case err := <-metrics.errc:
		_ = srv.Close()
		<-errc
		return fmt.Errorf("LANYARD_METRICS_ADDR: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	a.Handler.ShuttingDown()
	if !conns.drain(srv, drainQuiet, cfg.DrainTimeout) {
		log.Warn("connections kept arriving until LANYARD_DRAIN_TIMEOUT; closing the listener now may reset some (does the balancer follow /readyz?)",
			"drain_timeout", cfg.DrainTimeout.String())
	}
	// The serving context is already cancelled; finishing the requests in flight gets
	// its own deadline.
	sctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	if err := metrics.shutdown(sctx); err != nil {
		return fmt.Errorf("LANYARD_METRICS_ADDR: %w", err)
	}
	log.Info("stopped")
	return nil
}

// metricsServer is /metrics on a listener of its own; its zero value serves nothing.
type metricsServer struct {
	srv  *http.Server
	errc chan error // Serve's result; nil (never ready) without a listener
}

// serveMetrics serves /metrics on LANYARD_METRICS_ADDR when it is set (the public
// listener then has none), so that scrapers reach it on an address the public does not.
func serveMetrics(cfg config.Config, a *app.App, log *slog.Logger, stdout io.Writer) (metricsServer, error) {
	if cfg.MetricsAddr == "" {
		return metricsServer{}, nil
	}
	ln, err := net.Listen("tcp", cfg.MetricsAddr)
	if err != nil {
		return metricsServer{}, fmt.Errorf("LANYARD_METRICS_ADDR: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", a.Handler.MetricsHandler())
	m := metricsServer{
		srv:  newHTTPServer(mux, log),
		errc: make(chan error, 1),
	}
	go func() { m.errc <- m.srv.Serve(ln) }()
	log.Info("serving metrics", "addr", "http://"+ln.Addr().String()+"/metrics")
	fmt.Fprintf(stdout, "lanyard metrics on http://%s/metrics\n", ln.Addr())
	return m, nil
}

// shutdown stops the metrics listener, after the public one: scrapes may watch the
// drain to its end.
func (m metricsServer) shutdown(ctx context.Context) error {
	if m.srv == nil {
		return nil
	}
	if err := m.srv.Shutdown(ctx); err != nil {
		return err
	}
	if err := <-m.errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func (m metricsServer) close() {
	if m.srv != nil {
		_ = m.srv.Close()
	}
}

// applyTestSettings applies the LANYARD_TEST_* variables, which only tests set (see
// config.Config): a shorter deletion lease, and a chain delete that stops after its
// k-th batch until the process ends (a SIGKILL, or a shutdown, which stops the job
// as a crash would).
func applyTestSettings(ctx context.Context, cfg config.Config, log *slog.Logger, o *app.Options) {
	names := cfg.TestSettings()
	if len(names) == 0 {
		return
	}
	log.Warn("test-only settings in effect; never set them in a deployment", "variables", names)
	if d := cfg.TestDeletionLease; d > 0 {
		o.DeletionLease, o.ResumeInterval = d, d/2
	}
	if k := cfg.TestDeletePauseAfterBatches; k > 0 {
		o.AfterDeleteBatch = func(relation string, batch int) error {
			if batch < k {
				return nil
			}
			log.Warn("chain delete paused by LANYARD_TEST_DELETE_PAUSE_AFTER_BATCHES", "relation", relation, "batch", batch)
			<-ctx.Done()
			return errors.New("chain delete paused by LANYARD_TEST_DELETE_PAUSE_AFTER_BATCHES until the process ended")
		}
	}
}

func runStore(ctx context.Context, cfg config.Config, log *slog.Logger) error {
	if cfg.MongoURI != "" {
		return errors.New("MONGODB_URI: lanyard store runs the embedded store; unset MONGODB_URI")
	}
	_, stopStore, err := openStore(cfg, log, cfg.StoreAddr)
	if err != nil {
		return err
	}
	defer stopStore()
	// The serve processes create the collections; the _id indexes FerretDB lacks are
	// added here, where the SQLite file is, as the collections appear.
	if file := sqliteFile(cfg); file != "" {
		t := time.NewTicker(15 * time.Second)
		defer t.Stop()
		for {
			if _, err := store.EnsureIDIndexes(ctx, file, store.OwnCollections(cfg.CollectionPrefix)); err != nil {
				log.Warn("adding _id indexes", "err", err)
			}
			select {
			case <-ctx.Done():
				return nil
			case <-t.C:
			}
		}
	}
	<-ctx.Done()
	return nil
}

// printStoreURI prints the URI of the embedded store's socket, for the application's
// own code and mongosh; it does not check that the store runs.
func printStoreURI(cfg config.Config, stdout io.Writer) error {
	if cfg.MongoURI != "" {
		return errors.New("MONGODB_URI is set: there is no embedded store, and MONGODB_URI is the store's URI")
	}
	sock, err := store.SocketPath(cfg.DataDir)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, store.SocketURI(sock))
	return nil
}

// adminStore is the store an admin command works on: MONGODB_URI; else the store
// serving the data directory (a running serve or lanyard store), through its socket;
// else one started here on the data directory for the command's duration.
func adminStore(cfg config.Config, log *slog.Logger) (uri string, stopStore func(), err error) {
	if cfg.MongoURI != "" {
		return cfg.MongoURI, func() {}, nil
	}
	sock, err := store.SocketPath(cfg.DataDir)
	if err != nil {
		return "", nil, err
	}
	running := func() (string, func(), error) {
		uri := store.SocketURI(sock)
		log.Info("using the store running on the data directory", "uri", uri)
		return uri, func() {}, nil
	}
	if store.SocketAnswers(sock) {
		return running()
	}
	uri, stopStore, err = openStore(cfg, log, "")
	if errors.Is(err, store.ErrStoreRunning) { // it started meanwhile
		return running()
	}
	return uri, stopStore, err
}

// adminApp assembles the service over the store the admin commands use
// (adminStore), for one command; closeApp closes both.
func adminApp(ctx context.Context, cfg config.Config, log *slog.Logger) (a *app.App, closeApp func(), err error) {
	uri, stopStore, err := adminStore(cfg, log)
	if err != nil {
		return nil, nil, err
	}
	a, err = app.New(ctx, cfg, uri, app.Options{Logger: log, Version: version()})
	if err != nil {
		stopStore()
		return nil, nil, err
	}
	return a, func() {
		a.Close(context.Background())
		stopStore()
	}, nil
}

// admin promotes or demotes the user with this email.
func admin(ctx context.Context, cfg config.Config, log *slog.Logger, verb, email string, stdout io.Writer) error {
	a, closeApp, err := adminApp(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer closeApp()
	if verb == "demote" {
		u, err := a.Accounts.Demote(ctx, email)
		if err != nil {
			return fmt.Errorf("admin demote: %w", err)
		}
		fmt.Fprintf(stdout, "%s (%s) is no longer an admin\n", u.Email, u.ID.Hex())
		return nil
	}
	u, err := a.Accounts.Promote(ctx, email)
	if err != nil {
		return fmt.Errorf("admin promote: %w", err)
	}
	fmt.Fprintf(stdout, "%s (%s) is now an admin\n", u.Email, u.ID.Hex())
	return nil
}

// clients adds, lists or removes service clients (args: add NAME, list, remove ID).
func clients(ctx context.Context, cfg config.Config, log *slog.Logger, args []string, stdout io.Writer) error {
	a, closeApp, err := adminApp(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer closeApp()
	switch args[0] {
	case "add":
		c, secret, err := a.Clients.Add(ctx, args[1])
		if err != nil {
			return fmt.Errorf("clients add: %w", err)
		}
		fmt.Fprintf(stdout, "client_id: %s\nclient_secret: %s\n", c.ID, secret)
		fmt.Fprintln(stdout, "The secret is shown this once; Lanyard keeps only its hash.")
	case "list":
		cs, err := a.Clients.List(ctx)
		if err != nil {
			return fmt.Errorf("clients list: %w", err)
		}
		for _, c := range cs {
			fmt.Fprintf(stdout, "%s\t%s\t%s\n", c.ID, c.CreatedAt.UTC().Format(time.RFC3339), c.Name)
		}
	case "remove":
		if err := a.Clients.Remove(ctx, args[1]); err != nil {
			return fmt.Errorf("clients remove: %w", err)
		}
		fmt.Fprintf(stdout, "client %s removed\n", args[1])
	}
	return nil
}

// keys lists or rotates the signing keys, in the store the admin commands use. It
// never prints key material; every running instance picks a rotation up by itself.
func keys(ctx context.Context, cfg config.Config, log *slog.Logger, verb string, stdout io.Writer) error {
	a, closeApp, err := adminApp(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer closeApp()
	if verb == "rotate" {
		k, err := a.Keys.Rotate(ctx)
		if err != nil {
			return fmt.Errorf("keys rotate: %w", err)
		}
		fmt.Fprintf(stdout, "added key %s: published now, signs from %s\n", k.KID, k.SignsFrom.Format(time.RFC3339))
		return nil
	}
	list, err := a.Keys.List(ctx)
	if err != nil {
		return fmt.Errorf("keys list: %w", err)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KID\tCREATED\tSIGNS FROM\tRETIRED\tEXPIRES")
	at := func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.Format(time.RFC3339)
	}
	for _, k := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", k.KID, at(k.CreatedAt), at(k.SignsFrom), at(k.RetiredAt), at(k.ExpiresAt))
	}
	return tw.Flush()
}

// newHTTPServer is the server of a listener of serve's, with its timeouts and limits.
func newHTTPServer(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}
