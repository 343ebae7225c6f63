// Package app assembles the service from a Config: store, domain services and the
// HTTP handler. The command line and the tests build the service the same way.
package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lanyard/lanyard/internal/account"
	"github.com/lanyard/lanyard/internal/audit"
	"github.com/lanyard/lanyard/internal/client"
	"github.com/lanyard/lanyard/internal/config"
	"github.com/lanyard/lanyard/internal/flow"
	"github.com/lanyard/lanyard/internal/httpapi"
	"github.com/lanyard/lanyard/internal/keyfile"
	"github.com/lanyard/lanyard/internal/keyring"
	"github.com/lanyard/lanyard/internal/linkid"
	"github.com/lanyard/lanyard/internal/mail"
	"github.com/lanyard/lanyard/internal/method"
	"github.com/lanyard/lanyard/internal/passkey"
	"github.com/lanyard/lanyard/internal/password"
	"github.com/lanyard/lanyard/internal/provider"
	"github.com/lanyard/lanyard/internal/relation"
	"github.com/lanyard/lanyard/internal/reset"
	"github.com/lanyard/lanyard/internal/session"
	"github.com/lanyard/lanyard/internal/store"
	"github.com/lanyard/lanyard/internal/throttle"
	"github.com/lanyard/lanyard/internal/token"
)

// Options are the parts a caller may supply beyond the Config.
type Options struct {
	Logger   *slog.Logger
	Version  string
	Hash     password.Params  // zero: password.Default
	Now      func() time.Time // nil: time.Now
	Monitor  *store.CommandMonitor
	Registry *prometheus.Registry
	// RequestTimeout bounds each request (0: 5s).
	RequestTimeout time.Duration
	// AfterDeleteBatch, when set, runs after each batch of a chain delete; an error
	// stops the job there as a crash would. Tests use it.
	AfterDeleteBatch func(relation string, batch int) error
	// ResumeInterval is how often lapsed deletion jobs are looked for (0: a minute).
	ResumeInterval time.Duration
	// DeletionLease is how long a chain delete job stays claimed without progress
	// before another instance may take it over (0: 60s).
	DeletionLease time.Duration
	// SQLiteFile is the embedded store's file of this database, when the store is the
	// embedded one on SQLite: Lanyard then adds the _id indexes FerretDB lacks.
	SQLiteFile string
	// MailPollEvery replaces how often the mail sender looks for due mails that no
	// request of this instance announced (0: mail.PollEvery).
	MailPollEvery time.Duration
	// MailTLS, when set, is the TLS configuration of connections to the SMTP server
	// (tests trust their own server's certificate with it).
	MailTLS *tls.Config
}

// App is the assembled service.
type App struct {
	Store    *store.Store
	Accounts *account.Service
	Sessions *session.Service
	Clients  *client.Service
	Flows    *flow.Service
	Mail     *mail.Outbox
	LinkIDs  *linkid.Service
	Throttle *throttle.Limiter
	Deleter  *relation.Deleter
	Keys     *keyring.Ring
	Handler  *httpapi.Server

	idIndexes func(context.Context) error // adds _id indexes to new collections
	now       func() time.Time
	log       *slog.Logger

	stopBackground context.CancelFunc
	background     chan struct{} // closed when the background work has stopped
}

