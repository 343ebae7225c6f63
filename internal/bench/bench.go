// Package bench is the load tool behind `lanyard bench`. It drives each scenario
// (register, login, GET /me with and without expand, link, refresh, the admin list,
// the deletion plan, the export, chain delete) at a concurrency for a duration,
// against a running server or one it starts in-process on the embedded store, and
// measures in the same run the two floors Lanyard's costs sit on: the store's
// FindOne by _id and argon2id hashing.
//
// The tool talks to the server under test through HTTP and, when it has access to the
// server's store, writes seed documents and runs the FindOne baseline through the
// MongoDB driver directly; that is the point of a baseline, and why this package, a
// tool rather than a layer of the service, imports the driver.
package bench

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/lanyard/lanyard/internal/config"
	"github.com/lanyard/lanyard/internal/keyring"
	"github.com/lanyard/lanyard/internal/linkid"
	"github.com/lanyard/lanyard/internal/password"
	"github.com/lanyard/lanyard/internal/store"
	"github.com/lanyard/lanyard/internal/token"
)

// Options configure a benchmark run.
type Options struct {
	// URL is a running server; empty starts one in-process on the embedded store.
	URL string
	// Duration is how long each scenario and baseline runs.
	Duration time.Duration
	// Concurrency is the number of clients of each scenario.
	Concurrency int
	// Scenarios to run (see Names); empty runs them all.
	Scenarios []string
	// Users is how many users to seed before the scenarios, each with two linked IDs
	// and three sessions. The run seeds at least Concurrency users (one per client),
	// and at least 100 for admin_list.
	Users int
	// OneAddress sends every client's requests from the bench's own address instead
	// of one address per client (see run.request). Against URL, per-client addresses
	// count only if the server trusts the bench as a proxy (LANYARD_TRUSTED_PROXIES).
	OneAddress bool
	// DeleteDocs is how many documents (posts and comments) each user deleted in
	// chain_delete holds: DeleteDocs/11 posts, the rest comments spread over them.
	DeleteDocs int
	// Posts is how many posts of the declared relation posts (parent users) to seed,
	// each with one comment (relation comments, parent posts), among them
	// postsPerMeasured for each client's user and the rest spread over the other
	// seeded users. The expand scenario seeds the clients' posts even when Posts is
	// smaller.
	Posts int
	// Env is the configuration lanyard bench was started with. With URL and
	// Env.MongoURI set, the bench reaches the server's store through Env (MongoURI,
	// DB, DataKey, Issuer, Audience, AccessTTL, RefreshTTL), which seeding by
	// direct inserts, the admin, chain_delete and the FindOne baseline need.
	Env config.Config
	// Hash is the argon2id cost of the in-process server, of the seeded users'
	// password hash and of the hashing baseline; zero means password.Default.
	Hash password.Params
	// Logger receives the in-process server's log, StoreLogger its store's (FerretDB
	// logs every failed command: give it a logger at error level). nil: discarded.
	Logger, StoreLogger *slog.Logger
	// Progress receives a line a second while a scenario runs; nil: none.
	Progress io.Writer
	// Notes are added to the report's notes (how the caller set up the process).
	Notes []string
	// CPUProfile, when set, receives a CPU profile from the start of the first
	// scenario to the end (so not of seeding, nor of the baseline run before the
	// first scenario; --scenarios narrows it). The in-process server runs in this
	// process, so its work is in the profile too.
	CPUProfile io.Writer
}

// Report is the outcome of a run.
type Report struct {
	Target      string  `json:"target"`
	Machine     Machine `json:"machine"`
	Duration    string  `json:"duration"`
	Concurrency int     `json:"concurrency"`
	Users       int     `json:"users_seeded"`
	DeleteDocs  int     `json:"delete_docs"`
	Seeding     string  `json:"seeding"`
	SeedSeconds float64 `json:"seed_seconds"`
	// Posts were seeded with a comment each, PostsSeconds taken; PostsSeeding says
	// how, or why none were.
	Posts        int      `json:"posts_seeded"`
	PostsSeconds float64  `json:"posts_seed_seconds"`
	PostsSeeding string   `json:"posts_seeding,omitempty"`
	Scenarios    []Result `json:"scenarios"`
	Baselines    []Result `json:"baselines"`
	Ratios       []Ratio  `json:"ratios"`
	Notes        []string `json:"notes"`
}

