package httpapi_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/lanyard/lanyard/internal/lanyardtest"
)

// changePassword sends PUT /api/users/me/password as the holder of access.
func changePassword(env *lanyardtest.Env, access, current, next string) *lanyardtest.Response {
	return env.Do("PUT", "/api/users/me/password",
		map[string]any{"current_password": current, "new_password": next}, "Bearer", access)
}

func TestChangePassword_StartsAFreshSessionAndEndsEveryOther(t *testing.T) {
	t.Parallel()
	env := lanyardtest.New(t)
	a := env.Register("ada")
	other := a
	env.Login(&other) // a second session, e.g. another device
	bystander := env.Register("bob")
	const next = "a much newer passphrase 42"

	r := changePassword(env, a.Access, a.Password, next)
	p := decodeTokenPair(t, "PUT /api/users/me/password", r, a.ID)
	newSID, _, _ := strings.Cut(p.RefreshToken, ".")
	for _, old := range []string{a.Refresh, other.Refresh} {
		if sid, _, _ := strings.Cut(old, "."); sid == newSID {
			t.Errorf("PUT /api/users/me/password kept session %s; want a fresh session", sid)
		}
	}
	if strings.Contains(string(r.Body), next) || strings.Contains(string(r.Body), a.Password) {
		t.Errorf("PUT /api/users/me/password: body echoes a password")
	}

	env.App.Sessions.Wait() // old sessions are removed in the background
	if n := sessionCount(t, env, a.ID); n != 1 {
		t.Errorf("sessions of the user after the change = %d; want 1 (the fresh one)", n)
	}

	// Every older access token and session is over, the caller's own included.
	for _, c := range []struct{ name, access, refresh string }{
		{"the session that changed the password", a.Access, a.Refresh},
		{"another session", other.Access, other.Refresh},
	} {
		if got := meStatus(env, c.access); got != http.StatusUnauthorized {
			t.Errorf("GET /api/users/me with the old access token of %s = %d; want %d", c.name, got, http.StatusUnauthorized)
		}
		if got := refreshWith(env, c.refresh).Status; got != http.StatusUnauthorized {
			t.Errorf("POST /api/auth/refresh with the old refresh token of %s = %d; want %d", c.name, got, http.StatusUnauthorized)
		}
	}

	// The new pair works.
	if got := meStatus(env, p.AccessToken); got != http.StatusOK {
		t.Errorf("GET /api/users/me with the new access token = %d; want %d", got, http.StatusOK)
	}
	decodeTokenPair(t, "POST /api/auth/refresh with the new refresh token", refreshWith(env, p.RefreshToken), a.ID)

	// The new password logs in; the old one does not.
	decodeTokenPair(t, "POST /api/auth/login with the new password", loginWith(env, a.Email, next), a.ID)
	if r := loginWith(env, a.Email, a.Password); r.Status != http.StatusUnauthorized {
		t.Errorf("POST /api/auth/login with the old password = %d; want %d", r.Status, http.StatusUnauthorized)
	}
	// Another user is untouched.
	if got := meStatus(env, bystander.Access); got != http.StatusOK {
		t.Errorf("GET /api/users/me for another user = %d; want %d", got, http.StatusOK)
	}
}

func TestChangePassword_WrongCurrentPasswordChangesNothing(t *testing.T) {
	t.Parallel()
	env := lanyardtest.New(t)
	a := env.Register("ada")
	other := a
	env.Login(&other)
	const next = "a much newer passphrase 42"

	tests := []struct {
		name    string
		current string
	}{
		{"wrong", "not my password at all"},
		{"right one in another case", strings.ToUpper(a.Password)},
		{"right one with a trailing space", a.Password + " "},
		{"empty", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := changePassword(env, a.Access, tt.current, next)
			if r.Status != http.StatusUnprocessableEntity {
				t.Fatalf("PUT /api/users/me/password = %d; want %d; body: %s", r.Status, http.StatusUnprocessableEntity, r.Body)
			}
			if locs := problemLocationsOf(t, r); !slices.Contains(locs, "body.current_password") {
				t.Errorf("PUT /api/users/me/password: error locations = %v; want body.current_password among them", locs)
			}
			if strings.Contains(string(r.Body), next) {
				t.Errorf("PUT /api/users/me/password: body %s echoes the new password", r.Body)
			}
		})
	}

	// Nothing changed: the tokens, the sessions and the password are as before.
	if got := meStatus(env, a.Access); got != http.StatusOK {
		t.Errorf("GET /api/users/me with the caller's access token = %d; want %d", got, http.StatusOK)
	}
	decodeTokenPair(t, "POST /api/auth/refresh (other session)", refreshWith(env, other.Refresh), a.ID)
	decodeTokenPair(t, "POST /api/auth/login with the old password", loginWith(env, a.Email, a.Password), a.ID)
	if r := loginWith(env, a.Email, next); r.Status != http.StatusUnauthorized {
		t.Errorf("POST /api/auth/login with the refused new password = %d; want %d", r.Status, http.StatusUnauthorized)
	}
}

