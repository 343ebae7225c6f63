package relation

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lanyard/lanyard"
	"github.com/lanyard/lanyard/internal/store"
)

// Report counts what a chain delete removed ("deleted", "users" included) and
// detached ("nullified"), per relation.
type Report struct {
	UserID    string
	Deleted   map[string]int64
	Nullified map[string]int64
	Total     int64
}

// Blocker is a restrict relation that holds documents.
type Blocker struct {
	Relation string
	Count    int64
}

// Plan is what a delete would do now, and what would stop it.
type Plan struct {
	Report
	Blockers []Blocker
}

// BlockedError refuses a delete while restrict relations hold documents. Nothing was
// changed.
type BlockedError struct{ Blockers []Blocker }

func (e *BlockedError) Error() string {
	return fmt.Sprintf("delete blocked by %d restrict relations", len(e.Blockers))
}

// Unwrap makes a BlockedError a conflict for callers that only know the domain kinds.
func (e *BlockedError) Unwrap() error {
	return &lanyard.ConflictError{Message: "restrict relations hold documents"}
}

// ErrInProgress means the delete continues in the background (or already did): the
// caller answers 202.
var ErrInProgress = errors.New("deletion in progress")

// errSuperseded stops a job whose lease another instance has taken.
var errSuperseded = errors.New("deletion job claimed by another instance")

// errStopping stops a job at a batch boundary when the process shuts down.
var errStopping = errors.New("shutting down")

// DeleterOptions configure a Deleter.
type DeleterOptions struct {
	Owner string           // this instance's name, for leases
	Now   func() time.Time // nil: time.Now
	Lease time.Duration    // 0: 60s
	// AfterBatch, when set, runs after each batch is erased and recorded; an error
	// stops the job there, as a crash would. Tests use it to interrupt deletes.
	AfterBatch func(relation string, batch int) error
}

// Deleter runs chain deletes, their plans and exports, and resumes jobs that an
// interrupted instance left behind.
type Deleter struct {
	st       *store.Store
	reg      *Registry
	o        DeleterOptions
	running  sync.WaitGroup
	stopping atomic.Bool
	batches  atomic.Int64
	active   atomic.Int64
	resumed  atomic.Int64
}

// NewDeleter returns a Deleter.
func NewDeleter(st *store.Store, reg *Registry, o DeleterOptions) *Deleter {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Lease <= 0 {
		o.Lease = 60 * time.Second
	}
	if o.Owner == "" {
		o.Owner = store.NewID().Hex()
	}
	return &Deleter{st: st, reg: reg, o: o}
}

// PlanFor counts what deleting u would remove and detach now, and finds any blockers.
// It changes nothing.
func (d *Deleter) PlanFor(ctx context.Context, userID lanyard.ID) (Plan, error) {
	p := Plan{Report: newReport(userID)}
	p.Deleted[Users] = 1
	w := &walker{
		st: d.st, reg: d.reg, idsOnly: true,
		follow: func(rel *Relation) bool { return rel.OnDelete == Cascade },
		page: func(_ context.Context, rel *Relation, docs []store.Document) error {
			p.Deleted[rel.Name] += int64(len(docs))
			return nil
		},
		other: func(ctx context.Context, rel *Relation, parents []any) error {
			n, err := d.st.CountChildren(ctx, store.ChildQuery{Coll: rel.Collection, Field: rel.Field, Parents: parents})
			if err != nil {
				return fmt.Errorf("%s: %w", rel.Name, err)
			}
			if rel.OnDelete == Nullify {
				p.Nullified[rel.Name] += n
			} else if n > 0 {
				p.Blockers = addBlocker(p.Blockers, rel.Name, n)
			}
			return nil
		},
	}
	if err := w.children(ctx, Users, []any{userID}); err != nil {
		return Plan{}, fmt.Errorf("deletion plan: %w", err)
	}
	p.total()
	if p.Blockers == nil {
		p.Blockers = []Blocker{}
	}
	return p, nil
}

func addBlocker(bs []Blocker, name string, n int64) []Blocker {
	for i := range bs {
		if bs[i].Relation == name {
			bs[i].Count += n
			return bs
		}
	}
	return append(bs, Blocker{Relation: name, Count: n})
}

// blockers is the pre-check: the restrict relations reachable from the user through
// cascade edges that hold a document. It reads only as far as needed.
func (d *Deleter) blockers(ctx context.Context, userID lanyard.ID) ([]Blocker, error) {
	var out []Blocker
	w := &walker{
		st: d.st, reg: d.reg, idsOnly: true,
		follow: func(rel *Relation) bool { return rel.OnDelete == Cascade && d.hasRestrictBelow(rel.Name) },
		other: func(ctx context.Context, rel *Relation, parents []any) error {
			if rel.OnDelete != Restrict {
				return nil
			}
			n, err := d.st.CountChildren(ctx, store.ChildQuery{Coll: rel.Collection, Field: rel.Field, Parents: parents})
			if err != nil {
				return fmt.Errorf("%s: %w", rel.Name, err)
			}
			if n > 0 {
				out = addBlocker(out, rel.Name, n)
			}
			return nil
		},
	}
	if err := w.children(ctx, Users, []any{userID}); err != nil {
		return nil, fmt.Errorf("deletion pre-check: %w", err)
	}
	return out, nil
}