// Machine describes where the run happened.
type Machine struct {
	CPUs       int    `json:"cpus"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	CPU        string `json:"cpu,omitempty"`
	OS         string `json:"os"`
	Arch       string `json:"arch"`
	Go         string `json:"go"`
}

// Ratio compares a scenario with its floor.
type Ratio struct {
	Name   string  `json:"name"`
	Value  float64 `json:"value"`
	Target string  `json:"target"`
	Met    bool    `json:"met"`
}

// Baseline names.
const (
	BaselineFindOne = "raw FindOne by _id"
	BaselineHash    = "raw argon2id hash"
)

// run is the state the scenarios share.
type run struct {
	o        Options
	c        *client
	seed     seeder
	direct   *direct // nil without access to the store
	db       *mongo.Database
	users    []*account
	admin    *account
	adminErr error
	chain    *chain
	chainErr error
	// ownPosts is how many posts (one comment each) every client's user owns;
	// postsErr says why none when it is 0.
	ownPosts int
	postsErr error
	nonce    string
	password string
	// inProcess is set when the server runs in this process.
	inProcess bool
}

// worker is the seeded user client i acts as: the clients spread over the seeded set.
func (r *run) worker(i int) *account {
	return r.users[i*len(r.users)/r.o.Concurrency]
}

// Run benchmarks the server at o.URL, or one it starts, and reports what it measured.
// Interrupted (ctx ends) once measuring has begun, it returns what it measured so far
// with the context's error.
func Run(ctx context.Context, o Options) (*Report, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	r := &run{o: o, nonce: randomHex(4)}
	r.password = "lanyard bench " + r.nonce
	rep := &Report{
		Machine: machine(), Duration: o.Duration.String(), Concurrency: o.Concurrency, DeleteDocs: o.DeleteDocs,
		Target: o.URL, Notes: slices.Clone(o.Notes),
	}
	var storeURI string
	var keys config.Config
	if o.URL == "" {
		l, err := startLocal(ctx, o)
		if err != nil {
			return nil, err
		}
		defer l.close()
		o.URL, storeURI, keys = l.url, l.emb.URI(), l.cfg
		r.inProcess = true
		r.chain = &inProcessChain
		rep.Target = "in-process server on the embedded store (FerretDB, SQLite) in a temporary directory; the load generator runs in the same process"
		rep.Notes = append(rep.Notes, fmt.Sprintf("in-process server: argon2id m=%d KiB t=%d p=%d, LANYARD_HASH_CONCURRENCY=%d, registration and login-failure limits raised out of the way; %d collections created before the service started, so that the indexes it makes at start-up (FerretDB's missing _id index among them) cover them",
			o.Hash.Memory, o.Hash.Time, o.Hash.Threads, runtime.NumCPU(), l.indexed))
	} else {
		rep.Notes = append(rep.Notes, "the hashing baseline runs on this machine: login ÷ raw argon2id compares like with like only when the server runs here too")
		if o.Env.MongoURI != "" {
			storeURI, keys = o.Env.MongoURI, o.Env
		}
	}
	if o.OneAddress {
		rep.Notes = append(rep.Notes, "every client comes from the bench's own address")
	} else {
		rep.Notes = append(rep.Notes, "each client has its own address (X-Forwarded-For 198.18.x.y; it counts only where the server trusts the bench as a proxy, as the in-process server does)")
	}
	r.c = newClient(o.URL, o.Concurrency)
	defer r.c.close()
	if err := r.c.call(ctx, http.MethodGet, "/healthz", "", nil, nil); err != nil {
		return nil, fmt.Errorf("bench: the server does not answer: %w", err)
	}

	if storeURI != "" {
		cl, err := mongo.Connect(options.Client().ApplyURI(storeURI).SetAppName("lanyard-bench"))
		if err != nil {
			return nil, fmt.Errorf("bench: store: %w", err)
		}
		defer cl.Disconnect(context.WithoutCancel(ctx))
		r.db = cl.Database(keys.DB)
		st, err := store.Open(ctx, storeURI, keys.DB, store.Options{})
		if err != nil {
			return nil, fmt.Errorf("bench: store: %w", err)
		}
		defer st.Close(context.WithoutCancel(ctx))
		// Idempotent, as every instance runs it at start-up; it also tells the store
		// what kind of server it talks to.
		if err := st.EnsureIndexes(ctx); err != nil {
			return nil, fmt.Errorf("bench: store: %w", err)
		}
		if r.direct, err = r.newDirect(ctx, st, keys); err != nil {
			return nil, err
		}
		r.seed = r.direct
	} else {
		r.seed = &viaAPI{c: r.c, password: r.password, nonce: r.nonce, conc: o.Concurrency, progress: o.Progress}
		rep.Notes = append(rep.Notes, "no access to the server's store (set MONGODB_URI and the server's keys for it): users are made through the API, and the FindOne baseline, admin_list and chain_delete are skipped")
	}

	if err := r.prepare(ctx, rep); err != nil {
		return nil, err
	}
	err := r.scenarios(ctx, rep)
	realHash := o.Hash == password.Default
	rep.Ratios = ratios(rep, realHash)
	if !realHash && r.selected("login") {
		rep.Notes = append(rep.Notes, "login ÷ raw argon2id is left out: the hash cost is not the real one")
	}
	return rep, err
}

func (o *Options) defaults() error {
	if o.Duration <= 0 {
		o.Duration = 10 * time.Second
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 32
	}
	if o.DeleteDocs <= 0 {
		o.DeleteDocs = 100
	}
	if o.Hash == (password.Params{}) {
		o.Hash = password.Default
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.StoreLogger == nil {
		o.StoreLogger = slog.New(slog.DiscardHandler)
	}
	if len(o.Scenarios) == 0 {
		o.Scenarios = Names()
	}
	for _, s := range o.Scenarios {
		if !slices.Contains(Names(), s) {
			return fmt.Errorf("bench: unknown scenario %q; scenarios: %s", s, strings.Join(Names(), ", "))
		}
	}
	o.URL = strings.TrimRight(o.URL, "/")
	return nil
}

func (r *run) selected(name string) bool { return slices.Contains(r.o.Scenarios, name) }

// newDirect prepares seeding through the driver: the server's keys, and the one
// password hash every seeded user shares.
func (r *run) newDirect(ctx context.Context, st *store.Store, keys config.Config) (*direct, error) {
	lk, err := linkid.NewKeys(keys.DataKey)
	if err != nil {
		return nil, fmt.Errorf("bench: LANYARD_DATA_KEY: %w", err)
	}
	signer, err := token.NewSigner(token.Options{Issuer: keys.Issuer, Audience: keys.Audience, TTL: keys.AccessTTL})
	if err != nil {
		return nil, fmt.Errorf("bench: access tokens: %w", err)
	}
	// The seeded sessions' access tokens are signed with the server's own key, from
	// its store (sealed under LANYARD_DATA_KEY).
	ring, err := keyring.New(keyring.Options{Store: st, DataKey: keys.DataKey, Signer: signer, PublishDelay: keys.KeyPublishDelay})
	if err != nil {
		return nil, fmt.Errorf("bench: LANYARD_DATA_KEY: %w", err)
	}
	if err := ring.Start(ctx); err != nil {
		return nil, fmt.Errorf("bench: signing keys: %w", err)
	}
	phc, err := password.NewHasher(password.Options{Params: r.o.Hash}).Hash(ctx, r.password)
	if err != nil {
		return nil, fmt.Errorf("bench: hash the seed password: %w", err)
	}
	return &direct{
		st: st, db: r.db, keys: lk, signer: signer, phc: phc, password: r.password, nonce: r.nonce,
		refreshTTL: keys.RefreshTTL, progress: r.o.Progress,
	}, nil
}

// prepare seeds the users, checks that the server reads them, and makes the admin
// and the chain that some scenarios need.
func (r *run) prepare(ctx context.Context, rep *Report) error {
	n := max(r.o.Users, r.o.Concurrency)
	if r.selected("admin_list") {
		n = max(n, 100)
	}
	posts := r.postsWanted()
	if posts > postsPerMeasured*r.o.Concurrency {
		n = max(n, r.o.Concurrency+1) // someone other than the clients' users owns the rest
	}
	start := time.Now()
	users, err := r.seed.users(ctx, n)
	if err != nil {
		return fmt.Errorf("bench: seed %d users: %w", n, err)
	}
	r.users = users
	rep.Users, rep.SeedSeconds, rep.Seeding = n, time.Since(start).Seconds(), r.seed.describe()
	r.progressf("seeded %d users (%d linked IDs, %d sessions) in %.1fs: %s", n, n*linkedPerUser, n*sessionsPerUser, rep.SeedSeconds, rep.Seeding)
	if r.direct != nil {
		if err := r.checkSeeded(ctx); err != nil {
			return err
		}
	}
	// Against --url, the admin also reads the server's relations (findChain).
	needChain := r.selected("chain_delete") || posts > 0
	if r.selected("admin_list") || r.selected("resolve") || r.selected("chain_delete") || (needChain && r.chain == nil) {
		r.admin, r.adminErr = r.seed.fresh(ctx, true)
		if r.adminErr != nil && !errors.Is(r.adminErr, errNeedsStore) {
			return fmt.Errorf("bench: admin: %w", r.adminErr)
		}
	}
	if r.chain == nil && r.admin != nil && needChain {
		r.chain, r.chainErr = r.findChain(ctx)
	}
	if posts > 0 {
		return r.seedPosts(ctx, rep, posts)
	}
	return nil
}

// postsPerMeasured is how many posts (one comment each) every client's user owns,
// so that what expand returns for it is the same whatever the store holds.
const postsPerMeasured = 10

// postsWanted is how many posts to seed: Options.Posts, and at least the clients'
// own when expand runs.
func (r *run) postsWanted() int {
	if r.o.Posts == 0 && !r.selected("expand") {
		return 0
	}
	return max(r.o.Posts, postsPerMeasured*r.o.Concurrency)
}

// seedPosts writes n posts with one comment each: postsPerMeasured for every
// client's user, the rest spread over the other seeded users in turn.
func (r *run) seedPosts(ctx context.Context, rep *Report, n int) error {
	switch {
	case r.direct == nil:
		r.postsErr = fmt.Errorf("writing posts %w", errNeedsStore)
	case r.chain == nil:
		r.postsErr = cmp.Or(r.chainErr, r.adminErr)
	}
	if r.postsErr != nil {
		rep.PostsSeeding = "no posts seeded: " + r.postsErr.Error()
		return nil
	}
	conc := r.o.Concurrency
	measured := make([]bson.ObjectID, conc)
	skip := make(map[bson.ObjectID]bool, conc)
	for i := range measured {
		measured[i] = r.worker(i).id
		skip[measured[i]] = true
	}
	var others []bson.ObjectID
	for _, a := range r.users {
		if !skip[a.id] {
			others = append(others, a.id)
		}
	}
	mine := postsPerMeasured * conc
	owner := func(i int) bson.ObjectID {
		if i < mine {
			return measured[i/postsPerMeasured]
		}
		return others[(i-mine)%len(others)]
	}
	start := time.Now()
	if err := r.direct.posts(ctx, *r.chain, n, owner); err != nil {
		return fmt.Errorf("bench: seed %d posts: %w", n, err)
	}
	r.ownPosts = postsPerMeasured
	rep.Posts, rep.PostsSeconds = n, time.Since(start).Seconds()
	rep.PostsSeeding = fmt.Sprintf("%d posts (%s.%s, ObjectIds) with one comment each (%s.%s) written straight into the store in batches of %d: %d for each of the %d clients' users, the other %d spread over the other %d seeded users",
		n, r.chain.posts.collection, r.chain.posts.field, r.chain.comments.collection, r.chain.comments.field, postBatch, postsPerMeasured, conc, n-mine, len(others))
	r.progressf("seeded %d posts and %d comments in %.1fs", n, n, rep.PostsSeconds)
	return nil
}

// checkSeeded proves through the API that the server reads the seeded documents as
// it reads its own: a seeded user logs in, reads itself, lists its linked IDs and
// refreshes a seeded session. Seeding writes the store's current layout; if that layout changes, this
// fails instead of the scenarios measuring nonsense.
func (r *run) checkSeeded(ctx context.Context) error {
	a := r.users[0]
	fail := func(what string, err error) error {
		return fmt.Errorf("bench: %s: %w (the seeded documents are not what the server reads: has the store layout changed? see internal/bench/seed.go)", what, err)
	}
	if err := r.c.call(ctx, http.MethodPost, "/api/auth/login", "", map[string]string{"email": a.email, "password": a.password}, nil); err != nil {
		return fail("a seeded user cannot log in", err)
	}
	tok, err := r.seed.token(ctx, a)
	if err != nil {
		return err
	}
	// Not ?expand=: on the embedded store it reads the whole sessions collection,
	// which at 100,000 users outlasts the request timeout.
	if err := r.c.call(ctx, http.MethodGet, "/api/users/me", tok, nil, nil); err != nil {
		return fail("a seeded user cannot read itself", err)
	}
	var list struct {
		Items []json.RawMessage `json:"items"`
	}
	if err := r.c.call(ctx, http.MethodGet, "/api/users/me/linked-ids", tok, nil, &list); err != nil || len(list.Items) != linkedPerUser {
		return fail("a seeded user's linked IDs", fmt.Errorf("%d listed (%v); want %d", len(list.Items), err, linkedPerUser))
	}
	var p pair
	if err := r.c.call(ctx, http.MethodPost, "/api/auth/refresh", "", map[string]string{"refresh_token": a.refresh}, &p); err != nil {
		return fail("a seeded session cannot refresh", err)
	}
	a.refresh = p.Refresh
	return nil
}

// findChain reads the running server's registry for the chain-delete relations.
func (r *run) findChain(ctx context.Context) (*chain, error) {
	tok, err := r.seed.token(ctx, r.admin)
	if err != nil {
		return nil, err
	}
	var reg struct {
		Relations []struct {
			Name, Collection, Parent, Field string
			OnDelete                        string `json:"on_delete"`
			IDFormat                        string `json:"id_format"`
		} `json:"relations"`
	}
	if err := r.c.call(ctx, http.MethodGet, "/api/relations", tok, nil, &reg); err != nil {
		return nil, err
	}
	c := &chain{}
	for _, rel := range reg.Relations {
		ok := rel.OnDelete == "cascade" && rel.IDFormat == "objectid"
		switch {
		case rel.Name == "posts" && rel.Parent == "users" && ok:
			c.posts = relInfo{collection: rel.Collection, field: rel.Field}
		case rel.Name == "comments" && rel.Parent == "posts" && ok:
			c.comments = relInfo{collection: rel.Collection, field: rel.Field}
		}
	}
	if c.posts.collection == "" || c.comments.collection == "" {
		return nil, errors.New("the server declares no cascade relations posts (parent users) and comments (parent posts); its relations file needs:\n" + relationsFile)
	}
	return c, nil
}

// Each baseline runs right before the first scenario compared with it, so that the
// two see the same store and the same machine as nearly as possible.
var baselineBefore = map[string]string{
	"me": BaselineFindOne, "me_expand": BaselineFindOne,
	"login": BaselineHash, "register": BaselineHash,
}

// baselinePlayers returns the clients of one floor: FindOne by _id on the users
// collection as seeded, by the same users the me clients read, at the same
// concurrency; or argon2id hashes with every core. skipped says why there are none.
func (r *run) baselinePlayers(name string) (ps []player, note, skipped string) {
	switch name {
	case BaselineFindOne:
		if r.db == nil {
			return nil, "", "no access to the server's store"
		}
		coll := r.db.Collection("users")
		ps = make([]player, r.o.Concurrency)
		for i := range ps {
			ps[i] = &findOnePlayer{coll: coll, id: r.worker(i).id}
		}
		return ps, fmt.Sprintf("driver FindOne({_id}) on users (%d documents), %d clients, straight to the store", len(r.users), r.o.Concurrency), ""
	default:
		n := runtime.NumCPU()
		h := password.NewHasher(password.Options{Params: r.o.Hash, Concurrency: n, MaxWait: time.Minute})
		ps = make([]player, n)
		for i := range ps {
			ps[i] = &hashPlayer{h: h, pw: r.password}
		}
		return ps, fmt.Sprintf("password.Hasher.Hash, m=%d KiB t=%d p=%d, %d goroutines on %d cores", r.o.Hash.Memory, r.o.Hash.Time, r.o.Hash.Threads, n, n), ""
	}
}

// baseline measures one floor whole.
func (r *run) baseline(ctx context.Context, name string) Result {
	ps, note, skipped := r.baselinePlayers(name)
	if skipped != "" {
		return Result{Name: name, Skipped: skipped}
	}
	return withNote(measure(ctx, name, r.o.Duration, ps, r.o.Progress), note)
}

// rounds is how many turns a scenario and the baseline it is compared with take
// (see run.interleaved).
const rounds = 5

// scenarios runs the selected scenarios in their order. The first scenario compared
// with a baseline takes turns with it (run.interleaved); a baseline's other
// scenarios run alone.
func (r *run) scenarios(ctx context.Context, rep *Report) error {
	profiling := false
	defer func() {
		if profiling {
			pprof.StopCPUProfile()
		}
	}()
	done := map[string]bool{}
	if r.o.CPUProfile != nil {
		// The profile is of the scenarios: the baselines run first, whole, before it
		// starts, and nothing takes turns.
		for _, s := range scenarios {
			if b := baselineBefore[s.name]; r.selected(s.name) && b != "" && !done[b] {
				done[b] = true
				r.settle(ctx, rep, b)
				rep.Baselines = append(rep.Baselines, r.baseline(ctx, b))
			}
		}
	}
	for _, s := range scenarios {
		if !r.selected(s.name) {
			continue
		}
		ps, err := s.players(ctx, r)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			rep.Scenarios = append(rep.Scenarios, Result{Name: s.name, Skipped: err.Error()})
			continue
		}
		var base *meter
		var baseNote string
		if b := baselineBefore[s.name]; b != "" && !done[b] {
			done[b] = true
			bps, note, skipped := r.baselinePlayers(b)
			if skipped != "" {
				rep.Baselines = append(rep.Baselines, Result{Name: b, Skipped: skipped})
			} else {
				base, baseNote = newMeter(b, bps), note
			}
		}
		r.settle(ctx, rep, s.name)
		if r.o.CPUProfile != nil && !profiling {
			if err := pprof.StartCPUProfile(r.o.CPUProfile); err != nil {
				return fmt.Errorf("bench: cpu profile: %w", err)
			}
			profiling = true
		}
		m := newMeter(s.name, ps)
		m.each = s.each
		if base != nil {
			r.interleaved(ctx, base, m)
			rep.Baselines = append(rep.Baselines, withNote(base.result(), baseNote))
			rep.Notes = append(rep.Notes, fmt.Sprintf("%s and %s took turns (%d each, each turn 1/%d of the duration), so that the pair saw the same machine", s.name, base.name, rounds, rounds))
		} else {
			m.run(ctx, r.o.Duration, r.o.Progress)
		}
		rep.Scenarios = append(rep.Scenarios, withNote(m.result(), s.what))
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	return nil
}

// interleaved runs a baseline and the scenario compared with it in rounds turns
// each, the baseline first, each turn a rounds-th of the duration. A shared
// machine's speed drifts over a run (other tenants, clock changes); taking turns
// exposes both to the same drift, so their ratio moves far less from run to run
// than when one runs after the other.
func (r *run) interleaved(ctx context.Context, base, m *meter) {
	slice := r.o.Duration / rounds
	for range rounds {
		if ctx.Err() != nil {
			return
		}
		base.run(ctx, slice, r.o.Progress)
		m.run(ctx, slice, r.o.Progress)
	}
}

func withNote(res Result, note string) Result {
	res.Note = note
	return res
}

// settle lets the in-process server finish what earlier clients abandoned before
// name is measured, and notes any wait worth knowing about.
func (r *run) settle(ctx context.Context, rep *Report, name string) {
	if !r.inProcess {
		return
	}
	waited, idle := settle(ctx, settleWindow(r.o.Duration))
	switch {
	case !idle && ctx.Err() == nil:
		rep.Notes = append(rep.Notes, fmt.Sprintf("before %s: the server was still busy after %s; measured anyway", name, waited.Round(time.Second)))
	case waited > 3*time.Second:
		rep.Notes = append(rep.Notes, fmt.Sprintf("before %s: waited %s for the server to finish work that earlier clients had given up on", name, waited.Round(100*time.Millisecond)))
	}
}

func ratios(rep *Report, realHash bool) []Ratio {
	find := func(rs []Result, name string) *Result {
		for i := range rs {
			if rs[i].Name == name && rs[i].Skipped == "" && rs[i].Requests > 0 {
				return &rs[i]
			}
		}
		return nil
	}
	var out []Ratio
	me, findOne := find(rep.Scenarios, "me"), find(rep.Baselines, BaselineFindOne)
	if me != nil && findOne != nil {
		v := me.OKPerSecond / findOne.OKPerSecond
		out = append(out, Ratio{Name: "me ÷ raw FindOne (2xx/s)", Value: v, Target: "≥ 0.80", Met: v >= 0.80})
	}
	if me != nil && me.P50 > 0 {
		v := me.P99 / me.P50
		out = append(out, Ratio{Name: "me p99 ÷ p50", Value: v, Target: "≤ 4", Met: v <= 4})
	}
	login, hash := find(rep.Scenarios, "login"), find(rep.Baselines, BaselineHash)
	if login != nil && hash != nil && realHash {
		v := login.OKPerSecond / hash.OKPerSecond
		out = append(out, Ratio{Name: "login ÷ raw argon2id (2xx/s)", Value: v, Target: "≥ 0.90", Met: v >= 0.90})
	}
	return out
}

func (r *run) progressf(format string, args ...any) {
	if r.o.Progress != nil {
		fmt.Fprintf(r.o.Progress, format+"\n", args...)
	}
}

func machine() Machine {
	m := Machine{CPUs: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0), OS: runtime.GOOS, Arch: runtime.GOARCH, Go: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	return m
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
