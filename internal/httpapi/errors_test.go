package httpapi_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lanyard/lanyard/internal/lanyardtest"
)

// newEnv starts the service for these tests (lanyardtest already raises the
// registration limit out of the way of tests that register many accounts).
func newEnv(t *testing.T, opts ...lanyardtest.Option) *lanyardtest.Env {
	t.Helper()
	return lanyardtest.New(t, opts...)
}

// expect fails the test unless r has status want; req names the request ("POST /x").
func expect(t *testing.T, r *lanyardtest.Response, req string, want int) {
	t.Helper()
	if r.Status != want {
		t.Fatalf("%s = %d; want %d; body: %s", req, r.Status, want, r.Body)
	}
}

// problemDoc is an RFC 9457 problem document as the API sends it.
type problemDoc struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Errors []struct {
		Location string `json:"location"`
		Message  string `json:"message"`
	} `json:"errors"`
}

// locations returns the errors' locations, sorted.
func (p problemDoc) locations() []string {
	var out []string
	for _, e := range p.Errors {
		out = append(out, e.Location)
	}
	slices.Sort(out)
	return out
}

// problem fails the test unless r is a problem document with status want, and
// returns it decoded.
func problem(t *testing.T, r *lanyardtest.Response, req string, want int) problemDoc {
	t.Helper()
	expect(t, r, req, want)
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
		t.Fatalf("%s: Content-Type = %q; want application/problem+json", req, ct)
	}
	var p problemDoc
	if err := json.Unmarshal(r.Body, &p); err != nil {
		t.Fatalf("%s: body is not a problem document: %v; body: %s", req, err, r.Body)
	}
	if p.Status != want || p.Title == "" || p.Type == "" {
		t.Fatalf("%s: problem = %+v; want status %d with a type and title", req, p, want)
	}
	return p
}

// wantLocations fails the test unless p's errors name exactly these locations.
func wantLocations(t *testing.T, p problemDoc, req string, want ...string) {
	t.Helper()
	slices.Sort(want)
	if got := p.locations(); !slices.Equal(got, want) {
		t.Fatalf("%s: errors at %q; want %q; errors: %+v", req, got, want, p.Errors)
	}
}

// userCount is the number of stored users, for checks that a request changed nothing.
func userCount(t *testing.T, env *lanyardtest.Env) int64 {
	t.Helper()
	return lanyardtest.RawCount(t, env.DB, "users", nil)
}

var requestIDRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

func TestRequestID_EchoedWhenValidReplacedOtherwise(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	tests := []struct {
		name, sent string
		echoed     bool
	}{
		{"absent", "", false},
		{"valid", "abc-123.x_Y", true},
		{"one character", "a", true},
		{"64 characters", strings.Repeat("a", 64), true},
		{"65 characters", strings.Repeat("a", 65), false},
		{"with a space", "abc 123", false},
		{"with unicode", "abc-ü", false},
		{"with a slash", "abc/123", false},
		{"with a quote", `abc"123`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, path := range []string{"/healthz", "/api/users/me", "/no/such/route"} {
				var headers []string
				if tt.sent != "" {
					headers = []string{"X-Request-Id", tt.sent}
				}
				r := env.Do("GET", path, nil, headers...)
				got := r.Header.Get("X-Request-Id")
				switch {
				case tt.echoed && got != tt.sent:
					t.Errorf("GET %s with X-Request-Id %q: X-Request-Id = %q; want it echoed", path, tt.sent, got)
				case !tt.echoed && (got == tt.sent || !requestIDRE.MatchString(got)):
					t.Errorf("GET %s with X-Request-Id %q: X-Request-Id = %q; want a fresh valid id", path, tt.sent, got)
				}
			}
		})
	}
}

func TestRequestID_FreshForEveryRequest(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	a := env.Do("GET", "/healthz", nil).Header.Get("X-Request-Id")
	b := env.Do("GET", "/healthz", nil).Header.Get("X-Request-Id")
	if a == "" || a == b {
		t.Fatalf("GET /healthz twice: X-Request-Id %q then %q; want two different ids", a, b)
	}
}

func TestRequestID_InProblemDocument(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	r := env.Do("GET", "/api/users/me", nil, "X-Request-Id", "trace-me-42")
	problem(t, r, "GET /api/users/me", http.StatusUnauthorized)
	if !bytes.Contains(r.Body, []byte(`"trace-me-42"`)) {
		t.Fatalf("GET /api/users/me: problem %s; want it to carry the request id", r.Body)
	}
}

