package store

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/lanyard/lanyard"
)

const collLinkedIDs = "linked_ids"

// linkedIDDoc is a lanyard.LinkedID as stored: the clear value appears nowhere, only
// its keyed hash (Lookup, unique) and its ciphertext.
type linkedIDDoc struct {
	ID            bson.ObjectID `bson:"_id"`
	UserID        bson.ObjectID `bson:"user_id"`
	Provider      string        `bson:"provider"`
	Lookup        string        `bson:"lookup"`
	ExternalIDEnc []byte        `bson:"external_id_enc"`
	Label         string        `bson:"label,omitempty"`
	Verified      bool          `bson:"verified,omitempty"` // absent: typed in, not proven
	CreatedAt     time.Time     `bson:"created_at"`
}

// toLinkedIDDoc is l as stored; its clear ExternalID is left out.
func toLinkedIDDoc(l *lanyard.LinkedID) *linkedIDDoc {
	return &linkedIDDoc{
		ID: bson.ObjectID(l.ID), UserID: bson.ObjectID(l.UserID), Provider: l.Provider, Lookup: l.Lookup,
		ExternalIDEnc: l.ExternalIDEnc, Label: l.Label, Verified: l.Verified, CreatedAt: l.CreatedAt,
	}
}

func (d *linkedIDDoc) linkedID() lanyard.LinkedID {
	return lanyard.LinkedID{
		ID: lanyard.ID(d.ID), UserID: lanyard.ID(d.UserID), Provider: d.Provider, Lookup: d.Lookup,
		ExternalIDEnc: d.ExternalIDEnc, Label: d.Label, Verified: d.Verified, CreatedAt: d.CreatedAt,
	}
}

func (s *Store) linkedIDs() *mongo.Collection { return s.db.Collection(collLinkedIDs) }

// collLinkKeys maps each linked ID's keyed hash to its link, keyed by _id: the unique
// _id decides which account gets an external ID, and resolving one is a lookup by _id.
const collLinkKeys = "linked_id_keys"

type linkKey struct {
	Lookup    string        `bson:"_id"`
	UserID    bson.ObjectID `bson:"user_id"`
	LinkedID  bson.ObjectID `bson:"linked_id"`
	CreatedAt time.Time     `bson:"created_at"`
}

// ErrTooManyLinks means the user already holds the most linked IDs allowed.
var ErrTooManyLinks = errors.New("too many linked ids")

// LinkID attaches l to user u, in three steps ordered so that a crash between any two
// leaves nothing that blocks anyone: the link's id joins the user's list (which holds
// at most max), the key claims the external ID (ErrDuplicate when another link holds
// it), the link is stored. A key whose link never got stored is taken over (see
// staleLinkKey); an id in a user's list without its link is skipped and dropped by
// LinkedIDsOf.
func (s *Store) LinkID(ctx context.Context, l *lanyard.LinkedID, max int, now time.Time) error {
	u, err := s.pushLink(ctx, l.UserID, l.ID)
	if err != nil {
		return err
	}
	if len(u.Linked) > max {
		_ = s.pullLink(ctx, l.UserID, l.ID)
		return &opError{op: "link id", kind: ErrTooManyLinks}
	}
	if err := s.claimLinkKey(ctx, l, now); err != nil {
		_ = s.pullLink(ctx, l.UserID, l.ID)
		return err
	}
	if _, err := s.keyed(collLinkedIDs).InsertOne(ctx, toLinkedIDDoc(l)); err != nil {
		_ = s.dropKey(ctx, collLinkKeys, l.Lookup)
		_ = s.pullLink(ctx, l.UserID, l.ID)
		return s.translate("insert linked id", err)
	}
	return nil
}

// claimLinkKey claims the external ID of l for its link: ErrDuplicate when another
// link holds it; a key whose link never got stored is taken over (see staleLinkKey).
func (s *Store) claimLinkKey(ctx context.Context, l *lanyard.LinkedID, now time.Time) error {
	doc := linkKey{Lookup: l.Lookup, UserID: bson.ObjectID(l.UserID), LinkedID: bson.ObjectID(l.ID), CreatedAt: Millis(now)}
	return s.claimKey(ctx, "claim linked id", collLinkKeys, l.Lookup, doc, func(ctx context.Context) (keyVerdict, error) {
		stale, err := s.staleLinkKey(ctx, l.Lookup, now)
		switch {
		case err != nil:
			return 0, err
		case stale:
			return keyStale, nil
		}
		return keyHeld, nil
	})
}

