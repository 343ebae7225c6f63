package main

// Several instances, one store: real processes built from this tree. One `lanyard
// store` (FerretDB on SQLite, in a temporary directory) and, per scenario, three
// `lanyard serve` processes that share it through MONGODB_URI, with the same
// LANYARD_JWT_SECRET and LANYARD_DATA_KEY, each scenario in a database of its own.
// Everything listens on loopback ports the kernel picks.
//
//	go test ./cmd/lanyard -run MultiProcess -v -count=1
//
// With LANYARD_TEST_STORE_POSTGRESQL_URL set, the store keeps its data in that
// PostgreSQL database instead (scripts/test.sh's PostgreSQL leg does this).

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/lanyard/lanyard/internal/lanyardtest"
)

const testPassword = "correct horse battery staple"

func TestMultiProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the lanyard binary; skipped with -short")
	}
	bin := buildLanyard(t)
	pgURL := os.Getenv("LANYARD_TEST_STORE_POSTGRESQL_URL")
	storeURI := startStoreProcess(t, bin, pgURL)
	if pgURL != "" {
		t.Logf("lanyard store (PostgreSQL) on %s", storeURI)
	} else {
		t.Logf("lanyard store (SQLite) on %s", storeURI)
	}

	t.Run("OneEmailRegisteredOnThreeInstancesAtOnceIsCreatedOnce", func(t *testing.T) {
		testRegistrationsAcrossInstances(t, bin, storeURI)
	})
	t.Run("SpentRefreshTokenOnAnotherInstanceEndsTheSessionEverywhere", func(t *testing.T) {
		testSpentRefreshAcrossInstances(t, bin, storeURI)
	})
	t.Run("FailedLoginsOnThreeInstancesAddUpToOneThrottle", func(t *testing.T) {
		testThrottleAcrossInstances(t, bin, storeURI)
	})
	t.Run("ChainDeleteOfAKilledInstanceIsFinishedByAnother", func(t *testing.T) {
		testChainDeleteResumedAcrossInstances(t, bin, storeURI)
	})
	t.Run("ResetMailOfAKilledInstanceIsSentByAnother", func(t *testing.T) {
		testResetMailSentByAnotherInstance(t, bin, storeURI)
	})
	t.Run("RollingRestartUnderLoadFailsNoRequest", func(t *testing.T) {
		testRollingRestart(t, bin, storeURI)
	})
}

// storeStarted is the log line `lanyard store` writes once it accepts connections.
var storeStarted = regexp.MustCompile(`msg="embedded store started" uri=(\S+)`)

// startStoreProcess starts bin as `lanyard store` on a free loopback port, on SQLite in
// a temporary directory or, if pgURL is set, on that PostgreSQL database, and returns its
// mongodb:// URI once it accepts connections. It is killed at cleanup.
func startStoreProcess(t *testing.T, bin, pgURL string) string {
	t.Helper()
	stdout, stderr := &syncBuffer{}, &syncBuffer{}
	cmd := exec.Command(bin, "store")
	vars := map[string]string{
		"LANYARD_STORE_ADDR": "127.0.0.1:0",
		"LANYARD_DATA_DIR":   t.TempDir(),
		"LANYARD_LOG_LEVEL":  "info", // the start line, with the URI, is at info
		"LANYARD_LOG_FORMAT": "text",
	}
	if pgURL != "" {
		vars["LANYARD_STORE_POSTGRESQL_URL"] = pgURL
	}
	cmd.Env = processEnv(vars)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s store: %v", bin, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		if m := storeStarted.FindStringSubmatch(stderr.String()); m != nil {
			return m[1]
		}
		select {
		case <-exited:
			t.Fatalf("lanyard store exited before it started: %v\nstderr:\n%s", cmd.ProcessState, stderr)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("lanyard store did not log its URI within 60s\nstderr:\n%s", stderr)
		}
	}
}

// processEnv is the tests' environment (PATH, HOME, TMPDIR…) without any Lanyard or
// MongoDB setting of its own, plus vars.
func processEnv(vars map[string]string) []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "LANYARD_") && !strings.HasPrefix(kv, "MONGODB_") {
			out = append(out, kv)
		}
	}
	for k, v := range vars {
		out = append(out, k+"="+v)
	}
	return out
}

// cluster is one scenario's deployment: a database of its own on the shared store, and
// the environment every serve instance of it gets.
type cluster struct {
	bin string
	env map[string]string
	db  *mongo.Database // the scenario's database, read and written directly by the test
}

