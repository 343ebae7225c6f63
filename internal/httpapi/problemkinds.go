package httpapi

import (
	"html/template"
	"net/http"
)

// problemKind is what the page of one problem type says: /problems/<kind> is the
// stable `type` of every problem document of that kind (RFC 9457 §3.1.1), and a
// GET of it answers this page.
type problemKind struct {
	status int
	title  string
	about  string
}

// problemKinds describes every kind a problem document can name: one per row of the
// error table (table), and the kinds no domain error causes (statusKinds). A test
// holds both to this list and to docs/http.md.
var problemKinds = map[string]problemKind{
	"delete-blocked":           {http.StatusConflict, "Delete blocked by restrict relations", "The account cannot be deleted while a relation declared with on_delete: restrict holds documents that hang off it. The problem's blockers name each such relation and its count. Nothing was changed; remove those documents first, or see GET /api/users/{user_id}/deletion-plan."},
	"last-admin":               {http.StatusConflict, "The last admin", "Deleting or demoting this account would leave no admin. Make another user an admin first (lanyard admin promote EMAIL). Nothing was changed."},
	"invalid-input":            {http.StatusUnprocessableEntity, "Invalid input", "The request's input fails its schema or a rule: a missing or malformed field, a value of the wrong JSON type, an unknown field, a password too easy to guess, a wrong current password. The problem's errors name every failing location at once (body.email, query.limit, path.user_id) and never echo the value sent."},
	"email-taken":              {http.StatusConflict, "Email taken", "The email address belongs to another account. The problem's errors name body.email (and body.username when that is taken too). Such answers are throttled per account."},
	"username-taken":           {http.StatusConflict, "Username taken", "The username belongs to another account (usernames are compared case-insensitively). The problem's errors name body.username."},
	"linked-id-taken":          {http.StatusConflict, "Linked ID taken", "The external ID is already linked to an account; the answer never says which. The problem's errors name body.external_id."},
	"conflict":                 {http.StatusConflict, "Conflict", "The request conflicts with the account's state: it already holds 50 linked IDs or 20 passkeys, the passkey is registered already, or the account is being deleted."},
	"throttled":                {http.StatusTooManyRequests, "Too many attempts", "Too many attempts from this address or on this account. Retry after the number of seconds in the Retry-After header."},
	"credentials-invalid":      {http.StatusUnauthorized, "Credentials not valid", "The login, password or refresh token does not hold. An unknown account, a wrong password and an account being deleted get this same answer; a spent refresh token also ends its session."},
	"email-not-verified":       {http.StatusForbidden, "Email not verified", "The login's password is right, but LANYARD_REQUIRE_VERIFIED_EMAIL is set and the account's email address is not verified yet. Follow the link mailed at registration; a password reset (POST /api/auth/password-reset) verifies the address too. A wrong password gets the 401 of /problems/credentials-invalid, as ever. The token endpoint answers this as an RFC 6749 invalid_grant."},
	"email-already-verified":   {http.StatusConflict, "Email verified already", "POST /api/users/me/email-verification was asked for an account whose email address is verified already. No mail was sent."},
	"token-required":           {http.StatusUnauthorized, "Access token required", "The operation needs Authorization: Bearer <access token>, and the request carried none."},
	"access-token-invalid":     {http.StatusUnauthorized, "Access token not valid", "The access token is malformed, expired, forged, or its session has ended (logout, reuse detection, a password change, deletion). Refresh, or log in again."},
	"token-invalid":            {http.StatusBadRequest, "Token not valid", "The one-time token (a password reset link's, a verification link's, a sign-in's state at an identity provider's callback, an mfa_token) is unknown, already used, expired, or was issued before the account changed in a way that voids it (its email, its password, a logout everywhere). The four are one answer. Ask for a new link; an mfa_token is good for one try: log in with the password again. A passkey challenge is one too: it answers only the options it came with, once, within 5 minutes; ask for new options."},
	"forbidden":                {http.StatusForbidden, "Forbidden", "The caller is authenticated but not allowed to do this: an admin operation, or another account's resource. The answer does not say whether that account exists."},
	"not-found":                {http.StatusNotFound, "Not found", "No such resource, or none the caller may know of. A malformed id in a path is also not found."},
	"busy":                     {http.StatusServiceUnavailable, "Busy", "A bounded resource (password hashing) is saturated. Retry after the number of seconds in the Retry-After header."},
	"unavailable":              {http.StatusServiceUnavailable, "Temporarily unavailable", "The store is unreachable or overloaded. Retry after the number of seconds in the Retry-After header."},
	"timeout":                  {http.StatusServiceUnavailable, "Request took too long", "The request did not finish within its deadline (about 5 s). Retry after the number of seconds in the Retry-After header; a chain delete that outlives its request answers 202 instead and goes on."},
	"cancelled":                {http.StatusServiceUnavailable, "Request cancelled", "The request was cancelled before it finished. Retry after the number of seconds in the Retry-After header."},
	"bad-request":              {http.StatusBadRequest, "Bad request", "The body is not exactly one JSON value (not JSON, invalid UTF-8, trailing data, a duplicate key, nesting deeper than 32), or a trusted proxy's X-Forwarded-For names no address."},
	"method-not-allowed":       {http.StatusMethodNotAllowed, "Method not allowed", "The path exists, but not for this method; the Allow header lists the methods it has."},
	"body-too-large":           {http.StatusRequestEntityTooLarge, "Body too large", "The request body exceeds 64 KiB; nothing beyond that was read."},
	"unsupported-media-type":   {http.StatusUnsupportedMediaType, "Unsupported media type", "The operation does not accept the request's Content-Type: every operation takes application/json, and only POST /api/auth/login and the token endpoint, POST /api/auth/token, also take a form (application/x-www-form-urlencoded). The token endpoint answers this as an RFC 6749 §5.2 invalid_request instead."},
	"internal-error":           {http.StatusInternalServerError, "Internal error", "Something went wrong on Lanyard's side. The answer carries only the request id; the cause is in the log line of that request."},
	"last-way-in":              {http.StatusConflict, "The last way in", "The account has no password, and this is its last verified linked ID: removing it would leave no way to sign in. Set a password through a password reset first. Nothing was changed."},
	"redirect-uri-not-allowed": {http.StatusBadRequest, "redirect_uri not allowed", "The redirect_uri is not exactly one of the application URLs in LANYARD_REDIRECT_URLS. Lanyard sends nobody to a URL it was not told of, not even with an error."},
	"totp-enabled":             {http.StatusConflict, "TOTP already enabled", "The account has TOTP on already: a new enrolment, or confirming one, needs it disabled first (DELETE /api/users/me/mfa/totp with a code). Nothing was changed."},
}

