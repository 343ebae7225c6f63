// Package mail sends Lanyard's mails durably. Queue renders a mail from its kind's
// templates (built in, each replaceable by a file of LANYARD_MAIL_TEMPLATES) and
// records it in the store's outbox before the request that caused it is answered;
// every instance runs a sender (Run) that claims due mails — one claim per attempt,
// so each attempt is made by one instance —, delivers them over SMTP or, with no
// SMTP server configured, as .eml files in <data dir>/outbox/, and deletes them. A
// failed delivery is tried again with back-off for up to GiveUpAfter; then the mail
// is kept as failed, without its body, and counted.
//
// Nothing here logs a recipient, a link or a token: a mail is named by its id and
// kind, an SMTP server's refusal is logged with the addresses taken out.
package mail

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lanyard/lanyard"
	"github.com/lanyard/lanyard/internal/store"
)

// Kind names a mail and so its templates.
type Kind string

const (
	KindPasswordReset     Kind = "password_reset"      // Data: "link", "expires_in"
	KindVerifyEmail       Kind = "verify_email"        // Data: "link", "expires_in"
	KindEmailChange       Kind = "email_change"        // to the new address; Data: "link", "expires_in", "new_email"
	KindEmailChangeNotice Kind = "email_change_notice" // to the old address; Data: "new_email"
)

// Mail is a mail to queue: its kind, its recipient, and what its templates fill in.
type Mail struct {
	Kind Kind
	To   string
	Data map[string]string
}

// The sender's numbers.
const (
	// Lease is how long a claimed attempt belongs to its sender: a sender that dies
	// mid-attempt leaves the mail to any instance after this.
	Lease = 2 * time.Minute
	// FirstRetry is the wait after the first failed attempt; each further failure
	// doubles it, up to MaxRetry.
	FirstRetry = 30 * time.Second
	MaxRetry   = time.Hour
	// GiveUpAfter is how long after it was queued a mail is still tried.
	GiveUpAfter = 24 * time.Hour
	// PollEvery is how often a sender looks for due mails that no request of its own
	// announced (other instances' mails, retries).
	PollEvery = 5 * time.Second
	// batch is how many due mails one look fetches.
	batch = 50
)

// Options are what an Outbox needs.
type Options struct {
	Store *store.Store
	// From is the From address (LANYARD_MAIL_FROM).
	From string
	// SMTP is the server to send through; nil: write .eml files into Dir.
	SMTP *SMTP
	// Dir is where .eml files go without SMTP (<data dir>/outbox).
	Dir string
	// Templates is a directory whose files replace the built-in templates of the
	// same name ("": the built-ins only).
	Templates string
	Now       func() time.Time // nil: time.Now
	Logger    *slog.Logger     // nil: none
	Metrics   prometheus.Registerer
	// PollEvery replaces PollEvery (tests).
	PollEvery time.Duration
}

// Outbox queues mails and sends them.
type Outbox struct {
	st        *store.Store
	from      string
	domain    string // of From: the right-hand side of every Message-ID
	tpl       *templates
	transport transport
	now       func() time.Time
	log       *slog.Logger
	poll      time.Duration
	kick      chan struct{}
	m         metrics
}

// New returns an Outbox. It parses the templates, so a broken override stops the
// start.
func New(o Options) (*Outbox, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.PollEvery <= 0 {
		o.PollEvery = PollEvery
	}
	from, err := mail.ParseAddress(o.From)
	if err != nil {
		return nil, fmt.Errorf("mail from: %w", err)
	}
	tpl, err := loadTemplates(o.Templates)
	if err != nil {
		return nil, err
	}
	var tr transport = fileTransport{dir: o.Dir}
	if o.SMTP != nil {
		tr = smtpTransport{c: *o.SMTP}
	} else if o.Dir == "" {
		return nil, errors.New("mail: neither an SMTP server nor an outbox directory")
	}
	_, domain, _ := strings.Cut(from.Address, "@")
	ob := &Outbox{
		st: o.Store, from: from.String(), domain: domain, tpl: tpl, transport: tr,
		now: o.Now, log: o.Logger, poll: o.PollEvery, kick: make(chan struct{}, 1), m: newMetrics(),
	}
	if o.Metrics != nil {
		ob.m.register(o.Metrics)
	}
	return ob, nil
}