// New connects to uri and builds everything on top. Keys missing from cfg are loaded
// from (or generated into) cfg.DataDir; config.Load already refused that for MONGODB_URI.
func New(ctx context.Context, cfg config.Config, uri string, o Options) (*App, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	legacySecret, err := legacyJWTSecret(cfg)
	if err != nil {
		return nil, err
	}
	dataKey, err := keyOrFile(cfg.DataKey, filepath.Join(cfg.DataDir, "data.key"), 32)
	if err != nil {
		return nil, err
	}
	linkKeys, err := linkid.NewKeys(dataKey)
	if err != nil {
		return nil, err
	}
	signer, err := token.NewSigner(token.Options{
		Issuer: cfg.Issuer, Audience: cfg.Audience, TTL: cfg.AccessTTL, Now: o.Now, LegacySecret: legacySecret,
	})
	if err != nil {
		return nil, fmt.Errorf("access tokens: %w", err)
	}
	refresher, err := token.NewRefresher(dataKey)
	if err != nil {
		return nil, fmt.Errorf("refresh tokens: %w", err)
	}
	if o.Registry == nil {
		o.Registry = prometheus.NewRegistry()
	}
	m := newMetrics(o.Registry)
	st, err := store.Open(ctx, uri, cfg.DB, store.Options{Monitor: o.Monitor, Logger: o.Logger, OnError: m.storeError, OnForeign: func(coll string) { m.foreignDocument(o.Logger, coll) }, SerialWrites: o.SQLiteFile != "", SQLiteFile: o.SQLiteFile, CollectionPrefix: cfg.CollectionPrefix})
	if err != nil {
		return nil, err
	}
	rels, err := prepareStore(ctx, st, cfg.RelationsFile)
	if err != nil {
		_ = st.Close(context.Background())
		return nil, err
	}
	if err := reportIDFormats(ctx, st, rels, o.Logger); err != nil {
		_ = st.Close(context.Background())
		return nil, err
	}
	limiter, err := throttle.New(throttle.Options{
		Store:             st,
		LoginFailureLimit: cfg.LoginFailureLimit,
		RegisterLimit:     cfg.RegisterLimit,
		DataKey:           dataKey,
		Now:               o.Now,
		Metrics:           o.Registry,
	})
	if err != nil {
		_ = st.Close(context.Background())
		return nil, err
	}
	keys, err := keyring.New(keyring.Options{Store: st, DataKey: dataKey, Signer: signer, PublishDelay: cfg.KeyPublishDelay, Now: o.Now})
	if err != nil {
		_ = st.Close(context.Background())
		return nil, err
	}
	if err := keys.Start(ctx); err != nil {
		_ = st.Close(context.Background())
		return nil, err
	}
	hasher := password.NewHasher(password.Options{Params: o.Hash, Concurrency: cfg.HashConcurrency, Observe: m.observeHash})
	accounts := account.New(st, hasher, o.Now)
	accounts.UseLimiter(limiter)
	accounts.RequirePasswordScore(cfg.PasswordMinScore)
	accounts.UseProfileSchema(cfg.ProfileSchema)
	sessions := session.New(session.Options{
		Store: st, Accounts: accounts, Hasher: hasher, Signer: signer, Refresher: refresher,
		RefreshTTL: cfg.RefreshTTL, ReuseGrace: cfg.RefreshReuseGrace, Now: o.Now,
	})
	flows, err := flow.New(st, dataKey, o.Now)
	if err != nil {
		_ = st.Close(context.Background())
		return nil, err
	}
	factors := method.NewSecondFactors(st, flows, limiter)
	totpMethod, err := method.NewTOTP(method.TOTPOptions{Store: st, DataKey: dataKey, Issuer: cfg.Issuer, Factors: factors, Now: o.Now})
	if err != nil {
		_ = st.Close(context.Background())
		return nil, err
	}
	outbox, err := newOutbox(cfg, st, o)
	if err != nil {
		_ = st.Close(context.Background())
		return nil, err
	}
	linkIDs := linkid.New(st, linkKeys, o.Now)
	linkIDs.LimitConflicts(limiter)
	providers := provider.NewSet(cfg.Providers, provider.Options{Now: o.Now})
	linkIDs.Reserve(providers.Names())
	// Expand and export hand out the built-ins' documents only through these views.
	passkeys, err := passkey.New(passkey.Options{Store: st, Flows: flows, DataKey: dataKey, RPID: cfg.WebAuthnRPID, Origins: cfg.WebAuthnOrigins, Now: o.Now})
	if err != nil {
		_ = st.Close(context.Background())
		return nil, err
	}
	passkeyMethod := method.NewPasskey(passkeys)
	factors.Add(method.MethodPasskey, passkeyMethod.Factor())
	for name, v := range map[string]relation.View{"sessions": session.View, "linked_ids": linkIDs.View, "audit_events": audit.View, "passkeys": passkey.View} {
		if err := rels.SetView(name, v); err != nil {
			_ = st.Close(context.Background())
			return nil, err
		}
	}
	deleter := relation.NewDeleter(st, rels, relation.DeleterOptions{Now: o.Now, Lease: o.DeletionLease, AfterBatch: o.AfterDeleteBatch})
	accounts.UseDeleter(deleter)
	accounts.UseVerification(account.Verification{Flows: flows, Mail: outbox, URL: cfg.VerifyURL, TTL: cfg.VerifyTTL, Logger: o.Logger})
	clients := client.New(st, o.Now)
	passwords := method.NewPassword(st, hasher, limiter, o.Now)
	passwords.RequireVerifiedEmail(cfg.RequireVerifiedEmail)
	h := httpapi.New(httpapi.Deps{
		Accounts: accounts,
		Sessions: sessions,
		Clients:  clients,
		Password: passwords,
		Resets: reset.New(reset.Options{
			Store: st, Accounts: accounts, Flows: flows, Mail: outbox, Hasher: hasher, Limiter: limiter,
			Link: cfg.ResetURL, TTL: cfg.ResetTTL, Now: o.Now,
		}),
		Providers:      method.NewProviders(providers, flows, st, accounts, linkIDs, cfg.RedirectURLs),
		CallbackBase:   cfg.CallbackBase,
		SecondFactors:  factors,
		TOTP:           totpMethod,
		LinkIDs:        linkIDs,
		Passkeys:       passkeys,
		PasskeyMethod:  passkeyMethod,
		Relations:      rels,
		Expander:       relation.NewExpander(st, rels),
		Deleter:        deleter,
		Keys:           keys,
		Issuer:         cfg.Issuer,
		RequestTimeout: o.RequestTimeout,
		Now:            o.Now,
		Store:          st,
		Logger:         o.Logger,
		Registry:       o.Registry,
		TrustedProxies: cfg.TrustedProxies,
		CORSOrigins:    cfg.CORSOrigins,
		Version:        o.Version,
		OmitMetrics:    cfg.MetricsAddr != "",
	})
	m.watchDeletions(deleter)
	idIndexes := func(ctx context.Context) error { return nil }
	if o.SQLiteFile != "" {
		colls := store.OwnCollections(cfg.CollectionPrefix)
		for _, r := range rels.Declared() {
			colls = append(colls, r.Collection)
		}
		idIndexes = func(ctx context.Context) error {
			_, err := store.EnsureIDIndexes(ctx, o.SQLiteFile, colls)
			return err
		}
		if err := idIndexes(ctx); err != nil {
			_ = st.Close(context.Background())
			return nil, err
		}
	}
	a := &App{Store: st, Accounts: accounts, Sessions: sessions, Clients: clients, Flows: flows, Mail: outbox, LinkIDs: linkIDs, Throttle: limiter, Deleter: deleter, Keys: keys, Handler: h, idIndexes: idIndexes, now: o.Now, log: o.Logger}
	a.startBackground(ctx, o.ResumeInterval, !cfg.TestMailHold)
	return a, nil
}