// newCluster prepares a database on the store at storeURI and the serve environment:
// the store, shared keys, and extra. It drops the database at cleanup.
func newCluster(t *testing.T, bin, storeURI string, extra map[string]string) *cluster {
	t.Helper()
	dbName := "mp_" + randomHex(6)
	env := map[string]string{
		"MONGODB_URI":        storeURI,
		"LANYARD_DB":         dbName,
		"LANYARD_JWT_SECRET": randomBase64(32),
		"LANYARD_DATA_KEY":   randomBase64(32),
		// Every request comes from 127.0.0.1; the scenarios are not about this limit.
		"LANYARD_REGISTER_LIMIT": "1000",
		// Enough hashing slots that no request waits for one, even in a burst of 30.
		"LANYARD_HASH_CONCURRENCY": "10",
	}
	for k, v := range extra {
		env[k] = v
	}
	client, err := mongo.Connect(options.Client().ApplyURI(storeURI).SetTimeout(30 * time.Second))
	if err != nil {
		t.Fatalf("connect to the store: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := client.Database(dbName).Drop(ctx); err != nil {
			t.Errorf("drop database %s: %v", dbName, err)
		}
		_ = client.Disconnect(ctx)
	})
	return &cluster{bin: bin, env: env, db: client.Database(dbName)}
}

// start starts one `lanyard serve` of the cluster, with extra added to its environment.
func (c *cluster) start(t *testing.T, extra map[string]string) *lanyardProcess {
	t.Helper()
	vars := map[string]string{}
	for k, v := range c.env {
		vars[k] = v
	}
	for k, v := range extra {
		vars[k] = v
	}
	p := startLanyard(t, c.bin, vars)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("serve on %s, stderr:\n%s", p.URL, p.stderr)
		}
	})
	return p
}

