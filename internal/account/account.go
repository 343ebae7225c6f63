// Package account owns users: registration, profile changes, promotion to admin and
// the rules of an account's deletion (the password that proves it, the last admin).
// It validates every rule of the contract itself, so any caller (HTTP or the command
// line) gets the same checks, all problems at once.
package account

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/lanyard/lanyard"
	"github.com/lanyard/lanyard/internal/password"
	"github.com/lanyard/lanyard/internal/profile"
	"github.com/lanyard/lanyard/internal/relation"
	"github.com/lanyard/lanyard/internal/store"
	"github.com/lanyard/lanyard/internal/throttle"
)

// Service registers and changes accounts.
type Service struct {
	st      *store.Store
	hasher  *password.Hasher
	limiter *throttle.Limiter
	deleter *relation.Deleter
	now     func() time.Time
	// minScore is the zxcvbn score a new password needs (CheckNewPassword).
	minScore int
	// verify mails the links that prove an address (UseVerification); nil: none.
	verify *Verification
	// profile is the schema a user's profile must meet; nil: any object of at most
	// profile.MaxBytes.
	profile *profile.Schema
}

// UseProfileSchema makes every profile change meet sch (LANYARD_PROFILE_SCHEMA).
func (s *Service) UseProfileSchema(sch *profile.Schema) { s.profile = sch }

// New returns a Service. now may be nil (time.Now).
func New(st *store.Store, hasher *password.Hasher, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{st: st, hasher: hasher, now: now, minScore: password.DefaultMinScore}
}

// RequirePasswordScore sets the zxcvbn score, 0 to password.MaxScore, that new
// passwords need (default password.DefaultMinScore).
func (s *Service) RequirePasswordScore(n int) { s.minScore = n }

// UseLimiter makes l count registrations per client address, checks of a current
// password with the failed logins, and answers that a value is taken.
func (s *Service) UseLimiter(l *throttle.Limiter) { s.limiter = l }

// Registration is a sign-up request. Optional fields are nil when not given.
type Registration struct {
	Email, Password                        string
	Username, FirstName, LastName, Contact *string
	Birthday                               *string
	// ClientAddr is where the request came from; registrations are limited per address.
	ClientAddr string
}

// Register validates r, hashes the password and stores the user. A taken email or
// username is a *lanyard.ConflictError naming the field; the unique indexes decide.
// Every registration whose password is long enough to be estimated counts against its
// client address before the estimate, refused or not, taken or not: the estimate
// costs milliseconds of CPU outside the hashing slots, and probing for taken emails
// is limited too. Beyond the limit the answer is a *lanyard.ThrottledError, before
// any estimate or hashing.
func (s *Service) Register(ctx context.Context, r Registration) (lanyard.User, error) {
	now := store.Millis(s.now())
	u := lanyard.User{
		ID:        store.NewID(),
		Email:     NormalizeEmail(r.Email),
		Role:      lanyard.RoleUser,
		Status:    lanyard.StatusActive,
		CreatedAt: now,
		UpdatedAt: now,
	}
	var p problems
	p.add("email", checkEmail(u.Email))
	if r.Username != nil {
		name, msg := prepareUsername(*r.Username)
		u.Username, u.UsernameKey = name, NormalizeUsername(name)
		p.add("username", msg)
	}
	s.applyProfile(&p, &u, r.FirstName, r.LastName, r.Contact, r.Birthday, now)
	msg := checkPasswordLength(r.Password)
	if msg == "" {
		if err := s.limiter.Register(ctx, r.ClientAddr); err != nil {
			return lanyard.User{}, fmt.Errorf("register: %w", err)
		}
		msg = s.checkPasswordScore(r.Password, u)
	}
	p.add("password", msg)
	if err := p.err(); err != nil {
		return lanyard.User{}, err
	}
	hash, err := s.hasher.Hash(ctx, r.Password)
	if err != nil {
		return lanyard.User{}, fmt.Errorf("register: %w", err)
	}
	u.PasswordHash = hash
	if err := s.st.InsertUser(ctx, &u, now); err != nil {
		return lanyard.User{}, fmt.Errorf("register: %w", conflict(err))
	}
	s.mailVerification(ctx, u)
	return u, nil
}

