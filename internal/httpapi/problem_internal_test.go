package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lanyard/lanyard"
)

type headers map[string]string

func (h headers) SetHeader(k, v string) { h[k] = v }

func TestProblemFor_MapsEachDomainKind(t *testing.T) {
	cases := []struct {
		err        error
		status     int
		wantHeader string
	}{
		{&lanyard.InvalidError{Fields: []lanyard.FieldError{{Location: "email", Message: "bad"}}}, http.StatusUnprocessableEntity, ""},
		{&lanyard.ConflictError{Message: "taken"}, http.StatusConflict, ""},
		{&lanyard.ThrottledError{RetryAfter: 1500 * time.Millisecond}, http.StatusTooManyRequests, "Retry-After"},
		{fmt.Errorf("login: %w", lanyard.ErrBadCredentials), http.StatusUnauthorized, "WWW-Authenticate"},
		{fmt.Errorf("auth: %w", lanyard.ErrUnauthorized), http.StatusUnauthorized, "WWW-Authenticate"},
		{lanyard.ErrForbidden, http.StatusForbidden, ""},
		{fmt.Errorf("get: %w", lanyard.ErrNotFound), http.StatusNotFound, ""},
		{errors.Join(lanyard.ErrBusy, errors.New("hasher")), http.StatusServiceUnavailable, "Retry-After"},
		{fmt.Errorf("store: %w", lanyard.ErrUnavailable), http.StatusServiceUnavailable, "Retry-After"},
		{context.DeadlineExceeded, http.StatusServiceUnavailable, "Retry-After"},
		{errors.New("something unexpected"), http.StatusInternalServerError, ""},
	}
	for _, c := range cases {
		t.Run(c.err.Error(), func(t *testing.T) {
			h := headers{}
			p := problemFor(context.Background(), h, c.err)
			if p.Status != c.status {
				t.Fatalf("problemFor(%v).Status = %d; want %d", c.err, p.Status, c.status)
			}
			if c.wantHeader != "" && h[c.wantHeader] == "" {
				t.Errorf("problemFor(%v) set no %s header", c.err, c.wantHeader)
			}
		})
	}
}

func TestProblemFor_ThrottleRoundsRetryAfterUp(t *testing.T) {
	h := headers{}
	problemFor(context.Background(), h, &lanyard.ThrottledError{RetryAfter: 1500 * time.Millisecond})
	if h["Retry-After"] != "2" {
		t.Fatalf("Retry-After = %q; want 2", h["Retry-After"])
	}
}

func TestProblemFor_UnmappedErrorRevealsOnlyTheRequestID(t *testing.T) {
	st := &reqState{id: "req-1"}
	ctx := context.WithValue(context.Background(), stateKey{}, st)
	cause := errors.New("store: find user: connection() error occurred during connection handshake: mongodb://10.0.0.5")
	p := problemFor(ctx, headers{}, cause)
	text := fmt.Sprintf("%+v", *p)
	if strings.Contains(text, "mongodb") || strings.Contains(text, "handshake") {
		t.Fatalf("500 problem %s reveals the cause", text)
	}
	if p.RequestID != "req-1" {
		t.Errorf("500 problem request id = %q; want req-1", p.RequestID)
	}
	if st.cause != cause {
		t.Errorf("cause not recorded for the log line")
	}
}

