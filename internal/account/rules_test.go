package account_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lanyard/lanyard"
	"github.com/lanyard/lanyard/internal/account"
	"github.com/lanyard/lanyard/internal/lanyardtest"
	"github.com/lanyard/lanyard/internal/password"
	"github.com/lanyard/lanyard/internal/store"
	"github.com/lanyard/lanyard/internal/throttle"
)

// account.Service's rules against the real store. How a refusal reads over HTTP
// (422 with body.<field>, 409, 429) is httpapi's register_test.go, users_test.go and
// input_test.go.

const goodPassword = lanyardtest.DefaultPassword

// fixture is a Service on a fresh database, with its limiter and clock.
type fixture struct {
	svc     *account.Service
	st      *store.Store
	limiter *throttle.Limiter
	clock   *lanyardtest.Clock
}

// limits are the limiter's; zero: none that a test reaches.
type limits struct{ login, register int }

func newAccounts(t *testing.T, lim limits) fixture {
	t.Helper()
	st, clock := lanyardtest.OpenStore(t), lanyardtest.NewClock()
	l, err := throttle.New(throttle.Options{Store: st, LoginFailureLimit: cmp(lim.login, 100000), RegisterLimit: cmp(lim.register, 100000),
		DataKey: []byte(strings.Repeat("k", 32)), Now: clock.Now})
	if err != nil {
		t.Fatalf("throttle.New: %v", err)
	}
	svc := account.New(st, password.NewHasher(password.Options{Params: password.Cheap, Concurrency: 4}), clock.Now)
	svc.UseLimiter(l)
	return fixture{svc: svc, st: st, limiter: l, clock: clock}
}

func cmp(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

func ptr(s string) *string { return &s }

// register registers email with the good password, failing the test unless it is stored.
func (f fixture) register(t *testing.T, email string, username *string) lanyard.User {
	t.Helper()
	u, err := f.svc.Register(context.Background(), account.Registration{Email: email, Password: goodPassword, Username: username})
	if err != nil {
		t.Fatalf("Register(%q) = %v", email, err)
	}
	return u
}

// locations are the fields an *lanyard.InvalidError names, or nil for another error.
func locations(err error) []string {
	var inv *lanyard.InvalidError
	if !errors.As(err, &inv) {
		return nil
	}
	var locs []string
	for _, f := range inv.Fields {
		locs = append(locs, f.Location)
	}
	return locs
}

// conflictFields are the fields a *lanyard.ConflictError names, or nil for another error.
func conflictFields(err error) []string {
	var c *lanyard.ConflictError
	if !errors.As(err, &c) {
		return nil
	}
	fields := []string{}
	for _, f := range c.Fields {
		fields = append(fields, f.Location)
	}
	return fields
}

// users counts the users stored.
func (f fixture) users(t *testing.T) int64 {
	t.Helper()
	return lanyardtest.RawCount(t, f.st.Raw(), "users", nil)
}

func TestRegister_StoresEveryFieldNormalised(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name                     string
		r                        account.Registration
		email, username, key, ct string
	}{
		{"email trimmed and lower-cased", account.Registration{Email: "  Ada.Lovelace@Example.COM "}, "ada.lovelace@example.com", "", "", ""},
		{"email in fullwidth forms", account.Registration{Email: "ＧＲＡＣＥ＠ＥＸＡＭＰＬＥ．ＣＯＭ"}, "grace@example.com", "", "", ""},
		{"email in NFD", account.Registration{Email: "jose\u0301@example.com"}, "jos\u00e9@example.com", "", "", ""},
		{"username kept in case, keyed lower-cased", account.Registration{Email: "a@example.com", Username: ptr("Ada.L-9")}, "a@example.com", "Ada.L-9", "ada.l-9", ""},
		{"username in fullwidth forms", account.Registration{Email: "a@example.com", Username: ptr("ＧＲＡＣＥ_Ｈ")}, "a@example.com", "GRACE_H", "grace_h", ""},
		{"contact as + and digits", account.Registration{Email: "a@example.com", Contact: ptr(" +44 (20) 7946-0958 ")}, "a@example.com", "", "", "+442079460958"},
		{"contact without +", account.Registration{Email: "a@example.com", Contact: ptr("020 7946 0958")}, "a@example.com", "", "", "02079460958"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := newAccounts(t, limits{})
			c.r.Password = goodPassword
			u, err := f.svc.Register(context.Background(), c.r)
			if err != nil {
				t.Fatalf("Register = %v", err)
			}
			stored, err := f.svc.Get(context.Background(), u.ID.Hex())
			if err != nil {
				t.Fatalf("Get = %v", err)
			}
			for _, got := range []lanyard.User{u, stored} {
				if got.Email != c.email || got.Username != c.username || got.UsernameKey != c.key || got.Contact != c.ct {
					t.Errorf("user = email %q, username %q (key %q), contact %q; want %q, %q (%q), %q",
						got.Email, got.Username, got.UsernameKey, got.Contact, c.email, c.username, c.key, c.ct)
				}
			}
			if stored.Role != lanyard.RoleUser || stored.Status != lanyard.StatusActive || !stored.CreatedAt.Equal(f.clock.Now()) || stored.PasswordHash == "" || stored.PasswordHash == goodPassword {
				t.Errorf("stored role %q, status %q, created %v, hash %q; want user, active, %v, a hash", stored.Role, stored.Status, stored.CreatedAt, stored.PasswordHash, f.clock.Now())
			}
		})
	}
}