// staleLinkKey reports whether the key of lookup names no link: its link is not
// stored, and no link in progress can still store it (its user is gone, no longer
// lists it, or the key is older than keyGrace).
func (s *Store) staleLinkKey(ctx context.Context, lookup string, now time.Time) (bool, error) {
	var k linkKey
	err := s.db.Collection(collLinkKeys).FindOne(ctx, bson.D{{Key: "_id", Value: lookup}}).Decode(&k)
	if err = s.translate("linked id key", err); err != nil {
		return isNotFound(err), ignoreNotFound(err)
	}
	if _, err := s.LinkedIDByID(ctx, lanyard.ID(k.LinkedID)); !isNotFound(err) {
		return false, err
	}
	if now.Sub(k.CreatedAt) >= keyGrace {
		return true, nil
	}
	u, err := s.UserByID(ctx, lanyard.ID(k.UserID))
	if isNotFound(err) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	return !slices.Contains(u.Linked, lanyard.ID(k.LinkedID)), nil
}

func ignoreNotFound(err error) error {
	if isNotFound(err) {
		return nil
	}
	return err
}

// pushLink adds id to the user's list of links and returns the user afterwards.
func (s *Store) pushLink(ctx context.Context, userID, id lanyard.ID) (lanyard.User, error) {
	var d userDoc
	if err := s.modifyByID(ctx, "link id: list", collUsers, userID,
		bson.D{{Key: "$push", Value: bson.D{{Key: "linked", Value: bson.ObjectID(id)}}}}, &d); err != nil {
		return lanyard.User{}, err
	}
	return d.user(), nil
}

func (s *Store) pullLink(ctx context.Context, userID, id lanyard.ID) error {
	_, err := s.updateByID(ctx, "unlink id: list", collUsers, userID,
		bson.D{{Key: "$pull", Value: bson.D{{Key: "linked", Value: bson.ObjectID(id)}}}})
	return err
}

// LinkedIDByID loads one link.
func (s *Store) LinkedIDByID(ctx context.Context, id lanyard.ID) (lanyard.LinkedID, error) {
	raw, err := s.linkedIDs().FindOne(ctx, byID(id)).Raw()
	if err != nil {
		return lanyard.LinkedID{}, s.translate("linked id", err)
	}
	var d linkedIDDoc
	if err := decodeOwn(collLinkedIDs, raw, &d); err != nil {
		s.NoteForeign(collLinkedIDs)
		return lanyard.LinkedID{}, notFound("linked id")
	}
	return d.linkedID(), nil
}

// LinkedIDsOf loads the links of user u, newest first (listedOf).
func (s *Store) LinkedIDsOf(ctx context.Context, u lanyard.User, now time.Time) ([]lanyard.LinkedID, error) {
	return listedOf(ctx, u.ID, u.Linked, now,
		func(ctx context.Context, id lanyard.ID) (lanyard.LinkedID, lanyard.ID, error) {
			l, err := s.LinkedIDByID(ctx, id)
			return l, l.UserID, err
		},
		func(ctx context.Context, id lanyard.ID) error { return s.pullLink(ctx, u.ID, id) })
}

