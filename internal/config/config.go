// Package config turns the environment into a validated Config. It is the only place
// that knows the variable names; nothing else reads the environment.
package config

import (
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/mail"
	"net/netip"
	"net/url"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/lanyard/lanyard/internal/profile"
	"github.com/lanyard/lanyard/internal/provider"
)

// Config is everything the service can be told from outside.
type Config struct {
	Addr         string // LANYARD_ADDR
	MongoURI     string // MONGODB_URI; empty → the embedded store
	DB           string // LANYARD_DB
	DataDir      string // LANYARD_DATA_DIR
	StoreAddr    string // LANYARD_STORE_ADDR; empty → the embedded store listens only on its socket
	StorePostgre string // LANYARD_STORE_POSTGRESQL_URL

	// DataKey is nil when not given; with the embedded store it is then generated
	// into DataDir (see keyfile), with MONGODB_URI Load refuses to start.
	DataKey Secret // LANYARD_DATA_KEY
	// JWTSecret (LANYARD_JWT_SECRET) is the HS256 secret the previous version signed
	// access tokens with, kept only so that its tokens verify until they expire; nil
	// when not given (with the embedded store, an existing <data dir>/jwt.key is
	// read instead; none is made). Nothing is signed with it any more.
	JWTSecret Secret

	// Audience (LANYARD_AUDIENCE) is the aud of access tokens; default the issuer.
	Audience string
	// KeyPublishDelay (LANYARD_KEY_PUBLISH_DELAY) is how long a key that lanyard keys
	// rotate adds is published in the JWK Set before it signs.
	KeyPublishDelay time.Duration

	Issuer     string        // LANYARD_ISSUER
	AccessTTL  time.Duration // LANYARD_ACCESS_TTL
	RefreshTTL time.Duration // LANYARD_REFRESH_TTL
	// RefreshReuseGrace (LANYARD_REFRESH_REUSE_GRACE) is how long after a rotation the
	// spent token still answers with its successor, for clients that refresh twice at
	// once; zero: never, a spent token always ends its session.
	RefreshReuseGrace time.Duration

	RelationsFile string // LANYARD_RELATIONS_FILE
	// ProvidersFile (LANYARD_PROVIDERS_FILE) names the identity providers people sign
	// in through; Providers are its entries, validated, each client secret read from
	// the variable the entry names.
	ProvidersFile string
	Providers     []provider.Settings
	// RedirectURLs (LANYARD_REDIRECT_URLS) are the application URLs a provider's flow
	// may return to, compared exactly.
	RedirectURLs []string
	// CallbackBase is where identity providers send people back to
	// (<CallbackBase>/api/auth/oauth/{provider}/callback): LANYARD_PUBLIC_URL when it
	// is set; empty, the address each authorize request reached.
	CallbackBase string
	// ProfileSchema (LANYARD_PROFILE_SCHEMA, a path) is the JSON Schema every profile
	// change must meet, read and checked at start-up; nil: none (any object of at most
	// profile.MaxBytes).
	ProfileSchema *profile.Schema
	// CollectionPrefix (LANYARD_COLLECTION_PREFIX) is put before the name of every
	// collection Lanyard keeps, so that it can share a database with the application.
	CollectionPrefix  string
	LoginFailureLimit int            // LANYARD_LOGIN_FAILURE_LIMIT
	RegisterLimit     int            // LANYARD_REGISTER_LIMIT
	PasswordMinScore  int            // LANYARD_PASSWORD_MIN_SCORE: zxcvbn score 0-4
	HashConcurrency   int            // LANYARD_HASH_CONCURRENCY
	TrustedProxies    []netip.Prefix // LANYARD_TRUSTED_PROXIES
	CORSOrigins       []string       // LANYARD_CORS_ORIGINS

	// WebAuthnRPID (LANYARD_WEBAUTHN_RP_ID) is the relying party id passkeys are made
	// for: a domain, default the host name of LANYARD_PUBLIC_URL (when set) or of
	// LANYARD_ADDR, or localhost. WebAuthnOrigins (LANYARD_WEBAUTHN_ORIGINS) are the
	// origins whose pages may use them, each on the RP ID or a subdomain of it; default
	// the public URL's origin, else http://localhost:<port of LANYARD_ADDR> for
	// localhost, else https://<RP ID>.
	WebAuthnRPID    string
	WebAuthnOrigins []string

	// DrainTimeout (LANYARD_DRAIN_TIMEOUT) bounds how long a shutting-down serve keeps
	// accepting connections, /readyz saying 503, for its balancer to take it out of
	// rotation; see cmd/lanyard's connTracker.
	DrainTimeout time.Duration

	// MetricsAddr (LANYARD_METRICS_ADDR), when set, is where /metrics is served, on a
	// listener of its own, instead of on Addr.
	MetricsAddr string

	// RequireVerifiedEmail (LANYARD_REQUIRE_VERIFIED_EMAIL): a login with the right
	// password of an account whose email is not verified is refused.
	RequireVerifiedEmail bool

	LogLevel  slog.Level // LANYARD_LOG_LEVEL
	LogFormat string     // LANYARD_LOG_FORMAT: text or json

	// PublicURL (LANYARD_PUBLIC_URL) is where users reach Lanyard, without a
	// trailing slash: the links in mails start with it. Default: http:// and
	// LANYARD_ADDR (localhost for an unspecified host).
	PublicURL string
	// SMTP (LANYARD_SMTP_URL) is the server mails go through; nil: mails are
	// written as .eml files to <data dir>/outbox/.
	SMTP *SMTP
	// MailFrom (LANYARD_MAIL_FROM) is the From of every mail.
	MailFrom string
	// MailTemplates (LANYARD_MAIL_TEMPLATES) is a directory whose files replace the
	// built-in mail templates of the same name; "": none.
	MailTemplates string
	// ResetURL (LANYARD_RESET_URL) is the link of a password reset mail, {token}
	// standing for the token. Default: PublicURL + /reset-password?token={token}.
	ResetURL string
	ResetTTL time.Duration // LANYARD_RESET_TTL: how long a reset link works
	// VerifyURL (LANYARD_VERIFY_URL) is the link of a verification or email change
	// mail, {token} standing for the token. Default: PublicURL +
	// /verify-email?token={token}.
	VerifyURL string
	VerifyTTL time.Duration // LANYARD_VERIFY_TTL: how long such a link works

	// Test-only settings, for the multi-process tests (cmd/lanyard). Their variables
	// are named LANYARD_TEST_* so that no deployment sets one by mistake, they are
	// left out of the README's configuration table, and serve logs a warning naming
	// each one that is set (see TestSettings). Zero means off.

	// TestDeletePauseAfterBatches (LANYARD_TEST_DELETE_PAUSE_AFTER_BATCHES=k) makes
	// every chain delete that serve runs stop after its k-th batch and wait there
	// until the process ends, so that a test can kill the process part-way.
	TestDeletePauseAfterBatches int
	// TestDeletionLease (LANYARD_TEST_DELETION_LEASE, at most 60s) replaces the 60 s
	// lease of chain delete jobs, and lapsed jobs are then looked for every half
	// lease instead of every minute.
	TestDeletionLease time.Duration
	// TestMailHold (LANYARD_TEST_MAIL_HOLD=1) keeps this process's mail sender from
	// running: mails are queued and left for another instance, as if the process died
	// before sending them.
	TestMailHold bool
	// TestImportPauseAfter (LANYARD_TEST_IMPORT_PAUSE_AFTER=k) makes `lanyard import`
	// stop once it has written the account of its k-th user, before it records that
	// user as done, and wait there until the process ends, so that a test can kill
	// it part-way.
	TestImportPauseAfter int
}