func TestRegister_EnforcesEachFieldRuleAndStoresNothingRefused(t *testing.T) {
	t.Parallel()
	f := newAccounts(t, limits{})
	today := f.clock.Now().Format(time.DateOnly)
	tomorrow := f.clock.Now().AddDate(0, 0, 1).Format(time.DateOnly)
	for i, c := range []struct {
		name string
		set  func(r *account.Registration)
		loc  string // "": accepted
	}{
		{"email empty", func(r *account.Registration) { r.Email = " " }, "email"},
		{"email without a TLD", func(r *account.Registration) { r.Email = "ada@localhost" }, "email"},
		{"email with a display name", func(r *account.Registration) { r.Email = "Ada <ada@example.com>" }, "email"},
		{"email local part of 65", func(r *account.Registration) { r.Email = strings.Repeat("a", 65) + "@example.com" }, "email"},
		{"email of 255", func(r *account.Registration) {
			r.Email = strings.Repeat("a", 64) + "@" + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 58) + ".com"
		}, "email"},
		{"email with a zero-width space", func(r *account.Registration) { r.Email = "ada\u200b@example.com" }, "email"},
		{"email mixing Latin and Cyrillic", func(r *account.Registration) { r.Email = "p\u0430ypal@example.com" }, "email"},
		{"email with a mathematical bold letter", func(r *account.Registration) { r.Email = "\U0001D41Ada@example.com" }, "email"},
		{"email with a small capital", func(r *account.Registration) { r.Email = "\u1d00da@example.com" }, "email"},
		{"email in Cyrillic only", func(r *account.Registration) { r.Email = "алиса@example.com" }, ""},
		{"email in Japanese", func(r *account.Registration) { r.Email = "たなか太郎@example.jp" }, ""},
		{"username of 2", func(r *account.Registration) { r.Username = ptr("ab") }, "username"},
		{"username of 33", func(r *account.Registration) { r.Username = ptr("u" + strings.Repeat("x", 32)) }, "username"},
		{"username starting with _", func(r *account.Registration) { r.Username = ptr("_ada") }, "username"},
		{"username with a non-ASCII letter", func(r *account.Registration) { r.Username = ptr("adé") }, "username"},
		{"username that is an email", func(r *account.Registration) { r.Username = ptr("ada@example.com") }, "username"},
		{"username of 32", func(r *account.Registration) { r.Username = ptr("u" + strings.Repeat("x", 31)) }, ""},
		{"first name blank", func(r *account.Registration) { r.FirstName = ptr("  ") }, "first_name"},
		{"first name of 101", func(r *account.Registration) { r.FirstName = ptr(strings.Repeat("a", 101)) }, "first_name"},
		{"first name with a control character", func(r *account.Registration) { r.FirstName = ptr("Ada\x7f") }, "first_name"},
		{"first name with a right-to-left override", func(r *account.Registration) { r.FirstName = ptr("Ada\u202eecalevoL") }, "first_name"},
		{"first name of 100 non-ASCII", func(r *account.Registration) { r.FirstName = ptr(strings.Repeat("é", 100)) }, ""},
		{"first name with a joiner Persian needs", func(r *account.Registration) { r.FirstName = ptr("علی\u200cرضا") }, ""},
		{"last name with a zero-width space", func(r *account.Registration) { r.LastName = ptr("Love\u200blace") }, "last_name"},
		{"contact of 6 digits", func(r *account.Registration) { r.Contact = ptr("123456") }, "contact"},
		{"contact of 16 digits", func(r *account.Registration) { r.Contact = ptr("+1234567890123456") }, "contact"},
		{"contact with an inner +", func(r *account.Registration) { r.Contact = ptr("44+1234567") }, "contact"},
		{"contact with non-ASCII digits", func(r *account.Registration) { r.Contact = ptr("١٢٣٤٥٦٧٨") }, "contact"},
		{"contact of 7 digits", func(r *account.Registration) { r.Contact = ptr("1234567") }, ""},
		{"birthday 1899-12-31", func(r *account.Registration) { r.Birthday = ptr("1899-12-31") }, "birthday"},
		{"birthday 1900-01-01", func(r *account.Registration) { r.Birthday = ptr("1900-01-01") }, ""},
		{"birthday today", func(r *account.Registration) { r.Birthday = ptr(today) }, ""},
		{"birthday tomorrow", func(r *account.Registration) { r.Birthday = ptr(tomorrow) }, "birthday"},
		{"birthday not a leap day", func(r *account.Registration) { r.Birthday = ptr("2023-02-29") }, "birthday"},
		{"birthday unpadded", func(r *account.Registration) { r.Birthday = ptr("1990-1-5") }, "birthday"},
		{"password of 7", func(r *account.Registration) { r.Password = "Zq8!kP2" }, "password"},
		{"password of 8 multibyte characters", func(r *account.Registration) { r.Password = "éèêëēėęě" }, ""},
		{"password of 129", func(r *account.Registration) { r.Password = strings.Repeat("Zq8!kP2#", 16) + "x" }, "password"},
		{"password too easy", func(r *account.Registration) { r.Password = "Password1" }, "password"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := account.Registration{Email: fmt.Sprintf("rule%d@example.com", i), Password: goodPassword}
			c.set(&r)
			before := f.users(t)
			_, err := f.svc.Register(context.Background(), r)
			if c.loc == "" {
				if err != nil {
					t.Fatalf("Register = %v; want it stored", err)
				}
				return
			}
			if got := locations(err); !slices.Equal(got, []string{c.loc}) {
				t.Fatalf("Register = %v; want invalid %s alone", err, c.loc)
			}
			if n := f.users(t); n != before {
				t.Errorf("users after a refused registration = %d; want %d", n, before)
			}
		})
	}
}