func TestBodyLimit_RefusesMoreThan64KiB(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	tests := []struct {
		name string
		size int
		want int
	}{
		{"1 MiB", 1 << 20, http.StatusRequestEntityTooLarge},
		{"64 KiB + 1", 64<<10 + 1, http.StatusRequestEntityTooLarge},
		{"exactly 64 KiB", 64 << 10, http.StatusUnprocessableEntity}, // read whole; the padded field is too long
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := paddedJSON(t, tt.size)
			r := env.Do("POST", "/api/auth/register", lanyardtest.Raw{ContentType: "application/json", Body: body})
			problem(t, r, "POST /api/auth/register", tt.want)
		})
	}
	if n := userCount(t, env); n != 0 {
		t.Fatalf("after oversized bodies: %d users; want 0", n)
	}
}

// paddedJSON is a valid register body of exactly size bytes, padded inside a string.
func paddedJSON(t *testing.T, size int) string {
	t.Helper()
	head := `{"email":"pad@example.com","password":"correct horse battery staple","first_name":"`
	tail := `"}`
	n := size - len(head) - len(tail)
	if n < 0 {
		t.Fatalf("paddedJSON(%d): too small", size)
	}
	s := head + strings.Repeat("x", n) + tail
	if len(s) != size || !json.Valid([]byte(s)) {
		t.Fatalf("paddedJSON(%d) built %d bytes (valid %v)", size, len(s), json.Valid([]byte(s)))
	}
	return s
}

func TestBody_NotOneJSONValueIs400AndChangesNothing(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	const pw = "Unguessable-Pw-0451"
	deep := `{"email":"deep@example.com","password":"` + pw + `","first_name":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}`
	tests := []struct {
		name, body string
		emails     []string // none of these may exist afterwards
	}{
		{"trailing object", `{"email":"a@b.co","password":"` + pw + `"} {}`, []string{"a@b.co"}},
		{"trailing garbage", `{"email":"trail@example.com","password":"` + pw + `"}x`, []string{"trail@example.com"}},
		{"two values", `{"email":"two@example.com","password":"` + pw + `"}{"email":"two2@example.com","password":"` + pw + `"}`, []string{"two@example.com", "two2@example.com"}},
		{"duplicate keys", `{"email":"a@example.com","email":"b@example.com","password":"` + pw + `"}`, []string{"a@example.com", "b@example.com"}},
		{"duplicate keys in other case", `{"email":"c1@example.com","EMAIL":"c2@example.com","password":"` + pw + `"}`, []string{"c1@example.com", "c2@example.com"}},
		{"duplicate keys, one escaped", `{"email":"e1@example.com","\u0065mail":"e2@example.com","password":"` + pw + `"}`, []string{"e1@example.com", "e2@example.com"}},
		{"duplicate keys folded by JSON", `{"email":"f@example.com","password":"` + pw + `","pa\u017f\u017fword":"other password 42"}`, []string{"f@example.com"}},
		{"duplicate nested keys", `{"email":"nest@example.com","password":"` + pw + `","x":{"k":1,"k":2}}`, []string{"nest@example.com"}},
		{"nesting deeper than 32", deep, []string{"deep@example.com"}},
		{"invalid JSON", `{"email":"bad@example.com","password":"` + pw + `"`, []string{"bad@example.com"}},
		{"not JSON at all", `email=x&password=` + pw, nil},
		{"single quotes", `{'email':'q@example.com','password':'` + pw + `'}`, []string{"q@example.com"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := env.Do("POST", "/api/auth/register", lanyardtest.Raw{ContentType: "application/json", Body: tt.body})
			problem(t, r, "POST /api/auth/register", http.StatusBadRequest)
			if bytes.Contains(r.Body, []byte(pw)) {
				t.Errorf("POST /api/auth/register: problem %s echoes the password", r.Body)
			}
			for _, e := range tt.emails {
				r := env.Do("POST", "/api/auth/login", map[string]any{"email": e, "password": pw})
				expect(t, r, "POST /api/auth/login "+e, http.StatusUnauthorized)
			}
		})
	}
	if n := userCount(t, env); n != 0 {
		t.Fatalf("after malformed bodies: %d users; want 0", n)
	}
}

