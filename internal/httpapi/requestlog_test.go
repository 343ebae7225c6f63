package httpapi_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lanyard/lanyard/internal/lanyardtest"
)

// lockedBuffer is an io.Writer safe to read while the service writes to it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// A client that goes away while its request waits (here on a store that is down) is
// no failure of ours: the request's line is not an ERROR, and says what happened.
func TestRequestLog_AClientThatDisconnectsIsNotLoggedAsAnError(t *testing.T) {
	t.Parallel()
	if !lanyardtest.Embedded() {
		t.Skip("stops the embedded store; not possible against LANYARD_TEST_MONGODB_URI")
	}
	logs := &lockedBuffer{}
	env := lanyardtest.New(t, lanyardtest.WithOwnStore(), lanyardtest.WithLog(logs))
	a := env.Register("ada")
	env.Store.Stop()
	// The client gives up as soon as its request is sent; the server's wait for the
	// store then ends with the client's disconnection.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) { cancel() }})
	req, err := http.NewRequestWithContext(ctx, "GET", env.URL+"/api/users/me", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+a.Access)
	req.Header.Set("X-Request-Id", "gone-client")
	if res, err := http.DefaultClient.Do(req); err == nil {
		res.Body.Close()
		t.Fatalf("GET /api/users/me answered %d; want the client to have given up first", res.StatusCode)
	}

	var line string
	for deadline := time.Now().Add(20 * time.Second); line == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		for l := range strings.Lines(logs.String()) {
			if strings.Contains(l, "request_id=gone-client") {
				line = l
			}
		}
	}
	if line == "" {
		t.Fatalf("no log line for the abandoned request:\n%s", logs)
	}
	if strings.Contains(line, "level=ERROR") || !strings.Contains(line, "client disconnected") {
		t.Errorf("log line of a request whose client went away = %q; want it below ERROR, saying the client disconnected", line)
	}

	// Back up, the service reconnects (a pooled connection of before the stop fails
	// once), and the test's cleanup can drop its database.
	env.StartStore()
}
