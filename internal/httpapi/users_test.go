package httpapi_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/lanyard/lanyard/internal/lanyardtest"
)

// me reads the caller's account.
func me(t *testing.T, env *lanyardtest.Env, a lanyardtest.Account) map[string]any {
	t.Helper()
	r := env.Do("GET", "/api/users/me", nil, "Bearer", a.Access)
	expect(t, r, "GET /api/users/me", http.StatusOK)
	return r.Map(t)
}

// patchMe sends PATCH /api/users/me and checks the status.
func patchMe(t *testing.T, env *lanyardtest.Env, a lanyardtest.Account, body any, want int) *lanyardtest.Response {
	t.Helper()
	r := env.Do("PATCH", "/api/users/me", body, "Bearer", a.Access)
	expect(t, r, "PATCH /api/users/me", want)
	return r
}

func TestGetMe_ReturnsTheCaller(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	a := env.Register("ada")
	b := env.Register("bob")
	for _, acc := range []lanyardtest.Account{a, b} {
		r := env.Do("GET", "/api/users/me", nil, "Bearer", acc.Access)
		expect(t, r, "GET /api/users/me", http.StatusOK)
		u := r.Map(t)
		if u["id"] != acc.ID || u["email"] != acc.Email || u["role"] != "user" || u["status"] != "active" {
			t.Errorf("GET /api/users/me as %s = %s; want that user", acc.Email, r.Body)
		}
		for _, secret := range []string{"password", "token_version", acc.Password} {
			if bytes.Contains(withoutHasPassword(r.Body), []byte(secret)) {
				t.Errorf("GET /api/users/me: body %s contains %q", r.Body, secret)
			}
		}
	}
}

func TestUpdateMe_SetsProfileFields(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	a := env.Register("ada")
	before := me(t, env, a)

	r := patchMe(t, env, a, map[string]any{
		"username":   "Ada.L",
		"first_name": "Ada",
		"last_name":  "Lovelace",
		"contact":    "+44 (20) 7946-0958",
		"birthday":   "1990-12-10",
	}, http.StatusOK)
	want := map[string]string{
		"id":         a.ID,
		"email":      a.Email,
		"username":   "Ada.L",
		"first_name": "Ada",
		"last_name":  "Lovelace",
		"contact":    "+442079460958",
		"birthday":   "1990-12-10",
		"role":       "user",
		"status":     "active",
		"created_at": before["created_at"].(string),
	}
	for name, u := range map[string]map[string]any{"PATCH response": r.Map(t), "GET after": me(t, env, a)} {
		for k, v := range want {
			if u[k] != v {
				t.Errorf("%s: %s = %v; want %q", name, k, u[k], v)
			}
		}
		if s, _ := u["updated_at"].(string); !millisRE.MatchString(s) || s < before["updated_at"].(string) {
			t.Errorf("%s: updated_at = %v; want a time not before %v", name, u["updated_at"], before["updated_at"])
		}
	}

	// A later patch changes only what it names.
	u := patchMe(t, env, a, map[string]any{"last_name": "King"}, http.StatusOK).Map(t)
	if u["last_name"] != "King" || u["first_name"] != "Ada" || u["contact"] != "+442079460958" || u["username"] != "Ada.L" {
		t.Errorf("PATCH /api/users/me {last_name}: user %v; want only last_name changed", u)
	}

	// The new username logs in, case-insensitively.
	lr := env.Do("POST", "/api/auth/login", map[string]any{"username": "ada.l", "password": a.Password})
	expect(t, lr, "POST /api/auth/login by new username", http.StatusOK)
}

func TestUpdateMe_NullRemovesOptionalField(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	a := env.Register("ada")
	values := map[string]string{
		"username":   "ada_null",
		"first_name": "Ada",
		"last_name":  "Lovelace",
		"contact":    "+441234567890",
		"birthday":   "1990-12-10",
	}
	for field, value := range values {
		t.Run(field, func(t *testing.T) {
			patchMe(t, env, a, map[string]any{field: value}, http.StatusOK)
			if got := me(t, env, a)[field]; got != value {
				t.Fatalf("after PATCH %s=%q: %s = %v", field, value, field, got)
			}
			u := patchMe(t, env, a, map[string]any{field: nil}, http.StatusOK).Map(t)
			if v, ok := u[field]; ok {
				t.Errorf("PATCH /api/users/me {%s: null}: response still has %s = %v", field, field, v)
			}
			if v, ok := me(t, env, a)[field]; ok {
				t.Errorf("GET /api/users/me after {%s: null}: %s = %v; want absent", field, field, v)
			}
			// Removing what is already absent is fine.
			patchMe(t, env, a, map[string]any{field: nil}, http.StatusOK)
		})
	}
}

