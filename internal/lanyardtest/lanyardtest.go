// Package lanyardtest is the shared test setup: one MongoDB-protocol store per test
// binary (the embedded FerretDB, or LANYARD_TEST_MONGODB_URI), a fresh database per
// test, and the real HTTP handler behind an httptest.Server.
package lanyardtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/lanyard/lanyard/internal/app"
	"github.com/lanyard/lanyard/internal/config"
	"github.com/lanyard/lanyard/internal/password"
	"github.com/lanyard/lanyard/internal/store"
)

// shared is the store every test of this binary uses.
var shared struct {
	uri      string
	dir      string
	embedded *store.Embedded
}

// Main runs a test binary's tests around one store: call it from TestMain as
// os.Exit(lanyardtest.Main(m)). With LANYARD_TEST_MONGODB_URI set the tests use that
// server; otherwise an embedded store in a temporary directory.
func Main(m *testing.M) int {
	if uri := os.Getenv("LANYARD_TEST_MONGODB_URI"); uri != "" {
		shared.uri = uri
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "lanyard-test-store-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "lanyardtest:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	e, err := store.StartEmbedded(store.EmbeddedOptions{
		Dir: dir, Addr: "127.0.0.1:0",
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "lanyardtest:", err)
		return 1
	}
	defer e.Stop()
	shared.uri, shared.dir, shared.embedded = e.URI(), dir, e
	return m.Run()
}

// Embedded reports whether the tests run on the embedded store.
func Embedded() bool { return shared.embedded != nil }

// Env is one test's running service.
type Env struct {
	t      testing.TB
	URL    string
	App    *app.App
	Config config.Config
	// DB is the test's database, for tests that inspect documents as stored.
	DB       *mongo.Database
	Commands *Commands
	// Store is set with WithOwnStore.
	Store *StoreControl
	// SQLiteFile is the embedded store's file of this test's database ("" on MongoDB).
	SQLiteFile string
	// StoreURI is where the service reaches its store.
	StoreURI string
	client   *http.Client
}

// Option adjusts an Env before it starts.
type Option func(*envOptions)

type envOptions struct {
	env        map[string]string
	now        func() time.Time
	ownStore   bool
	afterBatch func(relation string, batch int) error
	timeout    time.Duration
	log        io.Writer
	mailTLS    *tls.Config
	mailPoll   time.Duration
	existing   func(ctx context.Context, db *mongo.Database) error
}

// WithExisting runs fill on the test's database before the service starts in it: the
// application's collections, documents and indexes that were there before Lanyard.
func WithExisting(fill func(ctx context.Context, db *mongo.Database) error) Option {
	return func(o *envOptions) { o.existing = fill }
}

// WithLog writes the service's log to w, as text, at debug level.
func WithLog(w io.Writer) Option {
	return func(o *envOptions) { o.log = w }
}

// WithDeleteHook runs hook after each batch of a chain delete; an error stops the job
// there, as a crash would.
func WithDeleteHook(hook func(relation string, batch int) error) Option {
	return func(o *envOptions) { o.afterBatch = hook }
}

// WithRequestTimeout bounds each request's work (the default is 5 s).
func WithRequestTimeout(d time.Duration) Option {
	return func(o *envOptions) { o.timeout = d }
}

// WithRelations writes a relations file (YAML or JSON) and declares it.
func WithRelations(t testing.TB, doc string) Option {
	path := filepath.Join(t.TempDir(), "relations.yaml")
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatalf("lanyardtest: relations file: %v", err)
	}
	return WithEnv("LANYARD_RELATIONS_FILE", path)
}

// WithOwnStore gives the test an embedded store of its own, which it can stop and
// start again through Env.Store without disturbing other tests.
func WithOwnStore() Option {
	return func(o *envOptions) { o.ownStore = true }
}

// StoreControl stops and restarts a test's own store, on the same address and files.
type StoreControl struct {
	t    testing.TB
	dir  string
	addr string
	mu   sync.Mutex
	e    *store.Embedded
}

