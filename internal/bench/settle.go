package bench

import (
	"context"
	"time"
)

// Settling: a client that gives up (its request hit the server's deadline) does not
// stop the work it started — the store may scan on for seconds. Measuring the next
// scenario then would charge it that leftover work, so, with the server in this
// process, each measurement waits until the process is nearly idle.
const (
	settleIdle = 0.15 // cores busy, below which a window counts as idle
	// settleQuiet is how many idle windows in a row make the process settled: work
	// given up on may sit waiting for the store for a moment before it resumes.
	settleQuiet = 4
	settleMax   = 3 * time.Minute
)

// settleWindow is the window settle samples: a twentieth of a measurement, between
// 25 ms and 250 ms, so that short runs (the tests) do not spend most of their time
// waiting.
func settleWindow(measurement time.Duration) time.Duration {
	return min(max(measurement/20, 25*time.Millisecond), 250*time.Millisecond)
}

// settle waits until this process has used less than settleIdle cores for
// settleQuiet windows in a row, or settleMax has passed, or ctx ends. It reports how
// long it waited and whether the process did become idle.
func settle(ctx context.Context, window time.Duration) (time.Duration, bool) {
	start := time.Now()
	prev, ok := processCPU()
	if !ok {
		return 0, true
	}
	t := time.NewTicker(window)
	defer t.Stop()
	quiet := 0
	for time.Since(start) < settleMax {
		select {
		case <-ctx.Done():
			return time.Since(start), false
		case <-t.C:
		}
		cur, _ := processCPU()
		if float64(cur-prev)/float64(window) < settleIdle {
			quiet++
		} else {
			quiet = 0
		}
		if quiet == settleQuiet {
			return time.Since(start), true
		}
		prev = cur
	}
	return time.Since(start), false
}