// RegisterProven stores a new account for a person an identity provider proved, with
// the email the provider shared — verified exactly when the provider asserts it is —
// and no password: the account has no password until
// its owner sets one through a password reset, and signs in through the provider
// meanwhile. It counts against the client address as a registration does. A taken
// email is a *lanyard.ConflictError naming it.
func (s *Service) RegisterProven(ctx context.Context, email string, emailVerified bool, clientAddr string) (lanyard.User, error) {
	now := store.Millis(s.now())
	u := lanyard.User{
		ID:            store.NewID(),
		Email:         NormalizeEmail(email),
		EmailVerified: emailVerified,
		Role:          lanyard.RoleUser,
		Status:        lanyard.StatusActive,
		CreatedAt:     now,
		UpdatedAt:     now,
	}
	var p problems
	p.add("email", checkEmail(u.Email))
	if err := p.err(); err != nil {
		return lanyard.User{}, err
	}
	if err := s.limiter.Register(ctx, clientAddr); err != nil {
		return lanyard.User{}, fmt.Errorf("register proven: %w", err)
	}
	if err := s.st.InsertUser(ctx, &u, now); err != nil {
		return lanyard.User{}, fmt.Errorf("register proven: %w", conflict(err))
	}
	return u, nil
}

// applyProfile validates and sets the optional profile fields that are given.
func (s *Service) applyProfile(p *problems, u *lanyard.User, first, last, contact, birthday *string, now time.Time) {
	if first != nil {
		u.FirstName = *first
		p.add("first_name", checkName(*first))
	}
	if last != nil {
		u.LastName = *last
		p.add("last_name", checkName(*last))
	}
	if contact != nil {
		c, msg := normalizeContact(*contact)
		u.Contact = c
		p.add("contact", msg)
	}
	if birthday != nil {
		u.Birthday = *birthday
		p.add("birthday", checkBirthday(*birthday, now))
	}
}

// Get loads a user by id; a malformed or unknown id is lanyard.ErrNotFound.
func (s *Service) Get(ctx context.Context, id string) (lanyard.User, error) {
	uid, err := lanyard.ParseID(id)
	if err != nil {
		return lanyard.User{}, err
	}
	u, err := s.st.UserByID(ctx, uid)
	if err != nil {
		return lanyard.User{}, fmt.Errorf("get user: %w", err)
	}
	return u, nil
}

// Field is one field of a partial update: absent (zero), set to Value, or removed (Null).
type Field struct {
	Set   bool
	Null  bool
	Value string
}

// Object is a free-form object of a partial update (a profile, app metadata):
// absent (zero), replaced by Value as a whole, or removed (Null; an empty Value
// removes it too).
type Object struct {
	Set   bool
	Null  bool
	Value map[string]any
}

// change is o as a store change (nil: kept), checked by check into p.
func (o Object) change(p *problems, check func(map[string]any) []lanyard.FieldError) *map[string]any {
	switch {
	case o.Null:
		return new(map[string]any)
	case o.Set:
		for _, fe := range check(o.Value) {
			p.add(fe.Location, fe.Message)
		}
		return &o.Value
	}
	return nil
}

// Patch is a partial profile update. Changing Email requires CurrentPassword.
type Patch struct {
	Username, FirstName, LastName, Contact, Birthday, Email Field
	// Profile replaces the custom profile as a whole; it must meet the profile schema.
	Profile         Object
	CurrentPassword *string
	// ClientAddr is where the request came from, for the password check's throttle.
	ClientAddr string
}

