package main

import (
	"bufio"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lanyard/lanyard/internal/lanyardtest"
)

// vmHWM reads the peak resident set of process pid from /proc/<pid>/status, in bytes.
func vmHWM(t *testing.T, pid int) int64 {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("peak RSS: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatalf("peak RSS: VmHWM %q: %v", v, err)
			}
			return kb << 10
		}
	}
	t.Fatalf("peak RSS: no VmHWM in /proc/%d/status (%v)", pid, sc.Err())
	return 0
}

// TestLoad_500ConcurrentLoginsStayBoundedInStatusAndMemory fires 500 concurrent logins
// (right passwords, wrong passwords and unknown accounts) at the real binary with the
// real argon2id cost and 2 hashing slots. Every answer must be one the contract
// allows under load — 200, 401, 429 or 503, the last two with Retry-After — and the
// process's peak resident set must stay under 300 MiB.
//
// It takes a while and loads the machine, so it runs only with LANYARD_LOAD=1:
//
//	LANYARD_LOAD=1 go test ./cmd/lanyard -run Load -v -count=1
func TestLoad_500ConcurrentLoginsStayBoundedInStatusAndMemory(t *testing.T) {
	if os.Getenv("LANYARD_LOAD") != "1" {
		t.Skip("load test; run it with LANYARD_LOAD=1 go test ./cmd/lanyard -run Load -v -count=1")
	}
	p := startLanyard(t, buildLanyard(t), nil)
	const email, pw = "ada@example.com", "correct horse battery staple"
	registerAccount(t, p.URL, email, pw)
	idle := vmHWM(t, p.cmd.Process.Pid) // after start-up and one registration

	const (
		n       = 500
		maxPeak = 300 << 20
	)
	kinds := []string{"right password", "wrong password", "unknown account"}
	client := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: n}}
	t.Cleanup(client.CloseIdleConnections)
	results := make([]loginResult, n)
	kindOf := func(i int) string { return kinds[[]int{0, 0, 1, 1, 2}[i%5]] } // 40% right, 40% wrong, 20% unknown
	began := time.Now()
	lanyardtest.AtOnce(n, func(i int) {
		e, pass := email, pw
		switch kindOf(i) {
		case "wrong password":
			pass = fmt.Sprintf("wrong password %d", i)
		case "unknown account":
			e = fmt.Sprintf("nobody-%d@example.com", i)
		}
		results[i] = login(client, p.URL, e, pass, nil)
	})
	wall := time.Since(began)
	peak := vmHWM(t, p.cmd.Process.Pid)

	counts := map[string]map[int]int{}
	for i, r := range results {
		k := kindOf(i)
		if counts[k] == nil {
			counts[k] = map[int]int{}
		}
		if r.err != nil && r.status == 0 {
			counts[k][0]++
			t.Errorf("login %d (%s): no answer: %v", i, k, r.err)
			continue
		}
		counts[k][r.status]++
		switch r.status {
		case http.StatusOK:
			if k != "right password" {
				t.Errorf("login %d (%s) = 200; want 401, 429 or 503", i, k)
			} else if tok, _ := r.body["access_token"].(string); tok == "" {
				t.Errorf("login %d (%s) = 200 with no access_token: %v", i, k, r.body)
			}
		case http.StatusUnauthorized:
			if k == "right password" {
				t.Errorf("login %d (%s) = 401; want 200, 429 or 503", i, k)
			}
		case http.StatusTooManyRequests, http.StatusServiceUnavailable:
			if r.retryAfter == "" {
				t.Errorf("login %d (%s) = %d with no Retry-After", i, k, r.status)
			}
		default:
			t.Errorf("login %d (%s) = %d %v; want 200, 401, 429 or 503", i, k, r.status, r.body)
		}
	}
	total := map[int]int{}
	for _, k := range kinds {
		t.Logf("%-15s %s", k+":", formatCounts(counts[k]))
		for s, c := range counts[k] {
			total[s] += c
		}
	}
	t.Logf("%-15s %s", "all:", formatCounts(total))
	t.Logf("%d concurrent logins in %v; peak RSS (VmHWM) %.1f MiB (%.1f MiB before the logins)",
		n, wall.Round(time.Millisecond), float64(peak)/(1<<20), float64(idle)/(1<<20))
	if peak >= maxPeak {
		t.Errorf("peak RSS (VmHWM) = %.1f MiB; want < %d MiB", float64(peak)/(1<<20), maxPeak>>20)
	}
}

// formatCounts prints status counts in status order, e.g. "200×12 401×30"; status 0
// counts requests that got no answer.
func formatCounts(m map[int]int) string {
	var b strings.Builder
	for _, s := range []int{http.StatusOK, http.StatusUnauthorized, http.StatusTooManyRequests, http.StatusServiceUnavailable} {
		if m[s] > 0 {
			fmt.Fprintf(&b, " %d×%d", s, m[s])
		}
	}
	for s, c := range m {
		switch s {
		case http.StatusOK, http.StatusUnauthorized, http.StatusTooManyRequests, http.StatusServiceUnavailable:
		default:
			fmt.Fprintf(&b, " %d×%d", s, c)
		}
	}
	return strings.TrimSpace(b.String())
}
