package httpapi_test

import (
	"bytes"
	"net/http"
	"net/url"
	"slices"
	"testing"
)

// TestPages_ResetPasswordFormPostedAsABrowserWould: the reset link's page spends
// nothing when fetched; its form, posted as a browser posts it, refuses two different
// passwords and one the rules refuse (each time the form again, the link still
// working), then sets the password; posted again it says the link no longer works.
func TestPages_ResetPasswordFormPostedAsABrowserWould(t *testing.T) {
	t.Parallel()
	env, mb, _ := verifyEnv(t)
	a := registerWithMail(t, env, "ada@example.com")
	mb.WaitFor(t, "ada@example.com") // the registration's verification mail
	env.Do("POST", "/api/auth/password-reset", map[string]any{"email": a.Email}).Must(t, http.StatusAccepted)
	m := mb.WaitFor(t, "ada@example.com")
	path := mailLinkPath(t, env, m, "/reset-password")

	var form htmlForm
	for range 2 {
		r := env.Do("GET", path, nil).Must(t, http.StatusOK)
		pageHeaders(t, r, "GET /reset-password")
		form = parseForm(t, r.Body)
	}
	if form.fields.Get("token") != m.Token(t) {
		t.Fatalf("the form does not carry the link's token")
	}
	for _, name := range []string{"new_password", "new_password_again"} {
		if !slices.Contains(form.inputs, name) {
			t.Fatalf("the form has no input %q: %q", name, form.inputs)
		}
	}
	const newPassword = "a brand new horse battery staple"
	refused := []struct {
		name  string
		typed url.Values
		says  string
	}{
		{"two different passwords", url.Values{"new_password": {newPassword}, "new_password_again": {newPassword + "!"}}, "differ"},
		{"one field empty", url.Values{"new_password": {newPassword}}, "both fields"},
		{"a password too easy to guess", url.Values{"new_password": {"password123"}, "new_password_again": {"password123"}}, "The new password"},
	}
	for _, tt := range refused {
		r := submit(t, env, path, form, tt.typed)
		expect(t, r, "POST /reset-password, "+tt.name, http.StatusUnprocessableEntity)
		pageHeaders(t, r, "POST /reset-password, "+tt.name)
		if !bytes.Contains(r.Body, []byte(tt.says)) || bytes.Contains(r.Body, []byte("password123")) {
			t.Errorf("POST /reset-password, %s: %s; want the form again saying %q, not echoing the password", tt.name, r.Body, tt.says)
		}
		if again := parseForm(t, r.Body); again.fields.Get("token") != m.Token(t) {
			t.Errorf("POST /reset-password, %s: the form again does not carry the token", tt.name)
		}
	}
	env.Do("POST", "/api/auth/login", map[string]any{"email": a.Email, "password": a.Password}).Must(t, http.StatusOK)

	r := submit(t, env, path, form, url.Values{"new_password": {newPassword}, "new_password_again": {newPassword}})
	expect(t, r, "POST /reset-password", http.StatusOK)
	pageHeaders(t, r, "POST /reset-password")
	if !bytes.Contains(r.Body, []byte("Password changed")) {
		t.Errorf("POST /reset-password: %s; want a page saying the password changed", r.Body)
	}
	env.Do("POST", "/api/auth/login", map[string]any{"email": a.Email, "password": newPassword}).Must(t, http.StatusOK)
	problem(t, env.Do("POST", "/api/auth/login", map[string]any{"email": a.Email, "password": a.Password}), "login with the old password", http.StatusUnauthorized)

	r = submit(t, env, path, form, url.Values{"new_password": {newPassword}, "new_password_again": {newPassword}})
	expect(t, r, "POST /reset-password again", http.StatusBadRequest)
	if !bytes.Contains(r.Body, []byte("no longer works")) {
		t.Errorf("POST /reset-password again: %s; want a page saying the link no longer works", r.Body)
	}
}
