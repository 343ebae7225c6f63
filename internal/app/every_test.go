package app

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is a bytes.Buffer safe for the loop's goroutine and the test's.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestEvery_LogsAFailureRetriesAtTheNextTickAndBoundsEachRun(t *testing.T) {
	var logs lockedBuffer
	a := &App{log: slog.New(slog.NewTextHandler(&logs, nil))}
	const interval = 10 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runs := make(chan time.Duration, 10)
	done := make(chan struct{})
	go func() {
		defer close(done)
		a.every(ctx, "test work", interval, func(ctx context.Context) error {
			deadline, ok := ctx.Deadline()
			if !ok {
				runs <- -1
			} else {
				runs <- time.Until(deadline)
			}
			return errors.New("store unreachable")
		})
	}()
	for i := range 2 {
		select {
		case left := <-runs:
			if left < 0 || left > interval {
				t.Errorf("run %d: time left %v; want a deadline within the interval (%v)", i, left, interval)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("run %d never came", i)
		}
	}
	cancel()
	<-done
	if got := logs.String(); !strings.Contains(got, "work=\"test work\"") || !strings.Contains(got, "store unreachable") {
		t.Errorf("log = %q; want the failure named with its work", got)
	}
}