// Update applies p to user u and returns the user as stored afterwards. A change of
// email or username may answer that the value is taken, so it counts against the
// account's conflict limit; beyond it, such a change is a *lanyard.ThrottledError.
// With UseVerification a new email is not applied but becomes the pending email, and
// a link to confirm it is mailed there (see VerifyEmail) and a notice to the current
// address; the address another account holds is refused now, and one taken by the
// time of the confirmation then. Such mails count against the account's limit
// (throttle.VerifyMailLimit). Asking for the current email drops a pending change.
func (s *Service) Update(ctx context.Context, u lanyard.User, p Patch) (lanyard.User, error) {
	now := s.now()
	var pr problems
	var change store.UserChange
	// opt is one optional field's change: "" removes it (a set value is never empty).
	opt := func(f Field, name string, check func(string) (string, string)) *string {
		switch {
		case f.Null:
			return new(string)
		case f.Set:
			v, msg := check(f.Value)
			pr.add(name, msg)
			return &v
		}
		return nil
	}
	plain := func(check func(string) string) func(string) (string, string) {
		return func(v string) (string, string) { return v, check(v) }
	}
	change.FirstName = opt(p.FirstName, "first_name", plain(checkName))
	change.LastName = opt(p.LastName, "last_name", plain(checkName))
	change.Contact = opt(p.Contact, "contact", normalizeContact)
	change.Birthday = opt(p.Birthday, "birthday", plain(func(v string) string { return checkBirthday(v, now) }))
	if change.Username = opt(p.Username, "username", prepareUsername); change.Username != nil {
		key := ""
		if *change.Username != "" {
			key = NormalizeUsername(*change.Username)
		}
		change.UsernameKey = &key
	}
	change.Profile = p.Profile.change(&pr, func(v map[string]any) []lanyard.FieldError { return s.profile.Check("profile", v) })
	switch {
	case p.Email.Null:
		pr.add("email", "cannot be removed")
	case p.Email.Set:
		email := NormalizeEmail(p.Email.Value)
		pr.add("email", checkEmail(email))
		change.Email = &email
		if p.CurrentPassword == nil || *p.CurrentPassword == "" {
			pr.add("current_password", "is required to change the email")
		}
	}
	if err := pr.err(); err != nil {
		return lanyard.User{}, err
	}
	email := change.Email != nil
	if email {
		if err := s.CheckPassword(ctx, u, *p.CurrentPassword, p.ClientAddr); err != nil {
			return lanyard.User{}, err
		}
	}
	pending := ""
	if email && s.verify != nil {
		pending, change.Email = *change.Email, nil
		if pending == u.Email {
			pending = ""
		}
		change.PendingEmail = &pending
	}
	var claim *throttle.Claim
	if username := change.UsernameKey != nil && *change.UsernameKey != ""; username || email {
		var err error
		if claim, err = s.limiter.BeginClaim(ctx, u.ID.Hex()); err != nil {
			return lanyard.User{}, fmt.Errorf("update user: %w", err)
		}
	}
	if pending != "" {
		if err := s.emailFree(ctx, u.ID, pending); err != nil {
			if !errors.Is(err, store.ErrDuplicate) {
				claim.Release(ctx)
			}
			return lanyard.User{}, fmt.Errorf("update user: %w", conflict(err))
		}
		if err := s.limiter.VerifyMail(ctx, u.ID.Hex()); err != nil {
			claim.Release(ctx)
			return lanyard.User{}, fmt.Errorf("update user: %w", err)
		}
	}
	out, err := s.st.UpdateUser(ctx, u.ID, change, now)
	if !errors.Is(err, store.ErrDuplicate) {
		claim.Release(ctx)
	}
	if err != nil {
		return lanyard.User{}, fmt.Errorf("update user: %w", conflict(err))
	}
	if pending != "" {
		if err := s.mailChange(ctx, out, pending); err != nil {
			return lanyard.User{}, fmt.Errorf("update user: %w", err)
		}
	}
	return out, nil
}

// AdminPatch is what an admin changes of an account through the admin API. Its role
// stays with lanyard admin promote|demote and its status with the chain delete.
type AdminPatch struct {
	// AppMetadata replaces the account's app metadata as a whole.
	AppMetadata Object
}