func TestRegister_ReportsEveryProblemAtOnce(t *testing.T) {
	t.Parallel()
	f := newAccounts(t, limits{})
	_, err := f.svc.Register(context.Background(), account.Registration{
		Email: "not an email", Password: "short", Username: ptr("_x"), FirstName: ptr(""), LastName: ptr("\x00"),
		Contact: ptr("12"), Birthday: ptr("1800-01-01"),
	})
	want := []string{"email", "username", "first_name", "last_name", "contact", "birthday", "password"}
	if got := locations(err); !slices.Equal(got, want) {
		t.Fatalf("Register = %v; want invalid %v", err, want)
	}
}

func TestRegister_APasswordMayNotLeanOnTheAccountsOwnData(t *testing.T) {
	t.Parallel()
	f := newAccounts(t, limits{})
	for _, c := range []struct {
		name string
		r    account.Registration
		loc  string
	}{
		{"the email with a mark", account.Registration{Email: "ada.lovelace@example.com", Password: "ada.lovelace@example.com!"}, "password"},
		{"another's email with a mark", account.Registration{Email: "grace@example.com", Password: "ada.lovelace@example.com!"}, ""},
		{"the username with a year", account.Registration{Email: "b1@example.com", Username: ptr("byronsdaughter"), Password: "Byronsdaughter1815"}, "password"},
		{"the last name with a year", account.Registration{Email: "b2@example.com", LastName: ptr("Byronsdaughter"), Password: "Byronsdaughter1815"}, "password"},
		{"the same without that username", account.Registration{Email: "b3@example.com", Password: "Byronsdaughter1815"}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := f.svc.Register(context.Background(), c.r)
			if got := locations(err); (c.loc == "" && err != nil) || (c.loc != "" && !slices.Equal(got, []string{c.loc})) {
				t.Fatalf("Register = %v; want invalid %q (\"\": stored)", err, c.loc)
			}
		})
	}
}

