package mail_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.mongodb.org/mongo-driver/v2/bson"

	"log/slog"

	"github.com/lanyard/lanyard/internal/lanyardtest"
	"github.com/lanyard/lanyard/internal/mail"
	"github.com/lanyard/lanyard/internal/store"
)

func TestMain(m *testing.M) { os.Exit(lanyardtest.Main(m)) }

const link = "https://accounts.example.com/reset-password?token=tok_secret_123"

func resetMail(to string) mail.Mail {
	return mail.Mail{Kind: mail.KindPasswordReset, To: to, Data: map[string]string{"link": link, "expires_in": "30 minutes"}}
}

type fixture struct {
	st    *store.Store
	clock *lanyardtest.Clock
	reg   *prometheus.Registry
	log   *bytes.Buffer
	logMu *sync.Mutex
}

func newFixture(t *testing.T) *fixture {
	return &fixture{st: lanyardtest.OpenStore(t), clock: lanyardtest.NewClock(), reg: prometheus.NewRegistry(), log: &bytes.Buffer{}, logMu: &sync.Mutex{}}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (f *fixture) logged() string {
	f.logMu.Lock()
	defer f.logMu.Unlock()
	return f.log.String()
}

// outbox is an Outbox on the fixture's store; smtp nil writes files to dir.
func (f *fixture) outbox(t *testing.T, smtp *mail.SMTP, dir string, adjust ...func(*mail.Options)) *mail.Outbox {
	t.Helper()
	o := mail.Options{
		Store: f.st, From: "Lanyard <noreply@lanyard.test>", SMTP: smtp, Dir: dir, Now: f.clock.Now,
		Logger: slog.New(slog.NewTextHandler(lockedWriter{f.logMu, f.log}, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	for _, a := range adjust {
		a(&o)
	}
	ob, err := mail.New(o)
	if err != nil {
		t.Fatalf("mail.New: %v", err)
	}
	return ob
}

// smtpOf is the SMTP settings that reach mb, as config.Load reads them from its URL.
func smtpOf(mb *lanyardtest.Mailbox, security mail.Security) *mail.SMTP {
	host, port := splitHostPort(mb.Addr())
	return &mail.SMTP{Host: host, Port: port, Security: security, TLSConfig: mb.TLSConfig()}
}

func splitHostPort(addr string) (string, int) {
	i := strings.LastIndex(addr, ":")
	p := 0
	for _, c := range addr[i+1:] {
		p = p*10 + int(c-'0')
	}
	return addr[:i], p
}

func sendDue(t *testing.T, ob *mail.Outbox) int {
	t.Helper()
	n, err := ob.SendDue(context.Background())
	if err != nil {
		t.Fatalf("SendDue: %v", err)
	}
	return n
}

func outboxDocs(t *testing.T, st *store.Store) []bson.M {
	return lanyardtest.RawDocs(t, st.Raw(), "mail_outbox", bson.D{})
}

func TestOutbox_DeliversOverEverySMTPSecurity(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		opts     []lanyardtest.MailboxOption
		security mail.Security
		user     string
	}{
		{"plain", nil, mail.NoTLS, ""},
		{"STARTTLS", []lanyardtest.MailboxOption{lanyardtest.MailboxSTARTTLS()}, mail.StartTLS, ""},
		{"implicit TLS with auth", []lanyardtest.MailboxOption{lanyardtest.MailboxTLS(), lanyardtest.MailboxAuth("lanyard", "s3cret")}, mail.TLS, "lanyard"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			mb := lanyardtest.NewMailbox(t, c.opts...)
			s := smtpOf(mb, c.security)
			if c.user != "" {
				s.Username, s.Password = c.user, "s3cret"
			}
			ob := f.outbox(t, s, "")
			if err := ob.Queue(context.Background(), resetMail("ada@example.com")); err != nil {
				t.Fatal(err)
			}
			if n := sendDue(t, ob); n != 1 {
				t.Fatalf("SendDue = %d; want 1 (log: %s)", n, f.logged())
			}
			got := mb.WaitFor(t, "ada@example.com")
			if subj := got.Header.Get("Subject"); subj != "Reset your password" {
				t.Errorf("Subject = %q", subj)
			}
			if from := got.Header.Get("From"); !strings.Contains(from, "noreply@lanyard.test") {
				t.Errorf("From = %q", from)
			}
			if id := got.Header.Get("Message-Id"); !strings.HasSuffix(id, "@lanyard.test>") {
				t.Errorf("Message-ID = %q", id)
			}
			if got.Link(t) != link || !strings.Contains(got.Text, "30 minutes") {
				t.Errorf("text part = %q; want the link and the expiry", got.Text)
			}
			if !strings.Contains(got.HTML, `href="`+strings.ReplaceAll(link, "&", "&amp;")+`"`) {
				t.Errorf("html part = %q; want the link", got.HTML)
			}
			if docs := outboxDocs(t, f.st); len(docs) != 0 {
				t.Errorf("outbox after sending = %v; want empty", docs)
			}
		})
	}
}

func TestOutbox_STARTTLSRequiredRefusesAServerWithoutIt(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	mb := lanyardtest.NewMailbox(t) // offers no STARTTLS
	ob := f.outbox(t, smtpOf(mb, mail.StartTLS), "")
	if err := ob.Queue(context.Background(), resetMail("ada@example.com")); err != nil {
		t.Fatal(err)
	}
	if n := sendDue(t, ob); n != 0 {
		t.Fatalf("SendDue = %d; want 0: the server offers no STARTTLS", n)
	}
	if mb.Count() != 0 {
		t.Fatalf("the server received %d mails in plain text", mb.Count())
	}
	docs := outboxDocs(t, f.st)
	if len(docs) != 1 || docs[0]["attempts"] != int32(1) || docs[0]["last_error"] == nil {
		t.Fatalf("outbox = %v; want the mail kept, one attempt, its error", docs)
	}
	if e := docs[0]["last_error"].(string); strings.Contains(e, "ada@example.com") {
		t.Errorf("last_error %q holds the address", e)
	}
}

func TestOutbox_SendsNoPasswordOverAPlainConnection(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	mb := lanyardtest.NewMailbox(t, lanyardtest.MailboxAuth("lanyard", "s3cret")) // offers PLAIN without TLS
	s := smtpOf(mb, mail.NoTLS)
	s.Username, s.Password = "lanyard", "s3cret"
	ob := f.outbox(t, s, "")
	if err := ob.Queue(context.Background(), resetMail("ada@example.com")); err != nil {
		t.Fatal(err)
	}
	if n := sendDue(t, ob); n != 0 || mb.Count() != 0 {
		t.Fatalf("SendDue = %d, received %d; want neither: PLAIN over tls=none would send the password in clear", n, mb.Count())
	}
}

func TestOutbox_RetriesWithBackOffUntilTheServerIsBack(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	mb := lanyardtest.NewMailbox(t)
	mb.Stop()
	ob := f.outbox(t, smtpOf(mb, mail.NoTLS), "", func(o *mail.Options) { o.Metrics = f.reg })
	if err := ob.Queue(context.Background(), resetMail("ada@example.com")); err != nil {
		t.Fatal(err)
	}
	if n := sendDue(t, ob); n != 0 {
		t.Fatalf("SendDue with the server down = %d", n)
	}
	mb.Start()
	if n := sendDue(t, ob); n != 0 {
		t.Fatalf("SendDue before the retry is due = %d; want 0", n)
	}
	f.clock.Advance(mail.FirstRetry)
	if n := sendDue(t, ob); n != 1 {
		t.Fatalf("SendDue once the retry is due = %d; want 1", n)
	}
	if got := mb.WaitFor(t, "ada@example.com"); got.Link(t) != link {
		t.Errorf("link = %q", got.Link(t))
	}
	if v := testutil.ToFloat64(metric(t, f.reg, "lanyard_mail_sent_total")); v != 1 {
		t.Errorf("sent = %v; want 1", v)
	}
	if strings.Contains(f.logged(), "ada@example.com") || strings.Contains(f.logged(), "tok_secret_123") {
		t.Errorf("the log holds the address or the token:\n%s", f.logged())
	}
}

func TestOutbox_GivesUpAfter24HoursAndKeepsTheMailWithoutItsBody(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	mb := lanyardtest.NewMailbox(t)
	mb.Stop()
	ob := f.outbox(t, smtpOf(mb, mail.NoTLS), "", func(o *mail.Options) { o.Metrics = f.reg })
	if err := ob.Queue(context.Background(), resetMail("ada@example.com")); err != nil {
		t.Fatal(err)
	}
	attempts := 0
	for range 100 {
		attempts += 1
		sendDue(t, ob)
		f.clock.Advance(mail.MaxRetry)
		if d := outboxDocs(t, f.st); len(d) == 1 && d[0]["failed_at"] != nil {
			break
		}
	}
	docs := outboxDocs(t, f.st)
	if len(docs) != 1 || docs[0]["failed_at"] == nil || docs[0]["next_attempt_at"] != nil {
		t.Fatalf("outbox = %v; want one failed mail", docs)
	}
	for _, field := range []string{"to", "subject", "text", "html"} {
		if docs[0][field] != nil {
			t.Errorf("a failed mail keeps %s", field)
		}
	}
	if v := testutil.ToFloat64(metric(t, f.reg, "lanyard_mail_failed_total")); v != 1 {
		t.Errorf("failed = %v; want 1", v)
	}
	mb.Start()
	f.clock.Advance(mail.MaxRetry)
	if n := sendDue(t, ob); n != 0 || mb.Count() != 0 {
		t.Errorf("a failed mail was sent after all")
	}
	if strings.Contains(f.logged(), "ada@example.com") {
		t.Errorf("the log holds the address:\n%s", f.logged())
	}
}

// metric is the counter or gauge named, summed over its labels.
func metric(t *testing.T, reg *prometheus.Registry, name string) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	found := false
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		found = true
		for _, m := range mf.GetMetric() {
			sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	if !found {
		t.Fatalf("no metric %s", name)
	}
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "sum"})
	g.Set(sum)
	return g
}

func TestOutbox_ConcurrentSendersDeliverEachMailOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	mb := lanyardtest.NewMailbox(t)
	var senders []*mail.Outbox
	for range 4 {
		senders = append(senders, f.outbox(t, smtpOf(mb, mail.NoTLS), ""))
	}
	const mails = 6
	for i := range mails {
		if err := senders[0].Queue(context.Background(), resetMail("user"+string(rune('a'+i))+"@example.com")); err != nil {
			t.Fatal(err)
		}
	}
	var sent atomic.Int64
	lanyardtest.AtOnce(len(senders), func(i int) {
		n, err := senders[i].SendDue(context.Background())
		if err != nil {
			t.Errorf("SendDue: %v", err)
		}
		sent.Add(int64(n))
	})
	if sent.Load() != mails {
		t.Fatalf("delivered %d; want %d", sent.Load(), mails)
	}
	for i := range mails {
		mb.WaitFor(t, "user"+string(rune('a'+i))+"@example.com")
	}
	if mb.Count() != mails {
		t.Fatalf("the server received %d mails; want %d, each once", mb.Count(), mails)
	}
}

func TestOutbox_AMailWhoseSenderDiedIsSentByAnotherAfterTheLease(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	mb := lanyardtest.NewMailbox(t)
	ob := f.outbox(t, smtpOf(mb, mail.NoTLS), "")
	if err := ob.Queue(context.Background(), resetMail("ada@example.com")); err != nil {
		t.Fatal(err)
	}
	// A sender claims the attempt and dies before delivering or recording anything.
	due, err := f.st.DueMails(context.Background(), f.clock.Now(), 10)
	if err != nil || len(due) != 1 {
		t.Fatalf("DueMails = %v, %v", due, err)
	}
	if err := f.st.ClaimMail(context.Background(), &due[0], f.clock.Now(), f.clock.Now().Add(mail.Lease)); err != nil {
		t.Fatal(err)
	}
	other := f.outbox(t, smtpOf(mb, mail.NoTLS), "")
	if n := sendDue(t, other); n != 0 {
		t.Fatalf("SendDue within the dead sender's lease = %d; want 0", n)
	}
	f.clock.Advance(mail.Lease)
	if n := sendDue(t, other); n != 1 {
		t.Fatalf("SendDue after the lease = %d; want 1", n)
	}
	mb.WaitFor(t, "ada@example.com")
}

