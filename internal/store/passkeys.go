package store

import (
	"context"
	"errors"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/lanyard/lanyard"
)

// collPasskeys holds users' WebAuthn credentials. A user's passkeys are found through
// the ids listed in the user document (one lookup by _id each, as linked IDs are), so
// no request reads this collection by any other field; user_id is indexed for the
// chain delete and the export, which walk it as a built-in relation.
const collPasskeys = "passkeys"

// passkeyDoc is a lanyard.Passkey as stored.
type passkeyDoc struct {
	ID                bson.ObjectID `bson:"_id"`
	UserID            bson.ObjectID `bson:"user_id"`
	Name              string        `bson:"name"`
	CredentialID      []byte        `bson:"credential_id"`
	PublicKey         []byte        `bson:"public_key"`
	SignCount         int64         `bson:"sign_count"`
	AAGUID            []byte        `bson:"aaguid,omitempty"`
	Transports        []string      `bson:"transports,omitempty"`
	AttestationFormat string        `bson:"attestation_format,omitempty"`
	BackupEligible    bool          `bson:"backup_eligible"`
	BackupState       bool          `bson:"backup_state"`
	UserVerified      bool          `bson:"user_verified"`
	CreatedAt         time.Time     `bson:"created_at"`
	LastUsedAt        time.Time     `bson:"last_used_at,omitempty"`
}

// complete reports whether d is one of Lanyard's passkeys (ownDoc).
func (d *passkeyDoc) complete() bool {
	return !d.UserID.IsZero() && len(d.CredentialID) > 0 && len(d.PublicKey) > 0
}

func toPasskeyDoc(p *lanyard.Passkey) *passkeyDoc {
	return &passkeyDoc{
		ID: bson.ObjectID(p.ID), UserID: bson.ObjectID(p.UserID), Name: p.Name, CredentialID: p.CredentialID,
		PublicKey: p.PublicKey, SignCount: int64(p.SignCount), AAGUID: p.AAGUID, Transports: p.Transports,
		AttestationFormat: p.AttestationFormat, BackupEligible: p.BackupEligible, BackupState: p.BackupState,
		UserVerified: p.UserVerified, CreatedAt: p.CreatedAt, LastUsedAt: p.LastUsedAt,
	}
}

func (d *passkeyDoc) passkey() lanyard.Passkey {
	return lanyard.Passkey{
		ID: lanyard.ID(d.ID), UserID: lanyard.ID(d.UserID), Name: d.Name, CredentialID: d.CredentialID,
		PublicKey: d.PublicKey, SignCount: uint32(d.SignCount), AAGUID: d.AAGUID, Transports: d.Transports,
		AttestationFormat: d.AttestationFormat, BackupEligible: d.BackupEligible, BackupState: d.BackupState,
		UserVerified: d.UserVerified, CreatedAt: d.CreatedAt, LastUsedAt: d.LastUsedAt,
	}
}

// ErrTooManyPasskeys means the user already holds the most passkeys allowed.
var ErrTooManyPasskeys = errors.New("too many passkeys")

// AddPasskey stores p for its user, in two steps ordered like LinkID's: the passkey's
// id joins the user's list (which holds at most max, decided by the write itself),
// then the passkey is stored. A crash between the two leaves an id without its
// passkey, which PasskeysOf skips and drops. A credential id already stored (for any
// user) is ErrDuplicate where the server enforces the unique index.
func (s *Store) AddPasskey(ctx context.Context, p *lanyard.Passkey, max int) error {
	var d userDoc
	if err := s.modifyByID(ctx, "add passkey: list", collUsers, p.UserID,
		bson.D{{Key: "$push", Value: bson.D{{Key: "passkeys", Value: bson.ObjectID(p.ID)}}}}, &d); err != nil {
		return err
	}
	if len(d.Passkeys) > max {
		_ = s.pullPasskey(ctx, p.UserID, p.ID)
		return &opError{op: "add passkey", kind: ErrTooManyPasskeys}
	}
	if _, err := s.keyed(collPasskeys).InsertOne(ctx, toPasskeyDoc(p)); err != nil {
		_ = s.pullPasskey(ctx, p.UserID, p.ID)
		return s.translate("insert passkey", err)
	}
	return nil
}