// Queue renders m and records it in the store before returning (durable before the
// request is answered). Any instance's sender may then send it; this one's is told
// at once.
func (o *Outbox) Queue(ctx context.Context, m Mail) error {
	if _, ok := kinds[m.Kind]; !ok {
		return fmt.Errorf("queue mail: unknown kind %q", m.Kind)
	}
	if _, err := mail.ParseAddress(m.To); err != nil {
		return fmt.Errorf("queue %s mail: the recipient is not an address", m.Kind)
	}
	r, err := o.tpl.render(m.Kind, m.Data)
	if err != nil {
		return fmt.Errorf("queue mail: %w", err)
	}
	now := store.Millis(o.now())
	id := store.NewID()
	err = o.st.InsertMail(ctx, store.OutboxMail{
		ID: id, Kind: string(m.Kind), To: m.To, MessageID: id.Hex() + "@" + o.domain,
		Subject: r.subject, Text: r.text, HTML: r.html, CreatedAt: now, NextAttemptAt: now,
	})
	if err != nil {
		return fmt.Errorf("queue %s mail: %w", m.Kind, err)
	}
	o.m.queued.WithLabelValues(string(m.Kind)).Inc()
	select {
	case o.kick <- struct{}{}:
	default:
	}
	return nil
}

// Render renders m as Queue does and keeps nothing: the work of a mail that is not
// sent, for a caller whose time must not tell whether it sent one. It says how many
// bytes the mail's parts hold.
func (o *Outbox) Render(m Mail) (int, error) {
	if _, ok := kinds[m.Kind]; !ok {
		return 0, fmt.Errorf("render mail: unknown kind %q", m.Kind)
	}
	r, err := o.tpl.render(m.Kind, m.Data)
	if err != nil {
		return 0, fmt.Errorf("render mail: %w", err)
	}
	return len(r.subject) + len(r.text) + len(r.html), nil
}

// Run sends due mails until ctx ends: whenever this instance queues one, and every
// poll interval for the rest (a restarted instance's first look, other instances'
// mails, retries).
func (o *Outbox) Run(ctx context.Context) {
	t := time.NewTicker(o.poll)
	defer t.Stop()
	sweep := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-o.kick:
		case <-t.C:
		}
		if _, err := o.SendDue(ctx); err != nil && ctx.Err() == nil {
			o.log.Warn("mail sender failed", "error", err)
		}
		o.observe(ctx)
		if time.Since(sweep) > 10*time.Minute {
			sweep = time.Now()
			if _, err := o.st.SweepMailClaims(ctx, o.now()); err != nil && ctx.Err() == nil {
				o.log.Warn("background work failed", "work", "mail claim sweep", "error", err)
			}
		}
	}
}

// SendDue makes one attempt at every mail that is due now and that no other
// instance is attempting, and says how many were delivered.
func (o *Outbox) SendDue(ctx context.Context) (int, error) {
	sent := 0
	for {
		due, err := o.st.DueMails(ctx, o.now(), batch)
		if err != nil {
			return sent, fmt.Errorf("due mails: %w", err)
		}
		for _, m := range due {
			ok, err := o.attempt(ctx, m)
			if err != nil {
				return sent, err
			}
			if ok {
				sent++
			}
		}
		if len(due) < batch {
			return sent, nil
		}
	}
}