func TestBody_DuplicateKeysInPatchAre400AndChangeNothing(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	a := env.Register("ada")
	expect(t, env.Do("PATCH", "/api/users/me", map[string]any{"first_name": "Ada"}, "Bearer", a.Access), "PATCH /api/users/me", http.StatusOK)
	for _, body := range []string{
		`{"first_name":"Eve","first_name":null}`,
		`{"first_name":"Ada","FIRST_NAME":null}`,
		`{"First_Name":"Eve","first_name":"Ada"}`,
	} {
		t.Run(body, func(t *testing.T) {
			r := env.Do("PATCH", "/api/users/me", lanyardtest.Raw{ContentType: "application/json", Body: body}, "Bearer", a.Access)
			problem(t, r, "PATCH /api/users/me", http.StatusBadRequest)
			u := env.Do("GET", "/api/users/me", nil, "Bearer", a.Access).Map(t)
			if u["first_name"] != "Ada" {
				t.Fatalf("after refused PATCH %s: first_name = %v; want Ada", body, u["first_name"])
			}
		})
	}
}

func TestBody_NestingLimitIs32Levels(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	// nested is a register body whose first_name holds arrays nested so that the
	// whole document is levels deep (the object itself is the first level).
	nested := func(levels int) string {
		return `{"email":"deep@example.com","password":"correct horse battery staple","first_name":` +
			strings.Repeat("[", levels-1) + strings.Repeat("]", levels-1) + `}`
	}
	tests := []struct {
		name, body string
		want       int
	}{
		{"32 levels", nested(32), http.StatusUnprocessableEntity}, // one JSON value; an array is not a name
		{"33 levels", nested(33), http.StatusBadRequest},
		{"33 levels of arrays", strings.Repeat("[", 33) + strings.Repeat("]", 33), http.StatusBadRequest},
		{"10000 levels", nested(10000), http.StatusBadRequest},
		{"10000 unclosed levels", strings.Repeat(`{"a":`, 10000), http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := env.Do("POST", "/api/auth/register", lanyardtest.Raw{ContentType: "application/json", Body: tt.body})
			p := problem(t, r, "POST /api/auth/register", tt.want)
			if tt.want == http.StatusUnprocessableEntity {
				wantLocations(t, p, "POST /api/auth/register", "body.first_name")
			}
		})
	}
}

func TestUnknownRoute_IsProblem404(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	for _, path := range []string{"/nope", "/api/nope", "/api/users/me/nope", "/api/auth"} {
		t.Run(path, func(t *testing.T) {
			problem(t, env.Do("GET", path, nil), "GET "+path, http.StatusNotFound)
		})
	}
}

func TestOperationalEndpoints_Answer(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	for _, path := range []string{"/healthz", "/readyz", "/openapi.json", "/docs", "/docs/swagger-ui-bundle.js", "/docs/swagger-ui.css", "/docs/lanyard-init.js"} {
		t.Run(path, func(t *testing.T) {
			r := env.Do("GET", path, nil)
			expect(t, r, "GET "+path, http.StatusOK)
			if len(r.Body) == 0 {
				t.Fatalf("GET %s: empty body", path)
			}
		})
	}
}

func TestOpenAPI_Is31AndListsRegister(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	r := env.Do("GET", "/openapi.json", nil)
	expect(t, r, "GET /openapi.json", http.StatusOK)
	var doc struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	r.JSON(t, &doc)
	if !strings.HasPrefix(doc.OpenAPI, "3.1") {
		t.Errorf("GET /openapi.json: openapi = %q; want 3.1.x", doc.OpenAPI)
	}
	for path, method := range map[string]string{
		"/api/auth/register":   "post",
		"/api/auth/signup":     "post",
		"/api/auth/login":      "post",
		"/api/users/me":        "patch",
		"/api/users/{user_id}": "get",
	} {
		if _, ok := doc.Paths[path][method]; !ok {
			t.Errorf("GET /openapi.json: no %s %s", method, path)
		}
	}
}

func TestDocs_ServesOnlySameOriginAssets(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	r := env.Do("GET", "/docs", nil)
	expect(t, r, "GET /docs", http.StatusOK)
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("GET /docs: Content-Type = %q; want text/html", ct)
	}
	page := string(r.Body)
	if strings.Contains(page, "http://") || strings.Contains(page, "https://") || strings.Contains(page, `"//`) {
		t.Errorf("GET /docs: page refers to another origin:\n%s", page)
	}
	// Every script and stylesheet the page names must be served.
	refs := regexp.MustCompile(`(?:src|href)="([^"]+)"`).FindAllStringSubmatch(page, -1)
	if len(refs) == 0 {
		t.Fatalf("GET /docs: page names no assets:\n%s", page)
	}
	for _, m := range refs {
		expect(t, env.Do("GET", m[1], nil), "GET "+m[1], http.StatusOK)
	}
}