// SMTP is an SMTP server as LANYARD_SMTP_URL names it.
type SMTP struct {
	Host     string
	Port     int
	Username string // "": no authentication
	Password Secret
	// Security is "starttls" (smtp://, required), "tls" (smtps://) or "none"
	// (smtp://…?tls=none).
	Security string
}

// TestSettings names the test-only variables that are set; serve warns about them.
func (c Config) TestSettings() []string {
	var out []string
	if c.TestDeletePauseAfterBatches > 0 {
		out = append(out, "LANYARD_TEST_DELETE_PAUSE_AFTER_BATCHES")
	}
	if c.TestDeletionLease > 0 {
		out = append(out, "LANYARD_TEST_DELETION_LEASE")
	}
	if c.TestMailHold {
		out = append(out, "LANYARD_TEST_MAIL_HOLD")
	}
	if c.TestImportPauseAfter > 0 {
		out = append(out, "LANYARD_TEST_IMPORT_PAUSE_AFTER")
	}
	return out
}

// Secret is key material. It formats as [redacted] in logs and %v so that a careless
// log line cannot leak it.
type Secret []byte

// LogValue implements slog.LogValuer.
func (Secret) LogValue() slog.Value { return slog.StringValue("[redacted]") }

// String implements fmt.Stringer.
func (Secret) String() string { return "[redacted]" }