// Stop shuts the store down; the service's requests then fail until Start.
func (c *StoreControl) Stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.e != nil {
		c.e.Stop()
		c.e = nil
	}
}

// Start brings the store back on its old address.
func (c *StoreControl) Start() {
	c.t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.e != nil {
		return
	}
	e, err := store.StartEmbedded(store.EmbeddedOptions{Dir: c.dir, Addr: c.addr, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		c.t.Fatalf("lanyardtest: start own store: %v", err)
	}
	c.e, c.addr = e, e.Addr()
}

// StartStore brings the test's own store back (WithOwnStore) and waits until the
// service is ready on it again, so that the test's cleanup can drop its database.
func (e *Env) StartStore() {
	e.t.Helper()
	e.Store.Start()
	for i := 0; e.Do("GET", "/readyz", nil).Status != http.StatusOK; i++ {
		if i == 100 {
			e.t.Fatal("lanyardtest: /readyz not 200 after the store came back")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// WithEnv sets a configuration variable, as the environment would.
func WithEnv(name, value string) Option {
	return func(o *envOptions) { o.env[name] = value }
}

// WithClock makes the service read the time from now.
func WithClock(now func() time.Time) Option {
	return func(o *envOptions) { o.now = now }
}

// New starts the service on a fresh database and stops it when the test ends.
func New(t testing.TB, opts ...Option) *Env {
	t.Helper()
	e, err := TryNew(t, opts...)
	if err != nil {
		t.Fatalf("lanyardtest: start: %v", err)
	}
	return e
}

// TryNew is New that returns the service's start-up error instead of failing the
// test, for tests of what stops a start.
func TryNew(t testing.TB, opts ...Option) (*Env, error) {
	t.Helper()
	if shared.uri == "" {
		t.Fatal("lanyardtest: no store; call lanyardtest.Main from TestMain")
	}
	o := envOptions{env: map[string]string{
		"LANYARD_JWT_SECRET":       randomKey(),
		"LANYARD_DATA_KEY":         randomKey(),
		"LANYARD_DATA_DIR":         t.TempDir(),
		"LANYARD_DB":               "t_" + randomHex(8),
		"LANYARD_STORE_ADDR":       "127.0.0.1:0",
		"LANYARD_HASH_CONCURRENCY": "4",
		// Tests register many accounts from one address; throttling tests lower these.
		"LANYARD_REGISTER_LIMIT":      "100000",
		"LANYARD_LOGIN_FAILURE_LIMIT": "100000",
	},
		// The sender sends what the test's own requests queue at once; looking for
		// other mails every few seconds would only add background commands to what
		// tests count. WithMailPoll sets it for the tests of retries.
		mailPoll: time.Hour,
	}
	for _, opt := range opts {
		opt(&o)
	}
	cfg, err := config.Load(func(k string) string { return o.env[k] })
	if err != nil {
		t.Fatalf("lanyardtest: config: %v", err)
	}
	uri, sqliteFile := shared.uri, ""
	if shared.embedded != nil {
		sqliteFile = store.SQLiteFile(shared.dir, cfg.DB)
	}
	var own *StoreControl
	if o.ownStore {
		own = &StoreControl{t: t, dir: t.TempDir(), addr: "127.0.0.1:0"}
		own.Start()
		t.Cleanup(own.Stop)
		uri, sqliteFile = own.e.URI(), store.SQLiteFile(own.dir, cfg.DB)
	}
	cmds := &Commands{}
	logger := slog.New(slog.DiscardHandler)
	if o.log != nil {
		logger = slog.New(slog.NewTextHandler(o.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if o.existing != nil {
		fillExisting(t, ctx, uri, cfg.DB, o.existing)
	}
	a, err := app.New(ctx, cfg, uri, app.Options{
		Hash:    password.Cheap,
		Logger:  logger,
		Now:     o.now,
		Monitor: cmds.monitor(),
		Version: "test",
		// Tests resume interrupted deletes themselves, at the moment they choose.
		ResumeInterval:   time.Hour,
		AfterDeleteBatch: o.afterBatch,
		RequestTimeout:   o.timeout,
		SQLiteFile:       sqliteFile,
		MailTLS:          o.mailTLS,
		MailPollEvery:    o.mailPoll,
	})
	if err != nil {
		return nil, err
	}
	srv := httptest.NewServer(a.Handler)
	e := &Env{t: t, URL: srv.URL, App: a, Config: cfg, DB: a.Store.Raw(), Commands: cmds, Store: own, SQLiteFile: sqliteFile, StoreURI: uri, client: srv.Client()}
	t.Cleanup(func() {
		srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if own != nil {
			own.Start() // a test may leave its store stopped
		}
		a.Deleter.Shutdown() // no job may write after the drop
		a.Sessions.Wait()
		if err := a.Store.Drop(ctx); err != nil {
			t.Errorf("lanyardtest: drop database: %v", err)
		}
		_ = a.Close(ctx)
	})
	return e, nil
}

// fillExisting runs fill on database name of the store at uri, and drops the database
// when the test ends (a service that did not start drops nothing).
func fillExisting(t testing.TB, ctx context.Context, uri, name string, fill func(context.Context, *mongo.Database) error) {
	t.Helper()
	client, err := mongo.Connect(options.Client().ApplyURI(uri))
	if err != nil {
		t.Fatalf("lanyardtest: connect: %v", err)
	}
	db := client.Database(name)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = db.Drop(ctx)
		_ = client.Disconnect(ctx)
	})
	if err := fill(ctx, db); err != nil {
		t.Fatalf("lanyardtest: existing data: %v", err)
	}
}

func randomKey() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Response is a finished HTTP exchange.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into v, failing the test if it cannot.
func (r *Response) JSON(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %s: %v", r.Body, err)
	}
}

// Map decodes the body as a JSON object.
func (r *Response) Map(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	r.JSON(t, &m)
	return m
}

// Raw is a request body sent exactly as given, with its content type.
type Raw struct {
	ContentType string
	Body        string
}

// Form is an application/x-www-form-urlencoded body.
func Form(v url.Values) Raw {
	return Raw{ContentType: "application/x-www-form-urlencoded", Body: v.Encode()}
}

// Do sends a request. body is nil, a Raw, or a value sent as JSON. headers are
// name, value pairs; "Bearer" as a name sets Authorization: Bearer <value>.
func (e *Env) Do(method, path string, body any, headers ...string) *Response {
	e.t.Helper()
	var rd io.Reader
	ct := ""
	switch b := body.(type) {
	case nil:
	case Raw:
		rd, ct = strings.NewReader(b.Body), b.ContentType
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.t.Fatalf("encode body: %v", err)
		}
		rd, ct = bytes.NewReader(j), "application/json"
	}
	req, err := http.NewRequest(method, e.URL+path, rd)
	if err != nil {
		e.t.Fatalf("request: %v", err)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i] == "Bearer" {
			req.Header.Set("Authorization", "Bearer "+headers[i+1])
			continue
		}
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := e.client.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return &Response{Status: res.StatusCode, Header: res.Header, Body: b}
}

// Must fails the test unless r has status want.
func (r *Response) Must(t testing.TB, want int) *Response {
	t.Helper()
	if r.Status != want {
		t.Fatalf("status = %d; want %d; body: %s", r.Status, want, r.Body)
	}
	return r
}

// Account is a registered user with its credentials and a fresh token pair.
type Account struct {
	ID, Email, Username, Password string
	Access, Refresh               string
}

// DefaultPassword is a password every validation rule accepts.
const DefaultPassword = "correct horse battery staple"

// Register creates an account with a unique email (prefix@example.com) and logs it in.
func (e *Env) Register(prefix string) Account {
	e.t.Helper()
	a := Account{Email: prefix + "-" + randomHex(4) + "@example.com", Password: DefaultPassword}
	r := e.Do("POST", "/api/auth/register", map[string]any{"email": a.Email, "password": a.Password}).Must(e.t, http.StatusCreated)
	a.ID, _ = r.Map(e.t)["id"].(string)
	e.Login(&a)
	return a
}

// Login logs a in by email and stores the new token pair in it.
func (e *Env) Login(a *Account) {
	e.t.Helper()
	r := e.Do("POST", "/api/auth/login", map[string]any{"email": a.Email, "password": a.Password}).Must(e.t, http.StatusOK)
	m := r.Map(e.t)
	a.Access, _ = m["access_token"].(string)
	a.Refresh, _ = m["refresh_token"].(string)
}

// Promote makes a an admin.
func (e *Env) Promote(a Account) {
	e.t.Helper()
	if _, err := e.App.Accounts.Promote(context.Background(), a.Email); err != nil {
		e.t.Fatalf("promote: %v", err)
	}
}

// Commands counts the database commands the service sends on requests' behalf:
// background work (store.Background: the loops, the mail sender, session tidying) is
// no request's cost, so neither the counts nor the events kept for Filters hold it.
// A registration's mail, sent while the next request runs, then costs that request
// nothing.
type Commands struct {
	mu     sync.Mutex
	counts map[string]int
	events []*event.CommandStartedEvent
}

func (c *Commands) monitor() *event.CommandMonitor {
	return &event.CommandMonitor{Started: func(ctx context.Context, ev *event.CommandStartedEvent) {
		c.mu.Lock()
		defer c.mu.Unlock()
		if store.IsBackground(ctx) {
			return
		}
		if c.counts == nil {
			c.counts = map[string]int{}
		}
		c.counts[ev.CommandName]++
		c.events = append(c.events, ev)
	}}
}

// Reset forgets what was counted so far.
func (c *Commands) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.counts = map[string]int{}
	c.events = nil
}

// Count returns how many commands of this name (find, insert, update, ...) were sent.
func (c *Commands) Count(name string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.counts[name]
}

// Total returns how many commands were sent, handshakes and pings excluded.
func (c *Commands) Total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for name, k := range c.counts {
		switch name {
		case "hello", "isMaster", "ismaster", "ping", "endSessions", "buildInfo", "saslStart", "saslContinue":
			continue
		}
		n += k
	}
	return n
}

// Connections returns how many distinct connections carried the commands named
// (insert, update, ...) sent so far on a request's behalf.
func (c *Commands) Connections(names ...string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	seen := map[string]bool{}
	for _, ev := range c.events {
		if slices.Contains(names, ev.CommandName) {
			seen[ev.ConnectionID] = true
		}
	}
	return len(seen)
}

// Filters returns the filter of every command sent to collection coll so far, in
// order: find's filter ({} when it has none), findAndModify's query, the q of each
// statement of an update or delete, count's and distinct's query. Inserts and index
// commands have no filter and are left out; any other command (aggregate, ...) is
// returned whole, so a check that every filter is a plain key lookup fails on it.
func (c *Commands) Filters(coll string) []bson.Raw {
	c.mu.Lock()
	defer c.mu.Unlock()
	empty := bson.Raw{5, 0, 0, 0, 0} // {}
	var out []bson.Raw
	for _, ev := range c.events {
		if target, ok := ev.Command.Lookup(ev.CommandName).StringValueOK(); !ok || target != coll {
			continue
		}
		field := func(doc bson.Raw, name string) bson.Raw {
			if d, ok := doc.Lookup(name).DocumentOK(); ok {
				return d
			}
			return empty
		}
		switch ev.CommandName {
		case "insert", "createIndexes", "listIndexes", "dropIndexes", "create", "drop":
		case "find":
			out = append(out, field(ev.Command, "filter"))
		case "findAndModify", "count", "distinct":
			out = append(out, field(ev.Command, "query"))
		case "update", "delete":
			stmts, _ := ev.Command.Lookup(ev.CommandName + "s").ArrayOK()
			vals, _ := stmts.Values()
			for _, v := range vals {
				if d, ok := v.DocumentOK(); ok {
					out = append(out, field(d, "q"))
				}
			}
		default:
			out = append(out, ev.Command)
		}
	}
	return out
}