func TestSecurityHeaders_OnJSONAndProblemResponses(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	a := env.Register("hdr")
	tests := []struct {
		name, method, path string
		body               any
		bearer             string
	}{
		{"health", "GET", "/healthz", nil, ""},
		{"user", "GET", "/api/users/me", nil, a.Access},
		{"unauthorized", "GET", "/api/users/me", nil, ""},
		{"invalid body", "POST", "/api/auth/register", map[string]any{}, ""},
		{"not found", "GET", "/api/nope", nil, ""},
		{"openapi", "GET", "/openapi.json", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var headers []string
			if tt.bearer != "" {
				headers = []string{"Bearer", tt.bearer}
			}
			r := env.Do(tt.method, tt.path, tt.body, headers...)
			if got := r.Header.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("%s %s: X-Content-Type-Options = %q; want nosniff", tt.method, tt.path, got)
			}
			if got := r.Header.Get("Content-Security-Policy"); !strings.Contains(got, "default-src 'none'") {
				t.Errorf("%s %s: Content-Security-Policy = %q; want default-src 'none'", tt.method, tt.path, got)
			}
			if got := r.Header.Get("X-Request-Id"); !requestIDRE.MatchString(got) {
				t.Errorf("%s %s: X-Request-Id = %q; want one", tt.method, tt.path, got)
			}
		})
	}
}

func TestTokenResponses_AreNotStored(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	a := env.Register("cache")
	tests := []struct {
		name string
		do   func() *lanyardtest.Response
	}{
		{"POST /api/auth/login", func() *lanyardtest.Response {
			return env.Do("POST", "/api/auth/login", map[string]any{"email": a.Email, "password": a.Password})
		}},
		{"POST /api/auth/login (form)", func() *lanyardtest.Response {
			return env.Do("POST", "/api/auth/login", lanyardtest.Form(url.Values{"username": {a.Email}, "password": {a.Password}, "grant_type": {"password"}}))
		}},
		{"POST /api/auth/refresh", func() *lanyardtest.Response {
			return env.Do("POST", "/api/auth/refresh", map[string]any{"refresh_token": a.Refresh})
		}},
		{"PUT /api/users/me/password", func() *lanyardtest.Response {
			return env.Do("PUT", "/api/users/me/password", map[string]any{"current_password": a.Password, "new_password": "a different long passphrase"}, "Bearer", a.Access)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.do()
			expect(t, r, tt.name, http.StatusOK)
			if !bytes.Contains(r.Body, []byte(`"access_token"`)) {
				t.Fatalf("%s = %s; want a token pair", tt.name, r.Body)
			}
			if got := r.Header.Get("Cache-Control"); !strings.Contains(got, "no-store") {
				t.Errorf("%s: Cache-Control = %q; want no-store", tt.name, got)
			}
		})
	}
}

func TestAuthorization_MissingOrMalformedIs401WithBearerChallenge(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	a := env.Register("auth")
	foreign := newEnv(t).Register("foreign") // signed with another service's key
	tests := []struct {
		name, header string
	}{
		{"missing", ""},
		{"empty bearer", "Bearer "},
		{"scheme only", "Bearer"},
		{"basic scheme", "Basic YWRhOnB3"},
		{"token without scheme", a.Access},
		{"not a JWT", "Bearer not-a-jwt"},
		{"three garbage parts", "Bearer aaa.bbb.ccc"},
		{"tampered signature", "Bearer " + a.Access[:len(a.Access)-2] + flip(a.Access[len(a.Access)-2:])},
		{"refresh token as bearer", "Bearer " + a.Refresh},
		{"token of another service", "Bearer " + foreign.Access},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var headers []string
			if tt.header != "" {
				headers = []string{"Authorization", tt.header}
			}
			for _, method := range []string{"GET", "PATCH"} {
				r := env.Do(method, "/api/users/me", map[string]any{"first_name": "Mallory"}, headers...)
				problem(t, r, method+" /api/users/me", http.StatusUnauthorized)
				if got := r.Header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer") {
					t.Errorf("%s /api/users/me: WWW-Authenticate = %q; want a Bearer challenge", method, got)
				}
			}
		})
	}
	me := env.Do("GET", "/api/users/me", nil, "Bearer", a.Access)
	expect(t, me, "GET /api/users/me", http.StatusOK)
	if _, ok := me.Map(t)["first_name"]; ok {
		t.Fatalf("GET /api/users/me = %s; an unauthenticated PATCH changed the user", me.Body)
	}
}