func TestRequirePasswordScore_SetsTheStrengthNewPasswordsNeed(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		score int
		pw    string
		ok    bool
	}{
		{0, "password123", true},
		{password.DefaultMinScore, "password123", false},
		{password.DefaultMinScore, "Byronsdaughter1815", true},
		{password.MaxScore, "Byronsdaughter1815", false},
		{password.MaxScore, goodPassword, true},
	} {
		t.Run(fmt.Sprintf("score %d, %s", c.score, c.pw), func(t *testing.T) {
			t.Parallel()
			f := newAccounts(t, limits{})
			f.svc.RequirePasswordScore(c.score)
			u := lanyard.User{Email: "someone@example.com"}
			if msg := f.svc.CheckNewPassword(c.pw, u); (msg == "") != c.ok {
				t.Errorf("CheckNewPassword(%q) = %q; want accepted: %v", c.pw, msg, c.ok)
			}
			_, err := f.svc.Register(context.Background(), account.Registration{Email: u.Email, Password: c.pw})
			if (err == nil) != c.ok {
				t.Errorf("Register with %q = %v; want accepted: %v", c.pw, err, c.ok)
			}
		})
	}
}

func TestRegister_ATakenEmailOrUsernameIsAConflictNamingItAndStoresNothing(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name     string
		email    string
		username *string
		fields   []string
	}{
		{"the email in other case", "ADA@Example.com", nil, []string{"email"}},
		{"the email in fullwidth forms", "ａｄａ＠example.com", nil, []string{"email"}},
		{"the username in other case", "other@example.com", ptr("ADA_L"), []string{"username"}},
		{"the username in fullwidth forms", "other@example.com", ptr("ａｄａ_ｌ"), []string{"username"}},
		{"both", "ada@example.com", ptr("Ada_L"), []string{"email", "username"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := newAccounts(t, limits{})
			f.register(t, "ada@example.com", ptr("ada_l"))
			_, err := f.svc.Register(context.Background(), account.Registration{Email: c.email, Username: c.username, Password: goodPassword})
			if got := conflictFields(err); !slices.Equal(got, c.fields) {
				t.Fatalf("Register(%q, %v) = %v; want a conflict on %v", c.email, c.username, err, c.fields)
			}
			if n := f.users(t); n != 1 {
				t.Errorf("users = %d; want 1", n)
			}
			// What was free is still free: the refusal claimed all its keys or none.
			if !slices.Contains(c.fields, "email") {
				f.register(t, c.email, nil)
			}
		})
	}
}

func TestRegister_ConcurrentRegistrationsOfOneEmailStoreOne(t *testing.T) {
	t.Parallel()
	f := newAccounts(t, limits{})
	const n = 10
	errs := make([]error, n)
	lanyardtest.AtOnce(n, func(i int) {
		_, errs[i] = f.svc.Register(context.Background(), account.Registration{Email: fmt.Sprintf("Race@Example.com%s", strings.Repeat(" ", i)), Password: goodPassword})
	})
	stored := 0
	for _, err := range errs {
		switch {
		case err == nil:
			stored++
		case !slices.Equal(conflictFields(err), []string{"email"}):
			t.Errorf("Register = %v; want stored or a conflict on email", err)
		}
	}
	if stored != 1 || f.users(t) != 1 {
		t.Fatalf("%d concurrent registrations of one email: %d stored, %d users; want exactly 1", n, stored, f.users(t))
	}
}

