package main

import (
	"context"
	"net"
	"net/http"
	"sync"
	"time"
)

// drainLimit bounds how long a shutdown waits for requests already on their way
// (see connTracker). A connection that was opened and never sends holds the
// shutdown up to this long, not longer.
const drainLimit = 2 * time.Second

// connTracker lets a graceful shutdown answer every request a client had already
// sent. http.Server.Shutdown waits for requests its handler is serving, but a
// request it reads after Shutdown began is dropped (the client sees EOF): on a busy
// machine an accepted connection's goroutine may not have read its request yet when
// the signal arrives. So the server first waits, still listening and with /readyz
// saying 503, until every connection accepted so far has either had its request
// enter the handler or been closed, and only then calls Shutdown.
type connTracker struct {
	mu      sync.Mutex
	pending map[net.Conn]struct{} // accepted or read, its request not yet in the handler
}

type connKey struct{}

func newConnTracker() *connTracker {
	return &connTracker{pending: map[net.Conn]struct{}{}}
}

// install hooks t into srv; call it before srv starts serving.
func (t *connTracker) install(srv *http.Server) {
	srv.ConnState = t.connState
	srv.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
		return context.WithValue(ctx, connKey{}, c)
	}
	next := srv.Handler
	srv.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c, ok := r.Context().Value(connKey{}).(net.Conn); ok {
			t.mu.Lock()
			delete(t.pending, c)
			t.mu.Unlock()
		}
		next.ServeHTTP(w, r)
	})
}

// connState runs synchronously in the connection's goroutine; StateActive is set
// after a request is read and before the server checks whether it is shutting
// down, so a connection seen active stays pending until its handler starts.
func (t *connTracker) connState(c net.Conn, s http.ConnState) {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch s {
	case http.StateNew, http.StateActive:
		t.pending[c] = struct{}{}
	default:
		delete(t.pending, c)
	}
}

// drain waits until no request is pending, limit passes, or ctx is done.
func (t *connTracker) drain(ctx context.Context, limit time.Duration) {
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		t.mu.Lock()
		n := len(t.pending)
		t.mu.Unlock()
		if n == 0 {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-deadline.C:
			return
		case <-tick.C:
		}
	}
}