func TestOutbox_WithoutSMTPWritesAParseableEmlAndLogsItsNameNotTheLink(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	dir := filepath.Join(t.TempDir(), "outbox")
	ob := f.outbox(t, nil, dir)
	if err := ob.Queue(context.Background(), resetMail("ada@example.com")); err != nil {
		t.Fatal(err)
	}
	if n := sendDue(t, ob); n != 1 {
		t.Fatalf("SendDue = %d; want 1", n)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.eml"))
	if len(files) != 1 {
		t.Fatalf("outbox files = %v; want one .eml", files)
	}
	info, _ := os.Stat(files[0])
	if info.Mode().Perm() != 0o600 {
		t.Errorf("file mode = %v; want 0600: it holds a live link", info.Mode().Perm())
	}
	raw, _ := os.ReadFile(files[0])
	got, err := lanyardtest.ParseMail(raw)
	if err != nil {
		t.Fatalf("parse %s: %v", files[0], err)
	}
	if got.Header.Get("To") != "<ada@example.com>" && got.Header.Get("To") != "ada@example.com" {
		t.Errorf("To = %q", got.Header.Get("To"))
	}
	if got.Link(t) != link {
		t.Errorf("link = %q; want %q", got.Link(t), link)
	}
	log := f.logged()
	if !strings.Contains(log, files[0]) {
		t.Errorf("the log does not name %s:\n%s", files[0], log)
	}
	for _, secret := range []string{"tok_secret_123", "ada@example.com", "reset-password"} {
		if strings.Contains(log, secret) {
			t.Errorf("the log holds %q:\n%s", secret, log)
		}
	}
}

func TestOutbox_TemplatesFromADirectoryReplaceTheBuiltInOnesFileByFile(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "password_reset.subject.txt"), []byte("Your {{.expires_in}} link\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "password_reset.html"), []byte(`<p><a href="{{.link}}">go</a> <b>{{.expires_in}}</b></p>`), 0o600)
	mb := lanyardtest.NewMailbox(t)
	ob := f.outbox(t, smtpOf(mb, mail.NoTLS), "", func(o *mail.Options) { o.Templates = dir })
	m := resetMail("ada@example.com")
	m.Data["expires_in"] = "<30 minutes>"
	if err := ob.Queue(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	sendDue(t, ob)
	got := mb.WaitFor(t, "ada@example.com")
	if s := got.Header.Get("Subject"); s != "Your <30 minutes> link" {
		t.Errorf("Subject = %q; want the override's", s)
	}
	if !strings.Contains(got.HTML, "<b>&lt;30 minutes&gt;</b>") {
		t.Errorf("html = %q; want the override's, its data escaped", got.HTML)
	}
	if !strings.Contains(got.Text, "To choose a new password") {
		t.Errorf("text = %q; want the built-in one", got.Text)
	}
}

func TestNew_RefusesTemplatesThatCannotRender(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, file, body string }{
		{"unknown file", "pasword_reset.txt", "hello"},
		{"syntax", "verify_email.txt", "{{.link"},
		{"data its kind lacks", "email_change_notice.txt", "{{.link}}"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			os.WriteFile(filepath.Join(dir, c.file), []byte(c.body), 0o600)
			_, err := mail.New(mail.Options{Store: nil, From: "noreply@lanyard.test", Dir: dir, Templates: dir})
			if err == nil {
				t.Fatal("New accepted the templates")
			}
		})
	}
}

