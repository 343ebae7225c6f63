package main

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"
)

// runClients runs `lanyard clients args...` on the data directory dir.
func runClients(t *testing.T, dir string, args ...string) (stdout string, err error) {
	t.Helper()
	var out, log bytes.Buffer
	err = run(context.Background(), append([]string{"clients"}, args...), env(map[string]string{
		"LANYARD_DATA_DIR": dir, "LANYARD_LOG_LEVEL": "error",
	}), &out, &log)
	return out.String(), err
}

// `lanyard clients add NAME` prints a client_id and a client_secret once; list shows
// the client (never its secret); remove takes it away, and removing it again, or an id
// that never was, fails.
func TestRun_ClientsAddListRemove(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	out, err := runClients(t, dir, "add", "billing service")
	if err != nil {
		t.Fatalf("clients add = %v", err)
	}
	m := regexp.MustCompile(`(?m)^client_id: ([0-9a-f]{32})\nclient_secret: ([A-Za-z0-9_-]{43})$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("clients add printed %q; want client_id and client_secret lines", out)
	}
	id, secret := m[1], m[2]
	if out, err := runClients(t, dir, "add", "reports"); err != nil || !strings.Contains(out, "client_secret: ") {
		t.Fatalf("second clients add = %v, %q", err, out)
	}

	out, err = runClients(t, dir, "list")
	if err != nil {
		t.Fatalf("clients list = %v", err)
	}
	if !regexp.MustCompile(`(?m)^`+id+`\t\S+\tbilling service$`).MatchString(out) || !strings.Contains(out, "\treports\n") {
		t.Errorf("clients list printed %q; want a line per client: id, created, name", out)
	}
	if strings.Contains(out, secret) {
		t.Errorf("clients list shows the secret")
	}

	if out, err := runClients(t, dir, "remove", id); err != nil || !strings.Contains(out, id) {
		t.Fatalf("clients remove = %v, %q", err, out)
	}
	if out, _ := runClients(t, dir, "list"); strings.Contains(out, id) || !strings.Contains(out, "reports") {
		t.Errorf("clients list after remove printed %q; want reports only", out)
	}
	for _, gone := range []string{id, strings.Repeat("0", 32)} {
		if _, err := runClients(t, dir, "remove", gone); err == nil || !strings.Contains(err.Error(), "not found") {
			t.Errorf("clients remove %s = %v; want a not found error", gone, err)
		}
	}
	for _, args := range [][]string{{"add"}, {"add", ""}, {"remove"}, {"list", "x"}, {"rotate"}} {
		if _, err := runClients(t, dir, args...); err == nil {
			t.Errorf("clients %q = nil; want an error", args)
		}
	}
}
