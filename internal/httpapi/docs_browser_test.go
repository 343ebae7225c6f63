package httpapi_test

import (
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/lanyard/lanyard/internal/lanyardtest"
)

// TestDocsPage_RendersEveryOperationUnderItsCSPInABrowser opens /docs in headless
// Chromium: the documentation page must work under its own Content-Security-Policy
// (a header test cannot tell whether the policy blocks the page's scripts or styles),
// list every operation of the OpenAPI document, and report no CSP violation or
// script error on the console.
func TestDocsPage_RendersEveryOperationUnderItsCSPInABrowser(t *testing.T) {
	t.Parallel()
	env := lanyardtest.New(t)
	want := len(operations(t, env))
	ctx := lanyardtest.Browser(t)

	var mu sync.Mutex
	var complaints []string
	chromedp.ListenTarget(ctx, func(ev any) {
		var text string
		switch ev := ev.(type) {
		case *log.EventEntryAdded:
			text = string(ev.Entry.Source) + ": " + ev.Entry.Text + " " + ev.Entry.URL
		case *runtime.EventExceptionThrown:
			text = "exception: " + ev.ExceptionDetails.Text
		case *runtime.EventConsoleAPICalled:
			if ev.Type != runtime.APITypeError && ev.Type != runtime.APITypeWarning {
				return
			}
			for _, a := range ev.Args {
				text += string(a.Value) + a.Description + " "
			}
		default:
			return
		}
		mu.Lock()
		complaints = append(complaints, text)
		mu.Unlock()
	})

	var got int
	if err := chromedp.Run(ctx,
		chromedp.Navigate(env.URL+"/docs"),
		chromedp.WaitVisible(".opblock", chromedp.ByQuery),
		chromedp.Evaluate(`document.querySelectorAll(".opblock").length`, &got),
	); err != nil {
		t.Fatalf("open /docs: %v", err)
	}
	if got != want {
		t.Errorf("/docs shows %d operations; the OpenAPI document has %d", got, want)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, c := range complaints {
		t.Log(c)
		if strings.Contains(c, "Content Security Policy") || strings.HasPrefix(c, "exception: ") || strings.HasPrefix(c, "security: ") {
			t.Errorf("console: %s", c)
		}
	}
}