// startN starts n instances with the cluster's environment.
func (c *cluster) startN(t *testing.T, n int) []*lanyardProcess {
	t.Helper()
	out := make([]*lanyardProcess, n)
	for i := range out {
		out[i] = c.start(t, nil)
	}
	return out
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func randomBase64(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// answer is one HTTP exchange as the client saw it.
type answer struct {
	status     int
	retryAfter string
	body       map[string]any
	err        error // no answer at all
}

func (a answer) String() string {
	if a.err != nil {
		return "error: " + a.err.Error()
	}
	body := map[string]any{}
	for k, v := range a.body {
		if strings.HasSuffix(k, "_token") {
			v = "[redacted]"
		}
		body[k] = v
	}
	return fmt.Sprintf("%d %v", a.status, body)
}

var apiClient = &http.Client{Timeout: 30 * time.Second}

// call sends one request; body is nil or a value sent as JSON, bearer an access token
// or "". trace, if not nil, is attached to the request.
func call(client *http.Client, method, url string, body any, bearer string, trace *httptrace.ClientTrace) answer {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return answer{err: err}
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return answer{err: err}
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	if trace != nil {
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
	}
	res, err := client.Do(req)
	if err != nil {
		return answer{err: err}
	}
	defer res.Body.Close()
	a := answer{status: res.StatusCode, retryAfter: res.Header.Get("Retry-After")}
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return answer{err: err}
	}
	if len(b) > 0 {
		_ = json.Unmarshal(b, &a.body)
	}
	return a
}

// must fails the test unless a has status want, and returns its body.
func must(t *testing.T, what string, a answer, want int) map[string]any {
	t.Helper()
	if a.err != nil || a.status != want {
		t.Fatalf("%s = %v; want %d", what, a, want)
	}
	return a.body
}

// account is a registered user and its latest tokens.
type account struct {
	id, email, access, refresh string
}

// register creates an account through base and logs it in there.
func register(t *testing.T, base, email string) account {
	t.Helper()
	m := must(t, "POST "+base+"/api/auth/register",
		call(apiClient, "POST", base+"/api/auth/register", map[string]any{"email": email, "password": testPassword}, "", nil), http.StatusCreated)
	a := account{email: email}
	a.id, _ = m["id"].(string)
	a.logIn(t, base)
	return a
}

// logIn logs a in through base and keeps the new tokens.
func (a *account) logIn(t *testing.T, base string) {
	t.Helper()
	m := must(t, "POST "+base+"/api/auth/login",
		call(apiClient, "POST", base+"/api/auth/login", map[string]any{"email": a.email, "password": testPassword}, "", nil), http.StatusOK)
	a.access, _ = m["access_token"].(string)
	a.refresh, _ = m["refresh_token"].(string)
	if a.access == "" || a.refresh == "" {
		t.Fatalf("login of %s: no tokens in %v", a.email, m)
	}
}

// instanceNames are the instances' names in messages.
var instanceNames = []string{"A", "B", "C"}

// testRegistrationsAcrossInstances sends 30 registrations of one email at once, 10 to
// each instance: the store decides, so exactly one is created and 29 are conflicts.
func testRegistrationsAcrossInstances(t *testing.T, bin, storeURI string) {
	c := newCluster(t, bin, storeURI, nil)
	inst := c.startN(t, 3)
	const n = 30
	const email = "ada@example.com"
	results := make([]answer, n)
	lanyardtest.AtOnce(n, func(i int) {
		results[i] = call(apiClient, "POST", inst[i%3].URL+"/api/auth/register",
			map[string]any{"email": email, "password": testPassword}, "", nil)
	})

	counts := map[int]int{}
	perInstance := [3]map[int]int{{}, {}, {}}
	createdID, createdOn := "", ""
	for i, r := range results {
		if r.err != nil {
			t.Errorf("registration %d on %s: %v", i, instanceNames[i%3], r.err)
			continue
		}
		counts[r.status]++
		perInstance[i%3][r.status]++
		switch r.status {
		case http.StatusCreated:
			createdID, _ = r.body["id"].(string)
			createdOn = instanceNames[i%3]
		case http.StatusConflict:
		default:
			t.Errorf("registration %d on %s = %v; want 201 or 409", i, instanceNames[i%3], r)
		}
	}
	t.Logf("30 registrations of one email: %s (A: %s; B: %s; C: %s); created on %s",
		formatCounts(counts), formatCounts(perInstance[0]), formatCounts(perInstance[1]), formatCounts(perInstance[2]), createdOn)
	if counts[http.StatusCreated] != 1 || counts[http.StatusConflict] != n-1 {
		t.Fatalf("30 concurrent registrations of one email over 3 instances: %s; want 201×1 409×29", formatCounts(counts))
	}
	// The account that exists is the one that was created, on every instance.
	for i, p := range inst {
		m := must(t, "login on "+instanceNames[i], call(apiClient, "POST", p.URL+"/api/auth/login",
			map[string]any{"email": email, "password": testPassword}, "", nil), http.StatusOK)
		if u, _ := m["user"].(map[string]any); u["id"] != createdID {
			t.Errorf("login on %s is user %v; want the created %s", instanceNames[i], u["id"], createdID)
		}
	}
}

// testSpentRefreshAcrossInstances rotates a refresh token on A, presents the spent one
// to B, and checks that the session is over on every instance: the token A's rotation
// issued is refused on C (and on A and B), while another session of the user lives on.
func testSpentRefreshAcrossInstances(t *testing.T, bin, storeURI string) {
	// No reuse grace: within it the spent token would answer with A's successor.
	c := newCluster(t, bin, storeURI, map[string]string{"LANYARD_REFRESH_REUSE_GRACE": "0s"})
	inst := c.startN(t, 3)
	a, b, cc := inst[0], inst[1], inst[2]
	acct := register(t, a.URL, "grace@example.com")
	other := acct
	other.logIn(t, b.URL) // a second session of the same user

	spent := acct.refresh
	m := must(t, "refresh on A", call(apiClient, "POST", a.URL+"/api/auth/refresh", map[string]any{"refresh_token": spent}, "", nil), http.StatusOK)
	rotated, _ := m["refresh_token"].(string)
	if rotated == "" || rotated == spent {
		t.Fatalf("refresh on A returned refresh_token %q", rotated)
	}
	got := map[string]int{}
	r := call(apiClient, "POST", b.URL+"/api/auth/refresh", map[string]any{"refresh_token": spent}, "", nil)
	got["spent token on B"] = r.status
	if r.err != nil || r.status != http.StatusUnauthorized {
		t.Errorf("refresh with the spent token on B = %v; want 401", r)
	}
	for i, p := range []*lanyardProcess{cc, a, b} {
		name := instanceNames[(i+2)%3]
		r := call(apiClient, "POST", p.URL+"/api/auth/refresh", map[string]any{"refresh_token": rotated}, "", nil)
		got["A's new token on "+name] = r.status
		if r.err != nil || r.status != http.StatusUnauthorized {
			t.Errorf("refresh with the token A's rotation issued, on %s after the reuse = %v; want 401 (the session ended)", name, r)
		}
	}
	// Only that session ended: the user's other session still refreshes, on C.
	r = call(apiClient, "POST", cc.URL+"/api/auth/refresh", map[string]any{"refresh_token": other.refresh}, "", nil)
	got["other session on C"] = r.status
	if r.err != nil || r.status != http.StatusOK {
		t.Errorf("refresh of the user's other session on C = %v; want 200", r)
	}
	t.Logf("statuses: %v", got)
}

// testThrottleAcrossInstances makes 5 failed logins round-robin over A, B and C with
// LANYARD_LOGIN_FAILURE_LIMIT=5: they count against one limit, so the next attempt,
// on any instance and even with the right password, is 429 with Retry-After.
func testThrottleAcrossInstances(t *testing.T, bin, storeURI string) {
	const limit = 5
	c := newCluster(t, bin, storeURI, map[string]string{"LANYARD_LOGIN_FAILURE_LIMIT": strconv.Itoa(limit)})
	inst := c.startN(t, 3)
	// Registered without a login: an address the account logged in from would be
	// exempt from the account's block.
	acct := account{email: "ada@example.com"}
	must(t, "POST "+inst[0].URL+"/api/auth/register",
		call(apiClient, "POST", inst[0].URL+"/api/auth/register", map[string]any{"email": acct.email, "password": testPassword}, "", nil), http.StatusCreated)

	var seen []string
	for i := range limit {
		r := call(apiClient, "POST", inst[i%3].URL+"/api/auth/login", map[string]any{"email": acct.email, "password": "wrong password " + strconv.Itoa(i)}, "", nil)
		seen = append(seen, fmt.Sprintf("%s:%d", instanceNames[i%3], r.status))
		if r.err != nil || r.status != http.StatusUnauthorized {
			t.Fatalf("failed login %d on %s = %v; want 401", i+1, instanceNames[i%3], r)
		}
	}
	// The first block lasts 1 s from the failure that reached the limit, so the three
	// checks go out at once.
	reached := time.Now()
	results := make([]answer, 3)
	var wg sync.WaitGroup
	for i, p := range inst {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = call(apiClient, "POST", p.URL+"/api/auth/login", map[string]any{"email": acct.email, "password": testPassword}, "", nil)
		}()
	}
	wg.Wait()
	took := time.Since(reached)
	for i, r := range results {
		seen = append(seen, fmt.Sprintf("%s:%d", instanceNames[i], r.status))
		if r.err != nil || r.status != http.StatusTooManyRequests || r.retryAfter == "" {
			t.Errorf("login with the right password on %s after %d failures spread over A, B, C = %v (Retry-After %q, %v after the last failure); want 429 with Retry-After",
				instanceNames[i], limit, r, r.retryAfter, took.Round(time.Millisecond))
		}
	}
	t.Logf("attempts in order (instance:status): %s; the three checks took %v", strings.Join(seen, " "), took.Round(time.Millisecond))
}

