package bench

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

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
	// each reports every answer, not only the percentiles (Result.Each).
	each bool
}

// scenarios in the order they run: reads first, on the store as seeded; then the
// writes that grow it.
var scenarios = []scenario{
	{name: "me", what: "GET /api/users/me", players: func(ctx context.Context, r *run) ([]player, error) {
		return r.fixed(ctx, "/api/users/me", nil)
	}},
	{name: "me_expand", what: "GET /api/users/me?expand=linked_ids,sessions", players: func(ctx context.Context, r *run) ([]player, error) {
		return r.fixed(ctx, "/api/users/me?expand=linked_ids,sessions", checkBuiltinExpand)
	}},
	{name: "expand", what: "GET /api/users/me?expand=posts.comments (each client's user owns 10 posts, one comment each)", players: expandPosts},
	{name: "linked_ids", what: "GET /api/users/me/linked-ids", players: func(ctx context.Context, r *run) ([]player, error) {
		return r.fixed(ctx, "/api/users/me/linked-ids", checkLinkedIDs)
	}},
	{name: "resolve", what: "GET /api/linked-ids/resolve (admin; seeded users' external ids in turn)", players: resolve},
	{name: "admin_list", what: "GET /api/users?limit=100&expand=linked_ids (admin)", players: adminList},
	{name: "deletion_plan", what: "GET /api/users/{id}/deletion-plan (each client its own user)", players: func(ctx context.Context, r *run) ([]player, error) {
		return r.fixed(ctx, "/api/users/{id}/deletion-plan", r.checkPlan)
	}},
	{name: "export", what: "GET /api/users/me/export", players: func(ctx context.Context, r *run) ([]player, error) {
		return r.fixed(ctx, "/api/users/me/export", r.checkExport)
	}},
	{name: "link", what: "POST /api/users/me/linked-ids (unique external ids)", players: link},
	{name: "refresh", what: "POST /api/auth/refresh (each client its own session)", players: refresh},
	{name: "login", what: "POST /api/auth/login (right password, seeded users in turn)", players: login},
	{name: "register", what: "POST /api/auth/register (unique emails)", players: register},
	{name: "chain_delete", what: "DELETE /api/users/{id} (admin) of a user holding --delete-docs posts and comments", players: chainDelete, each: true},
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
	// check, when set, reads the first 200 answer (every one, for a player that
	// clears checked in prepare): one of the wrong shape fails as "answer", so that
	// a scenario cannot count wrong answers as successes.
	check   func(body []byte) error
	checked bool
}

func (p *httpPlayer) do(ctx context.Context) (int, error) {
	s, err := p.c.send(ctx, p.req, &p.buf)
	p.status = s
	if err == nil && p.check != nil && !p.checked && s == http.StatusOK {
		p.checked = true
		if err := p.check(p.buf.Bytes()); err != nil {
			return s, &answerError{status: s, err: err}
		}
	}
	return s, err
}

// fixedPlayer sends the same request again and again.
type fixedPlayer struct{ httpPlayer }

func (*fixedPlayer) prepare(context.Context) error { return nil }

// fixed has each client read path ({id} standing for the user's id) as its own
// seeded user, checking its first answer with check (nil: not checked).
func (r *run) fixed(ctx context.Context, path string, check func([]byte) error) ([]player, error) {
	ps := make([]player, r.o.Concurrency)
	for i := range ps {
		a := r.worker(i)
		tok, err := r.seed.token(ctx, a)
		if err != nil {
			return nil, err
		}
		p := strings.ReplaceAll(path, "{id}", a.id.Hex())
		ps[i] = &fixedPlayer{httpPlayer{c: r.c, req: r.request(i, http.MethodGet, p, bearer(tok)), check: check}}
	}
	return ps, nil
}

// expandPosts reads the clients' users with their posts and the posts' comments.
func expandPosts(ctx context.Context, r *run) ([]player, error) {
	if r.ownPosts == 0 {
		return nil, fmt.Errorf("the clients' users own no posts: %w", r.postsErr)
	}
	return r.fixed(ctx, "/api/users/me?expand=posts.comments", r.checkExpand)
}

// checkExpand: the user's posts, each with its one comment.
func (r *run) checkExpand(body []byte) error {
	u, err := decode[struct {
		Expand struct {
			Posts []struct {
				Expand struct {
					Comments []json.RawMessage `json:"comments"`
				} `json:"expand"`
			} `json:"posts"`
		} `json:"expand"`
	}](body)
	if err != nil {
		return err
	}
	if got := len(u.Expand.Posts); got != r.ownPosts {
		return fmt.Errorf("expanded %d posts; the user owns %d", got, r.ownPosts)
	}
	for i, p := range u.Expand.Posts {
		if got := len(p.Expand.Comments); got != 1 {
			return fmt.Errorf("post %d expanded %d comments; it has 1", i, got)
		}
	}
	return nil
}

// decode reads a JSON answer into a T.
func decode[T any](body []byte) (T, error) {
	var v T
	if err := json.Unmarshal(body, &v); err != nil {
		return v, fmt.Errorf("decode the answer: %w", err)
	}
	return v, nil
}

// counted checks that each relation in got holds the number of documents in want;
// atLeast names those of which it may hold more.
func counted(what string, got map[string]int, want map[string]int, atLeast ...string) error {
	for rel, n := range want {
		if got[rel] != n && !(slices.Contains(atLeast, rel) && got[rel] > n) {
			return fmt.Errorf("%s: %d %s; want %d", what, got[rel], rel, n)
		}
	}
	return nil
}

