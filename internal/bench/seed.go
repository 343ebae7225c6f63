package bench

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/lanyard/lanyard"
	"github.com/lanyard/lanyard/internal/linkid"
	"github.com/lanyard/lanyard/internal/store"
	"github.com/lanyard/lanyard/internal/token"
)

// Every seeded user holds this many linked IDs and sessions (the proportions of the
// scale issue: 100,000 users, 200,000 linked IDs, 300,000 sessions).
const (
	linkedPerUser   = 2
	sessionsPerUser = 3
	provider        = "bench"
)

// account is a user the bench created, with what it needs to act as it.
type account struct {
	id       bson.ObjectID
	email    string
	password string
	role     lanyard.Role
	session  bson.ObjectID // one of its sessions: the sid of its access tokens
	refresh  string        // the current refresh token of that session; "" if none
	access   string        // the last access token from a login (HTTP seeding)
	external []string      // the external IDs linked to it, under provider
}

// seeder creates users, either by writing documents straight into the store or, with
// no access to it, through the API.
type seeder interface {
	// users creates n users, each with linkedPerUser linked IDs and
	// sessionsPerUser sessions.
	users(ctx context.Context, n int) ([]*account, error)
	// fresh creates one user with one session and no linked IDs; admin makes it an
	// admin.
	fresh(ctx context.Context, admin bool) (*account, error)
	// token returns an access token for a that is valid now.
	token(ctx context.Context, a *account) (string, error)
	// describe says how users are made, for the report.
	describe() string
}

// errNeedsStore marks what only direct access to the store can do.
var errNeedsStore = errors.New("needs direct access to the server's store: run without --url, or set MONGODB_URI (with LANYARD_DB and LANYARD_DATA_KEY) to the server's")

// direct writes users straight into the store, through the store package's own
// insert methods (so whatever layout the store keeps, the seeded users are in it), and
// signs access tokens with the server's key. No password is hashed but the one
// computed up front, so seeding costs what the inserts cost. checkSeeded then proves
// through the API that the server reads the seeded users back.
type direct struct {
	st         *store.Store
	db         *mongo.Database // the application's collections (chain delete)
	keys       *linkid.Keys
	signer     *token.Signer
	phc        string // one argon2id hash of password, reused for every user
	password   string
	nonce      string
	refreshTTL time.Duration
	made       atomic.Int64
	progress   io.Writer
}

// Seeding writes batches of seedBatch accounts with store.ImportAccounts, seedWriters
// batches at once: a handful of inserts per batch rather than a dozen commands per
// user, which is what makes 100,000 users a matter of minutes on the embedded store.
const (
	seedBatch   = 500
	seedWriters = 2
)

func (d *direct) describe() string {
	return "written straight into the store in batches (store.ImportAccounts, the layout registration and linking keep; no HTTP); one argon2id hash was computed once and its PHC string reused for every seeded user"
}

func (d *direct) users(ctx context.Context, n int) ([]*account, error) {
	out := make([]*account, n)
	err := d.inBatches(ctx, n, seedBatch, "users", func(lo, hi int) error {
		return d.createBatch(ctx, out[lo:hi], false, linkedPerUser, sessionsPerUser)
	})
	if err != nil {
		return nil, err
	}
	return out, ctx.Err()
}

// inBatches calls write for [lo, hi) batches of at most size of n items, seedWriters
// batches at once, with a progress line a second naming what is written. It stops at
// the first error, which it returns.
func (d *direct) inBatches(ctx context.Context, n, size int, what string, write func(lo, hi int) error) error {
	var (
		next, done atomic.Int64
		mu         sync.Mutex
		first      error
		wg         sync.WaitGroup
	)
	start := time.Now()
	stop := make(chan struct{})
	if d.progress != nil {
		wg.Go(func() {
			tick := time.NewTicker(time.Second)
			defer tick.Stop()
			for {
				select {
				case <-stop:
					return
				case <-tick.C:
					fmt.Fprintf(d.progress, "  seeding            %5.1fs  %8d/%d %s\n", time.Since(start).Seconds(), done.Load(), n, what)
				}
			}
		})
	}
	var writers sync.WaitGroup
	for range min(seedWriters, (n+size-1)/size) {
		writers.Go(func() {
			for {
				lo := int(next.Add(int64(size))) - size
				if lo >= n || ctx.Err() != nil {
					return
				}
				hi := min(lo+size, n)
				if err := write(lo, hi); err != nil {
					mu.Lock()
					first = cmp.Or(first, err)
					mu.Unlock()
					return
				}
				done.Add(int64(hi - lo))
			}
		})
	}
	writers.Wait()
	close(stop)
	wg.Wait()
	return first
}