// testChainDeleteResumedAcrossInstances starts a chain delete of a user with 5,000
// posts on A, which pauses after its third batch (LANYARD_TEST_DELETE_PAUSE_AFTER_BATCHES)
// and is then killed with SIGKILL. With a 2 s lease (LANYARD_TEST_DELETION_LEASE) B or C
// takes the job over from its record and finishes it: nothing of the user remains, and
// the other users' documents are all there.
func testChainDeleteResumedAcrossInstances(t *testing.T, bin, storeURI string) {
	const (
		victimPosts = 5000
		otherPosts  = 300
		pauseAfter  = 3
	)
	relFile := filepath.Join(t.TempDir(), "relations.yaml")
	if err := os.WriteFile(relFile, []byte("relations:\n  - {name: posts, collection: posts, parent: users, field: author_id, on_delete: cascade}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := newCluster(t, bin, storeURI, map[string]string{
		"LANYARD_RELATIONS_FILE":      relFile,
		"LANYARD_TEST_DELETION_LEASE": "2s",
	})
	a := c.start(t, map[string]string{"LANYARD_TEST_DELETE_PAUSE_AFTER_BATCHES": strconv.Itoa(pauseAfter)})
	b, cc := c.start(t, nil), c.start(t, nil)

	victim := register(t, b.URL, "victim@example.com")
	other := register(t, cc.URL, "other@example.com")
	admin := register(t, b.URL, "admin@example.com")
	promote := exec.Command(bin, "admin", "promote", admin.email)
	promote.Env = processEnv(c.env)
	if out, err := promote.CombinedOutput(); err != nil {
		t.Fatalf("lanyard admin promote: %v\n%s", err, out)
	}
	admin.logIn(t, b.URL) // a token with the admin role

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	victimID, otherID := objectID(t, victim.id), objectID(t, other.id)
	posts := c.db.Collection("posts")
	insertPosts(ctx, t, posts, victimID, victimPosts)
	insertPosts(ctx, t, posts, otherID, otherPosts)

	// What each user holds, relation by relation, as the registry in effect declares.
	m := must(t, "GET /api/relations", call(apiClient, "GET", b.URL+"/api/relations", nil, admin.access, nil), http.StatusOK)
	var rels []struct{ Name, Collection, Parent, Field string }
	raw, _ := json.Marshal(m["relations"])
	if err := json.Unmarshal(raw, &rels); err != nil || len(rels) == 0 {
		t.Fatalf("GET /api/relations: %v %v", m, err)
	}
	holdings := func(id bson.ObjectID) map[string]int64 {
		out := map[string]int64{}
		for _, r := range rels {
			if r.Parent != "users" {
				continue
			}
			out[r.Name] = lanyardtest.RawCount(t, c.db, r.Collection, bson.D{{Key: r.Field, Value: id}})
		}
		out["users"] = lanyardtest.RawCount(t, c.db, "users", bson.D{{Key: "_id", Value: id}})
		return out
	}
	otherBefore := holdings(otherID)
	victimBefore := holdings(victimID)
	if victimBefore["posts"] != victimPosts || victimBefore["sessions"] == 0 {
		t.Fatalf("the victim holds %v before the delete; want %d posts and a session", victimBefore, victimPosts)
	}

	// The delete goes to A, which pauses part-way and never answers: it is killed.
	deleteDone := make(chan answer, 1)
	go func() {
		deleteDone <- call(apiClient, "DELETE", a.URL+"/api/users/me", map[string]any{"password": testPassword}, victim.access, nil)
	}()
	waitFor(t, 60*time.Second, "A to pause its chain delete", func() bool {
		return strings.Contains(a.stderr.String(), "chain delete paused")
	}, func() string { return "A's stderr:\n" + a.stderr.String() })
	var job struct {
		Epoch   int64            `bson:"epoch"`
		Owner   string           `bson:"lease_owner"`
		Deleted map[string]int64 `bson:"deleted"`
	}
	if !lanyardtest.RawDoc(t, c.db, "deletion_jobs", bson.D{{Key: "_id", Value: victimID}}, &job) {
		t.Fatal("no deletion job while A is paused")
	}
	atKill := holdings(victimID)
	if atKill["posts"] == 0 || atKill["posts"] >= victimPosts {
		t.Fatalf("when A paused after %d batches the victim held %v; want some but not all of its %d posts erased", pauseAfter, atKill, victimPosts)
	}
	killed := time.Now()
	a.signal(t, syscall.SIGKILL)
	<-a.exited
	t.Logf("A paused after %d batches (job record: epoch %d, deleted %v) and was killed; the victim still held %v", pauseAfter, job.Epoch, job.Deleted, atKill)
	if r := <-deleteDone; r.err == nil && r.status != http.StatusAccepted {
		t.Errorf("DELETE /api/users/me on A, killed part-way = %v; want no answer or 202", r)
	}

	// B or C claims the job once its lease lapses (epoch 2), then finishes it (the
	// record goes).
	var claimed, finished time.Time
	waitFor(t, 60*time.Second, "the deletion job to be taken over and finished", func() bool {
		var j struct {
			Epoch int64 `bson:"epoch"`
		}
		switch {
		case !lanyardtest.RawDoc(t, c.db, "deletion_jobs", bson.D{{Key: "_id", Value: victimID}}, &j):
			finished = time.Now()
			return true
		case j.Epoch > job.Epoch && claimed.IsZero():
			claimed = time.Now()
		}
		return false
	}, func() string { return fmt.Sprintf("B's stderr:\n%s\nC's stderr:\n%s", b.stderr, cc.stderr) })
	if claimed.IsZero() {
		claimed = finished // claimed and finished between two polls
	}
	var resumed []string
	var resumedTotal float64
	for i, p := range []*lanyardProcess{b, cc} {
		n := metric(t, p.URL, "lanyard_deletion_jobs_resumed_total")
		resumedTotal += n
		if n > 0 {
			resumed = append(resumed, fmt.Sprintf("%s×%v", instanceNames[i+1], n))
		}
	}
	t.Logf("resumed delete: SIGKILL → claimed %v, claimed → finished %v, SIGKILL → finished %v; taken over by %s",
		claimed.Sub(killed).Round(time.Millisecond), finished.Sub(claimed).Round(time.Millisecond),
		finished.Sub(killed).Round(time.Millisecond), strings.Join(resumed, ", "))
	if resumedTotal < 1 {
		t.Errorf("lanyard_deletion_jobs_resumed_total on B and C = %v; want at least 1", resumedTotal)
	}

	// Nothing of the victim remains; the others' documents are all there.
	after := holdings(victimID)
	for name, n := range after {
		if n != 0 {
			t.Errorf("after the resumed delete the victim still has %d %s", n, name)
		}
	}
	if claims := lanyardtest.RawCount(t, c.db, "deletion_claims", bson.D{{Key: "_id", Value: bson.D{{Key: "$regex", Value: "^" + victim.id + ":"}}}}); claims != 0 {
		t.Errorf("deletion claims of the victim left: %d; want 0", claims)
	}
	if otherAfter := holdings(otherID); !mapsEqual(otherAfter, otherBefore) {
		t.Errorf("the other user held %v before the delete and %v after; want it untouched", otherBefore, otherAfter)
	}
	for i, p := range []*lanyardProcess{b, cc} {
		if r := call(apiClient, "POST", p.URL+"/api/auth/login", map[string]any{"email": victim.email, "password": testPassword}, "", nil); r.status != http.StatusUnauthorized {
			t.Errorf("login of the deleted user on %s = %v; want 401", instanceNames[i+1], r)
		}
		if r := call(apiClient, "GET", p.URL+"/api/users/me", nil, other.access, nil); r.status != http.StatusOK {
			t.Errorf("GET /api/users/me of the other user on %s = %v; want 200", instanceNames[i+1], r)
		}
	}
}

