package store

import (
	"context"
	"errors"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/lanyard/lanyard"
)

// userDoc is a lanyard.User as stored. Optional profile fields are absent from the
// document when empty.
type userDoc struct {
	ID              bson.ObjectID        `bson:"_id"`
	Email           string               `bson:"email"`
	Username        string               `bson:"username,omitempty"`
	UsernameKey     string               `bson:"username_key,omitempty"`
	FirstName       string               `bson:"first_name,omitempty"`
	LastName        string               `bson:"last_name,omitempty"`
	Contact         string               `bson:"contact,omitempty"`
	Birthday        string               `bson:"birthday,omitempty"`
	PasswordHash    string               `bson:"password_hash"`
	Role            string               `bson:"role"`
	Status          string               `bson:"status"`
	TokenVersion    int64                `bson:"token_version"`
	Linked          []bson.ObjectID      `bson:"linked,omitempty"`
	Passkeys        []bson.ObjectID      `bson:"passkeys,omitempty"`
	CreatedAt       time.Time            `bson:"created_at"`
	UpdatedAt       time.Time            `bson:"updated_at"`
	LiveSessions    map[string]time.Time `bson:"live_sessions,omitempty"`
	EndedSessions   map[string]time.Time `bson:"ended_sessions,omitempty"`
	AccessNotBefore time.Time            `bson:"access_not_before,omitempty"`
	KnownAddrs      []knownAddrDoc       `bson:"known_addrs,omitempty"`

	EmailVerified bool     `bson:"email_verified,omitempty"` // absent: not verified
	PendingEmail  string   `bson:"pending_email,omitempty"`
	Profile       object   `bson:"profile,omitempty"`
	AppMetadata   object   `bson:"app_metadata,omitempty"`
	TOTP          *totpDoc `bson:"totp,omitempty"` // mfa.go
}

func toUserDoc(u *lanyard.User) *userDoc {
	return &userDoc{
		ID: bson.ObjectID(u.ID), Email: u.Email, Username: u.Username, UsernameKey: u.UsernameKey,
		FirstName: u.FirstName, LastName: u.LastName, Contact: u.Contact, Birthday: u.Birthday,
		PasswordHash: u.PasswordHash, Role: string(u.Role), Status: string(u.Status), TokenVersion: u.TokenVersion,
		Linked: toObjectIDs(u.Linked), CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt,
		LiveSessions: u.LiveSessions, EndedSessions: u.EndedSessions, AccessNotBefore: u.AccessNotBefore,
		KnownAddrs:    toKnownAddrDocs(u.KnownAddrs),
		EmailVerified: u.EmailVerified, PendingEmail: u.PendingEmail,
		Profile: nonEmpty(u.Profile), AppMetadata: nonEmpty(u.AppMetadata),
		Passkeys: toObjectIDs(u.PasskeyIDs),
	}
}

func (d *userDoc) user() lanyard.User {
	return lanyard.User{
		ID: lanyard.ID(d.ID), Email: d.Email, Username: d.Username, UsernameKey: d.UsernameKey,
		FirstName: d.FirstName, LastName: d.LastName, Contact: d.Contact, Birthday: d.Birthday,
		PasswordHash: d.PasswordHash, Role: lanyard.Role(d.Role), Status: lanyard.Status(d.Status), TokenVersion: d.TokenVersion,
		Linked: fromObjectIDs(d.Linked), CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt,
		LiveSessions: d.LiveSessions, EndedSessions: d.EndedSessions, AccessNotBefore: d.AccessNotBefore,
		KnownAddrs:    fromKnownAddrDocs(d.KnownAddrs),
		EmailVerified: d.EmailVerified, PendingEmail: d.PendingEmail,
		Profile: d.Profile, AppMetadata: d.AppMetadata,
		PasskeyIDs: fromObjectIDs(d.Passkeys),
		MFA:        lanyard.MFA{TOTP: d.TOTP.enabled(), Passkeys: len(d.Passkeys)},
	}
}

