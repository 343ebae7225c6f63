package main

import (
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// metricsLine is what serve prints when /metrics has a listener of its own.
var metricsLine = regexp.MustCompile(`(?m)^lanyard metrics on (http://\S+/metrics)$`)

// With LANYARD_METRICS_ADDR, /metrics is served there only — the public listener
// answers 404 — and that listener closes with the server. Without it, /metrics is on
// the public listener.
func TestServe_MetricsOnAListenerOfTheirOwn(t *testing.T) {
	t.Parallel()
	stdout := &syncBuffer{}
	base, stop := startServeIO(t, t.TempDir(), map[string]string{"LANYARD_METRICS_ADDR": "127.0.0.1:0"}, stdout, io.Discard)
	m := metricsLine.FindStringSubmatch(stdout.String())
	if m == nil {
		stop()
		t.Fatalf("serve with LANYARD_METRICS_ADDR printed no metrics address:\n%s", stdout)
	}
	if code, _ := freshGet(base + "/healthz"); code != http.StatusOK { // a request to count
		t.Fatalf("GET /healthz = %d", code)
	}
	res, err := http.Get(m[1])
	if err != nil {
		t.Fatalf("GET %s: %v", m[1], err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.Contains(string(body), "lanyard_http_requests_total") {
		t.Errorf("GET %s = %d, %d bytes; want 200 with Lanyard's metrics", m[1], res.StatusCode, len(body))
	}
	if code, _ := freshGet(base + "/metrics"); code != http.StatusNotFound {
		t.Errorf("GET /metrics on the public listener = %d; want 404 with LANYARD_METRICS_ADDR", code)
	}
	if err := stop(); err != nil {
		t.Fatalf("serve returned %v after cancel; want nil", err)
	}
	if _, err := freshGet(m[1]); err == nil {
		t.Errorf("metrics listener still answers after serve returned")
	}

	base, stop = startServe(t, t.TempDir(), nil)
	defer stop()
	if code, _ := freshGet(base + "/metrics"); code != http.StatusOK {
		t.Errorf("GET /metrics without LANYARD_METRICS_ADDR = %d; want 200 on the public listener", code)
	}
}