// listedOf loads, newest first, the documents a user's list of ids names (linked IDs,
// passkeys): one lookup by _id each, as the embedded store reads a whole collection
// for any other filter. An id whose document is missing or another user's — left by
// an interrupted add or remove — is skipped, and pulled from the list once it is
// older than keyGrace.
func listedOf[T any](ctx context.Context, userID lanyard.ID, listed []lanyard.ID, now time.Time,
	load func(context.Context, lanyard.ID) (T, lanyard.ID, error), pull func(context.Context, lanyard.ID) error) ([]T, error) {
	ids := slices.Clone(listed)
	slices.SortFunc(ids, func(a, b lanyard.ID) int { return -bytes.Compare(a[:], b[:]) })
	out := make([]T, 0, len(ids))
	for _, id := range ids {
		v, owner, err := load(ctx, id)
		if isNotFound(err) || (err == nil && owner != userID) {
			if now.Sub(bson.ObjectID(id).Timestamp()) >= keyGrace {
				_ = pull(ctx, id)
			}
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// UnlinkID removes one link of a user, then its key, then its place in the user's
// list; lanyard.ErrNotFound if the user has no such link.
func (s *Store) UnlinkID(ctx context.Context, userID, id lanyard.ID) (lanyard.LinkedID, error) {
	l, err := s.LinkedIDByID(ctx, id)
	if err != nil {
		return lanyard.LinkedID{}, err
	}
	if l.UserID != userID {
		return lanyard.LinkedID{}, notFound("unlink id")
	}
	if _, err := s.keyed(collLinkedIDs).DeleteOne(ctx, byID(id)); err != nil {
		return lanyard.LinkedID{}, s.translate("unlink id", err)
	}
	if err := s.dropKey(ctx, collLinkKeys, l.Lookup); err != nil {
		return l, s.translate("unlink id: key", err) // the key names no link now: stale
	}
	return l, s.pullLink(ctx, userID, id)
}

// VerifyLinkedID marks one link of a user as proven through its provider's flow;
// lanyard.ErrNotFound if the user has no such link.
func (s *Store) VerifyLinkedID(ctx context.Context, userID, id lanyard.ID) (lanyard.LinkedID, error) {
	l, err := s.LinkedIDByID(ctx, id)
	if err != nil {
		return lanyard.LinkedID{}, err
	}
	if l.UserID != userID {
		return lanyard.LinkedID{}, notFound("verify linked id")
	}
	found, err := s.updateByID(ctx, "verify linked id", collLinkedIDs, id, bson.D{{Key: "$set", Value: bson.D{{Key: "verified", Value: true}}}})
	if err != nil {
		return lanyard.LinkedID{}, err
	}
	if !found {
		return lanyard.LinkedID{}, notFound("verify linked id")
	}
	l.Verified = true
	return l, nil
}

// LinkedIDByLookup finds the link holding this keyed hash.
func (s *Store) LinkedIDByLookup(ctx context.Context, lookup string) (lanyard.LinkedID, error) {
	var k linkKey
	err := s.db.Collection(collLinkKeys).FindOne(ctx, bson.D{{Key: "_id", Value: lookup}}).Decode(&k)
	if err = s.translate("linked id by lookup", err); err != nil {
		return lanyard.LinkedID{}, err
	}
	return s.LinkedIDByID(ctx, lanyard.ID(k.LinkedID))
}

// ForgetLinkKeys deletes the keys of a deleted user's links, so their external IDs are
// free again at once.
func (s *Store) ForgetLinkKeys(ctx context.Context, userID lanyard.ID) error {
	return s.deleteByUser(ctx, collLinkKeys, "forget linked id keys", userID, nil)
}

// InsertLinkedID stores a link document as it is, bypassing the key and the user's
// list. Only seeding tools use it.
func (s *Store) InsertLinkedID(ctx context.Context, l *lanyard.LinkedID) error {
	_, err := s.keyed(collLinkedIDs).InsertOne(ctx, toLinkedIDDoc(l))
	return s.translate("insert linked id", err)
}

// UsersWithProvider returns the ids of users holding a linked ID of provider, in
// ascending order: at most limit distinct ids, each greater than after (NoID: from
// the start). The links are read in user id order and the reading stops once limit
// users are found, so a page costs what it shows, not what the provider holds.
func (s *Store) UsersWithProvider(ctx context.Context, provider string, after lanyard.ID, limit int) ([]lanyard.ID, error) {
	if s.lite != nil {
		ids, err := s.lite.usersWithProvider(ctx, provider, after, limit)
		return ids, s.translate("users with provider", err)
	}
	f := bson.D{{Key: "provider", Value: provider}}
	if !after.IsZero() {
		f = append(f, bson.E{Key: "user_id", Value: bson.D{{Key: "$gt", Value: bson.ObjectID(after)}}})
	}
	o := options.Find().
		SetSort(bson.D{{Key: "user_id", Value: 1}}).
		SetProjection(bson.D{{Key: "_id", Value: 0}, {Key: "user_id", Value: 1}})
	cur, err := s.linkedIDs().Find(ctx, f, o)
	if err != nil {
		return nil, s.translate("users with provider", err)
	}
	defer cur.Close(context.WithoutCancel(ctx))
	var out []lanyard.ID
	for len(out) < limit && cur.Next(ctx) {
		var l struct {
			UserID bson.ObjectID `bson:"user_id"`
		}
		if err := cur.Decode(&l); err != nil {
			return nil, s.translate("users with provider", err)
		}
		// Sorted by user id, so one user's links are adjacent.
		if n := len(out); n == 0 || out[n-1] != lanyard.ID(l.UserID) {
			out = append(out, lanyard.ID(l.UserID))
		}
	}
	if err := cur.Err(); err != nil {
		return nil, s.translate("users with provider", err)
	}
	return out, nil
}

// HoldsProvider reports whether the user holds a linked ID of provider.
func (s *Store) HoldsProvider(ctx context.Context, userID lanyard.ID, provider string) (bool, error) {
	if s.lite != nil {
		ok, err := s.lite.holdsProvider(ctx, userID, provider)
		return ok, s.translate("holds provider", err)
	}
	err := s.linkedIDs().FindOne(ctx, bson.D{{Key: "user_id", Value: bson.ObjectID(userID)}, {Key: "provider", Value: provider}},
		options.FindOne().SetProjection(bson.D{{Key: "_id", Value: 1}})).Err()
	if errors.Is(err, mongo.ErrNoDocuments) {
		return false, nil
	}
	return err == nil, s.translate("holds provider", err)
}