// hasRestrictBelow reports whether a restrict relation hangs below name through
// cascade edges; only such subtrees need reading in the pre-check.
func (d *Deleter) hasRestrictBelow(name string) bool {
	for _, c := range d.reg.Children(name) {
		if c.OnDelete == Restrict || (c.OnDelete == Cascade && d.hasRestrictBelow(c.Name)) {
			return true
		}
	}
	return false
}

// Delete erases u and everything hanging off it, following DESIGN.md: pre-check,
// mark, erase children before parents in batches, the user, a final sweep. It waits
// for the work until ctx is nearly done; if the work outlives that, it goes on in the
// background and Delete returns ErrInProgress. A delete already under way is also
// ErrInProgress.
func (d *Deleter) Delete(ctx context.Context, userID lanyard.ID, requestedBy string) (Report, error) {
	bs, err := d.blockers(ctx, userID)
	if err != nil {
		return Report{}, err
	}
	if len(bs) > 0 {
		return Report{}, &BlockedError{Blockers: bs}
	}
	now := d.o.Now()
	job := &store.DeletionJob{
		UserID: userID, LeaseOwner: d.o.Owner, LeaseUntil: store.Millis(now.Add(d.o.Lease)),
		RequestedBy: requestedBy, StartedAt: store.Millis(now),
		Deleted: map[string]int64{}, Nullified: map[string]int64{},
	}
	if err := d.st.InsertJob(ctx, job); err != nil {
		if errors.Is(err, store.ErrDuplicate) {
			return Report{}, ErrInProgress
		}
		return Report{}, fmt.Errorf("delete user: %w", err)
	}
	return d.await(ctx, d.start(job))
}

type outcome struct {
	r   Report
	err error
}

// start runs job in the background: a request that gives up waiting does not stop it.
func (d *Deleter) start(job *store.DeletionJob) <-chan outcome {
	ch := make(chan outcome, 1)
	d.running.Add(1)
	d.active.Add(1)
	go func() {
		defer d.running.Done()
		defer d.active.Add(-1)
		r, err := d.run(context.Background(), job)
		ch <- outcome{r, err}
	}()
	return ch
}

// await waits for a job until shortly before ctx's deadline.
func (d *Deleter) await(ctx context.Context, ch <-chan outcome) (Report, error) {
	var timeout <-chan time.Time
	if dl, ok := ctx.Deadline(); ok {
		t := time.NewTimer(time.Until(dl) - 250*time.Millisecond)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case o := <-ch:
		if errors.Is(o.err, errStopping) || errors.Is(o.err, errSuperseded) {
			return Report{}, ErrInProgress // it will be finished by whoever holds it next
		}
		return o.r, o.err
	case <-timeout:
		return Report{}, ErrInProgress
	case <-ctx.Done():
		return Report{}, ErrInProgress
	}
}

// markDeleting starts the user's deletion: status deleting and a new token version,
// so every token it holds dies and login, refresh and linking refuse it from here on.
// A user already gone, or already marked (a resumed job), is left as it is.
func (d *Deleter) markDeleting(ctx context.Context, id lanyard.ID) error {
	u, err := d.st.UserByID(ctx, id)
	switch {
	case errors.Is(err, lanyard.ErrNotFound):
		return nil
	case err != nil:
		return err
	case u.Status == lanyard.StatusDeleting:
		return nil
	}
	deleting := lanyard.StatusDeleting
	_, err = d.st.UpdateUser(ctx, id, store.UserChange{Status: &deleting, BumpVersion: true}, d.o.Now())
	if errors.Is(err, lanyard.ErrNotFound) {
		return nil
	}
	return err
}