// Load reads every variable through getenv and validates it. All problems are reported
// at once, one line each, naming the variable.
func Load(getenv func(string) string) (Config, error) {
	l := loader{getenv: getenv}
	c := Config{
		Addr:              l.hostPort("LANYARD_ADDR", "127.0.0.1:8080", false),
		MongoURI:          l.mongoURI("MONGODB_URI"),
		DB:                l.dbName("LANYARD_DB", "lanyard"),
		DataDir:           l.str("LANYARD_DATA_DIR", "./lanyard-data"),
		StoreAddr:         l.optionalHostPort("LANYARD_STORE_ADDR", true),
		StorePostgre:      l.str("LANYARD_STORE_POSTGRESQL_URL", ""),
		JWTSecret:         l.secret("LANYARD_JWT_SECRET", 32, 0),
		DataKey:           l.secret("LANYARD_DATA_KEY", 32, 32),
		Issuer:            l.str("LANYARD_ISSUER", "lanyard"),
		Audience:          l.str("LANYARD_AUDIENCE", ""),
		KeyPublishDelay:   l.durationOrZero("LANYARD_KEY_PUBLISH_DELAY", 10*time.Minute),
		AccessTTL:         l.duration("LANYARD_ACCESS_TTL", 15*time.Minute),
		RefreshTTL:        l.duration("LANYARD_REFRESH_TTL", 720*time.Hour),
		RefreshReuseGrace: l.durationOrZero("LANYARD_REFRESH_REUSE_GRACE", 10*time.Second),
		RelationsFile:     l.str("LANYARD_RELATIONS_FILE", ""),
		ProvidersFile:     l.str("LANYARD_PROVIDERS_FILE", ""),
		RedirectURLs:      l.redirectURLs("LANYARD_REDIRECT_URLS"),
		ProfileSchema:     l.profileSchema("LANYARD_PROFILE_SCHEMA"),
		CollectionPrefix:  l.collectionPrefix("LANYARD_COLLECTION_PREFIX"),
		LoginFailureLimit: l.positiveInt("LANYARD_LOGIN_FAILURE_LIMIT", 10),
		RegisterLimit:     l.positiveInt("LANYARD_REGISTER_LIMIT", 20),
		PasswordMinScore:  l.intIn("LANYARD_PASSWORD_MIN_SCORE", 3, 0, 4),
		HashConcurrency:   l.positiveInt("LANYARD_HASH_CONCURRENCY", runtime.NumCPU()),
		TrustedProxies:    l.prefixes("LANYARD_TRUSTED_PROXIES"),
		CORSOrigins:       l.origins("LANYARD_CORS_ORIGINS"),
		DrainTimeout:      l.duration("LANYARD_DRAIN_TIMEOUT", 5*time.Second),
		MetricsAddr:       l.optionalHostPort("LANYARD_METRICS_ADDR", false),
		LogLevel:          l.level("LANYARD_LOG_LEVEL"),
		LogFormat:         l.oneOf("LANYARD_LOG_FORMAT", "text", "text", "json"),

		RequireVerifiedEmail: l.boolean("LANYARD_REQUIRE_VERIFIED_EMAIL", false),
		VerifyTTL:            l.duration("LANYARD_VERIFY_TTL", 24*time.Hour),

		TestDeletePauseAfterBatches: l.positiveInt("LANYARD_TEST_DELETE_PAUSE_AFTER_BATCHES", 0),
		TestDeletionLease:           l.duration("LANYARD_TEST_DELETION_LEASE", 0),
		TestMailHold:                l.oneOf("LANYARD_TEST_MAIL_HOLD", "0", "0", "1") == "1",
		TestImportPauseAfter:        l.positiveInt("LANYARD_TEST_IMPORT_PAUSE_AFTER", 0),

		SMTP:          l.smtpURL("LANYARD_SMTP_URL"),
		MailTemplates: l.str("LANYARD_MAIL_TEMPLATES", ""),
		ResetTTL:      l.duration("LANYARD_RESET_TTL", 30*time.Minute),
	}
	c.PublicURL = l.publicURL("LANYARD_PUBLIC_URL", c.Addr)
	c.WebAuthnRPID, c.WebAuthnOrigins = l.webauthn(c.Addr, c.PublicURL, l.str("LANYARD_PUBLIC_URL", "") != "")
	c.MailFrom = l.mailFrom("LANYARD_MAIL_FROM", c.PublicURL)
	c.ResetURL = l.linkURL("LANYARD_RESET_URL", c.PublicURL+"/reset-password?token={token}")
	c.VerifyURL = l.linkURL("LANYARD_VERIFY_URL", c.PublicURL+"/verify-email?token={token}")
	if c.VerifyTTL > 7*24*time.Hour {
		l.fail("LANYARD_VERIFY_TTL", "must be at most 168h (7 days)")
	}
	if c.ResetTTL > 24*time.Hour {
		l.fail("LANYARD_RESET_TTL", "must be at most 24h; a reset link is meant to be used at once")
	}
	if c.MongoURI != "" {
		// Instances sharing a MongoDB must share keys, so none may invent its own.
		// (LANYARD_JWT_SECRET is no longer needed: signing keys live in the store.)
		if c.DataKey == nil && getenv("LANYARD_DATA_KEY") == "" {
			l.fail("LANYARD_DATA_KEY", "required when MONGODB_URI is set (base64 of exactly 32 bytes, the same for every instance)")
		}
	}
	c.Providers = l.providers("LANYARD_PROVIDERS_FILE", c.ProvidersFile)
	if l.str("LANYARD_PUBLIC_URL", "") != "" {
		c.CallbackBase = c.PublicURL
	}
	if len(c.Providers) > 0 && len(c.RedirectURLs) == 0 {
		l.fail("LANYARD_REDIRECT_URLS", "required when LANYARD_PROVIDERS_FILE names providers: the application URLs a sign-in may return to")
	}
	if c.Audience == "" {
		c.Audience = c.Issuer
	}
	if c.KeyPublishDelay > 24*time.Hour {
		l.fail("LANYARD_KEY_PUBLISH_DELAY", "must be at most 24h; it only needs to outlast every instance's reload (30s) and the JWK Set's caching (5m)")
	}
	if c.AccessTTL > 24*time.Hour {
		l.fail("LANYARD_ACCESS_TTL", "must be at most 24h; access tokens are meant to be short-lived")
	}
	if c.RefreshTTL < c.AccessTTL {
		l.fail("LANYARD_REFRESH_TTL", "must not be shorter than LANYARD_ACCESS_TTL")
	}
	if c.RefreshReuseGrace > time.Minute {
		l.fail("LANYARD_REFRESH_REUSE_GRACE", "must be at most 1m; it only needs to cover a client refreshing twice at once or retrying")
	}
	if c.DrainTimeout > time.Minute {
		l.fail("LANYARD_DRAIN_TIMEOUT", "must be at most 1m; it only needs to outlast the balancer's health checks")
	}
	if c.TestDeletionLease > time.Minute {
		l.fail("LANYARD_TEST_DELETION_LEASE", "must be at most 60s; it only shortens the lease, for tests")
	}
	return c, errors.Join(l.errs...)
}