func lengths(m map[string][]json.RawMessage) map[string]int {
	out := make(map[string]int, len(m))
	for k, v := range m {
		out[k] = len(v)
	}
	return out
}

// checkBuiltinExpand: a seeded user's linked IDs and sessions (at least its own:
// logging in and refreshing during the run add more).
func checkBuiltinExpand(body []byte) error {
	u, err := decode[struct {
		Expand map[string][]json.RawMessage `json:"expand"`
	}](body)
	if err != nil {
		return err
	}
	return counted("expand", lengths(u.Expand), map[string]int{"linked_ids": linkedPerUser, "sessions": 1}, "sessions")
}

func checkLinkedIDs(body []byte) error {
	l, err := decode[struct {
		Items []json.RawMessage `json:"items"`
	}](body)
	if err != nil {
		return err
	}
	return counted("list", map[string]int{"linked_ids": len(l.Items)}, map[string]int{"linked_ids": linkedPerUser})
}

// checkPlan: the plan counts what the client's user holds.
func (r *run) checkPlan(body []byte) error {
	p, err := decode[struct {
		Deleted  map[string]int    `json:"deleted"`
		Blockers []json.RawMessage `json:"blockers"`
	}](body)
	if err != nil {
		return err
	}
	if len(p.Blockers) > 0 {
		return fmt.Errorf("the plan names %d blockers; want none", len(p.Blockers))
	}
	return counted("plan", p.Deleted, map[string]int{"users": 1, "linked_ids": linkedPerUser, "posts": r.ownPosts, "comments": r.ownPosts})
}

// checkExport: the export holds what the client's user holds.
func (r *run) checkExport(body []byte) error {
	e, err := decode[struct {
		Relations map[string][]json.RawMessage `json:"relations"`
	}](body)
	if err != nil {
		return err
	}
	return counted("export", lengths(e.Relations), map[string]int{"linked_ids": linkedPerUser, "sessions": 1, "posts": r.ownPosts, "comments": r.ownPosts}, "sessions")
}

// asAdmin returns one player per client, made by mk from an admin's Authorization
// header.
func (r *run) asAdmin(ctx context.Context, mk func(i int, auth string) player) ([]player, error) {
	if r.admin == nil {
		return nil, cmp.Or(r.adminErr, errors.New("no admin was made for this scenario (see run.prepare)"))
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
		return &fixedPlayer{httpPlayer{c: r.c, req: r.request(i, http.MethodGet, "/api/users?limit=100&expand=linked_ids", auth), check: checkAdminPage}}
	})
}

// checkAdminPage: a full page, every user with its linked IDs expanded.
func checkAdminPage(body []byte) error {
	l, err := decode[struct {
		Items []struct {
			Expand map[string][]json.RawMessage `json:"expand"`
		} `json:"items"`
	}](body)
	if err != nil {
		return err
	}
	if len(l.Items) != 100 {
		return fmt.Errorf("a page of %d users; want 100", len(l.Items))
	}
	for i, u := range l.Items {
		if _, ok := u.Expand["linked_ids"]; !ok {
			return fmt.Errorf("user %d of the page has no expanded linked_ids", i)
		}
	}
	return nil
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
// it as the admin (timed), checking every report.
type deletePlayer struct {
	httpPlayer
	r     *run
	posts int // of the user being deleted
}

func (p *deletePlayer) prepare(ctx context.Context) error {
	if p.status == http.StatusAccepted {
		if err := p.awaitGone(ctx); err != nil {
			return err
		}
	}
	a, posts, err := p.r.direct.withDocs(ctx, *p.r.chain, p.r.o.DeleteDocs)
	if err != nil {
		return err
	}
	p.req.path, p.posts, p.checked = "/api/users/"+a.id.Hex(), posts, false
	return nil
}

// awaitGone waits until the user last answered 202 is gone: the delete goes on in
// the background, and the next one should not compete with it.
func (p *deletePlayer) awaitGone(ctx context.Context) error {
	get := request{method: http.MethodGet, path: p.req.path, auth: p.req.auth, from: p.req.from}
	for {
		status, err := p.c.send(ctx, get, &p.buf)
		switch {
		case err != nil:
			return fmt.Errorf("await the delete of %s: %w", p.req.path, err)
		case status == http.StatusNotFound:
			return nil
		case status != http.StatusOK && status != http.StatusServiceUnavailable:
			return fmt.Errorf("await the delete of %s: status %d", p.req.path, status)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// checkReport: the delete removed the user and everything it held.
func (p *deletePlayer) checkReport(body []byte) error {
	rep, err := decode[struct {
		Deleted map[string]int `json:"deleted"`
	}](body)
	if err != nil {
		return err
	}
	return counted("deleted", rep.Deleted, map[string]int{"users": 1, "posts": p.posts, "comments": p.r.o.DeleteDocs - p.posts})
}

func chainDelete(ctx context.Context, r *run) ([]player, error) {
	switch {
	case r.direct == nil:
		return nil, fmt.Errorf("writing its documents %w", errNeedsStore)
	case r.admin != nil && r.chain == nil:
		return nil, r.chainErr
	}
	return r.asAdmin(ctx, func(i int, auth string) player {
		p := &deletePlayer{httpPlayer: httpPlayer{c: r.c, req: r.request(i, http.MethodDelete, "", auth)}, r: r}
		p.check = p.checkReport
		return p
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
