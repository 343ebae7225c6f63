package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptrace"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// buildLanyard builds the lanyard binary from this tree into a temporary directory,
// with the same go command that runs the tests, and returns its path.
func buildLanyard(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "lanyard")
	goCmd := filepath.Join(runtime.GOROOT(), "bin", "go")
	out, err := exec.Command(goCmd, "build", "-o", bin, "./").CombinedOutput()
	if err != nil {
		t.Fatalf("go build -o %s ./: %v\n%s", bin, err, out)
	}
	return bin
}

// lanyardProcess is a running `lanyard serve`.
type lanyardProcess struct {
	cmd    *exec.Cmd
	URL    string        // e.g. http://127.0.0.1:41234
	stderr *syncBuffer   // its logs, for failure messages
	exited chan struct{} // closed once the process has exited and been reaped
}

// startLanyard starts bin as `lanyard serve` on the embedded store, on free ports and
// in a fresh data directory, and waits until it prints its listening line. extra is
// added to the environment. The process is killed at cleanup if it is still running.
func startLanyard(t *testing.T, bin string, extra map[string]string) *lanyardProcess {
	t.Helper()
	vars := map[string]string{
		"LANYARD_ADDR":             "127.0.0.1:0",
		"LANYARD_STORE_ADDR":       "127.0.0.1:0",
		"LANYARD_DATA_DIR":         t.TempDir(),
		"LANYARD_LOG_LEVEL":        "warn",
		"LANYARD_HASH_CONCURRENCY": "2",
	}
	for k, v := range extra {
		vars[k] = v
	}
	stdout, stderr := &syncBuffer{}, &syncBuffer{}
	p := &lanyardProcess{
		cmd:    exec.Command(bin, "serve"),
		stderr: stderr,
		exited: make(chan struct{}),
	}
	p.cmd.Env = processEnv(vars) // none of the tests' own Lanyard settings: the embedded store
	p.cmd.Stdout, p.cmd.Stderr = stdout, stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s serve: %v", bin, err)
	}
	go func() {
		_ = p.cmd.Wait() // the outcome is in p.cmd.ProcessState
		close(p.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
	})

	deadline := time.NewTimer(60 * time.Second)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		for line := range strings.Lines(stdout.String()) {
			if url, ok := strings.CutPrefix(strings.TrimSpace(line), "lanyard listening on "); ok {
				p.URL = url
				return p
			}
		}
		select {
		case <-p.exited:
			t.Fatalf("lanyard serve exited before listening: %v\nstderr:\n%s", p.cmd.ProcessState, stderr)
		case <-deadline.C:
			t.Fatalf("lanyard serve did not print its listening line within 60s\nstderr:\n%s", stderr)
		case <-tick.C:
		}
	}
}

// signal sends sig to the process.
func (p *lanyardProcess) signal(t *testing.T, sig os.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %v: %v", sig, err)
	}
}

// registerAccount registers email with pw through the process's API.
func registerAccount(t *testing.T, base, email, pw string) {
	t.Helper()
	code, m := post(t, base+"/api/auth/register", map[string]any{"email": email, "password": pw})
	if code != http.StatusCreated {
		t.Fatalf("POST /api/auth/register = %d %v; want 201", code, m)
	}
}

// freshGet does GET url on a connection of its own, as a load balancer's health
// probe would; it returns the status, or the error when no answer came.
func freshGet(url string) (int, error) {
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	res, err := c.Get(url)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, res.Body)
	return res.StatusCode, nil
}

// loginResult is one login's outcome as the client saw it.
type loginResult struct {
	status     int
	retryAfter string
	body       map[string]any
	err        error
}

// login posts one JSON login. wrote, if not nil, is called once the request has been
// written to the connection.
func login(client *http.Client, base, email, pw string, wrote func()) loginResult {
	b, _ := json.Marshal(map[string]string{"email": email, "password": pw})
	req, err := http.NewRequest(http.MethodPost, base+"/api/auth/login", bytes.NewReader(b))
	if err != nil {
		return loginResult{err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	if wrote != nil {
		var once sync.Once
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
			WroteRequest: func(httptrace.WroteRequestInfo) { once.Do(wrote) },
		}))
	}
	res, err := client.Do(req)
	if err != nil {
		return loginResult{err: err}
	}
	defer res.Body.Close()
	r := loginResult{status: res.StatusCode, retryAfter: res.Header.Get("Retry-After")}
	if err := json.NewDecoder(res.Body).Decode(&r.body); err != nil {
		r.err = err
	}
	return r
}