// run carries a claimed job to its end: steps 2 (again, idempotently) to 6.
func (d *Deleter) run(ctx context.Context, job *store.DeletionJob) (Report, error) {
	if err := d.markDeleting(ctx, job.UserID); err != nil {
		return Report{}, fmt.Errorf("delete user: mark: %w", err)
	}
	batch := 0
	w := &walker{
		st: d.st, reg: d.reg, idsOnly: true,
		follow: func(rel *Relation) bool { return rel.OnDelete == Cascade },
		done: func(ctx context.Context, rel *Relation, ids []any) error {
			n, err := d.st.DeleteIDs(ctx, rel.Collection, ids)
			if err != nil {
				return fmt.Errorf("%s: %w", rel.Name, err)
			}
			job.Deleted[rel.Name] += n
			batch++
			return d.checkpoint(ctx, job, rel.Name, batch)
		},
		other: func(ctx context.Context, rel *Relation, parents []any) error {
			if rel.OnDelete != Nullify {
				return nil // restrict: checked before the job started
			}
			n, err := d.st.UnsetChildren(ctx, store.ChildQuery{Coll: rel.Collection, Field: rel.Field, Parents: parents})
			if err != nil {
				return fmt.Errorf("%s: %w", rel.Name, err)
			}
			if n > 0 {
				job.Nullified[rel.Name] += n
				batch++
				return d.checkpoint(ctx, job, rel.Name, batch)
			}
			return nil
		},
	}
	if err := w.children(ctx, Users, []any{job.UserID}); err != nil {
		return Report{}, fmt.Errorf("delete user: %w", err)
	}
	gone, err := d.st.DeleteUser(ctx, job.UserID)
	if err != nil {
		return Report{}, fmt.Errorf("delete user: %w", err)
	}
	if gone {
		job.Deleted[Users]++
	}
	if err := d.st.ForgetLinkKeys(ctx, job.UserID); err != nil {
		return Report{}, fmt.Errorf("delete user: %w", err)
	}
	// The sweep: documents the application attached while the walk ran.
	if err := w.children(ctx, Users, []any{job.UserID}); err != nil {
		return Report{}, fmt.Errorf("delete user: sweep: %w", err)
	}
	if err := d.st.FinishJob(ctx, *job); err != nil {
		return Report{}, fmt.Errorf("delete user: finish: %w", err)
	}
	r := Report{UserID: job.UserID.Hex(), Deleted: job.Deleted, Nullified: job.Nullified}
	if r.Deleted[Users] == 0 {
		r.Deleted[Users] = 1 // erased by an earlier run of this job, before a crash
	}
	r.total()
	return r, nil
}

// checkpoint records progress after a batch, renews the lease, and stops the job if
// the process is shutting down or another instance took it over.
func (d *Deleter) checkpoint(ctx context.Context, job *store.DeletionJob, rel string, batch int) error {
	d.batches.Add(1)
	if err := d.st.SaveProgress(ctx, job, d.o.Now().Add(d.o.Lease)); err != nil {
		return err
	}
	if d.o.AfterBatch != nil {
		if err := d.o.AfterBatch(rel, batch); err != nil {
			return err
		}
	}
	if d.stopping.Load() {
		return errStopping
	}
	if lost, err := d.st.Superseded(ctx, job.UserID, job.Epoch); err != nil || lost {
		return errors.Join(err, errSuperseded)
	}
	return nil
}

// ResumeExpired claims every job whose lease has lapsed and runs it in the
// background. It returns how many it started.
func (d *Deleter) ResumeExpired(ctx context.Context) (int, error) {
	if d.stopping.Load() {
		return 0, nil
	}
	jobs, err := d.st.ExpiredJobs(ctx, d.o.Now())
	if err != nil {
		return 0, fmt.Errorf("resume deletions: %w", err)
	}
	started := 0
	for i := range jobs {
		job := &jobs[i]
		if job.Deleted == nil {
			job.Deleted = map[string]int64{}
		}
		if job.Nullified == nil {
			job.Nullified = map[string]int64{}
		}
		if err := d.st.ClaimJob(ctx, job, d.o.Owner, d.o.Now().Add(d.o.Lease)); err != nil {
			if errors.Is(err, store.ErrDuplicate) {
				continue // another instance claimed it first
			}
			return started, fmt.Errorf("resume deletions: %w", err)
		}
		d.start(job)
		d.resumed.Add(1)
		started++
	}
	return started, nil
}

// Run resumes lapsed jobs now and then every interval until ctx ends.
func (d *Deleter) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		_, _ = d.ResumeExpired(ctx) // a failure is retried at the next tick
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Shutdown stops running jobs at their next batch boundary and waits for them; their
// leases lapse and another instance, or the next start, resumes them.
func (d *Deleter) Shutdown() {
	d.stopping.Store(true)
	d.running.Wait()
}

// Wait blocks until every job started so far has stopped. Tests use it.
func (d *Deleter) Wait() { d.running.Wait() }

// Running is the number of jobs running in this process.
func (d *Deleter) Running() int64 { return d.active.Load() }

// Resumed is the number of lapsed jobs this process has taken over.
func (d *Deleter) Resumed() int64 { return d.resumed.Load() }

// Batches is the number of batches erased since start, for metrics and tests.
func (d *Deleter) Batches() int64 { return d.batches.Load() }

func newReport(userID lanyard.ID) Report {
	return Report{UserID: userID.Hex(), Deleted: map[string]int64{}, Nullified: map[string]int64{}}
}

func (r *Report) total() {
	r.Total = 0
	for _, n := range r.Deleted {
		r.Total += n
	}
	for _, n := range r.Nullified {
		r.Total += n
	}
}