type loader struct {
	getenv func(string) string
	errs   []error
}

func (l *loader) fail(name, msg string) {
	l.errs = append(l.errs, fmt.Errorf("%s: %s", name, msg))
}

func (l *loader) str(name, def string) string {
	if v := strings.TrimSpace(l.getenv(name)); v != "" {
		return v
	}
	return def
}

// profileSchema reads and checks the schema file the variable names: each wrong
// entry of it is a line of its own.
func (l *loader) profileSchema(name string) *profile.Schema {
	path := l.str(name, "")
	if path == "" {
		return nil
	}
	sch, err := profile.Load(path)
	if err != nil {
		l.errs = append(l.errs, err)
		return nil
	}
	return sch
}

var prefixRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,31}$`)

func (l *loader) collectionPrefix(name string) string {
	v := l.str(name, "")
	if v != "" && (!prefixRE.MatchString(v) || strings.HasPrefix(v, "system")) {
		l.fail(name, fmt.Sprintf("%q must be 1-32 of letters, digits and '_', starting with a letter or '_', not system", v))
	}
	return v
}

func (l *loader) hostPort(name, def string, loopback bool) string {
	v := l.str(name, def)
	host, port, err := net.SplitHostPort(v)
	if err != nil {
		l.fail(name, fmt.Sprintf("%q is not host:port", v))
		return v
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		l.fail(name, fmt.Sprintf("%q has an invalid port", v))
	}
	if loopback {
		ip := net.ParseIP(host)
		if host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			l.fail(name, fmt.Sprintf("%q must be a loopback address: the embedded store has no authentication", v))
		}
	}
	return v
}

// optionalHostPort is hostPort, or "" when the variable is not set.
func (l *loader) optionalHostPort(name string, loopback bool) string {
	if l.str(name, "") == "" {
		return ""
	}
	return l.hostPort(name, "", loopback)
}

func (l *loader) mongoURI(name string) string {
	v := l.str(name, "")
	if v == "" {
		return ""
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "mongodb" && u.Scheme != "mongodb+srv") || u.Host == "" {
		// The value may hold a password, so it is never echoed.
		l.fail(name, "must be a mongodb:// or mongodb+srv:// URI")
	}
	return v
}

func (l *loader) dbName(name, def string) string {
	v := l.str(name, def)
	if len(v) > 63 || strings.ContainsAny(v, `/\. "$*<>:|?`) {
		l.fail(name, fmt.Sprintf("%q is not a valid database name", v))
	}
	return v
}

