// Package app assembles the service from a Config: store, domain services and the
// HTTP handler. The command line and the tests build the service the same way.
package app

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.mongodb.org/mongo-driver/v2/event"

	"github.com/lanyard/lanyard/internal/account"
	"github.com/lanyard/lanyard/internal/config"
	"github.com/lanyard/lanyard/internal/httpapi"
	"github.com/lanyard/lanyard/internal/keyfile"
	"github.com/lanyard/lanyard/internal/linkid"
	"github.com/lanyard/lanyard/internal/password"
	"github.com/lanyard/lanyard/internal/relation"
	"github.com/lanyard/lanyard/internal/session"
	"github.com/lanyard/lanyard/internal/store"
	"github.com/lanyard/lanyard/internal/token"
)

// Options are the parts a caller may supply beyond the Config.
type Options struct {
	Logger   *slog.Logger
	Version  string
	Hash     password.Params  // zero: password.Default
	Now      func() time.Time // nil: time.Now
	Monitor  *event.CommandMonitor
	Registry *prometheus.Registry
}

// App is the assembled service.
type App struct {
	Store    *store.Store
	Accounts *account.Service
	Sessions *session.Service
	LinkIDs  *linkid.Service
	Handler  *httpapi.Server
}

// New connects to uri and builds everything on top. Keys missing from cfg are loaded
// from (or generated into) cfg.DataDir; config.Load already refused that for MONGODB_URI.
func New(ctx context.Context, cfg config.Config, uri string, o Options) (*App, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	jwtSecret, err := keyOrFile(cfg.JWTSecret, filepath.Join(cfg.DataDir, "jwt.key"), 32)
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
	signer, err := token.NewSigner(jwtSecret, cfg.Issuer, cfg.AccessTTL, o.Now)
	if err != nil {
		return nil, fmt.Errorf("access tokens: %w", err)
	}
	st, err := store.Open(ctx, uri, cfg.DB, store.Options{Monitor: o.Monitor})
	if err != nil {
		return nil, err
	}
	if err := st.EnsureIndexes(ctx); err != nil {
		_ = st.Close(context.Background())
		return nil, err
	}
	rels, err := relation.Load(cfg.RelationsFile)
	if err != nil {
		_ = st.Close(context.Background())
		return nil, err
	}
	for _, r := range rels.Declared() {
		if err := st.EnsureRelationIndex(ctx, r.Collection, r.Field); err != nil {
			_ = st.Close(context.Background())
			return nil, err
		}
	}
	hasher := password.NewHasher(password.Options{Params: o.Hash, Concurrency: cfg.HashConcurrency})
	accounts := account.New(st, hasher, o.Now)
	sessions := session.New(session.Options{
		Store: st, Accounts: accounts, Hasher: hasher, Signer: signer, RefreshTTL: cfg.RefreshTTL, Now: o.Now,
	})
	linkIDs := linkid.New(st, linkKeys, o.Now)
	h := httpapi.New(httpapi.Deps{
		Accounts:       accounts,
		Sessions:       sessions,
		LinkIDs:        linkIDs,
		Relations:      rels,
		Expander:       relation.NewExpander(st),
		Store:          st,
		Logger:         o.Logger,
		Registry:       o.Registry,
		TrustedProxies: cfg.TrustedProxies,
		CORSOrigins:    cfg.CORSOrigins,
		Version:        o.Version,
	})
	return &App{Store: st, Accounts: accounts, Sessions: sessions, LinkIDs: linkIDs, Handler: h}, nil
}

// Close releases the store connection.
func (a *App) Close(ctx context.Context) error { return a.Store.Close(ctx) }

func keyOrFile(given config.Secret, path string, n int) ([]byte, error) {
	if given != nil {
		return given, nil
	}
	return keyfile.LoadOrCreate(path, n)
}