func objectID(t *testing.T, hex string) bson.ObjectID {
	t.Helper()
	id, err := bson.ObjectIDFromHex(hex)
	if err != nil {
		t.Fatalf("user id %q: %v", hex, err)
	}
	return id
}

// insertPosts inserts n posts of author straight into the store, as the application
// that owns the posts collection would.
func insertPosts(ctx context.Context, t *testing.T, coll *mongo.Collection, author bson.ObjectID, n int) {
	t.Helper()
	docs := make([]any, n)
	for i := range docs {
		docs[i] = bson.D{{Key: "author_id", Value: author}, {Key: "title", Value: fmt.Sprintf("post %d", i)}}
	}
	if _, err := coll.InsertMany(ctx, docs); err != nil {
		t.Fatalf("insert %d posts: %v", n, err)
	}
}

func mapsEqual(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// waitFor polls cond every 25 ms until it holds, failing the test after limit with
// what detail says.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool, detail func() string) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s\n%s", limit, what, detail())
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// metric reads one unlabelled counter or gauge from base's /metrics.
func metric(t *testing.T, base, name string) float64 {
	t.Helper()
	res, err := apiClient.Get(base + "/metrics")
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("metric %s: %q", name, line)
			}
			return f
		}
	}
	t.Fatalf("GET %s/metrics has no %s", base, name)
	return 0
}

