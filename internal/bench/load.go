package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// player is one simulated client of a scenario. The runner calls prepare, then do,
// until the scenario's time is up.
type player interface {
	// prepare does the untimed work before the next operation: reading the previous
	// answer, or out-of-band set-up such as a fresh account or a user to delete. Its
	// time is subtracted from the scenario's elapsed time (see Result.PrepSeconds).
	prepare(ctx context.Context) error
	// do performs one timed operation and reports its HTTP status (non-HTTP
	// operations report 200).
	do(ctx context.Context) (status int, err error)
}

// Result is what one scenario or baseline measured.
type Result struct {
	Name     string  `json:"name"`
	Requests int64   `json:"requests"`
	Seconds  float64 `json:"seconds"`
	// PrepSeconds is the mean time each client spent in untimed preparation; the
	// rate is Requests ÷ (Seconds − PrepSeconds).
	PrepSeconds float64 `json:"prep_seconds"`
	PerSecond   float64 `json:"per_second"`
	// OKPerSecond counts only the 2xx answers; the efficiency ratios use it.
	OKPerSecond float64 `json:"ok_per_second"`
	P50         float64 `json:"p50_ms"`
	P90         float64 `json:"p90_ms"`
	P99         float64 `json:"p99_ms"`
	Max         float64 `json:"max_ms"`
	Mean        float64 `json:"mean_ms"`
	// Errors counts answers outside 2xx and failed exchanges; Statuses breaks every
	// answer down by status ("transport" and "setup" for exchanges that failed).
	Errors   int64            `json:"errors"`
	Statuses map[string]int64 `json:"statuses"`
	// FirstError describes the first failed exchange, if any.
	FirstError  string `json:"first_error,omitempty"`
	Concurrency int    `json:"concurrency"`
	Note        string `json:"note,omitempty"`
	Skipped     string `json:"skipped,omitempty"`
	// Each is every answer in the order the requests were sent, for the scenarios
	// whose requests are few and each of which counts (chain_delete).
	Each []Sample `json:"each,omitempty"`
}

// Sample is one answer: its status and latency.
type Sample struct {
	Status int     `json:"status"`
	Ms     float64 `json:"ms"`
	sent   time.Time
}

// answerError is an answer of the wrong shape (see httpPlayer.check).
type answerError struct {
	status int
	err    error
}

func (e *answerError) Error() string { return fmt.Sprintf("status %d, but %v", e.status, e.err) }
func (e *answerError) Unwrap() error { return e.err }

// tally is one client's record.
type tally struct {
	lat      []time.Duration
	statuses map[string]int64
	prep     time.Duration
	firstErr string
	each     []Sample // kept only when the meter's each is set
}

func (t *tally) fail(kind string, err error) {
	t.statuses[kind]++
	if t.firstErr == "" {
		t.firstErr = kind + ": " + err.Error()
	}
}

// maxConsecutiveFailures stops a client whose exchanges keep failing outright (the
// server is gone), instead of spinning.
const maxConsecutiveFailures = 50

// measure runs players concurrently for d, or until ctx ends, and summarises what
// they did. A request in flight when d is up is waited for and counted.
func measure(ctx context.Context, name string, d time.Duration, players []player, progress io.Writer) Result {
	m := newMeter(name, players)
	m.run(ctx, d, progress)
	return m.result()
}

// meter measures one scenario or baseline over one or more slices of time, so that
// two of them can take turns (see run.interleaved); its result covers all the slices.
type meter struct {
	name    string
	players []player
	tallies []*tally
	elapsed time.Duration
	// each keeps every answer (Result.Each).
	each bool
}

func newMeter(name string, players []player) *meter {
	m := &meter{name: name, players: players, tallies: make([]*tally, len(players))}
	for i := range m.tallies {
		m.tallies[i] = &tally{statuses: map[string]int64{}, lat: make([]time.Duration, 0, 4096)}
	}
	return m
}