func TestRegister_CountsPerAddressOnlyWhatIsLongEnoughToEstimate(t *testing.T) {
	t.Parallel()
	f := newAccounts(t, limits{register: 2})
	const from = "203.0.113.7"
	reg := func(email, pw string) error {
		_, err := f.svc.Register(context.Background(), account.Registration{Email: email, Password: pw, ClientAddr: from})
		return err
	}
	for i := range 5 { // refused before the estimate: not counted
		if got := locations(reg(fmt.Sprintf("short%d@example.com", i), "short")); !slices.Equal(got, []string{"password"}) {
			t.Fatalf("Register with a short password: %v; want invalid password", got)
		}
	}
	if got := locations(reg("easy@example.com", "Password1")); !slices.Equal(got, []string{"password"}) {
		t.Fatalf("Register with an easy password: %v; want invalid password", got) // counted: the estimate ran
	}
	if err := reg("ada@example.com", goodPassword); err != nil {
		t.Fatalf("the second registration: %v", err)
	}
	var te *lanyard.ThrottledError
	if err := reg("grace@example.com", goodPassword); !errors.As(err, &te) || te.RetryAfter != time.Hour {
		t.Fatalf("the third registration = %v; want throttled for an hour", err)
	}
	if _, err := f.svc.Register(context.Background(), account.Registration{Email: "grace@example.com", Password: goodPassword, ClientAddr: "203.0.113.8"}); err != nil {
		t.Fatalf("a registration from another address = %v", err)
	}
}

func TestGet_AMalformedOrUnknownIDIsNotFound(t *testing.T) {
	t.Parallel()
	f := newAccounts(t, limits{})
	for _, id := range []string{"", "me", "0123456789abcdef0123456", store.NewID().Hex()} {
		if _, err := f.svc.Get(context.Background(), id); !errors.Is(err, lanyard.ErrNotFound) {
			t.Errorf("Get(%q) = %v; want ErrNotFound", id, err)
		}
	}
}

func set(v string) account.Field { return account.Field{Set: true, Value: v} }

var null = account.Field{Null: true}

func TestUpdate_SetsAndRemovesProfileFieldsNormalised(t *testing.T) {
	t.Parallel()
	f := newAccounts(t, limits{})
	u := f.register(t, "ada@example.com", ptr("ada_l"))
	f.clock.Advance(time.Minute)
	got, err := f.svc.Update(context.Background(), u, account.Patch{
		Username: set("ＡＤＡ_Ｌ2"), FirstName: set("Ada"), LastName: set("Lovelace"), Contact: set("+44 20 7946 0958"), Birthday: set("1815-12-10"),
	})
	if got := locations(err); !slices.Equal(got, []string{"birthday"}) {
		t.Fatalf("Update with a birthday before 1900 = %v; want invalid birthday alone", err)
	}
	got, err = f.svc.Update(context.Background(), u, account.Patch{
		Username: set("ＡＤＡ_Ｌ2"), FirstName: set("Ada"), LastName: set("Lovelace"), Contact: set("+44 20 7946 0958"), Birthday: set("1915-12-10"),
	})
	if err != nil {
		t.Fatalf("Update = %v", err)
	}
	if got.Username != "ADA_L2" || got.UsernameKey != "ada_l2" || got.FirstName != "Ada" || got.LastName != "Lovelace" || got.Contact != "+442079460958" || got.Birthday != "1915-12-10" || !got.UpdatedAt.Equal(f.clock.Now()) {
		t.Errorf("after Update: %+v", got)
	}
	f.register(t, "grace@example.com", ptr("ada_l")) // the old username is free
	got, err = f.svc.Update(context.Background(), got, account.Patch{Username: null, FirstName: null, Contact: null, Birthday: null})
	if err != nil {
		t.Fatalf("Update removing fields = %v", err)
	}
	if got.Username != "" || got.UsernameKey != "" || got.FirstName != "" || got.Contact != "" || got.Birthday != "" || got.LastName != "Lovelace" {
		t.Errorf("after removing fields: %+v", got)
	}
	f.register(t, "alan@example.com", ptr("Ada_L2")) // the removed username is free
}