func (d *direct) fresh(ctx context.Context, admin bool) (*account, error) {
	out := make([]*account, 1)
	if err := d.createBatch(ctx, out, admin, 0, 1); err != nil {
		return nil, err
	}
	return out[0], nil
}

func (d *direct) token(_ context.Context, a *account) (string, error) {
	tok, _, err := d.signer.Issue(a.id.Hex(), a.session.Hex(), 0, string(a.role), []string{"pwd"})
	return tok, err
}

// createBatch makes len(out) users, each with links linked IDs and sessions
// sessions, keeping the first session's refresh token, and imports them at once.
func (d *direct) createBatch(ctx context.Context, out []*account, admin bool, links, sessions int) error {
	now := store.Millis(time.Now())
	batch := make([]store.Account, len(out))
	for j := range out {
		a, err := d.build(&batch[j], now, admin, links, sessions)
		if err != nil {
			return err
		}
		out[j] = a
	}
	if err := d.st.ImportAccounts(ctx, batch, now); err != nil {
		return fmt.Errorf("seed users: %w", err)
	}
	return nil
}

// build fills in one account to import.
func (d *direct) build(sa *store.Account, now time.Time, admin bool, links, sessions int) (*account, error) {
	i := d.made.Add(1)
	role := lanyard.RoleUser
	if admin {
		role = lanyard.RoleAdmin
	}
	u := lanyard.User{
		ID: store.NewID(), Email: fmt.Sprintf("seed%d-%s@bench.example.com", i, d.nonce),
		PasswordHash: d.phc, Role: role, Status: lanyard.StatusActive, CreatedAt: now, UpdatedAt: now,
	}
	sa.User = u
	a := &account{id: bson.ObjectID(u.ID), email: u.Email, password: d.password, role: role}
	for k := range links {
		p, e, err := linkid.Canonical(provider, externalID(d.nonce, i, k))
		if err != nil {
			return nil, err
		}
		a.external = append(a.external, e)
		sa.Links = append(sa.Links, lanyard.LinkedID{
			ID: store.NewID(), UserID: u.ID, Provider: p, Lookup: d.keys.Lookup(p, e),
			ExternalIDEnc: d.keys.Seal(u.ID.Hex(), p, e), CreatedAt: now,
		})
	}
	for k := range sessions {
		id := store.NewID()
		tok, hash, err := token.NewRefresh(id.Hex())
		if err != nil {
			return nil, err
		}
		sa.Sessions = append(sa.Sessions, lanyard.Session{
			ID: id, UserID: u.ID, SecretHash: hash, CreatedAt: now, LastUsedAt: now,
			ExpiresAt: now.Add(d.refreshTTL), IP: "127.0.0.1", UserAgent: "lanyard-bench",
		})
		if k == 0 {
			a.session, a.refresh = bson.ObjectID(id), tok
		}
	}
	return a, nil
}

// externalID is the k-th external ID of the i-th seeded user.
func externalID(nonce string, i int64, k int) string {
	return fmt.Sprintf("seed-%s-%d-%d", nonce, i, k)
}

// insert writes documents of one of the application's collections.
func (d *direct) insert(ctx context.Context, coll string, docs []any) error {
	if len(docs) == 0 {
		return nil
	}
	if _, err := d.db.Collection(coll).InsertMany(ctx, docs, options.InsertMany().SetOrdered(false)); err != nil {
		return fmt.Errorf("seed %s: %w", coll, err)
	}
	return nil
}

// chain names the two declared relations of the chain-delete scenario.
type chain struct {
	posts, comments relInfo
}

type relInfo struct {
	collection, field string
}

// post is the i-th post of author; comment is a comment on post.
func (c chain) post(id, author bson.ObjectID, i int) bson.D {
	return bson.D{{Key: "_id", Value: id}, {Key: c.posts.field, Value: author}, {Key: "title", Value: fmt.Sprintf("post %d", i)}}
}

func (c chain) comment(post bson.ObjectID) bson.D {
	return bson.D{{Key: "_id", Value: bson.NewObjectID()}, {Key: c.comments.field, Value: post}, {Key: "text", Value: "a comment"}}
}

// insertChain writes posts, then the comments on them.
func (d *direct) insertChain(ctx context.Context, c chain, posts, comments []any) error {
	if err := d.insert(ctx, c.posts.collection, posts); err != nil {
		return err
	}
	return d.insert(ctx, c.comments.collection, comments)
}

// Seeding --posts writes postBatch posts and their comments per insert.
const postBatch = 1000