func TestUpdateMe_RemovedUsernameIsFreeAgain(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	a := env.Register("ada")
	b := env.Register("bob")
	patchMe(t, env, a, map[string]any{"username": "shared"}, http.StatusOK)
	patchMe(t, env, b, map[string]any{"username": "Shared"}, http.StatusConflict)
	patchMe(t, env, a, map[string]any{"username": nil}, http.StatusOK)
	if u := patchMe(t, env, b, map[string]any{"username": "Shared"}, http.StatusOK).Map(t); u["username"] != "Shared" {
		t.Fatalf("PATCH /api/users/me: username = %v; want Shared", u["username"])
	}
	// Login by the old holder's removed username now reaches b, not a.
	r := env.Do("POST", "/api/auth/login", map[string]any{"username": "shared", "password": a.Password})
	expect(t, r, "POST /api/auth/login", http.StatusOK)
	if u, _ := r.Map(t)["user"].(map[string]any); u["id"] != b.ID {
		t.Fatalf("POST /api/auth/login by username: user %v; want %s", u["id"], b.ID)
	}
}

func TestUpdateMe_ReportsEveryInvalidFieldAndChangesNothing(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	a := env.Register("ada")
	patchMe(t, env, a, map[string]any{"first_name": "Ada", "username": "ada"}, http.StatusOK)
	before := me(t, env, a)

	tests := []struct {
		name string
		body map[string]any
		locs []string
	}{
		{"every field", map[string]any{
			"username":   "a",
			"first_name": "",
			"last_name":  strings.Repeat("x", 101),
			"contact":    "12",
			"birthday":   "2001-02-30",
			"email":      "not-an-email",
		}, []string{"body.username", "body.first_name", "body.last_name", "body.contact", "body.birthday", "body.email", "body.current_password"}},
		{"one bad among good", map[string]any{"first_name": "Changed", "last_name": "Changed", "contact": "call me"}, []string{"body.contact"}},
		{"username that is an email", map[string]any{"username": "ada@example.com"}, []string{"body.username"}},
		{"name with control character", map[string]any{"last_name": "Love\x00lace"}, []string{"body.last_name"}},
		{"birthday before 1900", map[string]any{"birthday": "1815-12-10"}, []string{"body.birthday"}},
		{"birthday in the future", map[string]any{"birthday": "2999-01-01"}, []string{"body.birthday"}},
		{"wrong types", map[string]any{"first_name": 7, "contact": true, "birthday": []string{}}, []string{"body.first_name", "body.contact", "body.birthday"}},
		{"operator object", map[string]any{"username": map[string]any{"$ne": nil}}, []string{"body.username"}},
		{"role", map[string]any{"role": "admin"}, []string{"body.role"}},
		{"status", map[string]any{"status": "deleting"}, []string{"body.status"}},
		{"password", map[string]any{"password": "a brand new password"}, []string{"body.password"}},
		{"id", map[string]any{"id": "0123456789abcdef01234567"}, []string{"body.id"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := patchMe(t, env, a, tt.body, http.StatusUnprocessableEntity)
			p := problem(t, r, "PATCH /api/users/me", http.StatusUnprocessableEntity)
			wantLocations(t, p, "PATCH /api/users/me", tt.locs...)
			after := me(t, env, a)
			for _, k := range []string{"username", "first_name", "last_name", "contact", "birthday", "email", "role", "status", "updated_at"} {
				if after[k] != before[k] {
					t.Errorf("after refused PATCH: %s = %v; want unchanged %v", k, after[k], before[k])
				}
			}
		})
	}
	// Still the same password.
	env.Login(&a)
}

