package httpapi_test

import (
	"bufio"
	"bytes"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lanyard/lanyard/internal/lanyardtest"
	"github.com/lanyard/lanyard/internal/mail"
)

// mailMetric is the value of one series of /metrics, the series named exactly as
// Prometheus prints it (with its labels); -1 when it is not there.
func mailMetric(t *testing.T, env *lanyardtest.Env, series string) float64 {
	t.Helper()
	body := env.Do("GET", "/metrics", nil).Must(t, http.StatusOK).Body
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if ok && name == series {
			v, err := strconv.ParseFloat(value, 64)
			if err != nil {
				t.Fatalf("%s: %v", sc.Text(), err)
			}
			return v
		}
	}
	return -1
}

// While the SMTP server is down the outbox metrics show a mail waiting and its age;
// once it is back and the mail is sent, they show it sent and nothing waiting.
func TestMailMetrics_ShowWhatWaitsHowLongAndWhatWasSent(t *testing.T) {
	t.Parallel()
	clock := lanyardtest.NewClock()
	mb := lanyardtest.NewMailbox(t)
	mb.Stop()
	env := lanyardtest.New(t, lanyardtest.WithMailbox(mb), lanyardtest.WithClock(clock.Now), lanyardtest.WithMailPoll(20*time.Millisecond))
	a := env.Register("ada") // its verification mail waits too
	requestReset(env, a.Email).Must(t, http.StatusAccepted)
	clock.Advance(10 * time.Minute)
	waitUntil(t, "the outbox gauges", func() bool {
		return mailMetric(t, env, "lanyard_mail_outbox_queued") == 2 && mailMetric(t, env, "lanyard_mail_oldest_queued_seconds") >= 600
	})
	for series, want := range map[string]float64{
		`lanyard_mail_queued_total{kind="password_reset"}`: 1,
		`lanyard_mail_sent_total{kind="password_reset"}`:   0,
		`lanyard_mail_failed_total{kind="password_reset"}`: 0,
		"lanyard_mail_outbox_failed":                       0,
	} {
		if got := mailMetric(t, env, series); got != want {
			t.Errorf("%s = %v; want %v", series, got, want)
		}
	}
	mb.Start()
	clock.Advance(mail.MaxRetry)
	mb.WaitFor(t, a.Email)
	mb.WaitFor(t, a.Email)
	waitUntil(t, "the mails counted as sent", func() bool {
		return mailMetric(t, env, `lanyard_mail_sent_total{kind="password_reset"}`) == 1 &&
			mailMetric(t, env, "lanyard_mail_outbox_queued") == 0 && mailMetric(t, env, "lanyard_mail_oldest_queued_seconds") == 0
	})
}