// AdminUpdate applies an admin's p to user u and returns the user as stored
// afterwards. App metadata has no schema: any object of at most profile.MaxBytes
// whose field names the store can hold.
func (s *Service) AdminUpdate(ctx context.Context, u lanyard.User, p AdminPatch) (lanyard.User, error) {
	var pr problems
	change := store.UserChange{AppMetadata: p.AppMetadata.change(&pr, func(v map[string]any) []lanyard.FieldError { return profile.Check("app_metadata", v) })}
	if err := pr.err(); err != nil {
		return lanyard.User{}, err
	}
	out, err := s.st.UpdateUser(ctx, u.ID, change, s.now())
	if err != nil {
		return lanyard.User{}, fmt.Errorf("update user: %w", err)
	}
	return out, nil
}

// CheckPassword verifies the user's current password, from the client address
// addr; a mismatch is an InvalidError on current_password (the caller is already
// authenticated, so this reveals nothing about which accounts exist). It is a login
// attempt to the throttle: it counts against the same failures, and past the limit
// it is a *lanyard.ThrottledError before any hashing, whatever the password.
func (s *Service) CheckPassword(ctx context.Context, u lanyard.User, pw, addr string) error {
	return s.checkPassword(ctx, u, pw, addr, "current_password")
}

// checkPassword is CheckPassword with a mismatch reported on field, the input that
// carried the password.
func (s *Service) checkPassword(ctx context.Context, u lanyard.User, pw, addr, field string) error {
	attempt, err := s.limiter.BeginLogin(ctx, throttle.KnownAccount(u), addr)
	if err != nil {
		return fmt.Errorf("check password: %w", err)
	}
	ok, _, err := s.hasher.Verify(ctx, pw, u.PasswordHash)
	if err != nil && !errors.Is(err, password.ErrMalformed) {
		attempt.Abandon(ctx)
		return fmt.Errorf("check password: %w", err)
	}
	if !ok {
		if err := attempt.Failed(ctx); err != nil {
			return fmt.Errorf("check password: %w", err)
		}
		e := &lanyard.InvalidError{}
		e.Add(field, "is not correct")
		return e
	}
	if err := attempt.Succeeded(ctx); err != nil {
		return fmt.Errorf("check password: %w", err)
	}
	return nil
}

// Promote makes the user with this email an admin.
func (s *Service) Promote(ctx context.Context, email string) (lanyard.User, error) {
	u, err := s.st.UserByEmail(ctx, NormalizeEmail(email))
	if err != nil {
		return lanyard.User{}, fmt.Errorf("promote: %w", err)
	}
	admin := lanyard.RoleAdmin
	u, err = s.st.UpdateUser(ctx, u.ID, store.UserChange{Role: &admin}, s.now())
	if err != nil {
		return lanyard.User{}, fmt.Errorf("promote: %w", err)
	}
	return u, nil
}

// Demote makes the admin with this email a plain user (a plain user stays one). The
// last admin stays an admin: lanyard.ErrLastAdmin.
func (s *Service) Demote(ctx context.Context, email string) (lanyard.User, error) {
	u, err := s.st.UserByEmail(ctx, NormalizeEmail(email))
	if err != nil {
		return lanyard.User{}, fmt.Errorf("demote: %w", err)
	}
	if !u.IsAdmin() {
		return u, nil
	}
	if _, err := s.StepDown(ctx, u); err != nil {
		return lanyard.User{}, fmt.Errorf("demote: %w", err)
	}
	u.Role = lanyard.RoleUser
	return u, nil
}