// nonEmpty is m, or nil when it holds nothing: an empty object is not stored.
func nonEmpty(m map[string]any) object {
	if len(m) == 0 {
		return nil
	}
	return m
}

func toObjectIDs(ids []lanyard.ID) []bson.ObjectID {
	if ids == nil {
		return nil
	}
	out := make([]bson.ObjectID, len(ids))
	for i, id := range ids {
		out[i] = bson.ObjectID(id)
	}
	return out
}

func fromObjectIDs(ids []bson.ObjectID) []lanyard.ID {
	if ids == nil {
		return nil
	}
	out := make([]lanyard.ID, len(ids))
	for i, id := range ids {
		out[i] = lanyard.ID(id)
	}
	return out
}

func (s *Store) users() *mongo.Collection { return s.db.Collection(collUsers) }

// InsertUser stores a new user. Its email and username keys are claimed first, so
// the database decides races: a taken email or username is a *DuplicateError naming
// which. A crash part-way leaves at most keys that name no user, which a later claim
// takes over.
func (s *Store) InsertUser(ctx context.Context, u *lanyard.User, now time.Time) error {
	if err := s.claimUserKeys(ctx, u.ID, u.Email, u.UsernameKey, now); err != nil {
		return err
	}
	_, err := s.keyed(collUsers).InsertOne(ctx, toUserDoc(u))
	if err = s.translate("insert user", err); err != nil {
		// The unique indexes of users are the second line; give the keys back.
		_ = s.releaseUserKeys(ctx, u.ID, u.Email, u.UsernameKey)
		if errors.Is(err, ErrDuplicate) {
			return &DuplicateError{Keys: []string{"email"}}
		}
		return err
	}
	return nil
}

// claimUserKeys claims the keys of a new email and username (either may be empty) for
// user id, all or none, and names every one that is taken.
func (s *Store) claimUserKeys(ctx context.Context, id lanyard.ID, email, usernameKey_ string, now time.Time) error {
	type want struct {
		field, key string
		holds      func(lanyard.User) bool
	}
	var wants []want
	if email != "" {
		wants = append(wants, want{"email", emailKey(email), holdsEmail(email)})
	}
	if usernameKey_ != "" {
		wants = append(wants, want{"username", usernameKey(usernameKey_), holdsUsername(usernameKey_)})
	}
	var claimed []string
	giveBack := func() {
		for _, k := range claimed {
			_ = s.releaseKey(ctx, k, id)
		}
	}
	d := &DuplicateError{}
	for _, w := range wants {
		err := s.claimUserKey(ctx, w.key, id, w.holds, now)
		switch {
		case errors.Is(err, ErrDuplicate):
			d.Keys = append(d.Keys, w.field)
		case err != nil:
			giveBack()
			return err
		default:
			claimed = append(claimed, w.key)
		}
	}
	if len(d.Keys) > 0 {
		giveBack()
		return d
	}
	return nil
}

func (s *Store) releaseUserKeys(ctx context.Context, id lanyard.ID, email, usernameKey_ string) error {
	var errs []error
	if email != "" {
		errs = append(errs, s.releaseKey(ctx, emailKey(email), id))
	}
	if usernameKey_ != "" {
		errs = append(errs, s.releaseKey(ctx, usernameKey(usernameKey_), id))
	}
	return errors.Join(errs...)
}

// UserByID loads one user; lanyard.ErrNotFound when absent.
func (s *Store) UserByID(ctx context.Context, id lanyard.ID) (lanyard.User, error) {
	var d userDoc
	if err := s.users().FindOne(ctx, byID(id)).Decode(&d); err != nil {
		return lanyard.User{}, s.translate("user by id", err)
	}
	return d.user(), nil
}

