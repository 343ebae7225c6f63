package httpapi

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/danielgtaylor/huma/v2"

	"github.com/lanyard/lanyard"
	"github.com/lanyard/lanyard/internal/method"
	"github.com/lanyard/lanyard/internal/relation"
)

// Problem is an RFC 9457 problem document. It never carries the offending values
// (Huma's own error model echoes them, which would echo passwords), and a 500 carries
// only the request id.
type Problem struct {
	Type      string         `json:"type" doc:"The kind of problem: a stable URI reference under /problems/, each documented by a page at that path (e.g. /problems/credentials-invalid)"`
	Title     string         `json:"title" doc:"Short summary of the kind of problem"`
	Status    int            `json:"status" doc:"HTTP status code"`
	Detail    string         `json:"detail,omitempty" doc:"What went wrong with this request"`
	RequestID string         `json:"request_id,omitempty" doc:"The X-Request-Id of this request"`
	Errors    []ProblemField `json:"errors,omitempty" doc:"Every problem with the input, at once"`
	Blockers  []BlockerOut   `json:"blockers,omitempty" doc:"For a refused delete: the restrict relations that hold documents"`
}

// ProblemField is one problem with one input location.
type ProblemField struct {
	Location string `json:"location,omitempty" doc:"Where the problem is, e.g. body.email or path.user_id"`
	Message  string `json:"message" doc:"What is wrong there"`
}

func (p *Problem) Error() string { return p.Title + ": " + p.Detail }

// GetStatus implements huma.StatusError.
func (p *Problem) GetStatus() int { return p.Status }

// ContentType makes Huma send application/problem+json.
func (p *Problem) ContentType(ct string) string {
	if ct == "application/json" {
		return "application/problem+json"
	}
	return ct
}

// mapping is the one table from domain errors to HTTP. The first matching row wins.
// kind names the problem's stable type, /problems/<kind>, whose page problemKinds
// describes.
type mapping struct {
	is      func(error) bool
	kind    string
	status  int
	detail  string
	headers map[string]string
}

func isErr(target error) func(error) bool {
	return func(err error) bool { return errors.Is(err, target) }
}

func asErr[T error]() func(error) bool {
	return func(err error) bool { var t T; return errors.As(err, &t) }
}

// conflictOn matches a conflict that names the input field (body.<field>): which
// value is taken is the kind of the problem.
func conflictOn(field string) func(error) bool {
	return func(err error) bool {
		var c *lanyard.ConflictError
		if !errors.As(err, &c) {
			return false
		}
		for _, f := range c.Fields {
			if strings.TrimPrefix(f.Location, "body.") == field {
				return true
			}
		}
		return false
	}
}