func TestUpdateMe_RefusesUsernameOfAnother(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	a := env.Register("ada")
	b := env.Register("bob")
	patchMe(t, env, b, map[string]any{"username": "Bobby"}, http.StatusOK)
	patchMe(t, env, a, map[string]any{"username": "ada_l"}, http.StatusOK)

	for _, name := range []string{"Bobby", "bobby", "BOBBY"} {
		t.Run(name, func(t *testing.T) {
			r := patchMe(t, env, a, map[string]any{"username": name, "first_name": "Ada"}, http.StatusConflict)
			p := problem(t, r, "PATCH /api/users/me", http.StatusConflict)
			wantLocations(t, p, "PATCH /api/users/me", "body.username")
			if u := me(t, env, a); u["username"] != "ada_l" || u["first_name"] != nil {
				t.Errorf("after 409: user %v; want it unchanged", u)
			}
		})
	}
	// Changing the case of one's own username is not a conflict.
	if u := patchMe(t, env, a, map[string]any{"username": "ADA_L"}, http.StatusOK).Map(t); u["username"] != "ADA_L" {
		t.Fatalf("PATCH /api/users/me {username: ADA_L}: username = %v", u["username"])
	}
	// Nor is setting the same one again.
	patchMe(t, env, a, map[string]any{"username": "ADA_L"}, http.StatusOK)
}

func TestUpdateMe_EmailChangeRequiresCurrentPassword(t *testing.T) {
	t.Parallel()
	mb := lanyardtest.NewMailbox(t)
	env := newEnv(t, lanyardtest.WithMailbox(mb))
	a := env.Register("ada")
	other := env.Register("other")
	const newEmail = "ada.new@example.com"

	refused := []struct {
		name   string
		body   map[string]any
		status int
		locs   []string
	}{
		{"no current password", map[string]any{"email": newEmail}, 422, []string{"body.current_password"}},
		{"empty current password", map[string]any{"email": newEmail, "current_password": ""}, 422, []string{"body.current_password"}},
		{"null current password", map[string]any{"email": newEmail, "current_password": nil}, 422, []string{"body.current_password"}},
		{"wrong current password", map[string]any{"email": newEmail, "current_password": "not my password"}, 422, []string{"body.current_password"}},
		{"invalid email, no password", map[string]any{"email": "nope"}, 422, []string{"body.email", "body.current_password"}},
		{"invalid email, right password", map[string]any{"email": "nope", "current_password": a.Password}, 422, []string{"body.email"}},
		{"empty email", map[string]any{"email": "", "current_password": a.Password}, 422, []string{"body.email"}},
		{"null email", map[string]any{"email": nil, "current_password": a.Password}, 422, []string{"body.email"}},
		{"email of another", map[string]any{"email": strings.ToUpper(other.Email), "current_password": a.Password}, 409, []string{"body.email"}},
		{"email as operator", map[string]any{"email": map[string]any{"$ne": nil}, "current_password": a.Password}, 422, []string{"body.email"}},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			r := patchMe(t, env, a, tt.body, tt.status)
			p := problem(t, r, "PATCH /api/users/me", tt.status)
			wantLocations(t, p, "PATCH /api/users/me", tt.locs...)
			if pw, _ := tt.body["current_password"].(string); pw != "" && bytes.Contains(r.Body, []byte(pw)) {
				t.Errorf("PATCH /api/users/me: problem %s echoes the password", r.Body)
			}
			if got := me(t, env, a)["email"]; got != a.Email {
				t.Fatalf("after refused email change: email = %v; want %s", got, a.Email)
			}
		})
	}

	t.Run("right current password", func(t *testing.T) {
		r := patchMe(t, env, a, map[string]any{"email": "  Ada.NEW@Example.com ", "current_password": a.Password}, http.StatusOK)
		// The new email waits for the link mailed to it, which applies it.
		if got := r.Map(t); got["email"] != a.Email || got["pending_email"] != newEmail {
			t.Fatalf("PATCH /api/users/me: email = %v, pending_email = %v; want %s, %s", got["email"], got["pending_email"], a.Email, newEmail)
		}
		r = env.Do("POST", "/api/auth/verify-email", map[string]any{"token": mb.WaitFor(t, newEmail).Token(t)})
		if got := r.Must(t, http.StatusOK).Map(t)["email"]; got != newEmail {
			t.Fatalf("POST /api/auth/verify-email: email = %v; want %s", got, newEmail)
		}
		if got := me(t, env, a)["email"]; got != newEmail {
			t.Fatalf("GET /api/users/me: email = %v; want %s", got, newEmail)
		}
		lr := env.Do("POST", "/api/auth/login", map[string]any{"email": newEmail, "password": a.Password})
		expect(t, lr, "POST /api/auth/login with the new email", http.StatusOK)
		if u, _ := lr.Map(t)["user"].(map[string]any); u["id"] != a.ID {
			t.Errorf("POST /api/auth/login with the new email: user %v; want %s", u["id"], a.ID)
		}
		lr = env.Do("POST", "/api/auth/login", map[string]any{"email": a.Email, "password": a.Password})
		problem(t, lr, "POST /api/auth/login with the old email", http.StatusUnauthorized)

		// The old email is free for someone else now.
		expect(t, env.Do("POST", "/api/auth/register", map[string]any{"email": a.Email, "password": goodPassword}),
			"POST /api/auth/register with the old email", http.StatusCreated)
		// And the new one is taken.
		problem(t, env.Do("POST", "/api/auth/register", map[string]any{"email": newEmail, "password": goodPassword}),
			"POST /api/auth/register with the new email", http.StatusConflict)
	})
}