// UserChange is a partial update of a user: every field left nil is kept. The
// optional profile fields (Username, FirstName, LastName, Contact, Birthday) are
// removed when set to "". Callers say what changes, never how it is stored.
type UserChange struct {
	Email *string // lower-cased; never removed
	// EmailVerified marks Email verified or not; PendingEmail sets the email change
	// awaiting confirmation ("" removes it). Neither claims the pending address: only
	// Email does, when the change is confirmed.
	EmailVerified *bool
	PendingEmail  *string
	// Username and UsernameKey change together: the name as shown and its
	// lower-cased key, which is unique; both "" removes the username.
	Username, UsernameKey                  *string
	FirstName, LastName, Contact, Birthday *string
	PasswordHash                           *string
	// Profile and AppMetadata replace the whole object; an empty (or nil) map
	// removes it.
	Profile, AppMetadata *map[string]any
	Role                 *lanyard.Role
	Status               *lanyard.Status
	// ForgetSessions drops the user's session bookkeeping (LiveSessions,
	// EndedSessions, AccessNotBefore), which a BumpVersion makes moot: every session
	// and access token from before it is dead anyway.
	ForgetSessions bool
	BumpVersion    bool // invalidates every outstanding access token and session
}

// update is c as the update document of users, at now.
func (c UserChange) update(now time.Time) bson.D {
	set, unset := bson.M{"updated_at": Millis(now)}, bson.M{}
	opt := func(name string, v *string) {
		switch {
		case v == nil:
		case *v == "":
			unset[name] = ""
		default:
			set[name] = *v
		}
	}
	if c.Email != nil {
		set["email"] = *c.Email
	}
	if c.EmailVerified != nil {
		set["email_verified"] = *c.EmailVerified
	}
	opt("pending_email", c.PendingEmail)
	opt("username", c.Username)
	opt("username_key", c.UsernameKey)
	opt("first_name", c.FirstName)
	opt("last_name", c.LastName)
	opt("contact", c.Contact)
	opt("birthday", c.Birthday)
	if c.PasswordHash != nil {
		set["password_hash"] = *c.PasswordHash
	}
	for name, v := range map[string]*map[string]any{"profile": c.Profile, "app_metadata": c.AppMetadata} {
		switch {
		case v == nil:
		case len(*v) == 0:
			unset[name] = ""
		default:
			set[name] = object(*v)
		}
	}
	if c.Role != nil {
		set["role"] = string(*c.Role)
	}
	if c.Status != nil {
		set["status"] = string(*c.Status)
	}
	if c.ForgetSessions {
		for _, f := range []string{"live_sessions", "ended_sessions", "access_not_before"} {
			unset[f] = ""
		}
	}
	update := bson.D{{Key: "$set", Value: set}}
	if len(unset) > 0 {
		update = append(update, bson.E{Key: "$unset", Value: unset})
	}
	if c.BumpVersion {
		update = append(update, bson.E{Key: "$inc", Value: bson.M{"token_version": 1}})
	}
	return update
}

// UpdateUser applies c to user id and returns the user as it is afterwards. Taking an
// email or username that another user holds is a *DuplicateError.
func (s *Store) UpdateUser(ctx context.Context, id lanyard.ID, c UserChange, now time.Time) (lanyard.User, error) {
	newEmail, newKey := "", ""
	if c.Email != nil {
		newEmail = *c.Email
	}
	if c.UsernameKey != nil {
		newKey = *c.UsernameKey
	}
	dropsUsername := c.UsernameKey != nil && *c.UsernameKey == ""
	var before lanyard.User
	if newEmail != "" || newKey != "" || dropsUsername {
		// A change of email or username moves its key: claim the new one first, then
		// change the user, then release the old one. A crash in between leaves a key
		// that names nobody (taken over later), never a user without a key.
		var err error
		if before, err = s.UserByID(ctx, id); err != nil {
			return lanyard.User{}, err
		}
		if newEmail == before.Email {
			newEmail = ""
		}
		if newKey == before.UsernameKey {
			newKey = ""
		}
		if err := s.claimUserKeys(ctx, id, newEmail, newKey, now); err != nil {
			return lanyard.User{}, err
		}
	}
	var d userDoc
	if err := s.modifyByID(ctx, "update user", collUsers, id, c.update(now), &d); err != nil {
		_ = s.releaseUserKeys(ctx, id, newEmail, newKey)
		if errors.Is(err, ErrDuplicate) {
			return lanyard.User{}, &DuplicateError{Keys: []string{"email"}}
		}
		return lanyard.User{}, err
	}
	u := d.user()
	oldEmail, oldKey := "", ""
	if newEmail != "" {
		oldEmail = before.Email
	}
	if newKey != "" || (dropsUsername && u.UsernameKey == "") {
		oldKey = before.UsernameKey
	}
	_ = s.releaseUserKeys(ctx, id, oldEmail, oldKey) // a failure leaves a key that names nobody
	return u, nil
}