func TestTokenErrorFor_MapsEachKindToItsRFC6749Code(t *testing.T) {
	cases := []struct {
		err        error
		status     int
		code       string
		wantHeader string
	}{
		{fmt.Errorf("password: %w", lanyard.ErrBadCredentials), http.StatusBadRequest, "invalid_grant", ""},
		{&lanyard.InvalidError{Fields: []lanyard.FieldError{{Location: "username", Message: "is required"}}}, http.StatusBadRequest, "invalid_request", ""},
		{errUnsupportedGrant, http.StatusBadRequest, "unsupported_grant_type", ""},
		{errInvalidScope, http.StatusBadRequest, "invalid_scope", ""},
		{lanyard.ErrClientInvalid, http.StatusUnauthorized, "invalid_client", ""},
		{joinErr(errViaBasic, lanyard.ErrClientInvalid), http.StatusUnauthorized, "invalid_client", "WWW-Authenticate"},
		{&lanyard.ThrottledError{RetryAfter: 1500 * time.Millisecond}, http.StatusTooManyRequests, "temporarily_unavailable", "Retry-After"},
		{errors.Join(lanyard.ErrBusy, errors.New("hasher")), http.StatusServiceUnavailable, "temporarily_unavailable", "Retry-After"},
		{fmt.Errorf("store: %w", lanyard.ErrUnavailable), http.StatusServiceUnavailable, "temporarily_unavailable", "Retry-After"},
		{context.DeadlineExceeded, http.StatusServiceUnavailable, "temporarily_unavailable", "Retry-After"},
		{fmt.Errorf("get: %w", lanyard.ErrNotFound), http.StatusInternalServerError, "server_error", ""},
	}
	for _, c := range cases {
		t.Run(c.err.Error(), func(t *testing.T) {
			h := headers{}
			e := tokenErrorFor(context.Background(), h, c.err)
			if e.status != c.status || e.Code != c.code {
				t.Fatalf("tokenErrorFor(%v) = %d %s; want %d %s", c.err, e.status, e.Code, c.status, c.code)
			}
			if c.wantHeader != "" && h[c.wantHeader] == "" {
				t.Errorf("tokenErrorFor(%v) set no %s header", c.err, c.wantHeader)
			}
			if c.wantHeader == "" && len(h) > 0 {
				t.Errorf("tokenErrorFor(%v) set headers %v; want none", c.err, h)
			}
		})
	}
}

func TestTokenErrorFor_UnmappedErrorRevealsOnlyTheRequestID(t *testing.T) {
	st := &reqState{id: "req-1"}
	ctx := context.WithValue(context.Background(), stateKey{}, st)
	cause := errors.New("store: find user: connection() error occurred during connection handshake: mongodb://10.0.0.5")
	e := tokenErrorFor(ctx, headers{}, cause)
	if text := fmt.Sprintf("%+v", *e); strings.Contains(text, "mongodb") || strings.Contains(text, "handshake") {
		t.Fatalf("server_error %s reveals the cause", text)
	}
	if e.status != http.StatusInternalServerError || e.Code != "server_error" || e.RequestID != "req-1" {
		t.Errorf("tokenErrorFor(unmapped) = %d %q request id %q; want 500 server_error req-1", e.status, e.Code, e.RequestID)
	}
	if st.cause != cause {
		t.Errorf("cause not recorded for the log line")
	}
}

// TestProblemKinds_EveryKindHasADocumentedPage holds the kinds to the one table: every
// row of it and every status without a row names a kind described in problemKinds
// with that row's status, every described kind is one of those, and docs/http.md
// lists exactly these types.
func TestProblemKinds_EveryKindHasADocumentedPage(t *testing.T) {
	used := map[string]bool{}
	for i, m := range table {
		k, ok := problemKinds[m.kind]
		if !ok || k.status != m.status {
			t.Errorf("table row %d (kind %q, %d) has no page of its status in problemKinds (%+v)", i, m.kind, m.status, k)
		}
		used[m.kind] = true
	}
	for status, kind := range statusKinds {
		if k, ok := problemKinds[kind]; !ok || k.status != status {
			t.Errorf("status %d's kind %q has no page of that status in problemKinds (%+v)", status, kind, k)
		}
		used[kind] = true
	}
	for kind := range problemKinds {
		if !used[kind] {
			t.Errorf("problemKinds describes %q, which no table row or status names", kind)
		}
	}
	b, err := os.ReadFile("../../docs/http.md")
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `/problems/([a-z-]+)` \\|").FindAllStringSubmatch(string(b), -1) {
		documented[m[1]] = true
		if _, ok := problemKinds[m[1]]; !ok {
			t.Errorf("docs/http.md documents /problems/%s, which is no kind", m[1])
		}
	}
	for kind := range problemKinds {
		if !documented[kind] {
			t.Errorf("docs/http.md does not document /problems/%s", kind)
		}
	}
}
