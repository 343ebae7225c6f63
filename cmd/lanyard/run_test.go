package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is an io.Writer safe to read while run writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestRun_VersionPrintsVersion(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"version"}, env(nil), &out, io.Discard); err != nil {
		t.Fatalf("run(version) = %v", err)
	}
	if !strings.HasPrefix(out.String(), "lanyard ") {
		t.Fatalf("run(version) printed %q; want it to start with \"lanyard \"", out.String())
	}
}

func TestRun_WrongConfigurationNamesEachVariable(t *testing.T) {
	err := run(context.Background(), nil, env(map[string]string{
		"LANYARD_ACCESS_TTL":    "soon",
		"LANYARD_DRAIN_TIMEOUT": "2h",
		"LANYARD_STORE_ADDR":    "0.0.0.0:27018",
		"LANYARD_METRICS_ADDR":  "metrics",
		"MONGODB_URI":           "mongodb://user:hunter2@db.example:27017/",
	}), io.Discard, io.Discard)
	if err == nil {
		t.Fatal("run with a wrong configuration succeeded")
	}
	msg := err.Error()
	for _, want := range []string{"LANYARD_ACCESS_TTL:", "LANYARD_DRAIN_TIMEOUT:", "LANYARD_STORE_ADDR:", "LANYARD_METRICS_ADDR:", "LANYARD_DATA_KEY:"} {
		if !strings.Contains(msg, "\n"+want) {
			t.Errorf("error %q has no line starting %q", msg, want)
		}
	}
	if strings.Contains(msg, "hunter2") {
		t.Errorf("error %q echoes the URI's password", msg)
	}
}

func TestRun_UnknownCommandFails(t *testing.T) {
	err := run(context.Background(), []string{"frobnicate"}, env(nil), io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "frobnicate") {
		t.Fatalf("run(frobnicate) = %v; want an error naming the command", err)
	}
}

// startServe runs `lanyard serve` in-process on the embedded store and returns its
// base URL and a stop function that waits for run to return. extra is added to its
// environment.
func startServe(t *testing.T, dataDir string, extra map[string]string) (string, func() error) {
	t.Helper()
	return startServeLogging(t, dataDir, extra, io.Discard)
}

// startServeLogging is startServe with serve's logs written to stderr.
func startServeLogging(t *testing.T, dataDir string, extra map[string]string, stderr io.Writer) (string, func() error) {
	t.Helper()
	return startServeIO(t, dataDir, extra, &syncBuffer{}, stderr)
}

