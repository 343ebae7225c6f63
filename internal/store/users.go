package store

import (
	"context"
	"errors"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// User is an account as stored. Optional profile fields are empty when unset and then
// absent from the document.
type User struct {
	ID           bson.ObjectID `bson:"_id"`
	Email        string        `bson:"email"`
	Username     string        `bson:"username,omitempty"`
	UsernameKey  string        `bson:"username_key,omitempty"` // lower-cased Username: unique case-insensitively
	FirstName    string        `bson:"first_name,omitempty"`
	LastName     string        `bson:"last_name,omitempty"`
	Contact      string        `bson:"contact,omitempty"`
	Birthday     string        `bson:"birthday,omitempty"`
	PasswordHash string        `bson:"password_hash"`
	Role         string        `bson:"role"`
	Status       string        `bson:"status"`
	TokenVersion int64         `bson:"token_version"`
	Linked       []ID          `bson:"linked,omitempty"` // ids of the user's linked IDs (at most a few dozen)
	CreatedAt    time.Time     `bson:"created_at"`
	UpdatedAt    time.Time     `bson:"updated_at"`

	// Session bookkeeping lives here because every authenticated request loads the
	// user anyway (see ChangeUserSessions). Keys are session ids in hex.
	// LiveSessions: the user's sessions, each with its last use as last known here
	// (a session's own last_used_at can only be later); the cap on sessions picks
	// the least recently used one from it. EndedSessions: sessions ended in the last
	// access-token lifetime, with when; their access tokens are refused.
	// AccessNotBefore: access tokens issued before it are refused (set when the list
	// of ended sessions overflowed).
	LiveSessions    map[string]time.Time `bson:"live_sessions,omitempty"`
	EndedSessions   map[string]time.Time `bson:"ended_sessions,omitempty"`
	AccessNotBefore time.Time            `bson:"access_not_before,omitempty"`
	// KnownAddrs are where the user logged in from lately (see KnownAddress).
	KnownAddrs []KnownAddress `bson:"known_addrs,omitempty"`
}

// Roles and statuses.
const (
	RoleUser       = "user"
	RoleAdmin      = "admin"
	StatusActive   = "active"
	StatusDeleting = "deleting"
)

func (s *Store) users() *mongo.Collection { return s.db.Collection(collUsers) }

// InsertUser stores a new user. Its email and username keys are claimed first, so
// the database decides races: a taken email or username is a *DuplicateError naming
// which. A crash part-way leaves at most keys that name no user, which a later claim
// takes over.
func (s *Store) InsertUser(ctx context.Context, u *User, now time.Time) error {
	if err := s.claimUserKeys(ctx, u.ID, u.Email, u.UsernameKey, now); err != nil {
		return err
	}
	_, err := s.keyed(collUsers).InsertOne(ctx, u)
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
func (s *Store) claimUserKeys(ctx context.Context, id ID, email, usernameKey_ string, now time.Time) error {
	type want struct {
		field, key string
		holds      func(User) bool
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
		err := s.claimKey(ctx, w.key, id, w.holds, now)
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

func (s *Store) releaseUserKeys(ctx context.Context, id ID, email, usernameKey_ string) error {
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
func (s *Store) UserByID(ctx context.Context, id bson.ObjectID) (User, error) {
	var u User
	err := s.users().FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&u)
	return u, s.translate("user by id", err)
}

// UserChange is a partial update of a user. Set holds new field values by bson name,
// Unset the optional fields to remove.
type UserChange struct {
	Set         bson.M
	Unset       []string
	BumpVersion bool // invalidates every outstanding access token and session
}

// UpdateUser applies c to user id and returns the user as it is afterwards. Taking an
// email or username that another user holds is a *DuplicateError.
func (s *Store) UpdateUser(ctx context.Context, id bson.ObjectID, c UserChange, now time.Time) (User, error) {
	newEmail, _ := c.Set["email"].(string)
	newKey, _ := c.Set["username_key"].(string)
	dropsUsername := slices.Contains(c.Unset, "username_key")
	var before User
	if newEmail != "" || newKey != "" || dropsUsername {
		// A change of email or username moves its key: claim the new one first, then
		// change the user, then release the old one. A crash in between leaves a key
		// that names nobody (taken over later), never a user without a key.
		var err error
		if before, err = s.UserByID(ctx, id); err != nil {
			return User{}, err
		}
		if newEmail == before.Email {
			newEmail = ""
		}
		if newKey == before.UsernameKey {
			newKey = ""
		}
		if err := s.claimUserKeys(ctx, id, newEmail, newKey, now); err != nil {
			return User{}, err
		}
	}
	set := bson.M{"updated_at": Millis(now)}
	for k, v := range c.Set {
		set[k] = v
	}
	update := bson.D{{Key: "$set", Value: set}}
	if len(c.Unset) > 0 {
		unset := bson.M{}
		for _, k := range c.Unset {
			unset[k] = ""
		}
		update = append(update, bson.E{Key: "$unset", Value: unset})
	}
	if c.BumpVersion {
		update = append(update, bson.E{Key: "$inc", Value: bson.M{"token_version": 1}})
	}
	unlock := s.lock(collUsers, id)
	var u User
	err := s.keyed(collUsers).FindOneAndUpdate(ctx, bson.D{{Key: "_id", Value: id}}, update,
		options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&u)
	unlock()
	if err = s.translate("update user", err); err != nil {
		_ = s.releaseUserKeys(ctx, id, newEmail, newKey)
		if errors.Is(err, ErrDuplicate) {
			return User{}, &DuplicateError{Keys: []string{"email"}}
		}
		return User{}, err
	}
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
	After ID     // only ids greater than this; NoID for the first page
	Limit int    // at most this many; 0: no limit
	Email string // only the user with this (already lower-cased) email; "" for any
}

// Users lists the users q selects, by id ascending.
func (s *Store) Users(ctx context.Context, q UserQuery) ([]User, error) {
	if s.lite != nil {
		return s.usersFromIndex(ctx, q)
	}
	f := bson.D{}
	if q.Email != "" {
		f = append(f, bson.E{Key: "email", Value: q.Email})
	}
	if !q.After.IsZero() {
		f = append(f, bson.E{Key: "_id", Value: bson.D{{Key: "$gt", Value: q.After}}})
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
func (s *Store) usersFromIndex(ctx context.Context, q UserQuery) ([]User, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = -1 // SQLite: no limit
	}
	field := ""
	if q.Email != "" {
		field = "email"
	}
	rows, err := s.lite.docs(ctx, collUsers, func(table string) (string, []any) {
		return pageStmt(table, q.After, limit, field, q.Email)
	})
	if err != nil {
		return nil, s.translate("list users", err)
	}
	return s.decodeUsers(ctx, rows)
}

// decodeUsers decodes users read from SQLite rows (see decodeRefs).
func (s *Store) decodeUsers(ctx context.Context, rows [][]byte) ([]User, error) {
	out := make([]User, 0, len(rows))
	for _, row := range rows {
		var u User
		raw, err := s.lite.dec.decode(row)
		if err == nil {
			err = bson.Unmarshal(raw, &u)
		}
		if err != nil {
			return nil, s.translate("decode user", err)
		}
		out = append(out, u)
	}
	return out, nil
}

// UsersByIDs loads the users with these ids, by id ascending; ids of users that do
// not exist are left out.
func (s *Store) UsersByIDs(ctx context.Context, ids []ID) ([]User, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	if s.lite != nil {
		rows, err := s.lite.docs(ctx, collUsers, func(table string) (string, []any) { return byIDsStmt(table, ids) })
		if err != nil {
			return nil, s.translate("users by ids", err)
		}
		return s.decodeUsers(ctx, rows)
	}
	f := bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}}
	o := options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}).SetBatchSize(int32(len(ids)))
	return s.findUsers(ctx, "users by ids", f, o)
}

func (s *Store) findUsers(ctx context.Context, what string, f bson.D, o *options.FindOptionsBuilder) ([]User, error) {
	cur, err := s.users().Find(ctx, f, o)
	if err != nil {
		return nil, s.translate(what, err)
	}
	var out []User
	if err := cur.All(ctx, &out); err != nil {
		return nil, s.translate(what, err)
	}
	return out, nil
}
