package httpapi

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"html/template"
	"net/http"

	"github.com/lanyard/lanyard"
)

// The pages the links in mails open, for users without an application page of their
// own (LANYARD_VERIFY_URL and LANYARD_RESET_URL point elsewhere otherwise). They are
// plain HTML forms: no script, no asset from anywhere, usable in any browser. A GET
// only shows the form, so a mail scanner that follows the link spends nothing; the
// POST carries the token as its one credential (no cookie is involved, so a forged
// cross-site post could only spend a token its author already holds). The answers
// are never stored by a cache and never send a Referer, which would carry the token.
// Errors are pages too, saying what the user can do, never why inside.

// pageStyle is the pages' one style sheet, inline and allowed by its hash.
const pageStyle = `body{font:16px/1.5 system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem;color:#222}` +
	`h1{font-size:1.4rem}label{display:block;margin:.8rem 0 .2rem}input[type=password]{width:100%;padding:.4rem;box-sizing:border-box}` +
	`button{margin-top:1rem;padding:.5rem 1.2rem;font:inherit}.problem{color:#a00}`

// pageCSP lets a page use its inline style and post its form to this origin, and
// nothing else: no script, no image, no framing.
var pageCSP = "default-src 'none'; style-src '" + styleHash(pageStyle) + "'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

func styleHash(css string) string {
	sum := sha256.Sum256([]byte(css))
	return "sha256-" + base64.StdEncoding.EncodeToString(sum[:])
}

var pageTmpl = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer"><title>{{.Title}}</title><style>{{.Style}}</style></head>
<body><main>
<h1>{{.Title}}</h1>
{{range .Problems}}<p class="problem">{{.}}</p>
{{end}}{{if .Text}}<p>{{.Text}}</p>
{{end}}{{if eq .Form "verify"}}<form method="post" action="verify-email">
<input type="hidden" name="token" value="{{.Token}}">
<button type="submit">Confirm</button>
</form>
{{else if eq .Form "reset"}}<form method="post" action="reset-password">
<input type="hidden" name="token" value="{{.Token}}">
<label for="new_password">New password</label>
<input type="password" id="new_password" name="new_password" autocomplete="new-password" required minlength="8" maxlength="128">
<label for="new_password_again">The new password again</label>
<input type="password" id="new_password_again" name="new_password_again" autocomplete="new-password" required minlength="8" maxlength="128">
<button type="submit">Set the new password</button>
</form>
{{end}}</main></body></html>
`))

// page is what one page shows.
type page struct {
	Title    string
	Text     string
	Problems []string
	Form     string // "verify", "reset" or "": which form, with Token in it
	Token    string
	Style    template.CSS
}

// pagePaths are the paths of the pages, which take forms.
func pagePath(path string) bool { return path == "/verify-email" || path == "/reset-password" }

func (s *Server) pages(mux *http.ServeMux) {
	mux.HandleFunc("GET /verify-email", s.verifyPage)
	mux.HandleFunc("POST /verify-email", s.verifySubmit)
	mux.HandleFunc("GET /reset-password", s.resetPage)
	mux.HandleFunc("POST /reset-password", s.resetSubmit)
}

func (s *Server) verifyPage(w http.ResponseWriter, r *http.Request) {
	tok := r.URL.Query().Get("token")
	if tok == "" {
		writePage(w, http.StatusBadRequest, linkIncomplete)
		return
	}
	writePage(w, http.StatusOK, page{Title: "Confirm your email address",
		Text: "Confirm that this email address is yours.", Form: "verify", Token: tok})
}

func (s *Server) verifySubmit(w http.ResponseWriter, r *http.Request) {
	tok, ok := formToken(w, r)
	if !ok {
		return
	}
	if _, err := s.accounts.VerifyEmail(r.Context(), tok); err != nil {
		s.pageError(w, r, err)
		return
	}
	writePage(w, http.StatusOK, page{Title: "Email address confirmed",
		Text: "Thank you: your email address is confirmed. You can close this page."})
}

// formToken reads the posted form (at most maxBody) and its one token; otherwise it
// answers the page itself and says not ok.
func formToken(w http.ResponseWriter, r *http.Request) (string, bool) {
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	if err := r.ParseForm(); err != nil {
		var tooLarge *http.MaxBytesError
		status := http.StatusBadRequest
		if errors.As(err, &tooLarge) {
			status = http.StatusRequestEntityTooLarge
		}
		writePage(w, status, page{Title: "Something is wrong with this form", Text: "Open the link from the mail again."})
		return "", false
	}
	toks := r.PostForm["token"]
	if len(toks) != 1 || toks[0] == "" {
		writePage(w, http.StatusBadRequest, linkIncomplete)
		return "", false
	}
	return toks[0], true
}

var (
	linkIncomplete = page{Title: "This link is incomplete",
		Text: "Open the link from the mail again, exactly as it is, or copy all of it into the address bar."}
	linkInvalid = page{Title: "This link no longer works",
		Text: "It was used already, or it expired, or a newer one replaced it. Ask for a new one where you asked for this one."}
)

// pageError answers err as a page: what the user can do, never what went wrong
// inside. The status, Retry-After and the log line's cause are what the API's table
// (problemFor) makes of err.
func (s *Server) pageError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, lanyard.ErrFlowInvalid):
		writePage(w, http.StatusBadRequest, linkInvalid)
		return
	case errors.As(err, new(*lanyard.ConflictError)):
		writePage(w, http.StatusConflict, page{Title: "This email address is taken",
			Text: "Another account took this address since the change was asked for, so the change cannot be made. Your account keeps its email address."})
		return
	}
	hs := headerMap{}
	p := problemFor(r.Context(), hs, err)
	if v := hs["Retry-After"]; v != "" {
		w.Header().Set("Retry-After", v)
	}
	pg := page{Title: "Something went wrong", Text: "Try again in a moment. If it keeps failing, give the service's operators this reference: " + requestID(r.Context()) + "."}
	switch {
	case p.Status == http.StatusTooManyRequests:
		pg = page{Title: "Too many attempts", Text: "Wait a while, then try again."}
	case p.Status == http.StatusServiceUnavailable:
		pg.Title = "The service is busy"
	}
	writePage(w, p.Status, pg)
}

func writePage(w http.ResponseWriter, status int, p page) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", pageCSP)
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(status)
	p.Style = template.CSS(pageStyle)
	_ = pageTmpl.Execute(w, p)
}