// newOutbox is the mail outbox cfg describes: through its SMTP server, or into
// <data dir>/outbox/.
func newOutbox(cfg config.Config, st *store.Store, o Options) (*mail.Outbox, error) {
	mo := mail.Options{
		Store: st, From: cfg.MailFrom, Dir: filepath.Join(cfg.DataDir, "outbox"), Templates: cfg.MailTemplates,
		Now: o.Now, Logger: o.Logger, Metrics: o.Registry, PollEvery: o.MailPollEvery,
	}
	if s := cfg.SMTP; s != nil {
		mo.SMTP = &mail.SMTP{Host: s.Host, Port: s.Port, Username: s.Username, Password: string(s.Password), Security: mail.Security(s.Security), TLSConfig: o.MailTLS}
	}
	return mail.New(mo)
}

// prepareStore learns the server's kind, creates every index and loads the relations.
func prepareStore(ctx context.Context, st *store.Store, relationsFile string) (*relation.Registry, error) {
	if err := st.EnsureIndexes(ctx); err != nil {
		return nil, err
	}
	rels, err := relation.Load(relationsFile)
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, r := range rels.Declared() {
		// relation.Parse refuses Lanyard's own names; under a prefix, the prefixed
		// names are Lanyard's collections too.
		if st.OwnsCollection(r.Collection) {
			errs = append(errs, fmt.Errorf("relation %s: collection %q is Lanyard's own (LANYARD_COLLECTION_PREFIX)", r.Name, r.Collection))
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("LANYARD_RELATIONS_FILE %s:\n%w", relationsFile, errors.Join(errs...))
	}
	for _, r := range rels.Declared() {
		if err := st.EnsureRelationIndex(ctx, r.Collection, r.Field); err != nil {
			return nil, err
		}
	}
	if err := st.EnsureExpiryIndexes(ctx); err != nil {
		return nil, err
	}
	return rels, nil
}

// reportIDFormats warns of every declared relation whose collection holds parent ids
// in the other format than declared: expand and chain delete match the declared format
// only (as a MongoDB query would), so such documents would be left behind unseen.
func reportIDFormats(ctx context.Context, st *store.Store, rels *relation.Registry, log *slog.Logger) error {
	for _, r := range rels.Declared() {
		n, err := st.MismatchedIDFormat(ctx, r.Collection, r.Field, r.IDFormat == relation.String)
		if err != nil {
			return fmt.Errorf("relation %s: %w", r.Name, err)
		}
		if n > 0 && log != nil {
			log.Warn("relation holds parent ids in the other format; expand and chain delete do not see those documents",
				"relation", r.Name, "collection", r.Collection, "field", r.Field, "id_format", r.IDFormat, "documents", n)
		}
	}
	return nil
}

// sessionSweepEvery is how often expired sessions and refresh claims are deleted. An
// expired session is refused whether or not it is still stored, so the sweep only
// reclaims space; it finds what expired through an index (on the embedded store too),
// so a run costs what expired since the last one.
const sessionSweepEvery = 10 * time.Minute

// startBackground starts the periodic work (sweeps, resuming lapsed chain deletes,
// the embedded store's _id indexes), which runs until Close. It does not end with
// ctx: callers may give New a start-up deadline.
func (a *App) startBackground(ctx context.Context, resumeEvery time.Duration, sendMail bool) {
	if resumeEvery <= 0 {
		resumeEvery = time.Minute
	}
	bg, cancel := context.WithCancel(store.Background(context.WithoutCancel(ctx)))
	a.stopBackground, a.background = cancel, make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { a.Deleter.Run(bg, resumeEvery) })
	wg.Go(func() {
		a.every(bg, "throttle sweep", throttle.SweepEvery, func(ctx context.Context) error {
			_, err := a.Throttle.Sweep(ctx)
			return err
		})
	})
	wg.Go(func() { a.every(bg, "_id indexes", time.Minute, a.idIndexes) })
	// A rotation made by another instance (or lanyard keys rotate) is picked up here,
	// well within the publish delay.
	wg.Go(func() { a.every(bg, "signing keys reload", keyring.ReloadEvery, a.Keys.Load) })
	wg.Go(func() {
		a.every(bg, "session sweep", sessionSweepEvery, func(ctx context.Context) error {
			_, err := a.Store.SweepSessions(ctx, a.now())
			return err
		})
	})
	wg.Go(func() {
		a.every(bg, "flow sweep", flow.SweepEvery, func(ctx context.Context) error {
			_, err := a.Flows.Sweep(ctx)
			return err
		})
	})
	if sendMail {
		wg.Go(func() { a.Mail.Run(bg) })
	}
	wg.Go(func() {
		a.every(bg, "one-time code sweep", flow.SweepEvery, func(ctx context.Context) error {
			_, err := a.Store.SweepOTPClaims(ctx, a.now())
			return err
		})
	})
	go func() { wg.Wait(); close(a.background) }()
}

