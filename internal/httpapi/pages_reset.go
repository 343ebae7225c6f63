package httpapi

import (
	"errors"
	"net/http"
	"strings"

	"github.com/lanyard/lanyard"
)

// The reset page: a form for the new password, twice, posting the link's token with
// it. The two must match before anything is tried; a password the rules refuse shows
// the form again with the rule's words (the token is not spent by a refusal).

func (s *Server) resetPage(w http.ResponseWriter, r *http.Request) {
	tok := r.URL.Query().Get("token")
	if tok == "" {
		writePage(w, http.StatusBadRequest, linkIncomplete)
		return
	}
	writePage(w, http.StatusOK, resetForm(tok))
}

func resetForm(tok string, problems ...string) page {
	return page{Title: "Choose a new password", Text: "Type the new password twice. Every session of the account ends, and you log in with the new password.",
		Problems: problems, Form: "reset", Token: tok}
}

func (s *Server) resetSubmit(w http.ResponseWriter, r *http.Request) {
	tok, ok := formToken(w, r)
	if !ok {
		return
	}
	pw, again := r.PostForm.Get("new_password"), r.PostForm.Get("new_password_again")
	switch {
	case pw == "" || again == "":
		writePage(w, http.StatusUnprocessableEntity, resetForm(tok, "Type the new password in both fields."))
		return
	case pw != again:
		writePage(w, http.StatusUnprocessableEntity, resetForm(tok, "The two passwords differ; type the same one twice."))
		return
	}
	_, err := s.resets.Confirm(r.Context(), tok, pw)
	var inv *lanyard.InvalidError
	switch {
	case errors.As(err, &inv):
		var msgs []string
		for _, f := range inv.Fields {
			msgs = append(msgs, "The new password "+strings.TrimPrefix(f.Message, "password ")+".")
		}
		writePage(w, http.StatusUnprocessableEntity, resetForm(tok, msgs...))
		return
	case err != nil:
		s.pageError(w, r, err)
		return
	}
	// The page starts no session: it would hand its tokens to nobody. The user logs
	// in with the new password, second factor included.
	writePage(w, http.StatusOK, page{Title: "Password changed",
		Text: "Your password is changed and every session of the account has ended. Log in with the new password."})
}
