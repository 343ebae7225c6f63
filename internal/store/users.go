package store

import (
	"context"
	"errors"
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
	CreatedAt    time.Time     `bson:"created_at"`
	UpdatedAt    time.Time     `bson:"updated_at"`
}

// Roles and statuses.
const (
	RoleUser       = "user"
	RoleAdmin      = "admin"
	StatusActive   = "active"
	StatusDeleting = "deleting"
)

func (s *Store) users() *mongo.Collection { return s.db.Collection(collUsers) }

// InsertUser stores a new user. The unique indexes decide races: a taken email or
// username is a *DuplicateError naming which.
func (s *Store) InsertUser(ctx context.Context, u *User) error {
	_, err := s.users().InsertOne(ctx, u)
	if err = s.translate("insert user", err); errors.Is(err, ErrDuplicate) {
		return s.whichTaken(ctx, u.ID, u.Email, u.UsernameKey, err)
	}
	return err
}

// whichTaken finds out which unique key made a write fail. The embedded store's
// duplicate-key error does not name the index, so this asks; the decision itself was
// already made by the index.
func (s *Store) whichTaken(ctx context.Context, self bson.ObjectID, email, usernameKey string, cause error) error {
	d := &DuplicateError{}
	if email != "" {
		if u, err := s.UserByEmail(ctx, email); err == nil && u.ID != self {
			d.Keys = append(d.Keys, "email")
		}
	}
	if usernameKey != "" {
		if u, err := s.UserByUsernameKey(ctx, usernameKey); err == nil && u.ID != self {
			d.Keys = append(d.Keys, "username")
		}
	}
	if len(d.Keys) == 0 {
		// The other holder vanished in between; the write still lost, on the email.
		d.Keys = []string{"email"}
	}
	return d
}

// UserByID loads one user; lanyard.ErrNotFound when absent.
func (s *Store) UserByID(ctx context.Context, id bson.ObjectID) (User, error) {
	var u User
	err := s.users().FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&u)
	return u, s.translate("user by id", err)
}

// UserByEmail loads the user with this (already lower-cased) email.
func (s *Store) UserByEmail(ctx context.Context, email string) (User, error) {
	var u User
	err := s.users().FindOne(ctx, bson.D{{Key: "email", Value: email}}).Decode(&u)
	return u, s.translate("user by email", err)
}

// UserByUsernameKey loads the user with this lower-cased username.
func (s *Store) UserByUsernameKey(ctx context.Context, key string) (User, error) {
	var u User
	err := s.users().FindOne(ctx, bson.D{{Key: "username_key", Value: key}}).Decode(&u)
	return u, s.translate("user by username", err)
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
	defer s.lock(collUsers, id)()
	var u User
	err := s.users().FindOneAndUpdate(ctx, bson.D{{Key: "_id", Value: id}}, update,
		options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&u)
	if err = s.translate("update user", err); errors.Is(err, ErrDuplicate) {
		email, _ := c.Set["email"].(string)
		key, _ := c.Set["username_key"].(string)
		return u, s.whichTaken(ctx, id, email, key, err)
	}
	return u, err
}

// UserQuery selects a page of users, by id ascending.
type UserQuery struct {
	After ID     // only ids greater than this; NoID for the first page
	Limit int    // at most this many; 0: no limit
	Email string // only the user with this (already lower-cased) email; "" for any
}

// Users lists the users q selects, by id ascending.
func (s *Store) Users(ctx context.Context, q UserQuery) ([]User, error) {
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

// UsersByIDs loads the users with these ids, by id ascending; ids of users that do
// not exist are left out.
func (s *Store) UsersByIDs(ctx context.Context, ids []ID) ([]User, error) {
	if len(ids) == 0 {
		return nil, nil
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