// every runs f every interval until ctx ends, each run bounded by the interval so
// that runs never pile up; a failure is logged and tried again at the next tick.
func (a *App) every(ctx context.Context, what string, interval time.Duration, f func(context.Context) error) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			rctx, cancel := context.WithTimeout(ctx, interval)
			err := f(rctx)
			cancel()
			if err != nil && ctx.Err() == nil {
				a.log.Warn("background work failed", "work", what, "error", err)
			}
		}
	}
}

// Close stops the background work — running chain deletes stop at a batch boundary
// and are resumed later — waits for it, and releases the store connection.
func (a *App) Close(ctx context.Context) error {
	a.stopBackground()
	<-a.background
	a.Deleter.Shutdown()
	a.Sessions.Wait()
	return a.Store.Close(ctx)
}

// legacyJWTSecret is the previous version's HS256 secret, which only verifies the
// tokens it signed until they expire: LANYARD_JWT_SECRET, else with the embedded store
// the jwt.key an earlier version generated, if there is one (none is made any more).
func legacyJWTSecret(cfg config.Config) ([]byte, error) {
	if cfg.JWTSecret != nil || cfg.MongoURI != "" {
		return cfg.JWTSecret, nil
	}
	b, err := keyfile.Load(filepath.Join(cfg.DataDir, "jwt.key"), 32)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return b, err
}

func keyOrFile(given config.Secret, path string, n int) ([]byte, error) {
	if given != nil {
		return given, nil
	}
	return keyfile.LoadOrCreate(path, n)
}