func (l *loader) secret(name string, minLen, exactLen int) Secret {
	v := strings.TrimSpace(l.getenv(name))
	if v == "" {
		return nil
	}
	b, err := base64.StdEncoding.DecodeString(v)
	if err != nil {
		b, err = base64.RawURLEncoding.DecodeString(strings.TrimRight(v, "="))
	}
	switch {
	case err != nil:
		l.fail(name, "is not valid base64")
		return nil
	case exactLen > 0 && len(b) != exactLen:
		l.fail(name, fmt.Sprintf("must decode to exactly %d bytes, got %d", exactLen, len(b)))
		return nil
	case len(b) < minLen:
		l.fail(name, fmt.Sprintf("must decode to at least %d bytes, got %d", minLen, len(b)))
		return nil
	}
	return b
}

func (l *loader) duration(name string, def time.Duration) time.Duration {
	v := l.str(name, "")
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		l.fail(name, fmt.Sprintf("%q is not a positive Go duration such as 15m or 720h", v))
		return def
	}
	return d
}

// durationOrZero is duration that also takes 0 (any spelling Go parses, e.g. 0s).
func (l *loader) durationOrZero(name string, def time.Duration) time.Duration {
	v := l.str(name, "")
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		l.fail(name, fmt.Sprintf("%q is not a Go duration of 0s or more, such as 10s", v))
		return def
	}
	return d
}

// boolean reads true or false (also 1, 0 and the other spellings strconv.ParseBool
// takes).
func (l *loader) boolean(name string, def bool) bool {
	v := l.str(name, "")
	if v == "" {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		l.fail(name, fmt.Sprintf("%q is not true or false", v))
		return def
	}
	return b
}

func (l *loader) positiveInt(name string, def int) int {
	v := l.str(name, "")
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		l.fail(name, fmt.Sprintf("%q is not a positive integer", v))
		return def
	}
	return n
}

func (l *loader) intIn(name string, def, lo, hi int) int {
	v := l.str(name, "")
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		l.fail(name, fmt.Sprintf("%q is not an integer from %d to %d", v, lo, hi))
		return def
	}
	return n
}

