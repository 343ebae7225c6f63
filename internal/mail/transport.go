package mail

import (
	"context"
	"crypto/tls"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/lanyard/lanyard/internal/store"
)

// Security is how a connection to the SMTP server is protected.
type Security string

const (
	StartTLS Security = "starttls" // smtp://: STARTTLS, required: a server without it is refused
	TLS      Security = "tls"      // smtps://: TLS from the first byte
	NoTLS    Security = "none"     // smtp://…?tls=none: plain text, for a relay on the same host
)

// SMTP is the server mails go through.
type SMTP struct {
	Host     string
	Port     int
	Username string // "": no authentication
	Password string
	Security Security
	// TLSConfig, when set, replaces the default TLS settings (tests trust their own
	// server's certificate with it); its ServerName defaults to Host.
	TLSConfig *tls.Config
}

// transport delivers one rendered mail and says where it went, for the log (never
// the recipient).
type transport interface {
	deliver(ctx context.Context, msg *gomail.Msg, m store.OutboxMail) (where string, err error)
}

// smtpTransport sends through an SMTP server with go-mail, one connection per mail:
// mails are few, and a connection kept open would only go stale between them.
type smtpTransport struct {
	c SMTP
}

func (t smtpTransport) deliver(ctx context.Context, msg *gomail.Msg, _ store.OutboxMail) (string, error) {
	opts := []gomail.Option{gomail.WithPort(t.c.Port), gomail.WithTimeout(sendTimeout)}
	switch t.c.Security {
	case TLS:
		opts = append(opts, gomail.WithSSL())
	case NoTLS:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	default:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	}
	tc := &tls.Config{ServerName: t.c.Host, MinVersion: tls.VersionTLS12}
	if t.c.TLSConfig != nil {
		tc = t.c.TLSConfig.Clone()
		if tc.ServerName == "" {
			tc.ServerName = t.c.Host
		}
	}
	opts = append(opts, gomail.WithTLSConfig(tc))
	if t.c.Username != "" {
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover), gomail.WithUsername(t.c.Username), gomail.WithPassword(t.c.Password))
	}
	c, err := gomail.NewClient(t.c.Host, opts...)
	if err != nil {
		return "", fmt.Errorf("smtp client: %w", err)
	}
	// Once the server has accepted the message after DATA it is delivered: a failure
	// of what follows (RSET, QUIT) must not make the mail go out twice.
	if err := c.DialAndSendWithContext(ctx, msg); err != nil && !msg.IsDelivered() {
		return "", fmt.Errorf("smtp: %w", err)
	}
	return "smtp", nil
}

// fileTransport writes each mail as an RFC 5322 .eml file into a directory, for
// development without an SMTP server. A file is named by the mail's id, so a mail
// written twice (its sender died before recording it) is one file.
type fileTransport struct {
	dir string
}

func (t fileTransport) deliver(_ context.Context, msg *gomail.Msg, m store.OutboxMail) (string, error) {
	if err := os.MkdirAll(t.dir, 0o700); err != nil {
		return "", fmt.Errorf("outbox directory: %w", err)
	}
	name := filepath.Join(t.dir, m.ID.Hex()+".eml")
	// The file holds a live link: only the owner may read it, and it appears whole or
	// not at all.
	f, err := os.CreateTemp(t.dir, ".mail-*")
	if err != nil {
		return "", fmt.Errorf("outbox file: %w", err)
	}
	defer os.Remove(f.Name())
	if _, err := msg.WriteTo(f); err != nil {
		f.Close()
		return "", fmt.Errorf("outbox file: %w", err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("outbox file: %w", err)
	}
	if err := os.Rename(f.Name(), name); err != nil {
		return "", fmt.Errorf("outbox file: %w", err)
	}
	return name, nil
}

// sendTimeout bounds one delivery, well within a claim's lease.
const sendTimeout = 30 * time.Second

// message builds the MIME message of m: plain text with an HTML alternative.
func message(from string, m store.OutboxMail) (*gomail.Msg, error) {
	msg := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	if err := msg.From(from); err != nil {
		return nil, fmt.Errorf("from: %w", err)
	}
	if err := msg.To(m.To); err != nil {
		return nil, fmt.Errorf("recipient: %w", scrubbed(err, m.To))
	}
	msg.Subject(m.Subject)
	msg.SetMessageIDWithValue(m.MessageID)
	msg.SetDateWithValue(m.CreatedAt)
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	}
	return msg, nil
}

// anAddress is anything that looks like an email address.
var anAddress = regexp.MustCompile(`[^\s<>"'@,;:]+@[^\s<>"'@,;:]+`)

// scrubbed is err's text without the recipient or anything else that looks like an
// address: SMTP servers name the recipient in their refusals ("550 <a@b>: no such
// user"), and what is logged and stored holds no email.
func scrubbed(err error, to string) error {
	s := err.Error()
	if to != "" {
		s = strings.ReplaceAll(s, to, "[address]")
	}
	return scrubError(anAddress.ReplaceAllString(s, "[address]"))
}

type scrubError string

func (e scrubError) Error() string { return string(e) }