// statusKinds are the kinds of the problems no row of the table maps: Huma's own
// (validation, 400, 413, 415) and the router's.
var statusKinds = map[int]string{
	http.StatusBadRequest:            "bad-request",
	http.StatusNotFound:              "not-found",
	http.StatusMethodNotAllowed:      "method-not-allowed",
	http.StatusRequestEntityTooLarge: "body-too-large",
	http.StatusUnsupportedMediaType:  "unsupported-media-type",
	http.StatusUnprocessableEntity:   "invalid-input",
	http.StatusInternalServerError:   "internal-error",
	http.StatusServiceUnavailable:    "unavailable",
}

// problemType is the `type` of a problem of kind.
func problemType(kind string) string { return "/problems/" + kind }

// statusType is the `type` of a problem no table row produced; a status with no kind
// of its own says all there is (about:blank, RFC 9457 §4.2.1).
func statusType(status int) string {
	if kind, ok := statusKinds[status]; ok {
		return problemType(kind)
	}
	return "about:blank"
}

var problemPageTmpl = template.Must(template.New("problem").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}} — Lanyard problem</title></head>
<body><main>
<h1>{{.Title}}</h1>
<p>HTTP status {{.Status}}. Problem type <code>{{.Type}}</code>.</p>
<p>{{.About}}</p>
<p>Lanyard answers errors as RFC 9457 problem documents (<code>application/problem+json</code>) whose
<code>type</code> names one of these pages. See <a href="/docs">the API documentation</a>.</p>
</main></body></html>
`))

// problemPage serves /problems/<kind>: what a problem type means. An unknown kind is
// a 404 like any unknown path.
func problemPage(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("kind")
	k, ok := problemKinds[name]
	if !ok {
		writeProblem(w, newProblem(r.Context(), http.StatusNotFound, "No such resource."))
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=86400")
	_ = problemPageTmpl.Execute(w, struct {
		Title, Type, About string
		Status             int
	}{k.title, problemType(name), k.about, k.status})
}