func TestQueue_RecordsTheRenderedMailBeforeReturning(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ob := f.outbox(t, nil, t.TempDir())
	if err := ob.Queue(context.Background(), resetMail("ada@example.com")); err != nil {
		t.Fatal(err)
	}
	docs := outboxDocs(t, f.st)
	if len(docs) != 1 {
		t.Fatalf("outbox = %v; want one mail", docs)
	}
	d := docs[0]
	if d["kind"] != "password_reset" || d["to"] != "ada@example.com" || d["attempts"] != int32(0) ||
		!strings.Contains(d["text"].(string), link) || !strings.Contains(d["html"].(string), "href=") || d["next_attempt_at"] == nil {
		t.Errorf("stored mail = %v", d)
	}
	if err := ob.Queue(context.Background(), mail.Mail{Kind: mail.KindPasswordReset, To: "ada@example.com", Data: map[string]string{"link": link}}); err == nil {
		t.Error("Queue accepted a mail without the data its templates use")
	}
	if err := ob.Queue(context.Background(), mail.Mail{Kind: "newsletter", To: "ada@example.com"}); err == nil {
		t.Error("Queue accepted an unknown kind")
	}
}

func TestDuration_SaysHowLongAsAMailDoes(t *testing.T) {
	t.Parallel()
	for d, want := range map[time.Duration]string{30 * time.Minute: "30 minutes", time.Hour: "1 hour", 24 * time.Hour: "24 hours", 90 * time.Minute: "90 minutes", time.Minute: "1 minute"} {
		if got := mail.Duration(d); got != want {
			t.Errorf("Duration(%v) = %q; want %q", d, got, want)
		}
	}
}
