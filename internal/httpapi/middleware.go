package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// reqState travels in the request context from the outermost middleware to the error
// mapping, which leaves the cause of a 5xx there for the one log line.
type reqState struct {
	id        string
	cause     error
	ip        string
	userAgent string
}

type stateKey struct{}

func stateOf(ctx context.Context) *reqState {
	st, _ := ctx.Value(stateKey{}).(*reqState)
	return st
}

func requestID(ctx context.Context) string {
	if st := stateOf(ctx); st != nil {
		return st.id
	}
	return ""
}

// noteCause records why a request failed on our side, for the log line only.
func noteCause(ctx context.Context, err error) {
	if st := stateOf(ctx); st != nil && err != nil {
		st.cause = err
	}
}

var idEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

func newRequestID() string {
	var b [10]byte
	rand.Read(b[:])
	return strings.ToLower(idEncoding.EncodeToString(b[:]))
}

// validRequestID accepts a client's id only if it is 1-64 of [A-Za-z0-9._-], so a
// header cannot inject anything into logs or responses.
func validRequestID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// statusRecorder remembers the status written, for the log line and metrics.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// outer is the middleware every request passes: request id, client address, deadline,
// security headers, panic recovery, one log line and the request metrics. A trusted
// proxy's X-Forwarded-For that names no client is a 400 before anything else.
func (s *Server) outer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ip, forwarded := s.clientAddr(r)
		st := &reqState{id: r.Header.Get("X-Request-Id"), ip: ip, userAgent: r.UserAgent()}
		if !validRequestID(st.id) {
			st.id = newRequestID()
		}
		h := w.Header()
		h.Set("X-Request-Id", st.id)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		// Every answer has a CSP; the documentation pages replace this one with
		// theirs (docsCSP), which lets them load their own scripts and styles.
		h.Set("Content-Security-Policy", apiCSP)
		if strings.HasPrefix(r.URL.Path, "/api/") {
			// Accounts, tokens, sessions and linked IDs are one person's: no cache,
			// shared or private, may keep them. A handler may still say otherwise.
			h.Set("Cache-Control", "no-store")
		}
		client := r.Context() // ends when the client goes away (or the handler returns)
		ctx, cancel := context.WithTimeout(context.WithValue(client, stateKey{}, st), s.timeout)
		defer cancel()
		r = r.WithContext(ctx)
		rec := &statusRecorder{ResponseWriter: w}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				st.cause = panicError{v}
				if rec.status == 0 {
					writeProblem(rec, newProblem(ctx, http.StatusInternalServerError, "Something went wrong on our side."))
				}
			}
			s.logRequest(r, rec.status, time.Since(start), st, client.Err() != nil)
		}()
		if !forwarded {
			writeProblem(rec, newProblem(ctx, http.StatusBadRequest, "The X-Forwarded-For header is not a list of IP addresses."))
			return
		}
		next.ServeHTTP(rec, r)
	})
}

type panicError struct{ v any }

func (p panicError) Error() string {
	return "panic: " + strings.TrimSpace(strings.ReplaceAll(slog.AnyValue(p.v).String(), "\n", " "))
}

// logRequest writes the request's one log line: at error for a 5xx, with its cause,
// unless the client had gone away before the answer (clientGone) — its request
// failed because it was cancelled, and nothing is wrong on our side.
func (s *Server) logRequest(r *http.Request, status int, took time.Duration, st *reqState, clientGone bool) {
	route := r.Pattern
	if route == "" {
		route = "unmatched"
	}
	s.metrics.observe(route, r.Method, status, took)
	level := slog.LevelInfo
	attrs := []slog.Attr{
		slog.String("method", r.Method),
		slog.String("route", route),
		slog.Int("status", status),
		slog.Duration("duration", took),
		slog.String("request_id", st.id),
		slog.String("ip", st.ip),
	}
	switch {
	case status >= 500 && clientGone:
		attrs = append(attrs, slog.String("outcome", "the client disconnected before the answer, which was not delivered"))
	case status >= 500:
		level = slog.LevelError
		if st.cause != nil {
			attrs = append(attrs, slog.String("error", st.cause.Error()))
		}
	}
	s.log.LogAttrs(r.Context(), level, "request", attrs...)
}

// clientAddr is the socket's peer, unless that peer is a trusted proxy: then the
// right-most X-Forwarded-For entry that is not itself a trusted proxy. A client can
// prepend anything to X-Forwarded-For, so only entries added by trusted hops count.
// ok is false when a trusted hop forwarded an entry that is no address: the client
// is then unknown, and taking the proxy's address instead would make everyone behind
// the proxy pay for one client's failures.
func (s *Server) clientAddr(r *http.Request) (addr string, ok bool) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil || !s.trusted(peer) {
		return host, true
	}
	values := r.Header.Values("X-Forwarded-For")
	if len(values) == 0 {
		return peer.Unmap().String(), true // the proxy's own request, such as a health check
	}
	hops := strings.Split(strings.Join(values, ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, ok := parseHop(strings.TrimSpace(hops[i]))
		if !ok {
			return peer.Unmap().String(), false
		}
		if !s.trusted(a) {
			return a.Unmap().String(), true
		}
		peer = a
	}
	return peer.Unmap().String(), true
}

// parseHop reads one X-Forwarded-For entry: an address, or an address with a port as
// some proxies write it (192.0.2.1:4711, [2001:db8::1]:4711).
func parseHop(s string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(s); err == nil {
		return a, true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr(), true
	}
	return netip.Addr{}, false
}

func (s *Server) trusted(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range s.proxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// cors answers preflights and marks responses for the configured origins only.
func (s *Server) cors(next http.Handler) http.Handler {
	if len(s.origins) == 0 {
		return next
	}
	allowed := map[string]bool{}
	for _, o := range s.origins {
		allowed[o] = true
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin != "" && (allowed[origin] || allowed["*"]) {
			h := w.Header()
			h.Set("Access-Control-Allow-Origin", origin)
			h.Add("Vary", "Origin")
			h.Set("Access-Control-Expose-Headers", "X-Request-Id, Retry-After, Location, WWW-Authenticate")
			if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
				h.Set("Access-Control-Allow-Methods", "GET, POST, PUT, PATCH, DELETE")
				h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, X-Request-Id")
				h.Set("Access-Control-Max-Age", strconv.Itoa(600))
				w.WriteHeader(http.StatusNoContent)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}