// run drives the players for d, or until ctx ends. A request in flight when d is
// up is waited for and counted.
func (m *meter) run(ctx context.Context, d time.Duration, progress io.Writer) {
	var done, failed atomic.Int64
	start := time.Now()
	end := start.Add(d)
	stopProgress := showProgress(m.name, start, d, &done, &failed, progress)
	var wg sync.WaitGroup
	for i, p := range m.players {
		t := m.tallies[i]
		wg.Go(func() {
			streak := 0
			for ctx.Err() == nil && time.Now().Before(end) {
				t0 := time.Now()
				if err := p.prepare(ctx); err != nil {
					if ctx.Err() == nil {
						t.fail("setup", err)
						failed.Add(1)
					}
					return
				}
				t1 := time.Now()
				t.prep += t1.Sub(t0)
				if !t1.Before(end) {
					return
				}
				status, err := p.do(ctx)
				lat := time.Since(t1)
				if err != nil {
					if ctx.Err() != nil {
						return
					}
					kind := "transport"
					if _, ok := errors.AsType[*answerError](err); ok {
						kind = "answer"
					}
					t.fail(kind, err)
					failed.Add(1)
					if streak++; streak >= maxConsecutiveFailures {
						return
					}
					continue
				}
				streak = 0
				t.lat = append(t.lat, lat)
				if m.each {
					t.each = append(t.each, Sample{Status: status, Ms: ms(lat), sent: t1})
				}
				t.statuses[strconv.Itoa(status)]++
				done.Add(1)
				if status < 200 || status > 299 {
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	stopProgress()
	m.elapsed += time.Since(start)
}

func (m *meter) result() Result { return summarize(m.name, m.elapsed, m.tallies) }

func summarize(name string, elapsed time.Duration, tallies []*tally) Result {
	r := Result{Name: name, Seconds: elapsed.Seconds(), Statuses: map[string]int64{}, Concurrency: len(tallies)}
	var lat []time.Duration
	var prep time.Duration
	for _, t := range tallies {
		lat = append(lat, t.lat...)
		prep += t.prep
		for k, n := range t.statuses {
			r.Statuses[k] += n
			if !is2xx(k) {
				r.Errors += n
			}
		}
		if r.FirstError == "" {
			r.FirstError = t.firstErr
		}
		r.Each = append(r.Each, t.each...)
	}
	slices.SortFunc(r.Each, func(a, b Sample) int { return a.sent.Compare(b.sent) })
	// Requests are the answers received; failed exchanges have no latency and
	// appear only in Errors and Statuses.
	r.Requests = int64(len(lat))
	if len(tallies) > 0 {
		r.PrepSeconds = prep.Seconds() / float64(len(tallies))
	}
	if busy := r.Seconds - r.PrepSeconds; busy > 0 {
		var ok int64
		for k, n := range r.Statuses {
			if is2xx(k) {
				ok += n
			}
		}
		r.PerSecond = float64(r.Requests) / busy
		r.OKPerSecond = float64(ok) / busy
	}
	if len(lat) == 0 {
		return r
	}
	slices.Sort(lat)
	var sum time.Duration
	for _, l := range lat {
		sum += l
	}
	r.P50, r.P90, r.P99 = ms(quantile(lat, 0.50)), ms(quantile(lat, 0.90)), ms(quantile(lat, 0.99))
	r.Max = ms(lat[len(lat)-1])
	r.Mean = ms(sum / time.Duration(len(lat)))
	return r
}

func is2xx(status string) bool {
	n, err := strconv.Atoi(status)
	return err == nil && n >= 200 && n <= 299
}

// quantile is the nearest-rank quantile q of sorted, which is not empty.
func quantile(sorted []time.Duration, q float64) time.Duration {
	i := int(float64(len(sorted))*q+0.999999) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// showProgress prints a line a second while a scenario runs; the returned function
// stops it.
func showProgress(name string, start time.Time, d time.Duration, done, failed *atomic.Int64, w io.Writer) func() {
	if w == nil {
		return func() {}
	}
	line := func(now time.Time, state string) {
		fmt.Fprintf(w, "  %-18s %5.1fs/%s  %8d requests  %6d errors%s\n",
			name, now.Sub(start).Seconds(), d, done.Load(), failed.Load(), state)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				line(time.Now(), "  done")
				return
			case now := <-tick.C:
				line(now, "")
			}
		}
	})
	return func() { close(stop); wg.Wait() }
}