// balancer spreads requests over the live instances, round-robin, like a load
// balancer in front of them. Its health check asks each instance's /readyz every
// healthEvery and takes the instance out of rotation when it answers anything but 200
// (asking it again only every downEvery, as balancers ask a down server less often),
// and back in when it answers 200. A connection refused (the instance is down, or
// between its stop and its restart) is retried on the next instance; every other
// failure is the client's to see.
type balancer struct {
	mu    sync.Mutex
	urls  []string
	next  int
	owner []int       // per slot: the generation of the instance at that URL
	down  []time.Time // per slot: when its /readyz last said not ready; zero if in rotation
	outs  int         // how many times an instance was taken out of rotation
	// inFlight counts, per slot, requests written to the instance and not yet answered.
	inFlight []atomic.Int32
}

const (
	healthEvery = 50 * time.Millisecond
	downEvery   = time.Second
)

// newBalancer returns a balancer over urls whose health check runs until t ends.
func newBalancer(t *testing.T, urls []string) *balancer {
	lb := &balancer{urls: slices.Clone(urls), owner: make([]int, len(urls)), down: make([]time.Time, len(urls)), inFlight: make([]atomic.Int32, len(urls))}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(healthEvery)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			for slot := range urls {
				lb.checkHealth(slot)
			}
		}
	}()
	t.Cleanup(func() { close(stop); <-done })
	return lb
}

// checkHealth asks the instance in slot whether it is ready, unless it is out of
// rotation and was asked less than downEvery ago, and updates the rotation.
func (lb *balancer) checkHealth(slot int) {
	lb.mu.Lock()
	url, down := lb.urls[slot], lb.down[slot]
	lb.mu.Unlock()
	if !down.IsZero() && time.Since(down) < downEvery {
		return
	}
	code, _ := freshGet(url + "/readyz")
	lb.mu.Lock()
	defer lb.mu.Unlock()
	if lb.urls[slot] != url { // a new instance took the slot meanwhile
		return
	}
	if code == http.StatusOK {
		lb.down[slot] = time.Time{}
		return
	}
	if lb.down[slot].IsZero() {
		lb.outs++
	}
	lb.down[slot] = time.Now()
}

