package lanyardtest

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Browser starts a headless Chromium for the test and answers a chromedp context
// driving one tab of it; both end with the test. The browser is LANYARD_TEST_CHROMIUM
// (scripts/test.sh installs Debian's chromium and sets it), else chromium or
// chromium-browser from PATH. Where there is none the test is skipped with a
// "SKIPPED:" line, except in CI (CI=true), where that is a failure.
//
// Each call starts its own browser with its own profile, so tests in parallel share
// no cookies, storage or virtual authenticators.
func Browser(t testing.TB) context.Context {
	t.Helper()
	path := chromiumPath()
	if path == "" {
		msg := "SKIPPED: browser test: no chromium (set LANYARD_TEST_CHROMIUM; scripts/test.sh installs Debian's chromium as root)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg + "; skipping is not allowed in CI (CI=true)")
		}
		t.Skip(msg)
	}
	// The profile is not t.TempDir(): Chromium's helper processes may still write
	// to it for a moment after the browser has gone, which would fail the test at
	// its cleanup; it is removed best-effort once the browser is closed.
	profile, err := os.MkdirTemp("", "lanyard-chromium-")
	if err != nil {
		t.Fatalf("lanyardtest: chromium profile: %v", err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.UserDataDir(profile),
		// Containers and CI runners often run tests as root, where Chromium's sandbox
		// refuses to start; the pages it opens are the test's own.
		chromedp.NoSandbox,
		chromedp.Flag("disable-dev-shm-usage", true),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(func() {
		_ = chromedp.Cancel(ctx) // closes the browser and waits for it
		cancel()
		cancelAlloc()
		for i := 0; os.RemoveAll(profile) != nil && i < 20; i++ {
			time.Sleep(50 * time.Millisecond)
		}
	})
	// The first action starts the browser: fail here, with the reason, rather than in
	// the test's first step.
	if err := chromedp.Run(ctx); err != nil {
		t.Fatalf("lanyardtest: start %s: %v", path, err)
	}
	// A page that never shows what a step waits for would otherwise hang the test
	// until the binary's own timeout; this bounds it, it measures nothing.
	ctx, cancelSteps := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(cancelSteps)
	return ctx
}

func chromiumPath() string {
	if p := os.Getenv("LANYARD_TEST_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}
