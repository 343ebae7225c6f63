package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/lanyard/lanyard/internal/linkid"
	"github.com/lanyard/lanyard/internal/password"
)

// scenario makes the clients of one measured workload.
type scenario struct {
	name string
	what string // the request, for the report
	// players returns one player per client; an error wrapping errNeedsStore (or
	// any other) skips the scenario with that reason.
	players func(ctx context.Context, r *run) ([]player, error)
}

// scenarios in the order they run: reads first, on the store as seeded; then the
// writes that grow it.
var scenarios = []scenario{
	{"me", "GET /api/users/me", func(ctx context.Context, r *run) ([]player, error) {
		return r.fixed(ctx, "/api/users/me")
	}},
	{"me_expand", "GET /api/users/me?expand=linked_ids,sessions", func(ctx context.Context, r *run) ([]player, error) {
		return r.fixed(ctx, "/api/users/me?expand=linked_ids,sessions")
	}},
	{"linked_ids", "GET /api/users/me/linked-ids", func(ctx context.Context, r *run) ([]player, error) {
		return r.fixed(ctx, "/api/users/me/linked-ids")
	}},
	{"resolve", "GET /api/linked-ids/resolve (admin; seeded users' external ids in turn)", resolve},
	{"admin_list", "GET /api/users?limit=100&expand=linked_ids (admin)", adminList},
	{"link", "POST /api/users/me/linked-ids (unique external ids)", link},
	{"refresh", "POST /api/auth/refresh (each client its own session)", refresh},
	{"login", "POST /api/auth/login (right password, seeded users in turn)", login},
	{"register", "POST /api/auth/register (unique emails)", register},
	{"chain_delete", "DELETE /api/users/{id} (admin) of a user holding --delete-docs posts and comments", chainDelete},
}

// Names lists the scenarios in the order they run.
func Names() []string {
	out := make([]string, len(scenarios))
	for i, s := range scenarios {
		out[i] = s.name
	}
	return out
}

// request is client i's request. Unless Options.OneAddress, each client comes from
// an address of its own in 198.18.0.0/15 (RFC 2544's benchmarking range), sent as
// X-Forwarded-For: real traffic comes from many addresses, each with its own
// throttle counters, not from one address whose counters every client shares.
func (r *run) request(i int, method, path, auth string) request {
	q := request{method: method, path: path, auth: auth}
	if !r.o.OneAddress {
		q.from = fmt.Sprintf("198.18.%d.%d", i/250, i%250+1)
	}
	return q
}

// httpPlayer sends req and keeps the answer for prepare to read.
type httpPlayer struct {
	c      *client
	req    request
	buf    bytes.Buffer
	status int
}

func (p *httpPlayer) do(ctx context.Context) (int, error) {
	s, err := p.c.send(ctx, p.req, &p.buf)
	p.status = s
	return s, err
}

// fixedPlayer sends the same request again and again.
type fixedPlayer struct{ httpPlayer }

func (*fixedPlayer) prepare(context.Context) error { return nil }

// fixed has each client read path as its own seeded user.
func (r *run) fixed(ctx context.Context, path string) ([]player, error) {
	ps := make([]player, r.o.Concurrency)
	for i := range ps {
		tok, err := r.seed.token(ctx, r.worker(i))
		if err != nil {
			return nil, err
		}
		ps[i] = &fixedPlayer{httpPlayer{c: r.c, req: r.request(i, http.MethodGet, path, bearer(tok))}}
	}
	return ps, nil
}

// asAdmin returns one player per client, made by mk from an admin's Authorization
// header.
func (r *run) asAdmin(ctx context.Context, mk func(i int, auth string) player) ([]player, error) {
	if r.admin == nil {
		return nil, r.adminErr
	}
	tok, err := r.seed.token(ctx, r.admin)
	if err != nil {
		return nil, err
	}
	ps := make([]player, r.o.Concurrency)
	for i := range ps {
		ps[i] = mk(i, bearer(tok))
	}
	return ps, nil
}

func adminList(ctx context.Context, r *run) ([]player, error) {
	return r.asAdmin(ctx, func(i int, auth string) player {
		return &fixedPlayer{httpPlayer{c: r.c, req: r.request(i, http.MethodGet, "/api/users?limit=100&expand=linked_ids", auth)}}
	})
}

// resolvePlayer resolves the seeded users' external IDs in turn: client i takes
// users i, i+c, i+2c…
type resolvePlayer struct {
	httpPlayer
	r    *run
	next int
}

func (p *resolvePlayer) prepare(context.Context) error {
	a := p.r.users[p.next%len(p.r.users)]
	p.next += p.r.o.Concurrency
	if len(a.external) == 0 {
		return fmt.Errorf("seeded user %s holds no linked id to resolve", a.id.Hex())
	}
	q := url.Values{"provider": {provider}, "external_id": {a.external[p.next%len(a.external)]}}
	p.req.path = "/api/linked-ids/resolve?" + q.Encode()
	return nil
}

func resolve(ctx context.Context, r *run) ([]player, error) {
	return r.asAdmin(ctx, func(i int, auth string) player {
		return &resolvePlayer{httpPlayer: httpPlayer{c: r.c, req: r.request(i, http.MethodGet, "", auth)}, r: r, next: i}
	})
}

// loginPlayer logs in as the seeded users in turn: client i takes users i, i+c, i+2c…
type loginPlayer struct {
	httpPlayer
	r    *run
	next int
}

func (p *loginPlayer) prepare(context.Context) error {
	a := p.r.users[p.next%len(p.r.users)]
	p.next += p.r.o.Concurrency
	b, err := json.Marshal(map[string]string{"email": a.email, "password": a.password})
	p.req.body = b
	return err
}