func TestUpdate_ReportsEveryInvalidFieldAndChangesNothing(t *testing.T) {
	t.Parallel()
	f := newAccounts(t, limits{})
	u := f.register(t, "ada@example.com", ptr("ada_l"))
	_, err := f.svc.Update(context.Background(), u, account.Patch{
		Username: set("a"), FirstName: set(""), LastName: set("\x01"), Contact: set("x"), Birthday: set("tomorrow"), Email: null,
	})
	want := []string{"first_name", "last_name", "contact", "birthday", "username", "email"}
	if got := locations(err); !slices.Equal(got, want) {
		t.Fatalf("Update = %v; want invalid %v", err, want)
	}
	after, err := f.svc.Get(context.Background(), u.ID.Hex())
	if err != nil || after.Username != "ada_l" || after.FirstName != "" || after.Email != "ada@example.com" || !after.UpdatedAt.Equal(u.UpdatedAt) {
		t.Errorf("after a refused Update: %+v, %v; want it unchanged", after, err)
	}
}

func TestUpdate_AnEmailChangeNeedsTheCurrentPassword(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name    string
		current *string
		loc     string // "": changed
	}{
		{"without it", nil, "current_password"},
		{"with it empty", ptr(""), "current_password"},
		{"with a wrong one", ptr("not the password"), "current_password"},
		{"with it", ptr(goodPassword), ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := newAccounts(t, limits{})
			u := f.register(t, "ada@example.com", nil)
			got, err := f.svc.Update(context.Background(), u, account.Patch{Email: set(" New@Example.com"), CurrentPassword: c.current})
			if c.loc != "" {
				if locs := locations(err); !slices.Equal(locs, []string{c.loc}) {
					t.Fatalf("Update(email) = %v; want invalid %s", err, c.loc)
				}
				if after, _ := f.svc.Get(context.Background(), u.ID.Hex()); after.Email != "ada@example.com" {
					t.Errorf("email after a refused change = %q", after.Email)
				}
				f.register(t, "new@example.com", nil) // still free
				return
			}
			if err != nil || got.Email != "new@example.com" {
				t.Fatalf("Update(email) = %q, %v; want new@example.com", got.Email, err)
			}
			f.register(t, "ada@example.com", nil) // the old email is free
		})
	}
}

func TestUpdate_AMissingCurrentPasswordIsReportedWithTheOtherProblemsBeforeAnyCheck(t *testing.T) {
	t.Parallel()
	f := newAccounts(t, limits{login: 1})
	u := f.register(t, "ada@example.com", nil)
	for range 3 {
		_, err := f.svc.Update(context.Background(), u, account.Patch{Email: set("new@example.com"), FirstName: set("")})
		if got, want := locations(err), []string{"first_name", "current_password"}; !slices.Equal(got, want) {
			t.Fatalf("Update(email, first_name) = %v; want invalid %v", err, want)
		}
	}
	// No password was checked, so none failed: one failure would block at this limit.
	if err := f.svc.CheckPassword(context.Background(), u, goodPassword, ""); err != nil {
		t.Fatalf("CheckPassword after the refused updates = %v", err)
	}
}

func TestUpdate_TakingAnothersEmailOrUsernameIsAConflictAndChangesNothing(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name  string
		patch account.Patch
		field string
	}{
		{"username", account.Patch{Username: set("GRACE_H"), FirstName: set("Ada")}, "username"},
		{"email", account.Patch{Email: set("GRACE@example.com"), CurrentPassword: ptr(goodPassword), FirstName: set("Ada")}, "email"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := newAccounts(t, limits{})
			u := f.register(t, "ada@example.com", ptr("ada_l"))
			f.register(t, "grace@example.com", ptr("grace_h"))
			_, err := f.svc.Update(context.Background(), u, c.patch)
			if got := conflictFields(err); !slices.Equal(got, []string{c.field}) {
				t.Fatalf("Update = %v; want a conflict on %s", err, c.field)
			}
			after, _ := f.svc.Get(context.Background(), u.ID.Hex())
			if after.FirstName != "" || after.Username != "ada_l" || after.Email != "ada@example.com" {
				t.Errorf("after a conflicting Update: %+v; want it unchanged", after)
			}
		})
	}
}

