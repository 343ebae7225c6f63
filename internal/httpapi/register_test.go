package httpapi_test

import (
	"bytes"
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lanyard/lanyard/internal/lanyardtest"
)

// goodPassword passes every password rule.
const goodPassword = "correct horse battery staple"

var (
	hexIDRE  = regexp.MustCompile(`^[0-9a-f]{24}$`)
	millisRE = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$`)
)

func TestRegister_CreatesUserWithLocation(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	for _, path := range []string{"/api/auth/register", "/api/auth/signup"} {
		t.Run(path, func(t *testing.T) {
			email := "Ada.Lovelace+" + path[len("/api/auth/"):] + "@Example.COM"
			r := env.Do("POST", path, map[string]any{"email": "  " + email + "\t", "password": goodPassword})
			req := "POST " + path
			expect(t, r, req, http.StatusCreated)
			if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("%s: Content-Type = %q; want application/json", req, ct)
			}
			u := r.Map(t)
			id, _ := u["id"].(string)
			if !hexIDRE.MatchString(id) {
				t.Fatalf("%s: id = %q; want 24 lowercase hex", req, id)
			}
			if got, want := r.Header.Get("Location"), "/api/users/"+id; got != want {
				t.Errorf("%s: Location = %q; want %q", req, got, want)
			}
			wantKeys := []string{"created_at", "email", "email_verified", "has_password", "id", "mfa", "role", "status", "updated_at"}
			if got := slices.Sorted(maps.Keys(u)); !slices.Equal(got, wantKeys) {
				t.Errorf("%s: user has keys %q; want exactly %q", req, got, wantKeys)
			}
			for k, want := range map[string]string{"email": strings.ToLower(email), "role": "user", "status": "active"} {
				if u[k] != want {
					t.Errorf("%s: %s = %v; want %q", req, k, u[k], want)
				}
			}
			if u["email_verified"] != false {
				t.Errorf("%s: email_verified = %v; want false", req, u["email_verified"])
			}
			if u["has_password"] != true {
				t.Errorf("%s: has_password = %v; want true", req, u["has_password"])
			}
			for _, k := range []string{"created_at", "updated_at"} {
				if s, _ := u[k].(string); !millisRE.MatchString(s) {
					t.Errorf("%s: %s = %v; want RFC 3339 UTC with milliseconds", req, k, u[k])
				}
			}
			for _, secret := range []string{"password", "hash", "token_version", goodPassword} {
				if bytes.Contains(withoutHasPassword(r.Body), []byte(secret)) {
					t.Errorf("%s: body %s contains %q", req, r.Body, secret)
				}
			}

			// The new account can log in with the normalised email and read itself
			// at Location.
			a := lanyardtest.Account{Email: strings.ToLower(email), Password: goodPassword}
			env.Login(&a)
			got := env.Do("GET", r.Header.Get("Location"), nil, "Bearer", a.Access)
			expect(t, got, "GET "+r.Header.Get("Location"), http.StatusOK)
			if m := got.Map(t); m["id"] != id || m["email"] != strings.ToLower(email) {
				t.Errorf("GET %s = %s; want the user just created", r.Header.Get("Location"), got.Body)
			}
		})
	}
}

func TestRegister_RendersEveryFieldNormalised(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	r := env.Do("POST", "/api/auth/register", map[string]any{
		"email":      "grace@example.com",
		"password":   goodPassword,
		"username":   "Grace.H-1_",
		"first_name": "Grace",
		"last_name":  "Hopper",
		"contact":    " +1 (202) 555-0147 ",
		"birthday":   "1906-12-09",
	})
	expect(t, r, "POST /api/auth/register", http.StatusCreated)
	u := r.Map(t)
	want := map[string]string{
		"email":      "grace@example.com",
		"username":   "Grace.H-1_",
		"first_name": "Grace",
		"last_name":  "Hopper",
		"contact":    "+12025550147",
		"birthday":   "1906-12-09",
		"role":       "user",
		"status":     "active",
	}
	for k, v := range want {
		if u[k] != v {
			t.Errorf("POST /api/auth/register: %s = %v; want %q", k, u[k], v)
		}
	}
	if u["email_verified"] != false {
		t.Errorf("POST /api/auth/register: email_verified = %v; want false", u["email_verified"])
	}
	if u["has_password"] != true {
		t.Errorf("POST /api/auth/register: has_password = %v; want true", u["has_password"])
	}
	if len(u) != len(want)+6 { // + id, created_at, updated_at, email_verified, has_password, mfa
		t.Errorf("POST /api/auth/register: user %s has unexpected fields", r.Body)
	}
}

func TestRegister_TimesAreUTCWithMilliseconds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		now  time.Time
		want string
	}{
		{"UTC", time.Date(2026, 11, 22, 10, 4, 5, 123456789, time.UTC), "2026-11-22T10:04:05.123Z"},
		{"other zone", time.Date(2026, 11, 22, 11, 4, 5, 123999999, time.FixedZone("CET", 3600)), "2026-11-22T10:04:05.123Z"},
		{"whole second", time.Date(2026, 11, 22, 10, 4, 5, 0, time.UTC), "2026-11-22T10:04:05.000Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := newEnv(t, lanyardtest.WithClock(func() time.Time { return tt.now }))
			u := env.Do("POST", "/api/auth/register", map[string]any{"email": "t@example.com", "password": goodPassword})
			expect(t, u, "POST /api/auth/register", http.StatusCreated)
			m := u.Map(t)
			if m["created_at"] != tt.want || m["updated_at"] != tt.want {
				t.Fatalf("POST /api/auth/register at %v: created_at %v, updated_at %v; want %s", tt.now, m["created_at"], m["updated_at"], tt.want)
			}
		})
	}
}

func TestRegister_EnforcesEachFieldRule(t *testing.T) {
	t.Parallel()
	// A fixed clock makes "today" and "the future" exact.
	now := time.Date(2026, 11, 22, 10, 4, 5, 0, time.UTC)
	env := newEnv(t, lanyardtest.WithClock(func() time.Time { return now }))

	local64 := strings.Repeat("a", 64)
	domain189 := strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 57) + ".com"
	email254 := local64 + "@" + domain189
	email255 := local64 + "@" + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 58) + ".com"
	if len(email254) != 254 || len(email255) != 255 {
		t.Fatalf("email254 has %d characters, email255 %d", len(email254), len(email255))
	}
	strong := "Zq8!kP2#" // 8 characters, not common

	tests := []struct {
		name   string
		fields map[string]any // merged over a valid body with a unique email
		want   int
		loc    string // the one location named when want is 422
	}{
		// email
		{"email missing", map[string]any{"email": nil}, 422, "body.email"},
		{"email empty", map[string]any{"email": ""}, 422, "body.email"},
		{"email blank", map[string]any{"email": "   "}, 422, "body.email"},
		{"email without at", map[string]any{"email": "ada.example.com"}, 422, "body.email"},
		{"email without domain", map[string]any{"email": "ada@"}, 422, "body.email"},
		{"email without local part", map[string]any{"email": "@example.com"}, 422, "body.email"},
		{"email without TLD", map[string]any{"email": "ada@localhost"}, 422, "body.email"},
		{"email with display name", map[string]any{"email": "Ada <ada@example.com>"}, 422, "body.email"},
		{"email with space", map[string]any{"email": "ada lovelace@example.com"}, 422, "body.email"},
		{"email with two ats", map[string]any{"email": "ada@lovelace@example.com"}, 422, "body.email"},
		{"email local part of 65", map[string]any{"email": strings.Repeat("a", 65) + "@example.com"}, 422, "body.email"},
		{"email of 255", map[string]any{"email": email255}, 422, "body.email"},
		{"email of 254", map[string]any{"email": email254}, 201, ""},
		{"email with plus and subdomain", map[string]any{"email": "ada+tag@mail.example.co.uk"}, 201, ""},
		{"email as number", map[string]any{"email": 42}, 422, "body.email"},
		{"email as array", map[string]any{"email": []string{"ada@example.com"}}, 422, "body.email"},
		{"email as operator", map[string]any{"email": map[string]any{"$ne": nil}}, 422, "body.email"},
		{"email as regex operator", map[string]any{"email": map[string]any{"$regex": ".*"}}, 422, "body.email"},

		// password
		{"password missing", map[string]any{"password": nil}, 422, "body.password"},
		{"password empty", map[string]any{"password": ""}, 422, "body.password"},
		{"password of 7", map[string]any{"password": strong[:7]}, 422, "body.password"},
		{"password of 7 multibyte characters", map[string]any{"password": "ééééééé"}, 422, "body.password"},
		{"password of 8", map[string]any{"password": strong}, 201, ""},
		{"password of 8 multibyte characters", map[string]any{"password": "éèêëēėęě"}, 201, ""},
		{"password of 128", map[string]any{"password": strings.Repeat(strong, 16)}, 201, ""},
		{"password of 128 multibyte characters", map[string]any{"password": strings.Repeat("éèêëēėęě", 16)}, 201, ""},
		{"password of 129", map[string]any{"password": strings.Repeat(strong, 16) + "x"}, 422, "body.password"},
		{"password of 2000", map[string]any{"password": strings.Repeat(strong, 250)}, 422, "body.password"},
		{"common password", map[string]any{"password": "qwerty123"}, 422, "body.password"},
		{"common password with digit", map[string]any{"password": "Password1"}, 422, "body.password"},
		{"common password capitalised", map[string]any{"password": "Qwerty123"}, 422, "body.password"},
		{"common password upper case", map[string]any{"password": "ILOVEYOU"}, 422, "body.password"},
		{"password equal to email", map[string]any{"email": "same@example.com", "password": "same@example.com"}, 422, "body.password"},
		{"password equal to email in other case", map[string]any{"email": "same2@example.com", "password": "SAME2@Example.com"}, 422, "body.password"},
		{"password equal to username", map[string]any{"username": "ada_lovelace", "password": "ada_lovelace"}, 422, "body.password"},
		{"password equal to username in other case", map[string]any{"username": "ada_lovelace", "password": "ADA_Lovelace"}, 422, "body.password"},
		{"password as number", map[string]any{"password": 12345678}, 422, "body.password"},
		{"password as operator", map[string]any{"password": map[string]any{"$gt": ""}}, 422, "body.password"},

		// username
		{"username of 2", map[string]any{"username": "ab"}, 422, "body.username"},
		{"username of 3", map[string]any{"username": "abc"}, 201, ""},
		{"username of 32", map[string]any{"username": "u" + strings.Repeat("x", 31)}, 201, ""},
		{"username of 33", map[string]any{"username": "u" + strings.Repeat("x", 32)}, 422, "body.username"},
		{"username empty", map[string]any{"username": ""}, 422, "body.username"},
		{"username starting with underscore", map[string]any{"username": "_ada"}, 422, "body.username"},
		{"username starting with dot", map[string]any{"username": ".ada"}, 422, "body.username"},
		{"username starting with dash", map[string]any{"username": "-ada"}, 422, "body.username"},
		{"username starting with digit", map[string]any{"username": "1ada"}, 201, ""},
		{"username with every allowed character", map[string]any{"username": "Az09_.-"}, 201, ""},
		{"username with space", map[string]any{"username": "ada love"}, 422, "body.username"},
		{"username with bang", map[string]any{"username": "ada!"}, 422, "body.username"},
		{"username with non-ASCII letter", map[string]any{"username": "adé"}, 422, "body.username"},
		{"username that is an email", map[string]any{"username": "ada@example.com"}, 422, "body.username"},
		{"username as operator", map[string]any{"username": map[string]any{"$ne": nil}}, 422, "body.username"},

		// first and last name
		{"first name empty", map[string]any{"first_name": ""}, 422, "body.first_name"},
		{"first name blank", map[string]any{"first_name": "   "}, 422, "body.first_name"},
		{"first name of 1", map[string]any{"first_name": "A"}, 201, ""},
		{"first name of 100", map[string]any{"first_name": strings.Repeat("é", 100)}, 201, ""},
		{"first name of 101", map[string]any{"first_name": strings.Repeat("a", 101)}, 422, "body.first_name"},
		{"first name with NUL", map[string]any{"first_name": "Ada\x00"}, 422, "body.first_name"},
		{"first name with newline", map[string]any{"first_name": "Ada\nLove"}, 422, "body.first_name"},
		{"first name with tab", map[string]any{"first_name": "Ada\tLove"}, 422, "body.first_name"},
		{"first name with C1 control", map[string]any{"first_name": "Ada\u0085"}, 422, "body.first_name"},
		{"first name with DEL", map[string]any{"first_name": "Ada\x7f"}, 422, "body.first_name"},
		{"first name with unicode", map[string]any{"first_name": "Zoë-Ångström O'Brien"}, 201, ""},
		{"last name empty", map[string]any{"last_name": ""}, 422, "body.last_name"},
		{"last name of 101", map[string]any{"last_name": strings.Repeat("b", 101)}, 422, "body.last_name"},
		{"last name with control", map[string]any{"last_name": "Love\x1blace"}, 422, "body.last_name"},
		{"last name of 100", map[string]any{"last_name": strings.Repeat("b", 100)}, 201, ""},

		// contact
		{"contact of 6 digits", map[string]any{"contact": "123456"}, 422, "body.contact"},
		{"contact of 7 digits", map[string]any{"contact": "1234567"}, 201, ""},
		{"contact of 15 digits", map[string]any{"contact": "+123456789012345"}, 201, ""},
		{"contact of 16 digits", map[string]any{"contact": "+1234567890123456"}, 422, "body.contact"},
		{"contact with separators", map[string]any{"contact": "+44 (20) 7946-0958"}, 201, ""},
		{"contact with letters", map[string]any{"contact": "+44 20 CALL ME"}, 422, "body.contact"},
		{"contact with two pluses", map[string]any{"contact": "++441234567"}, 422, "body.contact"},
		{"contact with inner plus", map[string]any{"contact": "44+1234567"}, 422, "body.contact"},
		{"contact with dots", map[string]any{"contact": "020.7946.0958"}, 422, "body.contact"},
		{"contact empty", map[string]any{"contact": ""}, 422, "body.contact"},
		{"contact of separators only", map[string]any{"contact": "+ () --"}, 422, "body.contact"},
		{"contact with non-ASCII digits", map[string]any{"contact": "١٢٣٤٥٦٧٨"}, 422, "body.contact"},
		{"contact as number", map[string]any{"contact": 4412345678}, 422, "body.contact"},

		// birthday
		{"birthday 1900-01-01", map[string]any{"birthday": "1900-01-01"}, 201, ""},
		{"birthday 1899-12-31", map[string]any{"birthday": "1899-12-31"}, 422, "body.birthday"},
		{"birthday leap day", map[string]any{"birthday": "2024-02-29"}, 201, ""},
		{"birthday not a leap day", map[string]any{"birthday": "2023-02-29"}, 422, "body.birthday"},
		{"birthday 31 April", map[string]any{"birthday": "2001-04-31"}, 422, "body.birthday"},
		{"birthday month 13", map[string]any{"birthday": "2001-13-01"}, 422, "body.birthday"},
		{"birthday today", map[string]any{"birthday": "2026-11-22"}, 201, ""},
		{"birthday tomorrow", map[string]any{"birthday": "2026-11-23"}, 422, "body.birthday"},
		{"birthday far future", map[string]any{"birthday": "2999-01-01"}, 422, "body.birthday"},
		{"birthday unpadded", map[string]any{"birthday": "1990-1-5"}, 422, "body.birthday"},
		{"birthday other format", map[string]any{"birthday": "10/12/1990"}, 422, "body.birthday"},
		{"birthday with time", map[string]any{"birthday": "1990-12-10T00:00:00Z"}, 422, "body.birthday"},
		{"birthday empty", map[string]any{"birthday": ""}, 422, "body.birthday"},

		// not part of a registration
		{"role", map[string]any{"role": "admin"}, 422, "body.role"},
		{"status", map[string]any{"status": "active"}, 422, "body.status"},
		{"id", map[string]any{"id": "0123456789abcdef01234567"}, 422, "body.id"},
		{"password hash", map[string]any{"password_hash": "x"}, 422, "body.password_hash"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := map[string]any{"email": fmt.Sprintf("rule%d@example.com", i), "password": goodPassword}
			for k, v := range tt.fields {
				if v == nil {
					delete(body, k)
				} else {
					body[k] = v
				}
			}
			r := env.Do("POST", "/api/auth/register", body)
			if tt.want == http.StatusCreated {
				expect(t, r, "POST /api/auth/register", http.StatusCreated)
				return
			}
			p := problem(t, r, "POST /api/auth/register", tt.want)
			wantLocations(t, p, "POST /api/auth/register", tt.loc)
			if e, ok := body["email"].(string); ok {
				// Nothing was stored: the same email (when valid) is still free.
				if lr := env.Do("POST", "/api/auth/login", map[string]any{"email": e, "password": body["password"]}); lr.Status != http.StatusUnauthorized && lr.Status != http.StatusUnprocessableEntity {
					t.Errorf("POST /api/auth/login after refused register = %d; want 401", lr.Status)
				}
			}
		})
	}
}

func TestRegister_ReportsEveryInvalidFieldAtOnce(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	const pw = "short"
	r := env.Do("POST", "/api/auth/register", map[string]any{
		"email":      "not-an-email",
		"password":   pw,
		"username":   "_x",
		"first_name": "",
		"last_name":  strings.Repeat("L", 101),
		"contact":    "12",
		"birthday":   "1899-02-30",
	})
	p := problem(t, r, "POST /api/auth/register", http.StatusUnprocessableEntity)
	wantLocations(t, p, "POST /api/auth/register",
		"body.email", "body.password", "body.username", "body.first_name", "body.last_name", "body.contact", "body.birthday")
	for _, e := range p.Errors {
		if e.Message == "" {
			t.Errorf("POST /api/auth/register: error at %s has no message", e.Location)
		}
	}
	if bytes.Contains(r.Body, []byte(pw)) {
		t.Errorf("POST /api/auth/register: problem %s echoes the password", r.Body)
	}
	if n := userCount(t, env); n != 0 {
		t.Fatalf("after an invalid register: %d users; want 0", n)
	}
}

func TestRegister_ReportsSchemaAndRuleProblemsTogether(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	// Type errors (found by the schema) and an unknown field, with a field that only
	// the account rules refuse: all of them come back at once, or at least every
	// schema problem does.
	r := env.Do("POST", "/api/auth/register", map[string]any{
		"email":      map[string]any{"$ne": nil},
		"password":   12345678,
		"first_name": true,
		"role":       "admin",
	})
	p := problem(t, r, "POST /api/auth/register", http.StatusUnprocessableEntity)
	wantLocations(t, p, "POST /api/auth/register", "body.email", "body.password", "body.first_name", "body.role")
}

func TestRegister_RefusesTakenEmailOrUsername(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	expect(t, env.Do("POST", "/api/auth/register", map[string]any{
		"email": "ada@example.com", "password": goodPassword, "username": "Ada_L",
	}), "POST /api/auth/register", http.StatusCreated)

	const pw = "another Secret phrase 9"
	tests := []struct {
		name string
		body map[string]any
		locs []string
	}{
		{"same email", map[string]any{"email": "ada@example.com"}, []string{"body.email"}},
		{"email in other case", map[string]any{"email": "ADA@Example.com"}, []string{"body.email"}},
		{"email with spaces", map[string]any{"email": "  Ada@EXAMPLE.com "}, []string{"body.email"}},
		{"same username", map[string]any{"email": "u1@example.com", "username": "Ada_L"}, []string{"body.username"}},
		{"username in other case", map[string]any{"email": "u2@example.com", "username": "ada_l"}, []string{"body.username"}},
		{"both", map[string]any{"email": "ADA@example.com", "username": "ADA_L"}, []string{"body.email", "body.username"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.body["password"] = pw
			r := env.Do("POST", "/api/auth/register", tt.body)
			p := problem(t, r, "POST /api/auth/register", http.StatusConflict)
			wantLocations(t, p, "POST /api/auth/register", tt.locs...)
			if bytes.Contains(r.Body, []byte(pw)) {
				t.Errorf("POST /api/auth/register: problem %s echoes the password", r.Body)
			}
		})
	}
	if n := userCount(t, env); n != 1 {
		t.Fatalf("after conflicting registers: %d users; want 1", n)
	}
	// The refused attempts did not change the first account.
	a := lanyardtest.Account{Email: "ada@example.com", Password: goodPassword}
	env.Login(&a)
	if r := env.Do("POST", "/api/auth/login", map[string]any{"email": "ada@example.com", "password": pw}); r.Status != http.StatusUnauthorized {
		t.Fatalf("POST /api/auth/login with a refused register's password = %d; want 401", r.Status)
	}
}

func TestRegister_UnknownFieldCreatesNothing(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	r := env.Do("POST", "/api/auth/register", map[string]any{"email": "eve@example.com", "password": goodPassword, "role": "admin"})
	p := problem(t, r, "POST /api/auth/register", http.StatusUnprocessableEntity)
	wantLocations(t, p, "POST /api/auth/register", "body.role")

	if r := env.Do("POST", "/api/auth/login", map[string]any{"email": "eve@example.com", "password": goodPassword}); r.Status != http.StatusUnauthorized {
		t.Fatalf("POST /api/auth/login after refused register = %d; want 401", r.Status)
	}
	r = env.Do("POST", "/api/auth/register", map[string]any{"email": "eve@example.com", "password": goodPassword})
	expect(t, r, "POST /api/auth/register", http.StatusCreated)
	if role := r.Map(t)["role"]; role != "user" {
		t.Fatalf("POST /api/auth/register: role = %v; want user", role)
	}
}

func TestRegister_RefusesBodiesThatAreNotObjects(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	tests := []struct {
		name string
		body string
	}{
		{"string", `"ada@example.com"`},
		{"number", `42`},
		{"array", `[{"email":"ada@example.com","password":"correct horse battery staple"}]`},
		{"true", `true`},
		{"null", `null`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := env.Do("POST", "/api/auth/register", lanyardtest.Raw{ContentType: "application/json", Body: tt.body})
			problem(t, r, "POST /api/auth/register", http.StatusUnprocessableEntity)
		})
	}
	if n := userCount(t, env); n != 0 {
		t.Fatalf("after non-object bodies: %d users; want 0", n)
	}
}

func TestRegister_OperatorObjectsNeverReachTheStore(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	env.Register("victim")
	tests := []struct {
		name string
		body map[string]any
		loc  string
	}{
		{"email $ne", map[string]any{"email": map[string]any{"$ne": nil}, "password": goodPassword}, "body.email"},
		{"email $gt", map[string]any{"email": map[string]any{"$gt": ""}, "password": goodPassword}, "body.email"},
		{"username $regex", map[string]any{"email": "x@example.com", "password": goodPassword, "username": map[string]any{"$regex": "^v"}}, "body.username"},
		{"contact $where", map[string]any{"email": "y@example.com", "password": goodPassword, "contact": map[string]any{"$where": "1"}}, "body.contact"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := env.Do("POST", "/api/auth/register", tt.body)
			p := problem(t, r, "POST /api/auth/register", http.StatusUnprocessableEntity)
			wantLocations(t, p, "POST /api/auth/register", tt.loc)
		})
	}
	if n := userCount(t, env); n != 1 {
		t.Fatalf("after operator bodies: %d users; want 1", n)
	}
}

func TestRegister_ConcurrentSameEmailCreatesOne(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	const n = 20
	type result struct {
		status int
		id     string
		locs   []string
	}
	results := make([]result, n)
	lanyardtest.AtOnce(n, func(i int) {
		// Each attempt spells the email differently and has its own password.
		email := "race@example.com"
		if i%2 == 1 {
			email = "RACE@Example.com"
		}
		r := env.Do("POST", "/api/auth/register", map[string]any{"email": email, "password": fmt.Sprintf("racer %02d of the quiet harbour", i)})
		res := result{status: r.Status}
		switch r.Status {
		case http.StatusCreated:
			res.id, _ = r.Map(t)["id"].(string)
		case http.StatusConflict:
			var p problemDoc
			r.JSON(t, &p)
			res.locs = p.locations()
		}
		results[i] = res
	})

	winner := -1
	for i, r := range results {
		switch r.status {
		case http.StatusCreated:
			if winner >= 0 {
				t.Errorf("POST /api/auth/register: attempts %d and %d both = 201; want exactly one", winner, i)
			}
			winner = i
		case http.StatusConflict:
			if !slices.Equal(r.locs, []string{"body.email"}) {
				t.Errorf("POST /api/auth/register attempt %d: 409 names %q; want [body.email]", i, r.locs)
			}
		default:
			t.Errorf("POST /api/auth/register attempt %d = %d; want 201 or 409", i, r.status)
		}
	}
	if winner < 0 {
		t.Fatalf("POST /api/auth/register: no attempt = 201; want exactly one")
	}
	if c := userCount(t, env); c != 1 {
		t.Fatalf("after %d concurrent registers: %d users; want 1", n, c)
	}
	// The stored account is the winner's: its password logs in, as that user.
	r := env.Do("POST", "/api/auth/login", map[string]any{"email": "race@example.com", "password": fmt.Sprintf("racer %02d of the quiet harbour", winner)})
	expect(t, r, "POST /api/auth/login", http.StatusOK)
	if u, _ := r.Map(t)["user"].(map[string]any); u["id"] != results[winner].id {
		t.Fatalf("POST /api/auth/login: user %v; want the winner %s", u["id"], results[winner].id)
	}
}

func TestRegister_ConcurrentSameUsernameCreatesOne(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	const n = 10
	statuses := make([]int, n)
	lanyardtest.AtOnce(n, func(i int) {
		username := "Racer"
		if i%2 == 1 {
			username = "rACER"
		}
		statuses[i] = env.Do("POST", "/api/auth/register", map[string]any{
			"email": fmt.Sprintf("racer%d@example.com", i), "password": goodPassword, "username": username,
		}).Status
	})
	created := 0
	for i, s := range statuses {
		switch s {
		case http.StatusCreated:
			created++
		case http.StatusConflict:
		default:
			t.Errorf("POST /api/auth/register attempt %d = %d; want 201 or 409", i, s)
		}
	}
	if created != 1 {
		t.Fatalf("POST /api/auth/register: %d attempts = 201; want exactly 1 (statuses %v)", created, statuses)
	}
}

func TestRegister_ProblemNeverEchoesPassword(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	expect(t, env.Do("POST", "/api/auth/register", map[string]any{"email": "taken@example.com", "password": goodPassword, "username": "taken"}),
		"POST /api/auth/register", http.StatusCreated)
	const pw = "S3cret-Pa55phrase-XYZ"
	tests := []struct {
		name string
		body any
		want int
	}{
		{"other field invalid", map[string]any{"email": "nope", "password": pw}, 422},
		{"common password", map[string]any{"email": "c@example.com", "password": "qwerty123"}, 422},
		{"password equal to email", map[string]any{"email": "pw@example.com", "password": "pw@example.com"}, 422},
		{"password too long", map[string]any{"email": "l@example.com", "password": strings.Repeat(pw, 7)}, 422},
		{"password far too long", map[string]any{"email": "l@example.com", "password": strings.Repeat(pw, 60)}, 422},
		{"email taken", map[string]any{"email": "taken@example.com", "password": pw}, 409},
		{"username taken", map[string]any{"email": "fresh@example.com", "username": "TAKEN", "password": pw}, 409},
		{"unknown field", map[string]any{"email": "u@example.com", "password": pw, "is_admin": true}, 422},
		{"unknown field holding the password", map[string]any{"email": "u@example.com", "password": pw, "password_confirm": pw}, 422},
		{"password of wrong type", map[string]any{"email": "w@example.com", "password": []string{pw}}, 422},
		{"trailing data", lanyardtest.Raw{ContentType: "application/json", Body: `{"email":"t@example.com","password":"` + pw + `"} {}`}, 400},
		{"invalid JSON", lanyardtest.Raw{ContentType: "application/json", Body: `{"email":"t@example.com","password":"` + pw + `"`}, 400},
		{"duplicate key", lanyardtest.Raw{ContentType: "application/json", Body: `{"email":"t@example.com","password":"` + pw + `","password":"` + pw + `"}`}, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := env.Do("POST", "/api/auth/register", tt.body)
			problem(t, r, "POST /api/auth/register", tt.want)
			secret := pw
			if m, ok := tt.body.(map[string]any); ok {
				if s, ok := m["password"].(string); ok {
					secret = s
				}
			}
			if bytes.Contains(bytes.ToLower(r.Body), bytes.ToLower([]byte(secret))) {
				t.Errorf("POST /api/auth/register: problem %s echoes the password %q", r.Body, secret)
			}
		})
	}
}
