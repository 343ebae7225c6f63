package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/lanyard/lanyard/internal/lanyardtest"
)

// listeningTCPPorts returns the local ports of the TCP sockets this process listens
// on, from /proc (Linux); ok is false where /proc cannot tell.
func listeningTCPPorts(t *testing.T) (ports map[int]bool, ok bool) {
	t.Helper()
	inodes := map[string]int{} // socket inode → port, of listening sockets
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, false
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Scan() // header
		for sc.Scan() {
			fs := strings.Fields(sc.Text())
			if len(fs) < 10 || fs[3] != "0A" { // 0A: LISTEN
				continue
			}
			_, hexPort, _ := strings.Cut(fs[1], ":")
			port, err := strconv.ParseInt(hexPort, 16, 32)
			if err != nil {
				t.Fatalf("%s: %q", f, fs[1])
			}
			inodes[fs[9]] = int(port)
		}
	}
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return nil, false
	}
	ports = map[int]bool{}
	for _, fd := range fds {
		link, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name()))
		if inode, ok := strings.CutPrefix(link, "socket:["); err == nil && ok {
			if port, ok := inodes[strings.TrimSuffix(inode, "]")]; ok {
				ports[port] = true
			}
		}
	}
	return ports, true
}

// With no LANYARD_STORE_ADDR, serve's embedded store accepts MongoDB clients only on a
// socket in the data directory that only its owner can reach: no TCP port but the
// API's is opened, the socket is 0600 in a 0700 directory, the start log and
// `lanyard store-uri` give its URI, and the application's own code reads the data
// through it. (Not parallel: it counts this process's listening sockets.)
func TestServe_EmbeddedStoreListensOnlyOnAnOwnerOnlySocketByDefault(t *testing.T) {
	before, ok := listeningTCPPorts(t)
	if !ok {
		t.Skip("no /proc to list this process's listening sockets")
	}
	dir := t.TempDir()
	logs := &syncBuffer{}
	base, stop := startServeLogging(t, dir, map[string]string{"LANYARD_STORE_ADDR": "", "LANYARD_LOG_LEVEL": "info"}, logs)
	defer stop()
	after, _ := listeningTCPPorts(t)
	apiPort, _ := strconv.Atoi(base[strings.LastIndex(base, ":")+1:])
	for port := range after {
		if !before[port] && port != apiPort {
			t.Errorf("serve listens on TCP port %d besides the API's %d; want the store on its socket only", port, apiPort)
		}
	}

	sock := filepath.Join(dir, "store.sock")
	fi, err := os.Lstat(sock)
	if err != nil {
		t.Fatalf("the store's socket: %v", err)
	}
	if fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o600 {
		t.Errorf("%s: mode %v; want a socket, 0600", sock, fi.Mode())
	}
	if di, err := os.Stat(dir); err != nil || di.Mode().Perm() != 0o700 {
		t.Errorf("data directory: %v, %v; want 0700", di.Mode().Perm(), err)
	}
	want := "mongodb://" + strings.ReplaceAll(sock, "/", "%2F") + "/"
	if !strings.Contains(logs.String(), "uri="+want) {
		t.Errorf("start log does not give the socket's URI %s:\n%s", want, logs)
	}
	if strings.Contains(logs.String(), "any local user") {
		t.Errorf("start log warns of TCP without LANYARD_STORE_ADDR:\n%s", logs)
	}
	var out bytes.Buffer
	if err := run(context.Background(), []string{"store-uri"}, env(map[string]string{"LANYARD_DATA_DIR": dir}), &out, io.Discard); err != nil {
		t.Fatalf("store-uri = %v", err)
	}
	if got := strings.TrimSpace(out.String()); got != want {
		t.Errorf("store-uri printed %q; want %q", got, want)
	}

	creds := map[string]any{"email": "ada@example.com", "password": "correct horse battery staple"}
	if code, m := post(t, base+"/api/auth/register", creds); code != http.StatusCreated {
		t.Fatalf("register = %d %v", code, m)
	}
	if n := lanyardtest.RawCount(t, connectDB(t, want, "lanyard"), "users", bson.D{{Key: "email", Value: "ada@example.com"}}); n != 1 {
		t.Fatalf("the user read through the socket: %d; want 1", n)
	}
}

