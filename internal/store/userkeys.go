package store

import (
	"context"
	"errors"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/lanyard/lanyard"
)

// collUserKeys maps each email and username to its user, keyed by _id
// ("email:ada@example.com", "username:ada"). A login then costs two lookups by _id —
// the only lookups the embedded store does not answer by reading the whole collection —
// and the unique _id decides which of two concurrent registrations gets an email. The
// users collection keeps its unique indexes on email and username_key as a second line.
const collUserKeys = "user_keys"

// keyGrace is how old a key must be before it may be taken over from a holder that does
// not hold it (see claimKey): far longer than a registration takes between writing the
// key and writing the user, so a registration in progress is never robbed.
const keyGrace = time.Minute

type userKey struct {
	ID        string        `bson:"_id"`
	UserID    bson.ObjectID `bson:"user_id"`
	CreatedAt time.Time     `bson:"created_at"`
}

func emailKey(email string) string  { return "email:" + email }
func usernameKey(key string) string { return "username:" + key }
func holdsEmail(e string) func(lanyard.User) bool {
	return func(u lanyard.User) bool { return u.Email == e }
}
func holdsUsername(k string) func(lanyard.User) bool {
	return func(u lanyard.User) bool { return u.UsernameKey == k }
}

// keyHolder returns the user a key names, if that user still holds it. A key whose
// user is gone, or has since changed that email or username, names nobody: a crash
// between two steps of a write leaves such keys behind.
func (s *Store) keyHolder(ctx context.Context, key string, holds func(lanyard.User) bool) (lanyard.User, userKey, error) {
	var k userKey
	err := s.db.Collection(collUserKeys).FindOne(ctx, bson.D{{Key: "_id", Value: key}}).Decode(&k)
	if err = s.translate("user key", err); err != nil {
		return lanyard.User{}, k, err
	}
	u, err := s.UserByID(ctx, lanyard.ID(k.UserID))
	if err != nil {
		return lanyard.User{}, k, err
	}
	if !holds(u) {
		return lanyard.User{}, k, notFound("user key")
	}
	return u, k, nil
}

// claimUserKey makes key name user id. A key held by another user is ErrDuplicate; a
// key left behind by an interrupted write (its user does not hold it) is taken over
// once it is older than keyGrace.
func (s *Store) claimUserKey(ctx context.Context, key string, id lanyard.ID, holds func(lanyard.User) bool, now time.Time) error {
	doc := userKey{ID: key, UserID: bson.ObjectID(id), CreatedAt: Millis(now)}
	return s.claimKey(ctx, "claim user key", collUserKeys, key, doc, func(ctx context.Context) (keyVerdict, error) {
		_, k, err := s.keyHolder(ctx, key, holds)
		switch {
		case err == nil:
			if k.UserID == bson.ObjectID(id) {
				return keyOurs, nil
			}
			return keyHeld, nil
		case !errors.Is(err, errNotFoundKind):
			return 0, err
		case k.UserID == bson.ObjectID(id):
			return keyOurs, nil // ours already, from an earlier step of this very write
		case k.ID != "" && now.Sub(k.CreatedAt) < keyGrace:
			return keyHeld, nil
		}
		return keyStale, nil
	})
}

// releaseKey deletes key if it still names user id.
func (s *Store) releaseKey(ctx context.Context, key string, id lanyard.ID) error {
	keys := s.db.Collection(collUserKeys)
	var k userKey
	err := keys.FindOne(ctx, bson.D{{Key: "_id", Value: key}}).Decode(&k)
	if err = s.translate("release user key", err); err != nil {
		if errors.Is(err, errNotFoundKind) {
			return nil
		}
		return err
	}
	if k.UserID != bson.ObjectID(id) {
		return nil
	}
	return s.translate("release user key", s.dropKey(ctx, collUserKeys, key))
}

// UserByEmail loads the user with this (already lower-cased) email.
func (s *Store) UserByEmail(ctx context.Context, email string) (lanyard.User, error) {
	u, _, err := s.keyHolder(ctx, emailKey(email), holdsEmail(email))
	return u, err
}

// UserByUsernameKey loads the user with this lower-cased username.
func (s *Store) UserByUsernameKey(ctx context.Context, key string) (lanyard.User, error) {
	u, _, err := s.keyHolder(ctx, usernameKey(key), holdsUsername(key))
	return u, err
}
