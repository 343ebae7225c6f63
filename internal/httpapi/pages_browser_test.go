package httpapi_test

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/chromedp"

	"github.com/lanyard/lanyard/internal/lanyardtest"
)

// TestPages_ResetLinkFromAMailInABrowser: headless Chromium opens the reset link of a
// mail the test's SMTP server received, types the new password twice, submits the
// form, and the new password then logs in through the API (the old one no longer).
func TestPages_ResetLinkFromAMailInABrowser(t *testing.T) {
	t.Parallel()
	env, mb, _ := verifyEnv(t)
	a := registerWithMail(t, env, "ada@example.com")
	mb.WaitFor(t, "ada@example.com") // the registration's verification mail
	env.Do("POST", "/api/auth/password-reset", map[string]any{"email": a.Email}).Must(t, http.StatusAccepted)
	link := mb.WaitFor(t, "ada@example.com").Link(t)
	u, err := url.Parse(link)
	if err != nil || u.Path != "/reset-password" {
		t.Fatalf("the reset mail's link %.40q… is not Lanyard's reset page", link)
	}
	const newPassword = "a brand new horse battery staple"

	ctx := lanyardtest.Browser(t)
	// The page's own policy must let its style apply: a violation is logged.
	var mu sync.Mutex
	var violations []string
	chromedp.ListenTarget(ctx, func(ev any) {
		if e, ok := ev.(*log.EventEntryAdded); ok && strings.Contains(e.Entry.Text, "Content Security Policy") {
			mu.Lock()
			violations = append(violations, e.Entry.Text)
			mu.Unlock()
		}
	})
	var title, heading string
	if err := chromedp.Run(ctx,
		chromedp.Navigate(env.URL+u.RequestURI()),
		chromedp.WaitVisible("#new_password", chromedp.ByID),
		chromedp.SendKeys("#new_password", newPassword, chromedp.ByID),
		chromedp.SendKeys("#new_password_again", newPassword, chromedp.ByID),
		chromedp.Click(`button[type="submit"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`//h1[contains(., "Password changed")]`, chromedp.BySearch),
		chromedp.Title(&title),
		chromedp.Text("h1", &heading, chromedp.ByQuery),
	); err != nil {
		t.Fatalf("reset in the browser: %v", err)
	}
	if !strings.Contains(heading, "Password changed") {
		t.Errorf("after submitting: heading %q (title %q); want Password changed", heading, title)
	}
	mu.Lock()
	for _, v := range violations {
		t.Errorf("console: %s", v)
	}
	mu.Unlock()
	env.Do("POST", "/api/auth/login", map[string]any{"email": a.Email, "password": newPassword}).Must(t, http.StatusOK)
	problem(t, env.Do("POST", "/api/auth/login", map[string]any{"email": a.Email, "password": a.Password}), "login with the old password", http.StatusUnauthorized)
}
