package lanyardtest

import "sync"

// AtOnce calls f(0) … f(n-1), each in a goroutine of its own, released together once
// all have started so that they race as closely as the scheduler allows, and returns
// when every call has returned. Races the store must decide (one email, one external
// ID, one refresh token) are tested with it.
func AtOnce(n int, f func(i int)) {
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			f(i)
		})
	}
	close(start)
	wg.Wait()
}