func (l *loader) prefixes(name string) []netip.Prefix {
	var out []netip.Prefix
	for _, f := range splitList(l.getenv(name)) {
		p, err := netip.ParsePrefix(f)
		if err != nil {
			a, aerr := netip.ParseAddr(f)
			if aerr != nil {
				l.fail(name, fmt.Sprintf("%q is not a CIDR such as 10.0.0.0/8", f))
				continue
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, p.Masked())
	}
	return out
}

func (l *loader) origins(name string) []string {
	var out []string
	for _, f := range splitList(l.getenv(name)) {
		u, err := url.Parse(f)
		if f != "*" && (err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/")) {
			l.fail(name, fmt.Sprintf("%q is not an origin such as https://app.example.com", f))
			continue
		}
		out = append(out, strings.TrimSuffix(f, "/"))
	}
	return out
}

// providers reads the providers file at path, one line per wrong entry; a client
// secret never appears in a line.
func (l *loader) providers(name, path string) []provider.Settings {
	ps, err := provider.Load(path, l.getenv)
	if err != nil {
		for line := range strings.SplitSeq(err.Error(), "\n") {
			l.fail(name, line)
		}
		return nil
	}
	return ps
}

// redirectURLs are absolute URLs without a fragment (RFC 6749 §3.1.2): an https or
// http one, or an app's own scheme (com.example.app:/callback, RFC 8252 §7.1).
func (l *loader) redirectURLs(name string) []string {
	var out []string
	for _, f := range splitList(l.getenv(name)) {
		u, err := url.Parse(f)
		web := err == nil && (u.Scheme == "http" || u.Scheme == "https")
		if err != nil || !u.IsAbs() || u.Fragment != "" || strings.Contains(f, "#") || web && u.Host == "" || u.User != nil {
			l.fail(name, fmt.Sprintf("%q is not an absolute URL without a fragment, such as https://app.example.com/auth/done", f))
			continue
		}
		out = append(out, f)
	}
	return out
}

// webauthn reads the relying party's id and origins, with defaults from the public
// URL when one is set (its host, its origin), else from addr.
func (l *loader) webauthn(addr, publicURL string, public bool) (string, []string) {
	const idVar, originsVar = "LANYARD_WEBAUTHN_RP_ID", "LANYARD_WEBAUTHN_ORIGINS"
	host, port, _ := net.SplitHostPort(addr)
	pub, _ := url.Parse(publicURL)
	if public && pub != nil && isDomain(pub.Hostname()) {
		host, port = pub.Hostname(), pub.Port()
	} else {
		public = false
	}
	rpID := strings.ToLower(l.str(idVar, ""))
	if rpID == "" {
		rpID = "localhost"
		if host != "" && net.ParseIP(host) == nil && isDomain(host) {
			rpID = strings.ToLower(host)
		}
	} else if !isDomain(rpID) {
		l.fail(idVar, fmt.Sprintf("%q is not a domain such as example.com (no scheme, port or path)", rpID))
		return rpID, nil
	}
	raw := splitList(l.getenv(originsVar))
	if len(raw) == 0 {
		if h := strings.ToLower(host); public && (h == rpID || strings.HasSuffix(h, "."+rpID)) {
			return rpID, []string{pub.Scheme + "://" + strings.ToLower(pub.Host)}
		}
		if rpID == "localhost" {
			return rpID, []string{"http://localhost:" + port}
		}
		return rpID, []string{"https://" + rpID}
	}
	var out []string
	for _, f := range raw {
		u, err := url.Parse(f)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
			l.fail(originsVar, fmt.Sprintf("%q is not an origin such as https://app.example.com", f))
			continue
		}
		h := strings.ToLower(u.Hostname())
		switch {
		case h != rpID && !strings.HasSuffix(h, "."+rpID):
			l.fail(originsVar, fmt.Sprintf("%q is not on the RP ID %s or a subdomain of it (set LANYARD_WEBAUTHN_RP_ID)", f, rpID))
			continue
		case u.Scheme == "http" && h != "localhost" && !strings.HasSuffix(h, ".localhost"):
			l.fail(originsVar, fmt.Sprintf("%q must be https: browsers offer passkeys over http only on localhost", f))
			continue
		}
		out = append(out, u.Scheme+"://"+strings.ToLower(u.Host))
	}
	return rpID, out
}