// flip changes every character of s, so a signature no longer verifies.
func flip(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
	}
	return string(b)
}

func TestAuthorization_ExpiredTokenIs401(t *testing.T) {
	t.Parallel()
	clock := lanyardtest.NewClockAt(time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC))
	env := newEnv(t, lanyardtest.WithClock(clock.Now))
	a := env.Register("exp")

	expect(t, env.Do("GET", "/api/users/me", nil, "Bearer", a.Access), "GET /api/users/me", http.StatusOK)
	clock.Advance(14 * time.Minute)
	expect(t, env.Do("GET", "/api/users/me", nil, "Bearer", a.Access), "GET /api/users/me after 14m", http.StatusOK)
	clock.Advance(2 * time.Minute)
	r := env.Do("GET", "/api/users/me", nil, "Bearer", a.Access)
	problem(t, r, "GET /api/users/me after 16m", http.StatusUnauthorized)
	if got := r.Header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer") {
		t.Fatalf("GET /api/users/me after 16m: WWW-Authenticate = %q; want a Bearer challenge", got)
	}
}

func TestWrongMethod_Is405WithAllow(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	for _, c := range []struct{ method, path, allow string }{
		{"GET", "/api/auth/register", "POST"},
		{"DELETE", "/api/auth/login", "POST"},
		{"POST", "/api/users/me", "GET, PATCH, DELETE"},
	} {
		r := env.Do(c.method, c.path, nil)
		problem(t, r, c.method+" "+c.path, http.StatusMethodNotAllowed)
		if got := r.Header.Get("Allow"); got != c.allow {
			t.Errorf("%s %s: Allow = %q; want %q", c.method, c.path, got, c.allow)
		}
	}
}

func TestFormBody_AcceptedOnlyByLogin(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	form := lanyardtest.Form(url.Values{"email": {"ada@example.com"}, "password": {lanyardtest.DefaultPassword}})
	problem(t, env.Do("POST", "/api/auth/register", form), "POST /api/auth/register (form)", http.StatusUnsupportedMediaType)
	if n := userCount(t, env); n != 0 {
		t.Fatalf("users after a form registration = %d; want 0", n)
	}
}

func TestBody_InvalidUTF8Is400(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	body := lanyardtest.Raw{ContentType: "application/json",
		Body: `{"email":"ada@example.com","password":"` + lanyardtest.DefaultPassword + `","first_name":"A\xffa"}`}
	problem(t, env.Do("POST", "/api/auth/register", body), "POST /api/auth/register (bad UTF-8)", http.StatusBadRequest)
	if n := userCount(t, env); n != 0 {
		t.Fatalf("users after an invalid UTF-8 body = %d; want 0", n)
	}
}

func TestBody_FieldNamesAreCaseSensitive(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	p := problem(t, env.Do("POST", "/api/auth/register", map[string]any{"EMAIL": "ada@example.com", "password": lanyardtest.DefaultPassword}),
		"POST /api/auth/register with EMAIL", http.StatusUnprocessableEntity)
	if !slices.Contains(p.locations(), "body.EMAIL") {
		t.Fatalf("errors at %q; want body.EMAIL named as unknown", p.locations())
	}
}

func TestAuthorization_NoTokenChallengeCarriesNoErrorCode(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	r := env.Do("GET", "/api/users/me", nil)
	problem(t, r, "GET /api/users/me without a token", http.StatusUnauthorized)
	if h := r.Header.Get("WWW-Authenticate"); !strings.HasPrefix(h, "Bearer") || strings.Contains(h, "error=") {
		t.Fatalf("WWW-Authenticate = %q; want a Bearer challenge without error=", h)
	}
	r = env.Do("GET", "/api/users/me", nil, "Bearer", "not-a-token")
	if h := r.Header.Get("WWW-Authenticate"); !strings.Contains(h, `error="invalid_token"`) {
		t.Fatalf("WWW-Authenticate for a bad token = %q; want error=\"invalid_token\"", h)
	}
}