// attempt claims one attempt at m and makes it. Only a store failure is an error; a
// failed delivery is recorded on the mail and logged.
func (o *Outbox) attempt(ctx context.Context, m store.OutboxMail) (bool, error) {
	now := o.now()
	err := o.st.ClaimMail(ctx, &m, now, now.Add(Lease))
	if errors.Is(err, store.ErrDuplicate) || errors.Is(err, lanyard.ErrNotFound) {
		return false, nil // another instance has it, or has sent it
	}
	if err != nil {
		return false, fmt.Errorf("claim mail: %w", err)
	}
	where, err := o.deliver(ctx, m)
	if err == nil {
		if err := o.st.MailSent(ctx, m); err != nil {
			return true, fmt.Errorf("mail %s sent: %w", m.ID.Hex(), err)
		}
		o.m.sent.WithLabelValues(m.Kind).Inc()
		o.log.Info("mail sent", "mail", m.ID.Hex(), "kind", m.Kind, "attempts", m.Attempts, "via", where)
		return true, nil
	}
	reason := scrubbed(err, m.To).Error()
	now = o.now()
	if now.Sub(m.CreatedAt) >= GiveUpAfter {
		if err := o.st.FailMail(ctx, m, now, reason); err != nil {
			return false, fmt.Errorf("mail %s failed: %w", m.ID.Hex(), err)
		}
		o.m.failed.WithLabelValues(m.Kind).Inc()
		o.log.Error("mail given up", "mail", m.ID.Hex(), "kind", m.Kind, "attempts", m.Attempts, "error", reason)
		return false, nil
	}
	wait := retryAfter(m.Attempts)
	if err := o.st.RetryMail(ctx, m, now.Add(wait), reason); err != nil {
		return false, fmt.Errorf("mail %s retry: %w", m.ID.Hex(), err)
	}
	o.log.Warn("mail not sent; will retry", "mail", m.ID.Hex(), "kind", m.Kind, "attempts", m.Attempts, "retry_in", wait.String(), "error", reason)
	return false, nil
}

func (o *Outbox) deliver(ctx context.Context, m store.OutboxMail) (string, error) {
	msg, err := message(o.from, m)
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, sendTimeout)
	defer cancel()
	return o.transport.deliver(ctx, msg, m)
}

// retryAfter is the wait after the n-th failed attempt: FirstRetry doubled n-1
// times, at most MaxRetry.
func retryAfter(n int) time.Duration {
	if n <= 1 {
		return FirstRetry
	}
	if n > 20 {
		return MaxRetry
	}
	return min(FirstRetry<<(n-1), MaxRetry)
}

// observe sets the outbox gauges from the store.
func (o *Outbox) observe(ctx context.Context) {
	st, err := o.st.Outbox(ctx)
	if err != nil {
		return // the next round tries again; the store's own metrics count the failure
	}
	o.m.queuedNow.Set(float64(st.Queued))
	o.m.failedNow.Set(float64(st.Failed))
	age := 0.0
	if !st.Oldest.IsZero() {
		age = max(0, o.now().Sub(st.Oldest).Seconds())
	}
	o.m.oldest.Set(age)
}

// Duration is d as a mail says it ("30 minutes", "24 hours"), for "expires_in".
func Duration(d time.Duration) string {
	unit := func(n int64, one string) string {
		if n == 1 {
			return "1 " + one
		}
		return strconv.FormatInt(n, 10) + " " + one + "s"
	}
	switch {
	case d >= time.Hour && d%time.Hour == 0:
		return unit(int64(d/time.Hour), "hour")
	case d >= time.Minute:
		return unit(int64(d/time.Minute), "minute")
	default:
		return unit(max(1, int64(d/time.Second)), "second")
	}
}

type metrics struct {
	queued, sent, failed         *prometheus.CounterVec
	queuedNow, failedNow, oldest prometheus.Gauge
}

func newMetrics() metrics {
	byKind := func(name, help string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, []string{"kind"})
	}
	return metrics{
		queued: byKind("lanyard_mail_queued_total", "Mails this instance recorded in the outbox, by kind."),
		sent:   byKind("lanyard_mail_sent_total", "Mails this instance delivered, by kind."),
		failed: byKind("lanyard_mail_failed_total", "Mails this instance gave up on after retrying for 24 hours, by kind."),
		queuedNow: prometheus.NewGauge(prometheus.GaugeOpts{Name: "lanyard_mail_outbox_queued",
			Help: "Mails waiting in the outbox (every instance's), as this instance last counted."}),
		failedNow: prometheus.NewGauge(prometheus.GaugeOpts{Name: "lanyard_mail_outbox_failed",
			Help: "Mails kept in the outbox as failed."}),
		oldest: prometheus.NewGauge(prometheus.GaugeOpts{Name: "lanyard_mail_oldest_queued_seconds",
			Help: "Age of the oldest mail waiting in the outbox; 0 when none waits."}),
	}
}

func (m metrics) register(r prometheus.Registerer) {
	for k := range kinds { // every kind shows, at 0, before its first mail
		m.queued.WithLabelValues(string(k))
		m.sent.WithLabelValues(string(k))
		m.failed.WithLabelValues(string(k))
	}
	r.MustRegister(m.queued, m.sent, m.failed, m.queuedNow, m.failedNow, m.oldest)
}