func TestGetUser_SelfOrAdminOnly(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	a := env.Register("ada")
	b := env.Register("bob")
	admin := env.Register("admin")
	env.Promote(admin)
	env.Login(&admin) // a token carrying the new role
	const absent = "0123456789abcdef01234567"

	tests := []struct {
		name   string
		caller lanyardtest.Account
		id     string
		want   int
		wantID string // for 200
	}{
		{"self", a, a.ID, 200, a.ID},
		{"another as user", a, b.ID, 403, ""},
		{"nonexistent as user", a, absent, 403, ""},
		{"malformed as user", a, "nothex", 403, ""},
		{"admin as user", a, admin.ID, 403, ""},
		{"admin self", admin, admin.ID, 200, admin.ID},
		{"another as admin", admin, a.ID, 200, a.ID},
		{"nonexistent as admin", admin, absent, 404, ""},
		{"not hex as admin", admin, "nothex", 404, ""},
		{"24 non-hex characters as admin", admin, "ZZZZZZZZZZZZZZZZZZZZZZZZ", 404, ""},
		{"upper-case hex as admin", admin, strings.ToUpper(a.ID), 404, ""},
		{"23 characters as admin", admin, a.ID[:23], 404, ""},
		{"25 characters as admin", admin, a.ID + "0", 404, ""},
		{"64 characters as admin", admin, strings.Repeat("a", 64), 404, ""},
		{"65 characters as admin", admin, strings.Repeat("a", 65), 404, ""},
		{"65 characters as user", a, strings.Repeat("a", 65), 403, ""},
		{"percent-encoded as admin", admin, "%24ne", 404, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := "/api/users/" + tt.id
			r := env.Do("GET", path, nil, "Bearer", tt.caller.Access)
			if tt.want != http.StatusOK {
				problem(t, r, "GET "+path, tt.want)
				return
			}
			expect(t, r, "GET "+path, http.StatusOK)
			if u := r.Map(t); u["id"] != tt.wantID {
				t.Fatalf("GET %s = %s; want user %s", path, r.Body, tt.wantID)
			}
		})
	}

	// A non-admin cannot tell an existing user from an absent one.
	x := env.Do("GET", "/api/users/"+b.ID, nil, "Bearer", a.Access)
	y := env.Do("GET", "/api/users/"+absent, nil, "Bearer", a.Access)
	px, py := problem(t, x, "GET /api/users/{existing}", 403), problem(t, y, "GET /api/users/{absent}", 403)
	if px.Title != py.Title || px.Detail != py.Detail || px.Type != py.Type {
		t.Fatalf("403s differ: %s vs %s", x.Body, y.Body)
	}
}

func TestGetUser_AdminSeesUpdatedProfile(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	a := env.Register("ada")
	admin := env.Register("admin")
	env.Promote(admin)
	env.Login(&admin)
	patchMe(t, env, a, map[string]any{"first_name": "Ada", "contact": "0044 1234 567890"}, http.StatusOK)
	r := env.Do("GET", "/api/users/"+a.ID, nil, "Bearer", admin.Access)
	expect(t, r, "GET /api/users/{id}", http.StatusOK)
	u := r.Map(t)
	if u["first_name"] != "Ada" || u["contact"] != "00441234567890" || u["email"] != a.Email {
		t.Fatalf("GET /api/users/{id} as admin = %s; want ada's current profile", r.Body)
	}
	if bytes.Contains(withoutHasPassword(r.Body), []byte("password")) || bytes.Contains(r.Body, []byte("token_version")) {
		t.Fatalf("GET /api/users/{id} as admin = %s; want no secrets", r.Body)
	}
}