var table = []mapping{
	{asErr[*relation.BlockedError](), "delete-blocked", http.StatusConflict, "The account cannot be deleted while restrict relations hold documents; nothing was changed.", nil},
	{isErr(lanyard.ErrLastAdmin), "last-admin", http.StatusConflict, "The last admin cannot be deleted or demoted; make another user an admin first (lanyard admin promote EMAIL). Nothing was changed.", nil},
	{isErr(lanyard.ErrLastWayIn), "last-way-in", http.StatusConflict, "This is the account's last way in: it has no password and no other verified linked ID. Set a password through a password reset first. Nothing was changed.", nil},
	{isErr(method.ErrRedirectNotAllowed), "redirect-uri-not-allowed", http.StatusBadRequest, "redirect_uri is not one of the application URLs this service may return to (LANYARD_REDIRECT_URLS, exact match).", nil},
	{asErr[*lanyard.InvalidError](), "invalid-input", http.StatusUnprocessableEntity, "The request has invalid fields.", nil},
	{conflictOn("email"), "email-taken", http.StatusConflict, "The request conflicts with existing data.", nil},
	{conflictOn("username"), "username-taken", http.StatusConflict, "The request conflicts with existing data.", nil},
	{conflictOn("external_id"), "linked-id-taken", http.StatusConflict, "The request conflicts with existing data.", nil},
	{asErr[*lanyard.ConflictError](), "conflict", http.StatusConflict, "The request conflicts with existing data.", nil},
	{isErr(lanyard.ErrTOTPEnabled), "totp-enabled", http.StatusConflict, "TOTP is already enabled; disable it first (DELETE /api/users/me/mfa/totp). Nothing was changed.", nil},
	{asErr[*lanyard.ThrottledError](), "throttled", http.StatusTooManyRequests, "Too many attempts; retry later.", nil},
	{isErr(lanyard.ErrBadCredentials), "credentials-invalid", http.StatusUnauthorized, "The credentials are not valid.", map[string]string{"WWW-Authenticate": `Bearer realm="lanyard"`}},
	{isErr(lanyard.ErrEmailNotVerified), "email-not-verified", http.StatusForbidden, "The password is right, but the account's email address is not verified yet: follow the link mailed to it (a password reset verifies it too).", nil},
	{isErr(lanyard.ErrEmailAlreadyVerified), "email-already-verified", http.StatusConflict, "The account's email address is verified already; no mail was sent.", nil},
	{isErr(errNoToken), "token-required", http.StatusUnauthorized, "An access token is required.", map[string]string{"WWW-Authenticate": `Bearer realm="lanyard"`}},
	{isErr(lanyard.ErrUnauthorized), "access-token-invalid", http.StatusUnauthorized, "A valid access token is required.", map[string]string{"WWW-Authenticate": `Bearer realm="lanyard", error="invalid_token"`}},
	{isErr(lanyard.ErrFlowInvalid), "token-invalid", http.StatusBadRequest, "The token is unknown, spent or expired.", nil},
	{isErr(lanyard.ErrForbidden), "forbidden", http.StatusForbidden, "You are not allowed to do this.", nil},
	{isErr(lanyard.ErrNotFound), "not-found", http.StatusNotFound, "No such resource.", nil},
	{isErr(lanyard.ErrBusy), "busy", http.StatusServiceUnavailable, "The service is busy; retry shortly.", map[string]string{"Retry-After": "1"}},
	{isErr(lanyard.ErrUnavailable), "unavailable", http.StatusServiceUnavailable, "The service is temporarily unavailable; retry shortly.", map[string]string{"Retry-After": "2"}},
	{isErr(context.DeadlineExceeded), "timeout", http.StatusServiceUnavailable, "The request took too long; retry shortly.", map[string]string{"Retry-After": "2"}},
	{isErr(context.Canceled), "cancelled", http.StatusServiceUnavailable, "The request was cancelled.", map[string]string{"Retry-After": "1"}},
}

// problemFor builds the problem document for err and sets its headers on the
// response. Unmapped errors become a bare 500; their cause goes to the request log.
func problemFor(ctx context.Context, h headerSetter, err error) *Problem {
	var p *Problem
	if errors.As(err, &p) {
		return p
	}
	for _, m := range table {
		if !m.is(err) {
			continue
		}
		p = newProblem(ctx, m.status, m.detail)
		p.Type = problemType(m.kind)
		for k, v := range m.headers {
			h.SetHeader(k, v)
		}
		var th *lanyard.ThrottledError
		if errors.As(err, &th) {
			h.SetHeader("Retry-After", strconv.Itoa(max(1, int(th.RetryAfter.Seconds()+0.999))))
		}
		var inv *lanyard.InvalidError
		var cf *lanyard.ConflictError
		var blocked *relation.BlockedError
		switch {
		case errors.As(err, &blocked):
			p.Blockers = renderBlockers(blocked.Blockers)
		case errors.As(err, &inv):
			p.Errors = bodyFields(inv.Fields)
		case errors.As(err, &cf):
			p.Errors = bodyFields(cf.Fields)
		}
		if m.status >= 500 {
			noteCause(ctx, err)
		}
		return p
	}
	noteCause(ctx, err)
	p = newProblem(ctx, http.StatusInternalServerError, "Something went wrong on our side.")
	return p
}

