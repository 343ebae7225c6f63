package main

import (
	"context"
	"net"
	"net/http"
	"sync"
	"time"
)

// drainQuiet is how long no new connection may arrive before a draining server
// closes its listener: long enough that a balancer which has taken the instance out
// of rotation has sent all it picked before, short enough for a prompt exit.
const drainQuiet = 500 * time.Millisecond

// connTracker lets a graceful shutdown answer every request a client had already
// sent. Two things drop such requests if the listener is simply closed (as
// http.Server.Shutdown does first):
//   - a connection the kernel completed but the server has not accepted yet is reset
//     when the listener closes (the client sees "connection reset by peer");
//   - a request the server reads after Shutdown began is dropped without an answer
//     (EOF), and on a busy machine an accepted connection's goroutine may not have
//     read its request yet when the signal arrives.
//
// So the server first drains: it keeps listening, with /readyz saying 503 and
// keep-alives off, until no connection has arrived for drainQuiet and every
// connection accepted so far has had its request enter the handler or been closed;
// only then does it call Shutdown. A balancer that takes the instance out of rotation
// on /readyz (or as it sends SIGTERM) thus loses nothing; one that keeps sending holds
// the drain up to its limit.
type connTracker struct {
	mu      sync.Mutex
	pending map[net.Conn]struct{} // accepted or read, its request not yet in the handler
	lastNew time.Time             // when the last connection was accepted
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
	case http.StateNew:
		t.pending[c] = struct{}{}
		t.lastNew = time.Now()
	case http.StateActive:
		t.pending[c] = struct{}{}
	default:
		delete(t.pending, c)
	}
}

// settled reports whether no request is pending and no connection has arrived for
// quiet.
func (t *connTracker) settled(quiet time.Duration) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.pending) == 0 && time.Since(t.lastNew) >= quiet
}

// drain turns srv's keep-alives off, so that each connection closes after its
// answer and a client's next request comes on a new one, and waits until the
// tracker is settled or limit passes. It reports whether the tracker settled.
func (t *connTracker) drain(srv *http.Server, quiet, limit time.Duration) bool {
	srv.SetKeepAlivesEnabled(false)
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !t.settled(quiet) {
		select {
		case <-deadline.C:
			return false
		case <-tick.C:
		}
	}
	return true
}