func TestUpdate_OnlyConflictsCountAgainstTheAccountsConflictLimit(t *testing.T) {
	t.Parallel()
	f := newAccounts(t, limits{})
	u := f.register(t, "ada@example.com", ptr("ada_l"))
	f.register(t, "grace@example.com", ptr("grace_h"))
	for i := range 2 * throttle.ConflictLimit { // changes that did not conflict
		var err error
		if u, err = f.svc.Update(context.Background(), u, account.Patch{Username: set(fmt.Sprintf("ada_%d", i))}); err != nil {
			t.Fatalf("Update %d = %v", i, err)
		}
	}
	for range throttle.ConflictLimit {
		if _, err := f.svc.Update(context.Background(), u, account.Patch{Username: set("grace_h")}); conflictFields(err) == nil {
			t.Fatalf("Update to a taken username = %v; want a conflict", err)
		}
	}
	var te *lanyard.ThrottledError
	if _, err := f.svc.Update(context.Background(), u, account.Patch{Username: set("free_name")}); !errors.As(err, &te) || te.RetryAfter != throttle.ConflictWindow {
		t.Fatalf("Update past the conflict limit = %v; want throttled for %v, whether the name is taken or not", err, throttle.ConflictWindow)
	}
	if _, err := f.svc.Update(context.Background(), u, account.Patch{FirstName: set("Ada")}); err != nil {
		t.Fatalf("Update of a field that cannot conflict = %v", err)
	}
}

func TestCheckPassword_IsALoginAttemptToTheThrottle(t *testing.T) {
	t.Parallel()
	f := newAccounts(t, limits{login: 3})
	u := f.register(t, "ada@example.com", nil)
	const from = "203.0.113.7"
	if err := f.svc.CheckPassword(context.Background(), u, goodPassword, from); err != nil {
		t.Fatalf("CheckPassword(right) = %v", err)
	}
	for range 3 {
		if got := locations(f.svc.CheckPassword(context.Background(), u, "wrong", from)); !slices.Equal(got, []string{"current_password"}) {
			t.Fatalf("CheckPassword(wrong): %v; want invalid current_password", got)
		}
	}
	var te *lanyard.ThrottledError
	if err := f.svc.CheckPassword(context.Background(), u, goodPassword, from); !errors.As(err, &te) || te.RetryAfter != throttle.FirstBlock {
		t.Fatalf("CheckPassword(right) past the limit = %v; want throttled for %v", err, throttle.FirstBlock)
	}
	f.clock.Advance(throttle.FirstBlock)
	if err := f.svc.CheckPassword(context.Background(), u, goodPassword, from); err != nil {
		t.Fatalf("CheckPassword(right) once the block passed = %v", err)
	}
}

// roles returns the roles of the users with these emails, as stored.
func (f fixture) roles(t *testing.T, emails ...string) []string {
	t.Helper()
	var roles []string
	for _, e := range emails {
		u, err := f.st.UserByEmail(context.Background(), e)
		if err != nil {
			t.Fatalf("UserByEmail(%s): %v", e, err)
		}
		roles = append(roles, string(u.Role))
	}
	return roles
}

func TestDemote_TheLastAdminStaysAnAdmin(t *testing.T) {
	t.Parallel()
	f := newAccounts(t, limits{})
	for _, e := range []string{"ada@example.com", "grace@example.com", "alan@example.com"} {
		f.register(t, e, nil)
	}
	for _, e := range []string{"Ada@Example.com", "grace@example.com"} {
		if u, err := f.svc.Promote(context.Background(), e); err != nil || u.Role != lanyard.RoleAdmin {
			t.Fatalf("Promote(%s) = %q, %v", e, u.Role, err)
		}
	}
	steps := []struct {
		email string
		err   error
		roles []string // ada, grace, alan afterwards
	}{
		{"alan@example.com", nil, []string{"admin", "admin", "user"}}, // a plain user stays one
		{"ADA@example.com", nil, []string{"user", "admin", "user"}},
		{"grace@example.com", lanyard.ErrLastAdmin, []string{"user", "admin", "user"}},
		{"ada@example.com", nil, []string{"user", "admin", "user"}},
	}
	for _, s := range steps {
		u, err := f.svc.Demote(context.Background(), s.email)
		if !errors.Is(err, s.err) || (s.err == nil && u.Role != lanyard.RoleUser) {
			t.Fatalf("Demote(%s) = %q, %v; want user, %v", s.email, u.Role, err, s.err)
		}
		if got := f.roles(t, "ada@example.com", "grace@example.com", "alan@example.com"); !slices.Equal(got, s.roles) {
			t.Fatalf("after Demote(%s): roles %v; want %v", s.email, got, s.roles)
		}
	}
	if _, err := f.svc.Demote(context.Background(), "nobody@example.com"); !errors.Is(err, lanyard.ErrNotFound) {
		t.Errorf("Demote(unknown) = %v; want ErrNotFound", err)
	}
}