// posts writes n posts of the chain with one comment each, the i-th by owner(i).
func (d *direct) posts(ctx context.Context, c chain, n int, owner func(i int) bson.ObjectID) error {
	return d.inBatches(ctx, n, postBatch, "posts (one comment each)", func(lo, hi int) error {
		posts, comments := make([]any, 0, hi-lo), make([]any, 0, hi-lo)
		for i := lo; i < hi; i++ {
			id := bson.NewObjectID()
			posts = append(posts, c.post(id, owner(i), i))
			comments = append(comments, c.comment(id))
		}
		return d.insertChain(ctx, c, posts, comments)
	})
}

// withDocs creates a user holding n documents of the chain: n/11 posts (at least
// one), and the rest as comments spread over them, so that 1,100 documents are 100
// posts with 10 comments each. It returns the user and its number of posts.
func (d *direct) withDocs(ctx context.Context, c chain, n int) (*account, int, error) {
	a, err := d.fresh(ctx, false)
	if err != nil {
		return nil, 0, err
	}
	nPosts := max(1, n/11)
	posts := make([]any, 0, nPosts)
	ids := make([]bson.ObjectID, 0, nPosts)
	for i := range nPosts {
		id := bson.NewObjectID()
		ids = append(ids, id)
		posts = append(posts, c.post(id, a.id, i))
	}
	var comments []any
	for i := range max(0, n-nPosts) {
		comments = append(comments, c.comment(ids[i%nPosts]))
	}
	if err := d.insertChain(ctx, c, posts, comments); err != nil {
		return nil, 0, err
	}
	return a, nPosts, nil
}

// viaAPI makes users through the API: every registration and login costs the
// server a password hash, so it is slow, and the server's registration limit must
// allow it.
type viaAPI struct {
	c        *client
	password string
	nonce    string
	conc     int
	made     atomic.Int64
	progress io.Writer
}

func (h *viaAPI) describe() string {
	return "registered, logged in and linked through the API (a password hash per registration and login)"
}

func (h *viaAPI) users(ctx context.Context, n int) ([]*account, error) {
	out := make([]*account, n)
	var (
		next  atomic.Int64
		mu    sync.Mutex
		first error
		wg    sync.WaitGroup
	)
	start := time.Now()
	for range min(h.conc, n) {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				a, err := h.user(ctx, linkedPerUser, sessionsPerUser)
				if err != nil {
					mu.Lock()
					first = cmp.Or(first, err)
					mu.Unlock()
					return
				}
				out[i] = a
				if h.progress != nil && (i+1)%100 == 0 {
					fmt.Fprintf(h.progress, "  seeding            %5.1fs  %8d/%d users (through the API)\n", time.Since(start).Seconds(), i+1, n)
				}
			}
		})
	}
	wg.Wait()
	if first != nil {
		return nil, first
	}
	return out, ctx.Err()
}

func (h *viaAPI) fresh(ctx context.Context, admin bool) (*account, error) {
	if admin {
		return nil, fmt.Errorf("an admin %w", errNeedsStore)
	}
	return h.user(ctx, 0, 1)
}

func (h *viaAPI) token(_ context.Context, a *account) (string, error) { return a.access, nil }

func (h *viaAPI) user(ctx context.Context, links, sessions int) (*account, error) {
	i := h.made.Add(1)
	a := &account{email: fmt.Sprintf("api%d-%s@bench.example.com", i, h.nonce), password: h.password, role: lanyard.RoleUser}
	var created struct {
		ID string `json:"id"`
	}
	if err := h.c.call(ctx, "POST", "/api/auth/register", "", map[string]string{"email": a.email, "password": a.password}, &created); err != nil {
		var se *statusError
		if errors.As(err, &se) && se.status == 429 {
			return nil, fmt.Errorf("%w (raise the server's LANYARD_REGISTER_LIMIT for benchmarking)", err)
		}
		return nil, err
	}
	id, err := bson.ObjectIDFromHex(created.ID)
	if err != nil {
		return nil, fmt.Errorf("register: id %q: %w", created.ID, err)
	}
	a.id = id
	for range max(1, sessions) {
		var p pair
		if err := h.c.call(ctx, "POST", "/api/auth/login", "", map[string]string{"email": a.email, "password": a.password}, &p); err != nil {
			return nil, err
		}
		a.access, a.refresh = p.Access, p.Refresh
		sid, _, _ := strings.Cut(p.Refresh, ".")
		if a.session, err = bson.ObjectIDFromHex(sid); err != nil {
			return nil, fmt.Errorf("login: refresh token: %w", err)
		}
	}
	for k := range links {
		e := fmt.Sprintf("api-%s-%d-%d", h.nonce, i, k)
		body := map[string]string{"provider": provider, "external_id": e}
		if err := h.c.call(ctx, "POST", "/api/users/me/linked-ids", a.access, body, nil); err != nil {
			return nil, err
		}
		a.external = append(a.external, e)
	}
	return a, nil
}