// set puts the instance at url in slot, in rotation.
func (lb *balancer) set(slot int, url string) {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	lb.urls[slot] = url
	lb.owner[slot]++
	lb.down[slot] = time.Time{}
}

// pick returns the next slot in rotation (or, if none is, the next slot), its URL
// and the generation of the instance there.
func (lb *balancer) pick() (int, string, int) {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	slot := lb.next % len(lb.urls)
	for range lb.urls {
		if lb.down[slot].IsZero() {
			break
		}
		lb.next++
		slot = lb.next % len(lb.urls)
	}
	lb.next++
	return slot, lb.urls[slot], lb.owner[slot]
}

// served is one request of the load and what became of it.
type served struct {
	kind    string // "login" or "me"
	a       answer
	refused int    // connections refused before the answer, each retried on another instance
	by      string // slot and generation that answered, e.g. "1.0"
}

// do sends one request through the balancer.
func (lb *balancer) do(client *http.Client, kind, method, path string, body any, bearer string) served {
	s := served{kind: kind}
	for range 2 * len(lb.urls) {
		slot, url, gen := lb.pick()
		var wrote atomic.Bool
		trace := &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) {
			if !wrote.Swap(true) {
				lb.inFlight[slot].Add(1)
			}
		}}
		s.a = call(client, method, url+path, body, bearer, trace)
		if wrote.Load() {
			lb.inFlight[slot].Add(-1)
		}
		if errors.Is(s.a.err, syscall.ECONNREFUSED) {
			s.refused++
			continue
		}
		s.by = fmt.Sprintf("%d.%d", slot, gen)
		return s
	}
	return s // refused everywhere: s.a.err says so
}

// testRollingRestart runs a steady light load of logins and GET /api/users/me over
// three instances while each in turn gets SIGTERM (while one of its requests is in
// flight) and is started again on a new port. Every request must succeed, or fail
// only with 503 and Retry-After. The balancer takes an instance out of rotation once
// its /readyz says 503, as a load balancer would, and retries a connection refused by
// an instance being restarted on another, counted apart.
func testRollingRestart(t *testing.T, bin, storeURI string) {
	c := newCluster(t, bin, storeURI, nil)
	inst := c.startN(t, 3)
	lb := newBalancer(t, []string{inst[0].URL, inst[1].URL, inst[2].URL})
	const workers = 3
	accts := make([]account, workers)
	for i := range accts {
		accts[i] = register(t, inst[i].URL, fmt.Sprintf("worker%d@example.com", i))
	}

	// A fresh connection per request: each request either is refused (the instance is
	// down; retried elsewhere) or reaches a server that must answer it, with no kept-alive
	// connection racing the server's close.
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	var (
		mu      sync.Mutex
		results []served
		stop    = make(chan struct{})
		wg      sync.WaitGroup
	)
	record := func(s served) {
		mu.Lock()
		results = append(results, s)
		mu.Unlock()
	}
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			acct := accts[w]
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				case <-time.After(40 * time.Millisecond):
				}
				if i%3 == 0 { // a login (one argon2id hash) for every two reads
					s := lb.do(client, "login", "POST", "/api/auth/login", map[string]any{"email": acct.email, "password": testPassword}, "")
					if tok, _ := s.a.body["access_token"].(string); s.a.status == http.StatusOK && tok != "" {
						acct.access = tok
					}
					record(s)
				} else {
					record(lb.do(client, "me", "GET", "/api/users/me", nil, acct.access))
				}
			}
		}()
	}
	stopLoad := sync.OnceFunc(func() { close(stop); wg.Wait() })
	t.Cleanup(stopLoad)

	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(results)
	}
	time.Sleep(500 * time.Millisecond) // the load runs on all three first
	var inFlightAtTerm []int32
	for slot := range inst {
		old := inst[slot]
		// SIGTERM while a request to this instance is on the wire, so the graceful
		// shutdown has something to finish.
		waitFor(t, 10*time.Second, fmt.Sprintf("a request in flight to %s", instanceNames[slot]), func() bool {
			return lb.inFlight[slot].Load() > 0
		}, func() string { return "" })
		inFlightAtTerm = append(inFlightAtTerm, lb.inFlight[slot].Load())
		before := count()
		old.signal(t, syscall.SIGTERM)
		select {
		case <-old.exited:
		case <-time.After(30 * time.Second):
			t.Fatalf("%s still running 30s after SIGTERM\nstderr:\n%s", instanceNames[slot], old.stderr)
		}
		if st := old.cmd.ProcessState; !st.Exited() || st.ExitCode() != 0 {
			t.Errorf("%s after SIGTERM: %v; want exit status 0\nstderr:\n%s", instanceNames[slot], st, old.stderr)
		}
		inst[slot] = c.start(t, nil)
		lb.set(slot, inst[slot].URL)
		if count() == before {
			t.Errorf("no request was answered while %s restarted; the restart was not under load", instanceNames[slot])
		}
		time.Sleep(300 * time.Millisecond) // the new instance takes its share
	}
	time.Sleep(300 * time.Millisecond)
	stopLoad()

	byKind := map[string]map[int]int{"login": {}, "me": {}}
	refused, retriedRequests := 0, 0
	answeredBy := map[string]int{}
	for _, s := range results {
		refused += s.refused
		if s.refused > 0 {
			retriedRequests++
		}
		if s.a.err != nil {
			byKind[s.kind][0]++
			t.Errorf("%s through the balancer: no answer after %d refused connections: %v", s.kind, s.refused, s.a.err)
			continue
		}
		byKind[s.kind][s.a.status]++
		answeredBy[s.by]++
		switch {
		case s.a.status == http.StatusOK:
		case s.a.status == http.StatusServiceUnavailable && s.a.retryAfter != "":
		default:
			t.Errorf("%s during the rolling restart = %v (Retry-After %q); want 200, or 503 with Retry-After", s.kind, s.a, s.a.retryAfter)
		}
	}
	for slot := range inst {
		if answeredBy[fmt.Sprintf("%d.1", slot)] == 0 {
			t.Errorf("the restarted %s answered no request", instanceNames[slot])
		}
	}
	t.Logf("%d requests: login %s; /me %s; %d connections refused by a stopped instance, retried on another (%d requests); requests in flight at each SIGTERM: %v; answered per instance (slot.generation): %v; instances taken out of rotation on /readyz: %d",
		len(results), formatCounts(byKind["login"]), formatCounts(byKind["me"]), refused, retriedRequests, inFlightAtTerm, answeredBy, lb.outs)
}

