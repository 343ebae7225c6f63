package store

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/lanyard/lanyard"
)

// An account's second factors live in its user document, not in a collection of
// their own: every login loads the user already, so whether a password must be
// followed by a second factor, and the mfa of User JSON, cost no read more; and a
// user's deletion takes them along. The TOTP state is the user's totp field
// (totpDoc), absent while TOTP is off and nothing is pending.
//
// Which codes have been accepted is decided by claims (otp_claims), not by the user
// document: of concurrent uses of one code exactly one inserts its claim, on
// MongoDB and on the embedded store, across processes too (claims.go). The user
// document then records the step (last_step) or drops the recovery code's hash, so
// that later uses are refused once the claim has expired.

// totpDoc is a lanyard.TOTP as stored.
type totpDoc struct {
	Secret   []byte   `bson:"secret,omitempty"`
	Pending  []byte   `bson:"pending,omitempty"`
	LastStep int64    `bson:"last_step,omitempty"`
	Recovery [][]byte `bson:"recovery,omitempty"`
}

func (d *totpDoc) totp() lanyard.TOTP {
	if d == nil {
		return lanyard.TOTP{}
	}
	return lanyard.TOTP{Secret: d.Secret, Pending: d.Pending, LastStep: d.LastStep, Recovery: d.Recovery}
}

// enabled reports whether the document holds a confirmed secret.
func (d *totpDoc) enabled() bool { return d != nil && len(d.Secret) > 0 }

// collOTPClaims holds one document per accepted one-time code, by _id (the caller's
// key: the user, and the TOTP time step or the recovery code's hash), until it
// expires: past then the user document refuses the code by itself.
const collOTPClaims = "otp_claims"

type otpClaimDoc struct {
	ID        string    `bson:"_id"`
	ExpiresAt time.Time `bson:"expires_at"`
}

// UserTOTP loads a user and its TOTP state in one read; lanyard.ErrNotFound when the
// user is absent.
func (s *Store) UserTOTP(ctx context.Context, id lanyard.ID) (lanyard.User, lanyard.TOTP, error) {
	var d userDoc
	if err := s.users().FindOne(ctx, byID(id)).Decode(&d); err != nil {
		return lanyard.User{}, lanyard.TOTP{}, s.translate("user totp", err)
	}
	return d.user(), d.TOTP.totp(), nil
}

// SetTOTPPending stores a sealed secret as the user's pending enrolment, replacing
// any pending one; a confirmed secret stays as it is.
func (s *Store) SetTOTPPending(ctx context.Context, id lanyard.ID, sealed []byte) error {
	ok, err := s.updateByID(ctx, "set pending totp", collUsers, id, bson.D{{Key: "$set", Value: bson.D{{Key: "totp.pending", Value: sealed}}}})
	if err == nil && !ok {
		err = lanyard.ErrNotFound
	}
	return err
}

// EnableTOTP makes a sealed secret the user's confirmed one, with the step of the
// code that confirmed it as the last accepted and the recovery codes' hashes; the
// pending enrolment is gone.
func (s *Store) EnableTOTP(ctx context.Context, id lanyard.ID, t lanyard.TOTP, now time.Time) error {
	d := totpDoc{Secret: t.Secret, LastStep: t.LastStep, Recovery: t.Recovery}
	ok, err := s.updateByID(ctx, "enable totp", collUsers, id, bson.D{{Key: "$set", Value: bson.D{
		{Key: "totp", Value: d}, {Key: "updated_at", Value: Millis(now)},
	}}})
	if err == nil && !ok {
		err = lanyard.ErrNotFound
	}
	return err
}

// DisableTOTP removes the user's TOTP state: secret, pending enrolment and recovery
// codes.
func (s *Store) DisableTOTP(ctx context.Context, id lanyard.ID, now time.Time) error {
	ok, err := s.updateByID(ctx, "disable totp", collUsers, id, bson.D{
		{Key: "$unset", Value: bson.D{{Key: "totp", Value: ""}}},
		{Key: "$set", Value: bson.D{{Key: "updated_at", Value: Millis(now)}}},
	})
	if err == nil && !ok {
		err = lanyard.ErrNotFound
	}
	return err
}

// ClaimOTP claims the one-time code named by key until expires: ErrDuplicate when the
// code was claimed already. Of concurrent claims of one key exactly one succeeds.
func (s *Store) ClaimOTP(ctx context.Context, key string, expires time.Time) error {
	return s.claim(ctx, "claim one-time code", collOTPClaims, otpClaimDoc{ID: key, ExpiresAt: Millis(expires)})
}

// AcceptTOTPStep records step as the user's last accepted TOTP step, unless a later
// one is recorded already.
func (s *Store) AcceptTOTPStep(ctx context.Context, id lanyard.ID, step int64) error {
	_, err := s.updateByID(ctx, "accept totp step", collUsers, id, bson.D{{Key: "$max", Value: bson.D{{Key: "totp.last_step", Value: step}}}})
	return err
}

// UseRecoveryCode drops a recovery code's hash from the user's unused ones.
func (s *Store) UseRecoveryCode(ctx context.Context, id lanyard.ID, hash []byte) error {
	_, err := s.updateByID(ctx, "use recovery code", collUsers, id, bson.D{{Key: "$pull", Value: bson.D{{Key: "totp.recovery", Value: hash}}}})
	return err
}

// SweepOTPClaims deletes the claims of one-time codes that expired by now, and says
// how many; never on a request's path.
func (s *Store) SweepOTPClaims(ctx context.Context, now time.Time) (int64, error) {
	return s.deleteExpired(ctx, collOTPClaims, now)
}
