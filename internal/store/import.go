package store

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/lanyard/lanyard"
)

// Account is a user with its linked IDs and sessions, for ImportAccounts.
type Account struct {
	User     lanyard.User
	Links    []lanyard.LinkedID // each with UserID set to User.ID
	Sessions []lanyard.Session
}

// ImportAccounts writes accounts in bulk, in the layout InsertUser, LinkID and
// InsertSession keep, with one insert per collection for the whole batch instead of
// several commands per account. It is for loading a store (the bench seeds 100,000
// users with it), not for registration: a taken email, username or external ID makes
// it fail with ErrDuplicate, with the accounts before it possibly written. The
// order is the one the single writes follow, keys first, so an interrupted import
// leaves at most keys that name nobody, which later claims take over.
func (s *Store) ImportAccounts(ctx context.Context, as []Account, now time.Time) error {
	var userKeys, linkKeys, users, links, sessions []any
	for i := range as {
		a := &as[i]
		u := a.User
		uid := bson.ObjectID(u.ID)
		userKeys = append(userKeys, userKey{ID: emailKey(u.Email), UserID: uid, CreatedAt: Millis(now)})
		if u.UsernameKey != "" {
			userKeys = append(userKeys, userKey{ID: usernameKey(u.UsernameKey), UserID: uid, CreatedAt: Millis(now)})
		}
		u.Linked = nil
		for i := range a.Links {
			l := &a.Links[i]
			linkKeys = append(linkKeys, linkKey{Lookup: l.Lookup, UserID: uid, LinkedID: bson.ObjectID(l.ID), CreatedAt: Millis(now)})
			links = append(links, toLinkedIDDoc(l))
			u.Linked = append(u.Linked, l.ID)
		}
		u.LiveSessions = nil
		for i := range a.Sessions {
			ss := &a.Sessions[i]
			sessions = append(sessions, toSessionDoc(ss))
			if u.LiveSessions == nil {
				u.LiveSessions = map[string]time.Time{}
			}
			u.LiveSessions[ss.ID.Hex()] = Millis(ss.LastUsedAt)
		}
		users = append(users, toUserDoc(&u))
	}
	for _, step := range []struct {
		coll string
		docs []any
	}{
		{collUserKeys, userKeys},
		{collLinkKeys, linkKeys},
		{collUsers, users},
		{collLinkedIDs, links},
		{collSessions, sessions},
	} {
		if len(step.docs) == 0 {
			continue
		}
		_, err := s.keyed(step.coll).InsertMany(ctx, step.docs, options.InsertMany().SetOrdered(true))
		if err = s.translate("import accounts: "+step.coll, err); err != nil {
			return err
		}
	}
	return nil
}