// testResetMailSentByAnotherInstance accepts a password reset on A, whose sender is
// held (LANYARD_TEST_MAIL_HOLD), so that the mail is recorded and not sent, and kills
// A with SIGKILL: B, started afterwards on the same store, sends the mail to the
// test's SMTP server, and its link resets the password on B.
func testResetMailSentByAnotherInstance(t *testing.T, bin, storeURI string) {
	mb := lanyardtest.NewMailbox(t)
	c := newCluster(t, bin, storeURI, map[string]string{"LANYARD_SMTP_URL": mb.URL(), "LANYARD_MAIL_FROM": "noreply@lanyard.test"})
	a := c.start(t, map[string]string{"LANYARD_TEST_MAIL_HOLD": "1"})
	email := "reset-" + randomHex(4) + "@example.com"
	registerAccount(t, a.URL, email, testPassword)
	must(t, "password reset on A", call(apiClient, "POST", a.URL+"/api/auth/password-reset", map[string]any{"email": email}, "", nil), http.StatusAccepted)
	// The registration's verification mail waits with the reset's.
	if n := lanyardtest.RawCount(t, c.db, "mail_outbox", bson.D{}); n != 2 || mb.Count() != 0 {
		t.Fatalf("after the request: %d mails in the outbox, %d received; want 2 and 0", n, mb.Count())
	}
	a.signal(t, syscall.SIGKILL)
	<-a.exited

	b := c.start(t, nil)
	var got *lanyardtest.Received
	for range 2 { // B looks for due mails every 5 s
		if m := mb.WaitFor(t, email); m.Header.Get("Subject") == "Reset your password" {
			got = m
		}
	}
	if got == nil {
		t.Fatal("no reset mail among the two B sent")
	}
	m := must(t, "confirm on B", call(apiClient, "POST", b.URL+"/api/auth/password-reset/confirm",
		map[string]any{"token": got.Token(t), "new_password": "a passphrase from the mail 31"}, "", nil), http.StatusOK)
	if m["access_token"] == nil {
		t.Fatalf("confirm on B answered %v; want a token pair", m)
	}
	waitFor(t, 15*time.Second, "the outbox to empty", func() bool { return lanyardtest.RawCount(t, c.db, "mail_outbox", bson.D{}) == 0 },
		func() string { return fmt.Sprint(lanyardtest.RawDocs(t, c.db, "mail_outbox", bson.D{})) })
	if n := mb.Count(); n != 2 {
		t.Errorf("mails received = %d; want 2, each once", n)
	}
}