// UserQuery selects a page of users, by id ascending.
type UserQuery struct {
	After lanyard.ID // only ids greater than this; the zero ID for the first page
	Limit int        // at most this many; 0: no limit
	Email string     // only the user with this (already lower-cased) email; "" for any
}

// Users lists the users q selects, by id ascending.
func (s *Store) Users(ctx context.Context, q UserQuery) ([]lanyard.User, error) {
	if s.lite != nil {
		return s.usersFromIndex(ctx, q)
	}
	f := bson.D{}
	if q.Email != "" {
		f = append(f, bson.E{Key: "email", Value: q.Email})
	}
	if !q.After.IsZero() {
		f = append(f, bson.E{Key: "_id", Value: bson.D{{Key: "$gt", Value: bson.ObjectID(q.After)}}})
	}
	o := options.Find().SetSort(bson.D{{Key: "_id", Value: 1}})
	if q.Limit > 0 {
		// One batch holds the whole page: no getMore.
		o.SetLimit(int64(q.Limit)).SetBatchSize(int32(q.Limit))
	}
	return s.findUsers(ctx, "list users", f, o)
}

// usersFromIndex is Users on the embedded SQLite store: the page is read through its
// indexes.
func (s *Store) usersFromIndex(ctx context.Context, q UserQuery) ([]lanyard.User, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = -1 // SQLite: no limit
	}
	field := ""
	if q.Email != "" {
		field = "email"
	}
	rows, err := s.lite.page(ctx, collUsers, q.After, limit, field, q.Email)
	if err != nil {
		return nil, s.translate("list users", err)
	}
	return s.decodeUsers(ctx, rows)
}

// decodeUsers decodes users read from SQLite rows (see decodeRefs).
func (s *Store) decodeUsers(ctx context.Context, rows [][]byte) ([]lanyard.User, error) {
	out := make([]lanyard.User, 0, len(rows))
	for _, row := range rows {
		var d userDoc
		raw, err := s.lite.decode(row)
		if err != nil {
			return nil, s.translate("decode user", err)
		}
		if err := decodeOwn(collUsers, raw, &d); err != nil {
			s.NoteForeign(collUsers)
			continue
		}
		out = append(out, d.user())
	}
	return out, nil
}

// UsersByIDs loads the users with these ids, by id ascending; ids of users that do
// not exist are left out.
func (s *Store) UsersByIDs(ctx context.Context, ids []lanyard.ID) ([]lanyard.User, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	if s.lite != nil {
		rows, err := s.lite.byIDs(ctx, collUsers, ids)
		if err != nil {
			return nil, s.translate("users by ids", err)
		}
		return s.decodeUsers(ctx, rows)
	}
	f := bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: toObjectIDs(ids)}}}}
	o := options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}).SetBatchSize(int32(len(ids)))
	return s.findUsers(ctx, "users by ids", f, o)
}

func (s *Store) findUsers(ctx context.Context, what string, f bson.D, o *options.FindOptionsBuilder) ([]lanyard.User, error) {
	cur, err := s.users().Find(ctx, f, o)
	if err != nil {
		return nil, s.translate(what, err)
	}
	defer cur.Close(context.WithoutCancel(ctx))
	var out []lanyard.User
	for cur.Next(ctx) {
		var d userDoc
		if err := decodeOwn(collUsers, cur.Current, &d); err != nil {
			s.NoteForeign(collUsers)
			continue
		}
		out = append(out, d.user())
	}
	if err := cur.Err(); err != nil {
		return nil, s.translate(what, err)
	}
	return out, nil
}