func login(_ context.Context, r *run) ([]player, error) {
	ps := make([]player, r.o.Concurrency)
	for i := range ps {
		ps[i] = &loginPlayer{httpPlayer: httpPlayer{c: r.c, req: r.request(i, http.MethodPost, "/api/auth/login", "")}, r: r, next: i}
	}
	return ps, nil
}

// registerPlayer registers a new email each time.
type registerPlayer struct {
	httpPlayer
	r    *run
	id   int
	next int
}

func (p *registerPlayer) prepare(context.Context) error {
	p.next++
	b, err := json.Marshal(map[string]string{
		"email":    fmt.Sprintf("reg%d-%d-%s@bench.example.com", p.id, p.next, p.r.nonce),
		"password": p.r.password,
	})
	p.req.body = b
	return err
}

func register(_ context.Context, r *run) ([]player, error) {
	ps := make([]player, r.o.Concurrency)
	for i := range ps {
		ps[i] = &registerPlayer{httpPlayer: httpPlayer{c: r.c, req: r.request(i, http.MethodPost, "/api/auth/register", "")}, r: r, id: i}
	}
	return ps, nil
}

// refreshPlayer rotates one session's refresh token, each answer giving the next.
// Should the chain break (a non-200), it continues with a fresh account's session.
type refreshPlayer struct {
	httpPlayer
	r       *run
	a       *account
	started bool
}

func (p *refreshPlayer) prepare(ctx context.Context) error {
	switch {
	case !p.started:
		p.started = true
	case p.status == http.StatusOK:
		var got pair
		if err := json.Unmarshal(p.buf.Bytes(), &got); err != nil {
			return fmt.Errorf("refresh answer: %w", err)
		}
		p.a.refresh = got.Refresh
	default:
		a, err := p.r.seed.fresh(ctx, false)
		if err != nil {
			return err
		}
		p.a = a
	}
	b, err := json.Marshal(map[string]string{"refresh_token": p.a.refresh})
	p.req.body = b
	return err
}

func refresh(_ context.Context, r *run) ([]player, error) {
	ps := make([]player, r.o.Concurrency)
	for i := range ps {
		ps[i] = &refreshPlayer{httpPlayer: httpPlayer{c: r.c, req: r.request(i, http.MethodPost, "/api/auth/refresh", "")}, r: r, a: r.worker(i)}
	}
	return ps, nil
}

// linkPlayer links unique external IDs to an account of its own, moving to a fresh
// account (untimed) when one holds as many as an account may.
type linkPlayer struct {
	httpPlayer
	r      *run
	id     int
	a      *account
	held   int
	next   int
	posted bool
}

func (p *linkPlayer) prepare(ctx context.Context) error {
	if p.posted && p.status == http.StatusCreated {
		p.held++
	}
	if p.a == nil || p.held >= linkid.MaxPerUser || (p.posted && p.status == http.StatusConflict) {
		a, err := p.r.seed.fresh(ctx, false)
		if err != nil {
			return err
		}
		tok, err := p.r.seed.token(ctx, a)
		if err != nil {
			return err
		}
		p.a, p.held, p.req.auth = a, 0, bearer(tok)
	}
	p.next++
	b, err := json.Marshal(map[string]string{
		"provider":    provider,
		"external_id": fmt.Sprintf("link-%s-%d-%d", p.r.nonce, p.id, p.next),
	})
	p.req.body, p.posted = b, true
	return err
}

func link(_ context.Context, r *run) ([]player, error) {
	ps := make([]player, r.o.Concurrency)
	for i := range ps {
		ps[i] = &linkPlayer{httpPlayer: httpPlayer{c: r.c, req: r.request(i, http.MethodPost, "/api/users/me/linked-ids", "")}, r: r, id: i}
	}
	return ps, nil
}

// deletePlayer prepares a user holding the chain's documents (untimed), then deletes
// it as the admin (timed).
type deletePlayer struct {
	httpPlayer
	r *run
}

func (p *deletePlayer) prepare(ctx context.Context) error {
	a, err := p.r.direct.withDocs(ctx, *p.r.chain, p.r.o.DeleteDocs)
	if err != nil {
		return err
	}
	p.req.path = "/api/users/" + a.id.Hex()
	return nil
}

func chainDelete(ctx context.Context, r *run) ([]player, error) {
	switch {
	case r.direct == nil:
		return nil, fmt.Errorf("writing its documents %w", errNeedsStore)
	case r.admin != nil && r.chain == nil:
		return nil, r.chainErr
	}
	return r.asAdmin(ctx, func(i int, auth string) player {
		return &deletePlayer{httpPlayer: httpPlayer{c: r.c, req: r.request(i, http.MethodDelete, "", auth)}, r: r}
	})
}

// findOnePlayer is the store baseline: the driver's FindOne by _id, nothing else.
type findOnePlayer struct {
	coll *mongo.Collection
	id   bson.ObjectID
}

func (*findOnePlayer) prepare(context.Context) error { return nil }

func (p *findOnePlayer) do(ctx context.Context) (int, error) {
	if _, err := p.coll.FindOne(ctx, bson.D{{Key: "_id", Value: p.id}}).Raw(); err != nil {
		return 0, err
	}
	return http.StatusOK, nil
}

// hashPlayer is the hashing baseline: one argon2id hash of a password at a time.
type hashPlayer struct {
	h  *password.Hasher
	pw string
}

func (*hashPlayer) prepare(context.Context) error { return nil }

func (p *hashPlayer) do(ctx context.Context) (int, error) {
	if _, err := p.h.Hash(ctx, p.pw); err != nil {
		return 0, err
	}
	return http.StatusOK, nil
}
