package lanyardtest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"io"
	"math/big"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Mailbox is a real SMTP server in the test process (emersion/go-smtp on a port of
// its own) that keeps every mail it accepts. WithMailbox makes a service send
// through it; Stop and Start take it down and bring it back on the same port.
type Mailbox struct {
	t    testing.TB
	o    mailboxOptions
	cert tls.Certificate
	pool *x509.CertPool

	mu     sync.Mutex
	addr   string
	srv    *smtp.Server
	lis    net.Listener
	mails  []*Received
	arrive chan struct{} // closed and replaced on each arrival
}

// MailboxOption adjusts a Mailbox.
type MailboxOption func(*mailboxOptions)

type mailboxOptions struct {
	security   string // "none", "starttls", "tls"
	user, pass string
}

// MailboxSTARTTLS makes the server offer STARTTLS with a certificate of its own, which
// TLSConfig trusts; the service's URL then requires it.
func MailboxSTARTTLS() MailboxOption { return func(o *mailboxOptions) { o.security = "starttls" } }

// MailboxTLS makes the server speak TLS from the first byte (smtps://).
func MailboxTLS() MailboxOption { return func(o *mailboxOptions) { o.security = "tls" } }

// MailboxAuth makes the server require AUTH PLAIN with this user and password; the
// service's URL carries them.
func MailboxAuth(user, pass string) MailboxOption {
	return func(o *mailboxOptions) { o.user, o.pass = user, pass }
}

// Received is a mail the Mailbox accepted, parsed with net/mail.
type Received struct {
	From    string   // the envelope's
	To      []string // the envelope's
	Raw     []byte
	Message *mail.Message
	Header  mail.Header
	Text    string // the text/plain part, decoded
	HTML    string // the text/html part, decoded

	claimed bool // handed out by Next or WaitFor
}

// NewMailbox starts an SMTP server on 127.0.0.1, port 0, plain by default (the
// service's URL says tls=none), and stops it when the test ends.
func NewMailbox(t testing.TB, opts ...MailboxOption) *Mailbox {
	t.Helper()
	m := &Mailbox{t: t, o: mailboxOptions{security: "none"}, addr: "127.0.0.1:0", arrive: make(chan struct{})}
	for _, opt := range opts {
		opt(&m.o)
	}
	if m.o.security != "none" {
		m.cert, m.pool = testCertificate(t)
	}
	m.Start()
	t.Cleanup(m.Stop)
	return m
}

// URL is the LANYARD_SMTP_URL that sends through this server.
func (m *Mailbox) URL() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	u := url.URL{Scheme: "smtp", Host: m.addr}
	switch m.o.security {
	case "none":
		u.RawQuery = "tls=none"
	case "tls":
		u.Scheme = "smtps"
	}
	if m.o.user != "" {
		u.User = url.UserPassword(m.o.user, m.o.pass)
	}
	return u.String()
}

// Addr is the server's host:port.
func (m *Mailbox) Addr() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.addr
}

// TLSConfig is a client configuration that trusts the server's certificate (nil for
// a plain server).
func (m *Mailbox) TLSConfig() *tls.Config {
	if m.pool == nil {
		return nil
	}
	return &tls.Config{RootCAs: m.pool, MinVersion: tls.VersionTLS12}
}

// Stop shuts the server down: connections are refused until Start.
func (m *Mailbox) Stop() {
	m.mu.Lock()
	srv, lis := m.srv, m.lis
	m.srv, m.lis = nil, nil
	m.mu.Unlock()
	if srv != nil {
		// The listener is closed here too: Close only knows of it once Serve runs.
		_ = lis.Close()
		_ = srv.Close()
	}
}

// Start brings the server up, on the port it had before (any free port the first
// time).
func (m *Mailbox) Start() {
	m.t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.srv != nil {
		return
	}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &mailboxSession{m: m}, nil }))
	srv.Domain = "mailbox.test"
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	srv.MaxMessageBytes = 1 << 20
	srv.ErrorLog = discardLogger{}
	var l net.Listener
	var err error
	for try := 0; try < 50; try++ { // the old port may take a moment to be free again
		if l, err = net.Listen("tcp", m.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		m.t.Fatalf("lanyardtest: mailbox: listen: %v", err)
	}
	switch m.o.security {
	case "starttls":
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{m.cert}}
	case "tls":
		l = tls.NewListener(l, &tls.Config{Certificates: []tls.Certificate{m.cert}})
	default:
		srv.AllowInsecureAuth = true // AUTH over plain text: only on loopback, in tests
	}
	m.addr, m.srv, m.lis = l.Addr().String(), srv, l
	go func() { _ = srv.Serve(l) }()
}

// Count says how many mails the server has accepted.
func (m *Mailbox) Count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.mails)
}

// All returns every mail accepted so far.
func (m *Mailbox) All() []*Received {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]*Received(nil), m.mails...)
}

// mailWait bounds how long Next and WaitFor wait for a mail.
const mailWait = 15 * time.Second

// Next returns the earliest mail that Next and WaitFor have not handed out yet,
// waiting for one to arrive.
func (m *Mailbox) Next(t testing.TB) *Received {
	t.Helper()
	return m.wait(t, "", "no mail arrived")
}

// WaitFor returns the earliest mail to the address to that Next and WaitFor have
// not handed out yet, waiting for one to arrive.
func (m *Mailbox) WaitFor(t testing.TB, to string) *Received {
	t.Helper()
	return m.wait(t, to, "no mail to "+to+" arrived")
}