// StepDown demotes u if it is an admin, unless no other admin would be left
// (lanyard.ErrLastAdmin), and returns what puts its role back; a chain delete steps
// its user down first, and restores the role if the delete does not go ahead. The
// check for another admin runs after the change, which is undone when none is left:
// of two admins demoted (or deleted) at the same moment, neither is then missed, and
// at worst both are refused. A restore that fails leaves u demoted, perhaps with no
// admin left: its error (from restore, or joined to StepDown's own) says so, for the
// log line of the request.
func (s *Service) StepDown(ctx context.Context, u lanyard.User) (restore func() error, err error) {
	if !u.IsAdmin() {
		return func() error { return nil }, nil
	}
	setRole := func(ctx context.Context, role lanyard.Role) error {
		_, err := s.st.UpdateUser(ctx, u.ID, store.UserChange{Role: &role}, s.now())
		return err
	}
	restore = func() error {
		// Also after the request's deadline or its client's disconnection: an admin
		// must not lose the role to either.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := setRole(ctx, lanyard.RoleAdmin); err != nil {
			return fmt.Errorf("the admin role of the account that stepped down was not restored (it is a plain user now): %w", err)
		}
		return nil
	}
	if exists, err := s.st.OtherAdminExists(ctx, u.ID); err != nil || !exists {
		if err == nil {
			err = lanyard.ErrLastAdmin
		}
		return nil, err
	}
	if err := setRole(ctx, lanyard.RoleUser); err != nil {
		return nil, err
	}
	exists, err := s.st.OtherAdminExists(ctx, u.ID)
	if err != nil || !exists {
		if err == nil {
			err = lanyard.ErrLastAdmin
		}
		return nil, errors.Join(err, restore())
	}
	return restore, nil
}

// conflict turns a store duplicate into the domain conflict naming the fields.
func conflict(err error) error {
	var d *store.DuplicateError
	if !errors.As(err, &d) {
		return err
	}
	c := &lanyard.ConflictError{Message: "already taken"}
	for _, k := range d.Keys {
		c.Fields = append(c.Fields, lanyard.FieldError{Location: k, Message: "is already taken"})
	}
	return c
}

// ListQuery selects a page of the admin list of accounts.
type ListQuery struct {
	Limit    int
	After    lanyard.ID // the last id of the previous page; the zero ID for the first
	Email    string     // only this email (any case)
	Provider string     // only users holding a linked ID of this provider (any case)
}

// List reads one page of accounts by id ascending, and the cursor of the next page
// (the zero ID on the last). The cursor is an id, so pages never skip or repeat a user
// whatever is inserted or deleted in between; one more than the page is read to know
// whether another follows.
func (s *Service) List(ctx context.Context, q ListQuery) ([]lanyard.User, lanyard.ID, error) {
	email := NormalizeEmail(q.Email)
	provider := strings.ToLower(q.Provider)
	if provider != "" && email == "" {
		// The provider's links name the page's users; they are loaded with one query.
		ids, err := s.st.UsersWithProvider(ctx, provider, q.After, q.Limit+1)
		if err != nil {
			return nil, lanyard.ID{}, fmt.Errorf("list users: %w", err)
		}
		var next lanyard.ID
		if len(ids) > q.Limit {
			ids, next = ids[:q.Limit], ids[q.Limit-1]
		}
		users, err := s.st.UsersByIDs(ctx, ids)
		if err != nil {
			return nil, lanyard.ID{}, fmt.Errorf("list users: %w", err)
		}
		return users, next, nil
	}
	users, err := s.st.Users(ctx, store.UserQuery{After: q.After, Limit: q.Limit + 1, Email: email})
	if err != nil {
		return nil, lanyard.ID{}, fmt.Errorf("list users: %w", err)
	}
	var next lanyard.ID
	if len(users) > q.Limit {
		users, next = users[:q.Limit], users[q.Limit-1].ID
	}
	if provider != "" && len(users) > 0 {
		// An email names at most one user: keep it if it holds the provider.
		holds, err := s.st.HoldsProvider(ctx, users[0].ID, provider)
		if err != nil {
			return nil, lanyard.ID{}, fmt.Errorf("list users: %w", err)
		}
		if !holds {
			return nil, lanyard.ID{}, nil
		}
	}
	return users, next, nil
}