// TestServe_SIGTERMDuringLoginsAnswersAllAndExitsZero runs the real binary, sends it
// SIGTERM while 16 logins with the real argon2id cost are queued for 2 hashing slots,
// and checks the graceful shutdown: every login is answered, /readyz stops saying
// ready, and the process exits 0.
func TestServe_SIGTERMDuringLoginsAnswersAllAndExitsZero(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the lanyard binary; skipped with -short")
	}
	// Sixteen logins of one account in flight at once exceed the failure limit's
	// default of 10: until each proves right, an attempt counts against the limit, so
	// a burst of guesses gets no more than 10. This test is about shutdown, not that.
	p := startLanyard(t, buildLanyard(t), map[string]string{"LANYARD_LOGIN_FAILURE_LIMIT": "100"})
	if code, err := freshGet(p.URL + "/readyz"); code != http.StatusOK {
		t.Fatalf("GET /readyz before SIGTERM = %d (%v); want 200", code, err)
	}
	const email, pw = "ada@example.com", "correct horse battery staple"
	registerAccount(t, p.URL, email, pw)

	const n = 16
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: n}}
	t.Cleanup(client.CloseIdleConnections)
	var (
		wrote    sync.WaitGroup
		finished sync.WaitGroup
		answered atomic.Int32
		results  = make([]loginResult, n)
	)
	wrote.Add(n)
	finished.Add(n)
	for i := range n {
		go func() {
			defer finished.Done()
			results[i] = login(client, p.URL, email, pw, wrote.Done)
			answered.Add(1)
		}()
	}
	allWritten := make(chan struct{})
	go func() { wrote.Wait(); close(allWritten) }()
	select {
	case <-allWritten:
	case <-time.After(20 * time.Second):
		t.Fatalf("the %d login requests were not all written within 20s", n)
	}
	// The server accepts connections in the order they were made, so once a request
	// on a newer connection is answered, all 16 login connections have been accepted
	// and are the server's to finish: the test is about requests being served, not
	// about the drain's wait for connections still arriving (run_test.go has that).
	if code, err := freshGet(p.URL + "/metrics"); code != http.StatusOK {
		t.Fatalf("GET /metrics = %d (%v); want 200", code, err)
	}
	before := answered.Load()
	if before == n {
		t.Fatalf("all %d logins were answered before SIGTERM could be sent; the test exercised no shutdown", n)
	}
	sent := time.Now()
	p.signal(t, syscall.SIGTERM)
	limit := time.NewTimer(25 * time.Second) // a failure bound, not a speed requirement
	defer limit.Stop()

	// Right after the signal the process may not have seen it yet, so /readyz is
	// asked until it stops saying 200; once it has, it must not say 200 again.
	for {
		code, err := freshGet(p.URL + "/readyz")
		if code != http.StatusOK {
			t.Logf("GET /readyz %v after SIGTERM = %d (%v)", time.Since(sent).Round(time.Millisecond), code, err)
			break
		}
		select {
		case <-limit.C:
			t.Fatal("GET /readyz still answered 200 25s after SIGTERM")
		case <-time.After(5 * time.Millisecond):
		}
	}

	loginsDone := make(chan struct{})
	go func() { finished.Wait(); close(loginsDone) }()
	select {
	case <-loginsDone:
	case <-limit.C:
		t.Fatalf("%d of %d logins answered 25s after SIGTERM\nstderr:\n%s", answered.Load(), n, p.stderr)
	}
	for i, r := range results {
		if r.err != nil || r.status != http.StatusOK {
			t.Errorf("login %d during shutdown = %d %v (error %v); want 200", i, r.status, r.body, r.err)
			continue
		}
		if tok, _ := r.body["access_token"].(string); tok == "" {
			t.Errorf("login %d during shutdown = 200 with no access_token: %v", i, r.body)
		}
	}
	if code, err := freshGet(p.URL + "/readyz"); code == http.StatusOK {
		t.Errorf("GET /readyz after the logins were answered = 200; want 503 or no answer (%v)", err)
	}

	select {
	case <-p.exited:
	case <-limit.C:
		t.Fatalf("lanyard serve still running 25s after SIGTERM\nstderr:\n%s", p.stderr)
	}
	if st := p.cmd.ProcessState; !st.Exited() || st.ExitCode() != 0 {
		t.Fatalf("lanyard serve after SIGTERM: %v; want exit status 0\nstderr:\n%s", st, p.stderr)
	}
	t.Logf("%d of %d logins were answered before SIGTERM; exited 0 %v after it", before, n, time.Since(sent).Round(time.Millisecond))
}