func (m *Mailbox) wait(t testing.TB, to, failure string) *Received {
	t.Helper()
	deadline := time.After(mailWait)
	for {
		m.mu.Lock()
		for _, r := range m.mails {
			if (to == "" || r.for_(to)) && !r.claimed {
				r.claimed = true
				m.mu.Unlock()
				return r
			}
		}
		arrive := m.arrive
		m.mu.Unlock()
		select {
		case <-arrive:
		case <-deadline:
			t.Fatalf("lanyardtest: %s within %v", failure, mailWait)
			return nil
		}
	}
}

// None fails the test if a mail to to has arrived that Next and WaitFor have not
// handed out. It waits for nothing: call it once a mail sent later has arrived.
func (m *Mailbox) None(t testing.TB, to string) {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, r := range m.mails {
		if r.for_(to) && !r.claimed {
			t.Fatalf("lanyardtest: unexpected mail to %s: %q", to, r.Header.Get("Subject"))
		}
	}
}

func (r *Received) for_(to string) bool {
	for _, a := range r.To {
		if strings.EqualFold(a, to) {
			return true
		}
	}
	return false
}

var aLink = regexp.MustCompile(`https?://[^\s<>"]+`)

// Link is the first link of the mail's text part.
func (r *Received) Link(t testing.TB) string {
	t.Helper()
	l := aLink.FindString(r.Text)
	if l == "" {
		t.Fatalf("lanyardtest: no link in the mail's text: %q", r.Text)
	}
	return l
}

// Token is the token query parameter of the mail's link.
func (r *Received) Token(t testing.TB) string {
	t.Helper()
	u, err := url.Parse(r.Link(t))
	if err != nil {
		t.Fatalf("lanyardtest: the mail's link: %v", err)
	}
	tok := u.Query().Get("token")
	if tok == "" {
		t.Fatalf("lanyardtest: no token in the mail's link %q", u.Redacted())
	}
	return tok
}

type mailboxSession struct {
	m      *Mailbox
	authed bool
	from   string
	to     []string
}

func (s *mailboxSession) AuthMechanisms() []string {
	if s.m.o.user == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (s *mailboxSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != s.m.o.user || pass != s.m.o.pass {
			return errors.New("invalid credentials")
		}
		s.authed = true
		return nil
	}), nil
}

func (s *mailboxSession) Mail(from string, _ *smtp.MailOptions) error {
	if s.m.o.user != "" && !s.authed {
		return smtp.ErrAuthRequired
	}
	s.from = from
	return nil
}

func (s *mailboxSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}

func (s *mailboxSession) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	rec, err := parseMail(raw)
	if err != nil {
		return &smtp.SMTPError{Code: 554, Message: "lanyardtest: unparseable mail: " + err.Error()}
	}
	rec.From, rec.To = s.from, s.to
	m := s.m
	m.mu.Lock()
	m.mails = append(m.mails, rec)
	close(m.arrive)
	m.arrive = make(chan struct{})
	m.mu.Unlock()
	return nil
}

func (s *mailboxSession) Reset()        { s.from, s.to = "", nil }
func (s *mailboxSession) Logout() error { return nil }

// ParseMail parses an RFC 5322 message (an .eml file, say) with net/mail and decodes
// its text and HTML parts.
func ParseMail(raw []byte) (*Received, error) { return parseMail(raw) }

func parseMail(raw []byte) (*Received, error) {
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	rec := &Received{Raw: raw, Message: msg, Header: msg.Header}
	if err := rec.walk(msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Body); err != nil {
		return nil, err
	}
	return rec, nil
}

// walk decodes one part (a multipart one part by part) into Text and HTML.
func (r *Received) walk(contentType, encoding string, body io.Reader) error {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		mt = "text/plain"
	}
	if strings.HasPrefix(mt, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return err
			}
			if err := r.walk(p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p); err != nil {
				return err
			}
		}
	}
	switch strings.ToLower(encoding) {
	case "quoted-printable":
		body = quotedprintable.NewReader(body)
	case "base64":
		body = base64.NewDecoder(base64.StdEncoding, body)
	}
	b, err := io.ReadAll(body)
	if err != nil {
		return err
	}
	switch mt {
	case "text/plain":
		r.Text += string(b)
	case "text/html":
		r.HTML += string(b)
	}
	return nil
}

// testCertificate is a fresh self-signed certificate for 127.0.0.1 and a pool that
// trusts it.
func testCertificate(t testing.TB) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("lanyardtest: certificate key: %v", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "lanyardtest mailbox"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:     []string{"localhost"},
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatalf("lanyardtest: certificate: %v", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("lanyardtest: certificate: %v", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

type discardLogger struct{}

func (discardLogger) Printf(string, ...any) {}
func (discardLogger) Println(...any)        {}

// WithMailbox makes the service send its mails through m.
func WithMailbox(m *Mailbox) Option {
	return func(o *envOptions) {
		o.env["LANYARD_SMTP_URL"] = m.URL()
		o.env["LANYARD_MAIL_FROM"] = "Lanyard <noreply@lanyard.test>"
		o.mailTLS = m.TLSConfig()
	}
}

// WithMailPoll makes the service's mail sender look for due mails every d (retries,
// other instances' mails), instead of every few seconds.
func WithMailPoll(d time.Duration) Option {
	return func(o *envOptions) { o.mailPoll = d }
}
