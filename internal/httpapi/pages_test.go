package httpapi_test

import (
	"bytes"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"github.com/lanyard/lanyard/internal/lanyardtest"
)

// htmlForm is the one form of a page, as a browser would submit it.
type htmlForm struct {
	method, action string
	fields         url.Values // hidden inputs, with their values
	inputs         []string   // the names of every input, in order
}

// parseForm parses a page and returns its one form; it fails the test if the page
// has a script or anything loaded from elsewhere.
func parseForm(t *testing.T, body []byte) htmlForm {
	t.Helper()
	doc, err := html.Parse(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("page is not HTML: %v", err)
	}
	var forms []htmlForm
	var walk func(n *html.Node, f *htmlForm)
	walk = func(n *html.Node, f *htmlForm) {
		if n.Type == html.ElementNode {
			attr := func(k string) string {
				for _, a := range n.Attr {
					if a.Key == k {
						return a.Val
					}
				}
				return ""
			}
			switch n.Data {
			case "script", "link", "img", "iframe":
				t.Errorf("page has a <%s>", n.Data)
			case "form":
				forms = append(forms, htmlForm{method: strings.ToUpper(attr("method")), action: attr("action"), fields: url.Values{}})
				f = &forms[len(forms)-1]
			case "input":
				if f == nil {
					t.Errorf("input %q outside a form", attr("name"))
					break
				}
				f.inputs = append(f.inputs, attr("name"))
				if attr("type") == "hidden" {
					f.fields.Add(attr("name"), attr("value"))
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c, f)
		}
	}
	walk(doc, nil)
	if len(forms) != 1 {
		t.Fatalf("page has %d forms; want 1: %s", len(forms), body)
	}
	return forms[0]
}

// submit posts f as a browser does from the page at pagePath: to its action resolved
// against the page's URL, form-encoded, with the values typed into its inputs.
func submit(t *testing.T, env *lanyardtest.Env, pagePath string, f htmlForm, typed url.Values) *lanyardtest.Response {
	t.Helper()
	if f.method != "POST" {
		t.Fatalf("form method %q; want POST", f.method)
	}
	base, _ := url.Parse(env.URL + pagePath)
	to, err := base.Parse(f.action)
	if err != nil {
		t.Fatalf("form action %q: %v", f.action, err)
	}
	if to.Host != base.Host {
		t.Fatalf("form posts to %s, another origin", to)
	}
	v := url.Values{}
	for k, vs := range f.fields {
		v[k] = vs
	}
	for k, vs := range typed {
		v[k] = vs
	}
	return env.Do("POST", to.RequestURI(), lanyardtest.Form(v))
}

// pageHeaders fails the test unless r is an HTML page no cache keeps, that sends no
// Referer, and whose CSP lets nothing load and forms post only here.
func pageHeaders(t *testing.T, r *lanyardtest.Response, what string) {
	t.Helper()
	h := r.Header
	if ct := h.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("%s: Content-Type %q; want text/html", what, ct)
	}
	if got := h.Get("Cache-Control"); got != "no-store" {
		t.Errorf("%s: Cache-Control %q; want no-store", what, got)
	}
	if got := h.Get("Referrer-Policy"); got != "no-referrer" {
		t.Errorf("%s: Referrer-Policy %q; want no-referrer", what, got)
	}
	csp := h.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "form-action 'self'", "frame-ancestors 'none'", "base-uri 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("%s: CSP %q lacks %q", what, csp, want)
		}
	}
	if strings.Contains(csp, "script-src") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("%s: CSP %q lets something run", what, csp)
	}
}

// TestPages_VerifyEmailFormPostedAsABrowserWould: the page the verification link opens
// spends nothing when fetched, however often; its form, posted as a browser posts it,
// verifies the email; posted again, it says the link no longer works.
func TestPages_VerifyEmailFormPostedAsABrowserWould(t *testing.T) {
	t.Parallel()
	env, mb, _ := verifyEnv(t)
	a := registerWithMail(t, env, "ada@example.com")
	m := mb.WaitFor(t, "ada@example.com")
	path := mailLinkPath(t, env, m, "/verify-email")

	var form htmlForm
	for range 3 {
		r := env.Do("GET", path, nil).Must(t, http.StatusOK)
		pageHeaders(t, r, "GET /verify-email")
		form = parseForm(t, r.Body)
	}
	if form.fields.Get("token") != m.Token(t) {
		t.Errorf("the form does not carry the link's token")
	}
	if me := env.Do("GET", "/api/users/me", nil, "Bearer", a.Access).Must(t, http.StatusOK).Map(t); me["email_verified"] != false {
		t.Fatalf("GETs of the page verified the email")
	}

	r := submit(t, env, path, form, nil)
	expect(t, r, "POST /verify-email", http.StatusOK)
	pageHeaders(t, r, "POST /verify-email")
	if !bytes.Contains(r.Body, []byte("confirmed")) {
		t.Errorf("POST /verify-email page does not say the address is confirmed: %s", r.Body)
	}
	if me := env.Do("GET", "/api/users/me", nil, "Bearer", a.Access).Must(t, http.StatusOK).Map(t); me["email_verified"] != true {
		t.Errorf("after the form: email_verified = %v; want true", me["email_verified"])
	}

	r = submit(t, env, path, form, nil)
	expect(t, r, "POST /verify-email again", http.StatusBadRequest)
	pageHeaders(t, r, "POST /verify-email again")
	if !bytes.Contains(r.Body, []byte("no longer works")) || bytes.Contains(r.Body, []byte(m.Token(t))) {
		t.Errorf("POST /verify-email again: %s; want a page saying the link no longer works, without the token", r.Body)
	}
}

// The pages answer what is wrong with a request as pages, never a problem document.
func TestPages_BadRequestsAreAnsweredAsPages(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	tests := []struct {
		name   string
		method string
		path   string
		body   any
		status int
	}{
		{"verify page without a token", "GET", "/verify-email", nil, http.StatusBadRequest},
		{"verify form without a token", "POST", "/verify-email", lanyardtest.Form(url.Values{}), http.StatusBadRequest},
		{"verify form with two tokens", "POST", "/verify-email", lanyardtest.Form(url.Values{"token": {"a", "b"}}), http.StatusBadRequest},
		{"verify form with an unknown token", "POST", "/verify-email", lanyardtest.Form(url.Values{"token": {strings.Repeat("A", 43)}}), http.StatusBadRequest},
		{"verify form too large", "POST", "/verify-email", lanyardtest.Form(url.Values{"token": {strings.Repeat("A", 70000)}}), http.StatusRequestEntityTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := env.Do(tt.method, tt.path, tt.body)
			expect(t, r, tt.method+" "+tt.path, tt.status)
			pageHeaders(t, r, tt.method+" "+tt.path)
			if bytes.Contains(r.Body, []byte("AAAAAAAA")) {
				t.Errorf("%s %s echoes the token: %s", tt.method, tt.path, r.Body)
			}
		})
	}
}