// isDomain reports whether s is a DNS name of letters, digits and hyphens, as an RP
// ID must be (an IP address is none).
func isDomain(s string) bool {
	if s == "" || len(s) > 253 || net.ParseIP(s) != nil {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}

func (l *loader) level(name string) slog.Level {
	var lv slog.Level
	v := l.str(name, "info")
	if err := lv.UnmarshalText([]byte(v)); err != nil {
		l.fail(name, fmt.Sprintf("%q is not one of debug, info, warn, error", v))
		return slog.LevelInfo
	}
	return lv
}

func (l *loader) oneOf(name, def string, allowed ...string) string {
	v := strings.ToLower(l.str(name, def))
	for _, a := range allowed {
		if v == a {
			return v
		}
	}
	l.fail(name, fmt.Sprintf("%q is not one of %s", v, strings.Join(allowed, ", ")))
	return def
}

// publicURL is an http(s) URL without query or fragment, its trailing slash dropped;
// by default http:// and addr, whose unspecified host becomes localhost.
func (l *loader) publicURL(name, addr string) string {
	v := l.str(name, "")
	if v == "" {
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return "http://localhost"
		}
		if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
			host = "localhost"
		}
		return "http://" + net.JoinHostPort(host, port)
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		l.fail(name, fmt.Sprintf("%q is not an http or https URL such as https://accounts.example.com", v))
		return "http://localhost" // so that what derives from it reports nothing more
	}
	return strings.TrimSuffix(v, "/")
}

// linkURL is an absolute http(s) URL holding {token}, where a mail's token goes.
func (l *loader) linkURL(name, def string) string {
	v := l.str(name, def)
	u, err := url.Parse(strings.ReplaceAll(v, "{token}", "t"))
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		l.fail(name, fmt.Sprintf("%q is not an http or https URL", v))
	case strings.Count(v, "{token}") != 1:
		l.fail(name, fmt.Sprintf("%q must hold {token} once, where the token goes", v))
	}
	return v
}

// mailFrom is an address as a From header takes it ("Name <a@b>" or "a@b"); by
// default noreply at the public URL's host.
func (l *loader) mailFrom(name, publicURL string) string {
	v := l.str(name, "")
	if v == "" {
		host := "localhost"
		if u, err := url.Parse(publicURL); err == nil && u.Hostname() != "" && net.ParseIP(u.Hostname()) == nil {
			host = u.Hostname()
		}
		return "Lanyard <noreply@" + host + ">"
	}
	if _, err := mail.ParseAddress(v); err != nil {
		l.fail(name, fmt.Sprintf("%q is not an address such as Accounts <noreply@example.com>", v))
	}
	return v
}

// smtpURL reads smtp://[user:pass@]host[:587][?tls=none] or
// smtps://[user:pass@]host[:465]. The value may hold a password, so it is never
// echoed.
func (l *loader) smtpURL(name string) *SMTP {
	v := l.str(name, "")
	if v == "" {
		return nil
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "smtp" && u.Scheme != "smtps") || u.Hostname() == "" || (u.Path != "" && u.Path != "/") || u.Fragment != "" {
		l.fail(name, "must be smtp://user:pass@host:587 (STARTTLS) or smtps://user:pass@host:465 (TLS)")
		return nil
	}
	s := &SMTP{Host: u.Hostname(), Port: 587, Security: "starttls"}
	if u.Scheme == "smtps" {
		s.Port, s.Security = 465, "tls"
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n <= 0 || n > 65535 {
			l.fail(name, "has an invalid port")
			return nil
		}
		s.Port = n
	}
	q := u.Query()
	for k := range q {
		if k != "tls" {
			l.fail(name, fmt.Sprintf("has an unknown parameter %q (only tls=none, for smtp://)", k))
			return nil
		}
	}
	switch t := q.Get("tls"); {
	case !q.Has("tls"):
	case t == "none" && u.Scheme == "smtp":
		s.Security = "none"
	default:
		l.fail(name, "tls= takes only none, and only with smtp:// (smtps:// is always TLS)")
		return nil
	}
	if u.User != nil {
		s.Username = u.User.Username()
		if pw, ok := u.User.Password(); ok {
			s.Password = Secret(pw)
		}
	}
	return s
}

func splitList(v string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' }) {
		if f != "" {
			out = append(out, f)
		}
	}
	return out
}
