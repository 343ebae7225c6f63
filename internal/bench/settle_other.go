//go:build !unix

package bench

import "time"

// processCPU is not measured here; settle then does not wait.
func processCPU() (time.Duration, bool) { return 0, false }