func TestStepDown_RestoresTheRoleOnRequestAndLeavesAPlainUserAlone(t *testing.T) {
	t.Parallel()
	f := newAccounts(t, limits{})
	f.register(t, "ada@example.com", nil)
	f.register(t, "grace@example.com", nil)
	ada, _ := f.svc.Promote(context.Background(), "ada@example.com")
	f.svc.Promote(context.Background(), "grace@example.com")
	restore, err := f.svc.StepDown(context.Background(), ada)
	if err != nil {
		t.Fatalf("StepDown(ada) = %v", err)
	}
	if got := f.roles(t, "ada@example.com"); got[0] != string(lanyard.RoleUser) {
		t.Fatalf("ada after StepDown: %s; want user", got[0])
	}
	if err := restore(); err != nil {
		t.Fatalf("restore = %v", err)
	}
	if got := f.roles(t, "ada@example.com"); got[0] != string(lanyard.RoleAdmin) {
		t.Fatalf("ada after restore: %s; want admin", got[0])
	}
	alan := f.register(t, "alan@example.com", nil)
	restore, err = f.svc.StepDown(context.Background(), alan)
	if err != nil || restore() != nil {
		t.Fatalf("StepDown(plain user) = %v", err)
	}
	if got := f.roles(t, "alan@example.com"); got[0] != string(lanyard.RoleUser) {
		t.Fatalf("alan after StepDown and restore: %s; want user", got[0])
	}
}

func TestStepDown_TwoAdminsAtOnceNeverLeaveNone(t *testing.T) {
	t.Parallel()
	for round := range 5 {
		t.Run(fmt.Sprint(round), func(t *testing.T) {
			t.Parallel()
			f := newAccounts(t, limits{})
			var admins [2]lanyard.User
			for i, e := range []string{"ada@example.com", "grace@example.com"} {
				f.register(t, e, nil)
				admins[i], _ = f.svc.Promote(context.Background(), e)
			}
			errs := make([]error, 2)
			lanyardtest.AtOnce(2, func(i int) { _, errs[i] = f.svc.StepDown(context.Background(), admins[i]) })
			left := 0
			for i, role := range f.roles(t, "ada@example.com", "grace@example.com") {
				if role == string(lanyard.RoleAdmin) {
					left++
				}
				if (role == string(lanyard.RoleAdmin)) != errors.Is(errs[i], lanyard.ErrLastAdmin) {
					t.Errorf("admin %d: StepDown = %v, role %s; want ErrLastAdmin exactly when it is still an admin", i, errs[i], role)
				}
			}
			if left == 0 {
				t.Fatalf("two admins stepped down at once: none left (%v)", errs)
			}
		})
	}
}

func TestList_PagesByIDWithACursorAndFindsAnEmailInAnyCase(t *testing.T) {
	t.Parallel()
	f := newAccounts(t, limits{})
	var ids []lanyard.ID
	for i := range 5 {
		ids = append(ids, f.register(t, fmt.Sprintf("user%d@example.com", i), nil).ID)
	}
	slices.SortFunc(ids, func(a, b lanyard.ID) int { return strings.Compare(a.Hex(), b.Hex()) })
	var got []lanyard.ID
	var after lanyard.ID
	for page := 0; ; page++ {
		users, next, err := f.svc.List(context.Background(), account.ListQuery{Limit: 2, After: after})
		if err != nil {
			t.Fatalf("List page %d = %v", page, err)
		}
		for _, u := range users {
			got = append(got, u.ID)
		}
		if next.IsZero() {
			break
		}
		if page > 5 {
			t.Fatal("List never ends")
		}
		after = next
	}
	if !slices.Equal(got, ids) {
		t.Fatalf("List pages = %v; want %v", got, ids)
	}
	users, next, err := f.svc.List(context.Background(), account.ListQuery{Limit: 10, Email: " USER3@example.COM"})
	if err != nil || len(users) != 1 || users[0].Email != "user3@example.com" || !next.IsZero() {
		t.Fatalf("List(email) = %v, %v, %v; want user3 alone", users, next, err)
	}
}