func TestChangePassword_InvalidNewPasswordIs422(t *testing.T) {
	t.Parallel()
	env := lanyardtest.New(t)
	const (
		email    = "ada.lovelace@example.com"
		username = "ada_lovelace"
		pw       = lanyardtest.DefaultPassword
	)
	id := signUpWithUsername(t, env, email, username, pw)
	a := lanyardtest.Account{ID: id, Email: email, Username: username, Password: pw}
	env.Login(&a)

	tests := []struct {
		name string
		next string
	}{
		{"empty", ""},
		{"too short", "k7#qZ2!"},
		{"too long", strings.Repeat("k7#qZ2!x", 16) + "y"},
		{"very common", "password1"},
		{"very common, other case", "QwertyUiop"},
		{"the email", email},
		{"the email in upper case", strings.ToUpper(email)},
		{"the username", username},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := changePassword(env, a.Access, pw, tt.next)
			if r.Status != http.StatusUnprocessableEntity {
				t.Fatalf("PUT /api/users/me/password = %d; want %d; body: %s", r.Status, http.StatusUnprocessableEntity, r.Body)
			}
			if locs := problemLocationsOf(t, r); !slices.Contains(locs, "body.new_password") {
				t.Errorf("PUT /api/users/me/password: error locations = %v; want body.new_password among them", locs)
			}
			if tt.next != "" && strings.Contains(string(r.Body), tt.next) {
				t.Errorf("PUT /api/users/me/password: body %s echoes the new password", r.Body)
			}
		})
	}

	// Nothing changed.
	if got := meStatus(env, a.Access); got != http.StatusOK {
		t.Errorf("GET /api/users/me with the caller's access token = %d; want %d", got, http.StatusOK)
	}
	decodeTokenPair(t, "POST /api/auth/login with the old password", loginWith(env, email, pw), id)
}

func TestChangePassword_RequiresAValidAccessToken(t *testing.T) {
	t.Parallel()
	env := lanyardtest.New(t)
	a := env.Register("ada")
	const next = "a much newer passphrase 42"
	for _, tok := range []string{"", a.Refresh, "not-a-token"} {
		r := changePassword(env, tok, a.Password, next)
		if r.Status != http.StatusUnauthorized {
			t.Errorf("PUT /api/users/me/password with token %.12q… = %d; want %d", tok, r.Status, http.StatusUnauthorized)
		}
		if h := r.Header.Get("WWW-Authenticate"); !strings.HasPrefix(h, "Bearer") {
			t.Errorf("PUT /api/users/me/password with token %.12q…: WWW-Authenticate = %q; want a Bearer challenge", tok, h)
		}
	}
	decodeTokenPair(t, "POST /api/auth/login with the unchanged password", loginWith(env, a.Email, a.Password), a.ID)
}

func TestChangePassword_ReportsWrongCurrentAndInvalidNewTogether(t *testing.T) {
	t.Parallel()
	env := lanyardtest.New(t)
	a := env.Register("ada")
	r := changePassword(env, a.Access, "not my password", "short")
	if r.Status != http.StatusUnprocessableEntity {
		t.Fatalf("PUT /api/users/me/password = %d; want 422; body %s", r.Status, r.Body)
	}
	got := problemLocationsOf(t, r)
	slices.Sort(got)
	if want := []string{"body.current_password", "body.new_password"}; !slices.Equal(got, want) {
		t.Fatalf("errors at %q; want %q", got, want)
	}
}