// bodyFields places domain field errors: a bare field name is a body field; a
// location the domain already placed (query.expand, path.user_id) stays.
func bodyFields(fs []lanyard.FieldError) []ProblemField {
	out := make([]ProblemField, len(fs))
	for i, f := range fs {
		loc := f.Location
		if loc != "body" && !strings.HasPrefix(loc, "query.") && !strings.HasPrefix(loc, "path.") && !strings.HasPrefix(loc, "body.") {
			loc = "body." + loc
		}
		out[i] = ProblemField{Location: loc, Message: f.Message}
	}
	return out
}

// newProblem is a problem of the kind its status names (statusKinds): the problems no
// domain error causes, such as a body that is not JSON or an unknown route. The
// table's rows set their own kind.
func newProblem(ctx context.Context, status int, detail string) *Problem {
	return &Problem{
		Type:      statusType(status),
		Title:     http.StatusText(status),
		Status:    status,
		Detail:    detail,
		RequestID: requestID(ctx),
	}
}

type headerSetter interface{ SetHeader(name, value string) }

// publicLocation keeps a location only if it looks like a field path. An unknown
// property's name is chosen by the client and could be anything, a password included.
func publicLocation(loc string) string {
	if len(loc) > 80 {
		return "body"
	}
	for i := 0; i < len(loc); i++ {
		c := loc[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '.' || c == '-' || c == '[' || c == ']') {
			return "body"
		}
	}
	return loc
}

// publicMessage replaces Huma's 400 messages that could quote Go types with a plain
// statement.
func publicMessage(status int, msg string) string {
	if status == http.StatusBadRequest && !strings.HasPrefix(msg, "body ") && strings.Contains(msg, "json") {
		return "body is not valid JSON"
	}
	return msg
}

// hookErrors replaces Huma's error constructors so that every error — the handlers'
// domain errors as much as Huma's own validation, 400, 413 and 415 — goes through
// problemFor. Huma keeps these as package variables, so they are set once per
// process; the function installed is the same for every server.
var hookErrors = sync.OnceFunc(func() {
	// encoding/json matches keys to fields case-insensitively; a key spelled
	// differently from the documented field is an unknown field, not that field.
	huma.ValidateStrictCasing = true
	huma.NewErrorWithContext = func(hc huma.Context, status int, msg string, errs ...error) huma.StatusError {
		ctx := hc.Context()
		if isTokenOperation(hc) {
			// The token endpoint speaks RFC 6749 §5.2, its own table (problem_token.go).
			if status == http.StatusInternalServerError && len(errs) == 1 {
				return tokenErrorFor(ctx, hc, errs[0])
			}
			return tokenRequestError(ctx, status, msg, errs)
		}
		if status == http.StatusInternalServerError && len(errs) == 1 {
			// A handler returned an error: map it through the table.
			return problemFor(ctx, hc, errs[0])
		}
		p := newProblem(ctx, status, strings.ToUpper(msg[:min(1, len(msg))])+msg[min(1, len(msg)):])
		if status == http.StatusRequestEntityTooLarge {
			p.Detail = "The request body exceeds 64 KiB."
			return p
		}
		if status >= 500 {
			noteCause(ctx, errors.Join(errs...))
			p.Detail = "Something went wrong on our side."
			return p
		}
		for _, e := range errs {
			var d huma.ErrorDetailer
			if errors.As(e, &d) {
				ed := d.ErrorDetail()
				p.Errors = append(p.Errors, ProblemField{Location: publicLocation(ed.Location), Message: publicMessage(status, ed.Message)})
			} else if e != nil {
				p.Errors = append(p.Errors, ProblemField{Message: publicMessage(status, e.Error())})
			}
		}
		return p
	}
	huma.NewError = func(status int, msg string, errs ...error) huma.StatusError {
		p := &Problem{Type: statusType(status), Title: http.StatusText(status), Status: status, Detail: msg}
		if status >= 500 {
			p.Detail = "Something went wrong on our side."
		}
		return p
	}
})
