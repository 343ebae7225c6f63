package store

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/lanyard/lanyard"
)

const (
	collJobs   = "deletion_jobs"
	collClaims = "deletion_claims"
)

// DeletionJob records a chain delete in progress, so that any instance can finish it
// after a crash. It is kept under the user's id: one job per user.
type DeletionJob struct {
	UserID      lanyard.ID
	Epoch       int64 // bumped by each claim; see ClaimJob
	LeaseOwner  string
	LeaseUntil  time.Time
	RequestedBy string
	StartedAt   time.Time
	Deleted     map[string]int64 // per relation name, documents deleted so far
	Nullified   map[string]int64 // per relation name, documents detached so far
}

// jobDoc is a DeletionJob as stored.
type jobDoc struct {
	UserID      bson.ObjectID    `bson:"_id"`
	Epoch       int64            `bson:"epoch"`
	LeaseOwner  string           `bson:"lease_owner"`
	LeaseUntil  time.Time        `bson:"lease_until"`
	RequestedBy string           `bson:"requested_by,omitempty"`
	StartedAt   time.Time        `bson:"started_at"`
	Deleted     map[string]int64 `bson:"deleted"`
	Nullified   map[string]int64 `bson:"nullified"`
}

func claimID(userID lanyard.ID, epoch int64) string { return fmt.Sprintf("%s:%d", userID.Hex(), epoch) }

// InsertJob records a new job at epoch 1. A job that already exists for this user is
// ErrDuplicate: the delete is already under way.
func (s *Store) InsertJob(ctx context.Context, j *DeletionJob) error {
	j.Epoch = 1
	_, err := s.keyed(collJobs).InsertOne(ctx, &jobDoc{
		UserID: bson.ObjectID(j.UserID), Epoch: j.Epoch, LeaseOwner: j.LeaseOwner, LeaseUntil: j.LeaseUntil,
		RequestedBy: j.RequestedBy, StartedAt: j.StartedAt, Deleted: j.Deleted, Nullified: j.Nullified,
	})
	return s.translate("insert deletion job", err)
}

// ExpiredJobs lists jobs whose lease has lapsed: their owner crashed or stopped.
func (s *Store) ExpiredJobs(ctx context.Context, now time.Time) ([]DeletionJob, error) {
	cur, err := s.db.Collection(collJobs).Find(ctx, bson.D{{Key: "lease_until", Value: bson.D{{Key: "$lt", Value: now}}}})
	if err != nil {
		return nil, s.translate("expired deletion jobs", err)
	}
	var docs []jobDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, s.translate("expired deletion jobs", err)
	}
	var out []DeletionJob
	for _, d := range docs {
		out = append(out, DeletionJob{
			UserID: lanyard.ID(d.UserID), Epoch: d.Epoch, LeaseOwner: d.LeaseOwner, LeaseUntil: d.LeaseUntil,
			RequestedBy: d.RequestedBy, StartedAt: d.StartedAt, Deleted: d.Deleted, Nullified: d.Nullified,
		})
	}
	return out, nil
}

// ClaimJob takes over job j for owner. The claim is the insert of a document whose _id
// names the job's next epoch: of several instances claiming at once exactly one
// succeeds (the others get ErrDuplicate), on MongoDB and on the embedded store, whose
// updates are not compare-and-set. The winner then moves the job to that epoch.
func (s *Store) ClaimJob(ctx context.Context, j *DeletionJob, owner string, until time.Time) error {
	next := j.Epoch + 1
	if err := s.claim(ctx, "claim deletion job", collClaims, bson.D{{Key: "_id", Value: claimID(j.UserID, next)}}); err != nil {
		return err
	}
	j.Epoch, j.LeaseOwner, j.LeaseUntil = next, owner, Millis(until)
	_, err := s.updateByID(ctx, "claim deletion job", collJobs, j.UserID, bson.D{{Key: "$set", Value: bson.M{
		"epoch": j.Epoch, "lease_owner": owner, "lease_until": j.LeaseUntil,
	}}})
	return err
}

// Superseded reports whether another instance has claimed the job past epoch: its
// owner must stop.
func (s *Store) Superseded(ctx context.Context, userID lanyard.ID, epoch int64) (bool, error) {
	return s.claimed(ctx, "deletion job claim", collClaims, claimID(userID, epoch+1))
}

// SaveProgress records the counts so far and renews the lease. Only the lease holder
// writes, so setting absolute values is safe.
func (s *Store) SaveProgress(ctx context.Context, j *DeletionJob, until time.Time) error {
	j.LeaseUntil = Millis(until)
	_, err := s.updateByID(ctx, "save deletion progress", collJobs, j.UserID, bson.D{{Key: "$set", Value: bson.M{
		"lease_until": j.LeaseUntil, "deleted": j.Deleted, "nullified": j.Nullified,
	}}})
	return err
}

// FinishJob removes the job and its claims.
func (s *Store) FinishJob(ctx context.Context, j DeletionJob) error {
	ids := make([]any, 0, j.Epoch)
	for e := int64(2); e <= j.Epoch; e++ {
		ids = append(ids, claimID(j.UserID, e))
	}
	if _, err := s.DeleteIDs(ctx, collClaims, ids); err != nil {
		return err
	}
	_, err := s.keyed(collJobs).DeleteOne(ctx, byID(j.UserID))
	return s.translate("finish deletion job", err)
}

// DeleteUser removes the user document and then its email and username keys; it
// reports whether there was a user. Keys left by a crash in between name nobody and
// are taken over by the next claim.
func (s *Store) DeleteUser(ctx context.Context, id lanyard.ID) (bool, error) {
	u, err := s.UserByID(ctx, id)
	if isNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	r, err := s.keyed(collUsers).DeleteOne(ctx, byID(id))
	if err != nil {
		return false, s.translate("delete user", err)
	}
	if err := s.releaseUserKeys(ctx, id, u.Email, u.UsernameKey); err != nil {
		return r.DeletedCount == 1, err
	}
	return r.DeletedCount == 1, nil
}
