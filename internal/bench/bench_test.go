package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lanyard/lanyard/internal/password"
	"github.com/lanyard/lanyard/internal/store"
)

func TestQuantile_IsNearestRank(t *testing.T) {
	var lat []time.Duration
	for i := 1; i <= 100; i++ {
		lat = append(lat, time.Duration(i)*time.Millisecond)
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 50 * time.Millisecond}, {0.9, 90 * time.Millisecond}, {0.99, 99 * time.Millisecond}, {1, 100 * time.Millisecond}} {
		if got := quantile(lat, c.q); got != c.want {
			t.Errorf("quantile(1..100ms, %v) = %v; want %v", c.q, got, c.want)
		}
	}
	if got := quantile([]time.Duration{7}, 0.99); got != 7 {
		t.Errorf("quantile([7], 0.99) = %v; want 7", got)
	}
}

func TestSummarize_CountsNon2xxAndFailedExchangesAsErrors(t *testing.T) {
	r := summarize("x", 2*time.Second, []*tally{
		{lat: []time.Duration{time.Millisecond, 2 * time.Millisecond}, statuses: map[string]int64{"200": 1, "503": 1}, prep: time.Second},
		{lat: []time.Duration{3 * time.Millisecond}, statuses: map[string]int64{"201": 1, "transport": 2}, prep: 0},
	})
	if r.Requests != 3 || r.Errors != 3 || r.Statuses["503"] != 1 || r.Statuses["transport"] != 2 {
		t.Fatalf("summarize = %+v; want 3 requests, 3 errors (503×1, transport×2)", r)
	}
	// Half a second of preparation per client on average: 3 requests in 1.5 s.
	if r.PerSecond != 2 {
		t.Errorf("PerSecond = %v; want 2", r.PerSecond)
	}
	if want := 2 / 1.5; math.Abs(r.OKPerSecond-want) > 1e-9 {
		t.Errorf("OKPerSecond = %v; want %v (the 200 and the 201)", r.OKPerSecond, want)
	}
}