// With LANYARD_STORE_ADDR the store listens there too, and serve warns that any local
// user can then read and change the data.
func TestServe_StoreAddrWarnsThatAnyLocalUserCanReadAndChangeTheData(t *testing.T) {
	t.Parallel()
	logs := &syncBuffer{}
	_, stop := startServeLogging(t, t.TempDir(), map[string]string{"LANYARD_STORE_ADDR": "127.0.0.1:0", "LANYARD_LOG_LEVEL": "warn"}, logs)
	defer stop()
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "any local user can read and change its data") {
		t.Errorf("log with LANYARD_STORE_ADDR set has no warning that any local user can read and change the data:\n%s", logs)
	}
}

// runAdmin runs `lanyard admin VERB EMAIL` on the data directory and returns what it
// printed and logged.
func runAdmin(t *testing.T, dir, verb, email string, extra map[string]string) (stdout, logs string, err error) {
	t.Helper()
	vars := map[string]string{"LANYARD_DATA_DIR": dir, "LANYARD_LOG_LEVEL": "info"}
	for k, v := range extra {
		vars[k] = v
	}
	var out, log bytes.Buffer
	err = run(context.Background(), []string{"admin", verb, email}, env(vars), &out, &log)
	return out.String(), log.String(), err
}

// loginRole logs in and returns the role the server answers with.
func loginRole(t *testing.T, base string, creds map[string]any) any {
	t.Helper()
	code, m := post(t, base+"/api/auth/login", creds)
	if code != http.StatusOK {
		t.Fatalf("login = %d %v; want 200", code, m)
	}
	return m["user"].(map[string]any)["role"]
}

// Beside a running server, `admin promote` and `admin demote` use the server's store
// through the data directory's socket — they start no second store on the same
// files — whether or not the server's store also listens on TCP.
func TestRun_AdminCommandsBesideARunningServerUseItsStore(t *testing.T) {
	for name, storeAddr := range map[string]string{"socket only": "", "socket and TCP": "127.0.0.1:0"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			vars := map[string]string{"LANYARD_STORE_ADDR": storeAddr}
			base, stop := startServe(t, dir, vars)
			defer stop()
			ada := map[string]any{"email": "ada@example.com", "password": "correct horse battery staple"}
			bob := map[string]any{"email": "bob@example.com", "password": "correct horse battery staple"}
			for _, c := range []map[string]any{ada, bob} {
				if code, m := post(t, base+"/api/auth/register", c); code != http.StatusCreated {
					t.Fatalf("register = %d %v", code, m)
				}
			}
			for _, step := range []struct {
				verb, email, role string
				creds             map[string]any
			}{
				{"promote", "ada@example.com", "admin", ada},
				{"promote", "bob@example.com", "admin", bob},
				{"demote", "ada@example.com", "user", ada},
			} {
				_, logs, err := runAdmin(t, dir, step.verb, step.email, vars)
				if err != nil {
					t.Fatalf("admin %s %s = %v\n%s", step.verb, step.email, err, logs)
				}
				if strings.Contains(logs, "embedded store started") || !strings.Contains(logs, "using the store running on the data directory") {
					t.Errorf("admin %s beside a running server logged:\n%s\nwant it to use the server's store, not start one", step.verb, logs)
				}
				if role := loginRole(t, base, step.creds); role != step.role {
					t.Errorf("role after admin %s %s = %v; want %s", step.verb, step.email, role, step.role)
				}
			}
		})
	}
}

// With no server running, the admin commands open the data directory themselves; the
// last admin cannot be demoted, and demoting a plain user changes nothing.
func TestRun_AdminDemoteWithoutAServerKeepsTheLastAdmin(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	base, stop := startServe(t, dir, nil)
	ada := map[string]any{"email": "ada@example.com", "password": "correct horse battery staple"}
	if code, m := post(t, base+"/api/auth/register", ada); code != http.StatusCreated {
		t.Fatalf("register = %d %v", code, m)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if out, logs, err := runAdmin(t, dir, "promote", "ada@example.com", nil); err != nil || !strings.Contains(out, "is now an admin") || !strings.Contains(logs, "embedded store started") {
		t.Fatalf("admin promote without a server = %v, printed %q, logged:\n%s\nwant it to start the store itself", err, out, logs)
	}
	_, _, err := runAdmin(t, dir, "demote", "ADA@example.com", nil)
	if err == nil || !strings.Contains(err.Error(), "last admin") {
		t.Fatalf("admin demote of the last admin = %v; want an error saying it is the last admin", err)
	}
	if out, _, err := runAdmin(t, dir, "demote", "nobody@example.com", nil); err == nil {
		t.Errorf("admin demote of an unknown email = nil (printed %q); want an error", out)
	}

	base, stop = startServe(t, dir, nil)
	defer stop()
	if role := loginRole(t, base, ada); role != "admin" {
		t.Errorf("role after the refused demote = %v; want admin", role)
	}
}