// startServeIO is startServe with serve's output written to stdout and its logs to
// stderr.
func startServeIO(t *testing.T, dataDir string, extra map[string]string, stdout *syncBuffer, stderr io.Writer) (string, func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		vars := map[string]string{
			"LANYARD_ADDR":       "127.0.0.1:0",
			"LANYARD_STORE_ADDR": "127.0.0.1:0",
			"LANYARD_DATA_DIR":   dataDir,
			"LANYARD_LOG_LEVEL":  "error",
		}
		for k, v := range extra {
			vars[k] = v
		}
		done <- run(ctx, []string{"serve"}, env(vars), stdout, stderr)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-done:
			cancel()
			t.Fatalf("serve exited early: %v", err)
		default:
		}
		sc := bufio.NewScanner(strings.NewReader(stdout.String()))
		for sc.Scan() {
			if url, ok := strings.CutPrefix(sc.Text(), "lanyard listening on "); ok {
				return url, func() error { cancel(); return <-done }
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	t.Fatal("serve did not start listening")
	return "", nil
}

func post(t *testing.T, url string, body any) (int, map[string]any) {
	t.Helper()
	b, _ := json.Marshal(body)
	res, err := http.Post(url, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer res.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(res.Body).Decode(&m)
	return res.StatusCode, m
}

func TestRun_ServeWithNoConfigurationThenPromoteAndServeAgain(t *testing.T) {
	dir := t.TempDir()
	base, stop := startServe(t, dir, nil)
	creds := map[string]any{"email": "ada@example.com", "password": "correct horse battery staple"}
	if code, m := post(t, base+"/api/auth/register", creds); code != http.StatusCreated {
		t.Fatalf("POST /api/auth/register = %d %v; want 201", code, m)
	}
	if err := stop(); err != nil {
		t.Fatalf("serve returned %v after cancel; want nil", err)
	}
	// The signing keys live in the store; jwt.key only ever verified the previous
	// version's tokens and is no longer made.
	if _, err := os.Stat(filepath.Join(dir, "jwt.key")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("jwt.key: %v; want none made", err)
	}
	for _, key := range []string{"data.key"} {
		fi, err := os.Stat(filepath.Join(dir, key))
		if err != nil {
			t.Fatalf("generated key %s: %v", key, err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s mode = %v; want 0600", key, fi.Mode().Perm())
		}
	}

	var out bytes.Buffer
	err := run(context.Background(), []string{"admin", "promote", "ADA@example.com"}, env(map[string]string{
		"LANYARD_STORE_ADDR": "127.0.0.1:0", "LANYARD_DATA_DIR": dir, "LANYARD_LOG_LEVEL": "error",
	}), &out, io.Discard)
	if err != nil {
		t.Fatalf("admin promote = %v", err)
	}

	// The same data dir serves the same account, now an admin, with the same keys.
	base, stop = startServe(t, dir, nil)
	defer stop()
	code, m := post(t, base+"/api/auth/login", creds)
	if code != http.StatusOK {
		t.Fatalf("POST /api/auth/login after restart = %d %v; want 200", code, m)
	}
	if role := m["user"].(map[string]any)["role"]; role != "admin" {
		t.Fatalf("role after promote = %v; want admin", role)
	}
}

func TestRun_PromoteUnknownEmailFails(t *testing.T) {
	err := run(context.Background(), []string{"admin", "promote", "nobody@example.com"}, env(map[string]string{
		"LANYARD_STORE_ADDR": "127.0.0.1:0", "LANYARD_DATA_DIR": t.TempDir(), "LANYARD_LOG_LEVEL": "error",
	}), io.Discard, io.Discard)
	if err == nil {
		t.Fatal("admin promote of an unknown email succeeded")
	}
}

// A request the server has not read yet when the shutdown begins is answered, not
// dropped: the server keeps listening, with /readyz saying 503, until the requests
// on connections it had accepted are in its handler, even when no other connection
// arrives meanwhile.
func TestServe_RequestOnAConnectionAcceptedBeforeShutdownIsAnswered(t *testing.T) {
	base, stop := startServe(t, t.TempDir(), nil)
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Connections are accepted in the order they were made: once a request on a
	// newer one is answered, conn has been accepted.
	if code, err := freshGet(base + "/healthz"); code != http.StatusOK {
		t.Fatalf("GET /healthz = %d (%v); want 200", code, err)
	}
	stopped := make(chan error, 1)
	go func() { stopped <- stop() }()

	waitNotReady(t, base)
	time.Sleep(2 * drainQuiet) // no new connection: only conn's request holds the drain
	if _, err := io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: lanyard\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("request sent during the shutdown on a connection accepted before it: %v; want an answer", err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Errorf("GET /healthz during the shutdown = %d; want 200", res.StatusCode)
	}
	if err := <-stopped; err != nil {
		t.Fatalf("serve returned %v after cancel; want nil", err)
	}
}

// waitNotReady asks base's /readyz on fresh connections until it answers 503, as a
// balancer's health check would once the shutdown has begun.
func waitNotReady(t *testing.T, base string) {
	t.Helper()
	var (
		code int
		err  error
	)
	waitFor(t, 10*time.Second, "GET /readyz to answer 503 after the shutdown began", func() bool {
		code, err = freshGet(base + "/readyz")
		return code == http.StatusServiceUnavailable
	}, func() string { return fmt.Sprintf("last answer: %d (%v)", code, err) })
}

// getClosing sends GET url on a fresh connection, asking to keep it alive, and
// reports the status and whether the server said it would close the connection.
func getClosing(url string) (status int, closing bool, err error) {
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	res, err := (&http.Client{Timeout: 5 * time.Second, Transport: tr}).Get(url)
	if err != nil {
		return 0, false, err
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, res.Body)
	return res.StatusCode, res.Close, nil
}

// A balancer keeps sending for a moment after SIGTERM, until its health check sees
// /readyz at 503 (or, as Kubernetes does, it removes the instance as it signals it).
// Those connections are answered, with keep-alive off, and the listener closes only
// once they have stopped arriving: closing it earlier would reset connections that
// the kernel had completed and the server had not accepted yet.
func TestServe_ConnectionsArrivingWhileDrainingAreAnsweredThenTheServerStops(t *testing.T) {
	base, stop := startServe(t, t.TempDir(), map[string]string{"LANYARD_DRAIN_TIMEOUT": "1m"})
	stopped := make(chan error, 1)
	var notReady time.Time // when /readyz first said 503
	for i := 0; notReady.IsZero() || time.Since(notReady) < 2*drainQuiet; i++ {
		if i == 3 { // some traffic first, as a balancer's
			go func() { stopped <- stop() }()
		}
		code, closing, err := getClosing(base + "/healthz")
		if err != nil || code != http.StatusOK {
			t.Fatalf("GET /healthz %d (shutdown begun: %v) = %d (%v); want 200", i, i >= 3, code, err)
		}
		if !notReady.IsZero() && !closing {
			t.Errorf("GET /healthz while draining has no Connection: close; want keep-alive off")
		}
		if code, _ := freshGet(base + "/readyz"); code == http.StatusServiceUnavailable && notReady.IsZero() {
			notReady = time.Now()
		}
		if i > 1000 {
			t.Fatal("GET /readyz did not turn 503 after the shutdown began")
		}
		time.Sleep(drainQuiet / 10)
	}
	// Once connections stop arriving, the server stops, well before LANYARD_DRAIN_TIMEOUT.
	select {
	case err := <-stopped:
		if err != nil {
			t.Fatalf("serve returned %v after cancel; want nil", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve still draining 20s after the last connection; want it to stop once none arrives")
	}
	if code, err := freshGet(base + "/healthz"); err == nil {
		t.Errorf("GET /healthz after serve returned = %d; want the connection refused", code)
	}
}

// A client that never stops sending cannot hold the shutdown: after
// LANYARD_DRAIN_TIMEOUT the listener closes and the server stops.
func TestServe_DrainEndsAtTheDrainTimeoutWhileConnectionsKeepArriving(t *testing.T) {
	base, stop := startServe(t, t.TempDir(), map[string]string{"LANYARD_DRAIN_TIMEOUT": "1s"})
	stopped := make(chan error, 1)
	answeredWhileDraining := 0
	for i := 0; ; i++ {
		if i == 3 {
			go func() { stopped <- stop() }()
		}
		if i > 3000 {
			t.Fatalf("still answering %d requests after the shutdown began; want the drain to end after LANYARD_DRAIN_TIMEOUT=1s", i-3)
		}
		if _, err := freshGet(base + "/healthz"); err != nil {
			break
		}
		if code, _ := freshGet(base + "/readyz"); code == http.StatusServiceUnavailable {
			answeredWhileDraining++
		}
		time.Sleep(drainQuiet / 10)
	}
	if err := <-stopped; err != nil {
		t.Fatalf("serve returned %v after cancel; want nil", err)
	}
	if answeredWhileDraining == 0 {
		t.Error("no request was answered while draining; want the server to accept until the timeout")
	}
}

// countingHandler counts the WithAttrs calls that reach it.
type countingHandler struct {
	slog.Handler
	withAttrs *int
}

func (h countingHandler) WithAttrs(as []slog.Attr) slog.Handler {
	*h.withAttrs++
	return countingHandler{h.Handler.WithAttrs(as), h.withAttrs}
}

func TestLevelFloor_DerivedLoggersFormatNothingUntilARecordPasses(t *testing.T) {
	var buf bytes.Buffer
	calls := 0
	base := countingHandler{slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}), &calls}
	l := slog.New(levelFloor{Handler: base, min: slog.LevelError}).With("component", "store").WithGroup("q").With("sql", "SELECT 1")
	l.Info("below the floor")
	if buf.Len() != 0 || calls != 0 {
		t.Fatalf("after deriving and one dropped record: output %q, %d WithAttrs calls on the handler below; want none", buf.String(), calls)
	}
	l.Error("kept", "n", 1)
	for _, want := range []string{"msg=kept", "component=store", "q.sql=\"SELECT 1\"", "q.n=1"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("record at the floor = %q; want it to contain %s", buf.String(), want)
		}
	}
}