// TestRun_InProcessRunsEveryScenarioWithoutErrors runs the whole tool briefly against
// its own in-process server, with a cheap hash so it stays quick.
func TestRun_InProcessRunsEveryScenarioWithoutErrors(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server and runs every scenario")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var progress bytes.Buffer
	rep, err := Run(ctx, Options{
		Duration: 300 * time.Millisecond, Concurrency: 4, Users: 10, DeleteDocs: 12,
		Hash: password.Cheap, Progress: &progress,
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if len(rep.Scenarios) != len(Names()) {
		t.Fatalf("%d scenarios ran; want %d", len(rep.Scenarios), len(Names()))
	}
	for _, r := range append(rep.Scenarios, rep.Baselines...) {
		if r.Skipped != "" || r.Requests == 0 || r.Errors != 0 {
			t.Errorf("%s: %d requests, %d errors (%v), skipped %q, first error %q; want requests and no errors",
				r.Name, r.Requests, r.Errors, r.Statuses, r.Skipped, r.FirstError)
		}
	}
	// With the cheap hash, login ÷ raw argon2id would compare nothing real.
	if len(rep.Baselines) != 2 || len(rep.Ratios) != 2 {
		t.Errorf("%d baselines and %d ratios; want 2 and 2 (no login ratio with a cheap hash)", len(rep.Baselines), len(rep.Ratios))
	}
	if rep.Users != 100 {
		t.Errorf("seeded %d users; want 100 (admin_list needs a full page)", rep.Users)
	}
	var table, js bytes.Buffer
	if err := rep.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	for _, name := range append(Names(), BaselineFindOne, BaselineHash, "me ÷ raw FindOne") {
		if !strings.Contains(table.String(), name) {
			t.Errorf("table lacks %q:\n%s", name, table.String())
		}
	}
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || len(back.Scenarios) != len(rep.Scenarios) {
		t.Errorf("JSON does not read back (%v):\n%s", err, js.String())
	}
	if !strings.Contains(progress.String(), "requests") {
		t.Errorf("no progress lines:\n%s", progress.String())
	}
}

// logPlayer notes its name in a shared log at every operation.
type logPlayer struct {
	name string
	mu   *sync.Mutex
	log  *[]string
}

func (*logPlayer) prepare(context.Context) error { return nil }

func (p *logPlayer) do(context.Context) (int, error) {
	time.Sleep(time.Millisecond)
	p.mu.Lock()
	*p.log = append(*p.log, p.name)
	p.mu.Unlock()
	return 200, nil
}

func TestInterleaved_BaselineAndScenarioTakeTurnsAndKeepEveryRequest(t *testing.T) {
	var (
		mu  sync.Mutex
		log []string
	)
	players := func(name string) []player {
		return []player{&logPlayer{name, &mu, &log}, &logPlayer{name, &mu, &log}}
	}
	r := &run{o: Options{Duration: 100 * time.Millisecond}}
	base, m := newMeter("base", players("base")), newMeter("scenario", players("scenario"))
	start := time.Now()
	r.interleaved(context.Background(), base, m)
	whole := time.Since(start).Seconds()

	var turns []string
	counts := map[string]int64{}
	for _, name := range log {
		counts[name]++
		if len(turns) == 0 || turns[len(turns)-1] != name {
			turns = append(turns, name)
		}
	}
	if len(turns) != 2*rounds || turns[0] != "base" {
		t.Fatalf("turns = %v; want base and scenario alternating, %d each, base first", turns, rounds)
	}
	for _, res := range []Result{base.result(), m.result()} {
		if res.Requests != counts[res.Name] || res.Requests == 0 {
			t.Errorf("%s: %d requests in the result, %d made", res.Name, res.Requests, counts[res.Name])
		}
	}
	// Each result covers its own turns only: together they fit in the whole run.
	if b, s := base.result().Seconds, m.result().Seconds; b <= 0 || s <= 0 || b+s > whole {
		t.Errorf("measured %.3f s + %.3f s in a run of %.3f s; want each its own turns only", b, s, whole)
	}
}

func TestRatios_LoginAgainstHashingOnlyAtTheRealCost(t *testing.T) {
	rep := &Report{
		Scenarios: []Result{{Name: "me", Requests: 80, OKPerSecond: 80, P50: 2, P99: 6}, {Name: "login", Requests: 9, OKPerSecond: 9}},
		Baselines: []Result{{Name: BaselineFindOne, Requests: 100, OKPerSecond: 100}, {Name: BaselineHash, Requests: 10, OKPerSecond: 10}},
	}
	got := ratios(rep, true)
	want := []Ratio{
		{Name: "me ÷ raw FindOne (2xx/s)", Value: 0.8, Target: "≥ 0.80", Met: true},
		{Name: "me p99 ÷ p50", Value: 3, Target: "≤ 4", Met: true},
		{Name: "login ÷ raw argon2id (2xx/s)", Value: 0.9, Target: "≥ 0.90", Met: true},
	}
	if len(got) != len(want) {
		t.Fatalf("ratios = %+v; want %+v", got, want)
	}
	for i := range want {
		if got[i].Name != want[i].Name || math.Abs(got[i].Value-want[i].Value) > 1e-9 || got[i].Met != want[i].Met {
			t.Errorf("ratio %d = %+v; want %+v", i, got[i], want[i])
		}
	}
	if got := ratios(rep, false); len(got) != 2 {
		t.Errorf("ratios with a cheap hash = %+v; want the two me ratios only", got)
	}
}

// TestRun_RelationScenariosAnswerWhatWasSeeded runs the relation scenarios on a small
// store of declared posts and comments. Every client's first answer (every report of
// chain_delete) is checked against what was seeded, and a wrong one counts as an
// error, so no errors means the right shapes: 10 posts of one comment each, the
// plan's and the export's counts, a full admin page, whole chains deleted.
func TestRun_RelationScenariosAnswerWhatWasSeeded(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server and runs the relation scenarios")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	names := []string{"me_expand", "expand", "admin_list", "deletion_plan", "export", "chain_delete"}
	rep, err := Run(ctx, Options{
		Duration: 300 * time.Millisecond, Concurrency: 4, Users: 10, Posts: 200, DeleteDocs: 22,
		Scenarios: names, Hash: password.Cheap,
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if rep.Posts != 200 {
		t.Errorf("seeded %d posts; want 200 (%s)", rep.Posts, rep.PostsSeeding)
	}
	if len(rep.Scenarios) != len(names) {
		t.Fatalf("%d scenarios ran; want %d", len(rep.Scenarios), len(names))
	}
	for _, r := range rep.Scenarios {
		if r.Skipped != "" || r.Requests == 0 || r.Errors != 0 || r.Statuses["200"] != r.Requests {
			t.Errorf("%s: %d requests, %d errors (%v), skipped %q, first error %q; want only 200s",
				r.Name, r.Requests, r.Errors, r.Statuses, r.Skipped, r.FirstError)
		}
	}
	del := rep.Scenarios[len(rep.Scenarios)-1]
	if int64(len(del.Each)) != del.Requests {
		t.Errorf("chain_delete lists %d answers of %d", len(del.Each), del.Requests)
	}
	for _, s := range del.Each {
		if s.Status != 200 || s.Ms <= 0 {
			t.Errorf("chain_delete answer %+v; want 200 with its latency", s)
		}
	}
}

func TestChecks_RejectAnswersOfTheWrongShape(t *testing.T) {
	t.Parallel()
	r := &run{ownPosts: 2}
	posts := func(comments ...int) string {
		var ps []string
		for _, n := range comments {
			ps = append(ps, `{"_id":"x","expand":{"comments":[`+strings.TrimSuffix(strings.Repeat(`{},`, n), ",")+`]}}`)
		}
		return `{"id":"u","expand":{"posts":[` + strings.Join(ps, ",") + `]}}`
	}
	page := func(n int, expand string) string {
		items := make([]string, n)
		for i := range items {
			items[i] = `{"id":"u","expand":` + expand + `}`
		}
		return `{"items":[` + strings.Join(items, ",") + `]}`
	}
	d := &deletePlayer{r: &run{o: Options{DeleteDocs: 22}}, posts: 2}
	for _, c := range []struct {
		name  string
		check func([]byte) error
		good  string
		bad   []string
	}{
		{"expand", r.checkExpand, posts(1, 1), []string{posts(1), posts(1, 1, 1), posts(1, 0), `{"id":"u"}`, `not json`}},
		{"builtin expand", checkBuiltinExpand, `{"expand":{"linked_ids":[{},{}],"sessions":[{},{},{},{}]}}`,
			[]string{`{"expand":{"linked_ids":[{}],"sessions":[{}]}}`, `{"expand":{"linked_ids":[{},{}],"sessions":[]}}`}},
		{"plan", r.checkPlan, `{"deleted":{"users":1,"linked_ids":2,"sessions":3,"posts":2,"comments":2},"blockers":[]}`,
			[]string{`{"deleted":{"users":1,"linked_ids":2,"posts":2,"comments":1},"blockers":[]}`,
				`{"deleted":{"users":1,"linked_ids":2,"posts":2,"comments":2},"blockers":[{"relation":"x","count":1}]}`}},
		{"export", r.checkExport, `{"relations":{"linked_ids":[{},{}],"sessions":[{}],"posts":[{},{}],"comments":[{},{}]}}`,
			[]string{`{"relations":{"linked_ids":[{},{}],"sessions":[{}],"posts":[{}],"comments":[{},{}]}}`, `{"relations":{}}`}},
		{"admin page", checkAdminPage, page(100, `{"linked_ids":[]}`), []string{page(99, `{"linked_ids":[]}`), page(100, `{}`)}},
		{"delete report", d.checkReport, `{"deleted":{"users":1,"posts":2,"comments":20,"sessions":1}}`,
			[]string{`{"deleted":{"users":1,"posts":2,"comments":19}}`, `{"deleted":{"posts":2,"comments":20}}`}},
	} {
		if err := c.check([]byte(c.good)); err != nil {
			t.Errorf("%s: %s rejected: %v", c.name, c.good, err)
		}
		for _, b := range c.bad {
			if err := c.check([]byte(b)); err == nil {
				t.Errorf("%s: %s accepted", c.name, b)
			}
		}
	}
}

// TestStartLocal_IndexesEveryCollectionBeforeAnythingIsSeeded: the in-process server
// starts with its collections in place, so the indexes it makes at start-up cover
// the bench's posts and comments too, not only after its periodic check finds them.
func TestStartLocal_IndexesEveryCollectionBeforeAnythingIsSeeded(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server")
	}
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	l, err := startLocal(ctx, Options{Hash: password.Cheap, Logger: slog.New(slog.DiscardHandler), StoreLogger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("startLocal: %v", err)
	}
	defer l.close()
	for _, coll := range []string{"users", inProcessChain.posts.collection, inProcessChain.comments.collection} {
		plan, err := store.IDLookupPlan(ctx, store.SQLiteFile(l.cfg.DataDir, l.cfg.DB), coll)
		if err != nil || !strings.Contains(plan, "USING INDEX") {
			t.Errorf("%s: the lookup by _id is %q (%v); want it to use the index", coll, plan, err)
		}
	}
}