func (s *Store) pullPasskey(ctx context.Context, userID, id lanyard.ID) error {
	_, err := s.updateByID(ctx, "remove passkey: list", collUsers, userID,
		bson.D{{Key: "$pull", Value: bson.D{{Key: "passkeys", Value: bson.ObjectID(id)}}}})
	return err
}

// PasskeyByID loads one passkey.
func (s *Store) PasskeyByID(ctx context.Context, id lanyard.ID) (lanyard.Passkey, error) {
	raw, err := s.db.Collection(collPasskeys).FindOne(ctx, byID(id)).Raw()
	if err != nil {
		return lanyard.Passkey{}, s.translate("passkey", err)
	}
	var d passkeyDoc
	if err := decodeOwn(collPasskeys, raw, &d); err != nil {
		s.NoteForeign(collPasskeys)
		return lanyard.Passkey{}, notFound("passkey")
	}
	return d.passkey(), nil
}

// PasskeysOf loads the passkeys of user u, newest first (listedOf).
func (s *Store) PasskeysOf(ctx context.Context, u lanyard.User, now time.Time) ([]lanyard.Passkey, error) {
	return listedOf(ctx, u.ID, u.PasskeyIDs, now,
		func(ctx context.Context, id lanyard.ID) (lanyard.Passkey, lanyard.ID, error) {
			p, err := s.PasskeyByID(ctx, id)
			return p, p.UserID, err
		},
		func(ctx context.Context, id lanyard.ID) error { return s.pullPasskey(ctx, u.ID, id) })
}

// RemovePasskey deletes one passkey of a user, then its place in the user's list;
// lanyard.ErrNotFound if the user has no such passkey (or a concurrent remove took it).
func (s *Store) RemovePasskey(ctx context.Context, userID, id lanyard.ID) (lanyard.Passkey, error) {
	p, err := s.PasskeyByID(ctx, id)
	if err != nil {
		return lanyard.Passkey{}, err
	}
	if p.UserID != userID {
		return lanyard.Passkey{}, notFound("remove passkey")
	}
	won, err := s.take(ctx, "remove passkey", collPasskeys, bson.ObjectID(id))
	if err != nil {
		return lanyard.Passkey{}, err
	}
	if !won {
		return lanyard.Passkey{}, notFound("remove passkey")
	}
	return p, s.pullPasskey(ctx, userID, id)
}

// UsePasskey records a sign-in with p: its new signature counter, backup state and
// last use, as a compare-and-set on the counter p was verified against. It reports
// false, changing nothing, when the stored counter is no longer p's (another sign-in
// with the same counter got there first: a cloned authenticator, or a replay) or the
// passkey is gone.
func (s *Store) UsePasskey(ctx context.Context, p lanyard.Passkey, count uint32, backupState bool, now time.Time) (bool, error) {
	update := bson.D{{Key: "$set", Value: bson.D{
		{Key: "sign_count", Value: int64(count)}, {Key: "backup_state", Value: backupState}, {Key: "last_used_at", Value: Millis(now)},
	}}}
	var cur passkeyDoc
	ok, err := s.swapByID(ctx, "use passkey", collPasskeys, p.ID, "sign_count", int64(p.SignCount), update, &cur)
	if isNotFound(err) {
		return false, nil
	}
	return ok, err
}

// Passkey decodes a document of passkeys.
func (d Document) Passkey() (lanyard.Passkey, error) {
	var doc passkeyDoc
	if err := d.decode(collPasskeys, &doc); err != nil {
		return lanyard.Passkey{}, err
	}
	return doc.passkey(), nil
}
