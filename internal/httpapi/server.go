// Package httpapi is Lanyard's HTTP face: the Huma operations, the middleware, the
// one table that maps domain errors to problem documents, the documentation and the
// metrics. It holds no business rules; those live in the domain packages.
package httpapi

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	swaggerfiles "github.com/swaggo/files/v2"

	"github.com/lanyard/lanyard/internal/account"
	"github.com/lanyard/lanyard/internal/client"
	"github.com/lanyard/lanyard/internal/linkid"
	"github.com/lanyard/lanyard/internal/method"
	"github.com/lanyard/lanyard/internal/passkey"
	"github.com/lanyard/lanyard/internal/relation"
	"github.com/lanyard/lanyard/internal/reset"
	"github.com/lanyard/lanyard/internal/session"
)

// Pinger reports whether the store answers; /readyz uses it.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Deps are what the HTTP layer needs.
type Deps struct {
	Accounts  *account.Service
	Sessions  *session.Service
	Clients   *client.Service   // service clients, which authenticate introspection and revocation
	Password  *method.Password  // the password way in
	Resets    *reset.Service    // password resets by mail
	Providers *method.Providers // the identity providers' way in
	// CallbackBase is the origin providers send people back to; empty: the origin
	// each authorize request reached.
	CallbackBase   string
	SecondFactors  *method.SecondFactors // the two-step login's factors (handlers_mfa.go)
	TOTP           *method.TOTP          // TOTP enrolment and removal
	LinkIDs        *linkid.Service
	Passkeys       *passkey.Service // passkeys: registration, listing, removal
	PasskeyMethod  *method.Passkey  // the passkey way in
	Relations      *relation.Registry
	Expander       *relation.Expander
	Deleter        *relation.Deleter
	Store          Pinger
	Keys           KeySet // the JWK Set's keys
	Issuer         string // iss of access tokens, for RFC 8414 metadata
	Logger         *slog.Logger
	Registry       *prometheus.Registry // nil: a fresh one
	TrustedProxies []netip.Prefix
	CORSOrigins    []string
	Version        string
	// Now is the clock (nil: time.Now).
	Now func() time.Time
	// RequestTimeout bounds each request's work, store calls included (default 5s).
	RequestTimeout time.Duration
	// OmitMetrics leaves /metrics out: it is served on a listener of its own
	// (LANYARD_METRICS_ADDR).
	OmitMetrics bool
}

// Server is the HTTP handler of the whole service.
type Server struct {
	accounts      *account.Service
	sessions      *session.Service
	clients       *client.Service
	password      *method.Password
	resets        *reset.Service
	oauth         *method.Providers
	callback      string
	factors       *method.SecondFactors
	totp          *method.TOTP
	linkIDs       *linkid.Service
	passkeys      *passkey.Service
	passkeyMethod *method.Passkey
	rels          *relation.Registry
	expander      *relation.Expander
	deleter       *relation.Deleter
	now           func() time.Time
	store         Pinger
	keys          KeySet
	issuer        string
	log           *slog.Logger
	proxies       []netip.Prefix
	origins       []string
	timeout       time.Duration
	metrics       *metrics
	registry      *prometheus.Registry
	stopping      atomic.Bool
	handler       http.Handler
	api           huma.API
}

// New assembles the handler.
func New(d Deps) *Server {
	hookErrors()
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Registry == nil {
		d.Registry = prometheus.NewRegistry()
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.RequestTimeout <= 0 {
		d.RequestTimeout = 5 * time.Second
	}
	s := &Server{
		accounts:      d.Accounts,
		sessions:      d.Sessions,
		clients:       d.Clients,
		password:      d.Password,
		resets:        d.Resets,
		oauth:         d.Providers,
		callback:      d.CallbackBase,
		factors:       d.SecondFactors,
		totp:          d.TOTP,
		linkIDs:       d.LinkIDs,
		passkeys:      d.Passkeys,
		passkeyMethod: d.PasskeyMethod,
		rels:          d.Relations,
		expander:      d.Expander,
		deleter:       d.Deleter,
		now:           d.Now,
		store:         d.Store,
		keys:          d.Keys,
		issuer:        d.Issuer,
		log:           d.Logger,
		proxies:       d.TrustedProxies,
		origins:       d.CORSOrigins,
		timeout:       d.RequestTimeout,
		registry:      d.Registry,
		metrics:       newMetrics(d.Registry),
	}
	mux := http.NewServeMux()
	s.api = humago.New(mux, apiConfig(d.Version))
	s.api.OpenAPI().OnAddOperation = append(s.api.OpenAPI().OnAddOperation, documentOperation)
	s.routes(s.api)
	documentBodies(s.api.OpenAPI())
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.HandleFunc("GET "+jwksPath, s.jwks)
	mux.HandleFunc("GET /.well-known/oauth-authorization-server", s.authorizationServer)
	if !d.OmitMetrics {
		mux.Handle("GET /metrics", s.MetricsHandler())
	}
	s.docs(mux)
	mux.HandleFunc("GET /problems/{kind}", problemPage)
	s.pages(mux) // pages.go: the HTML pages the links in mails open
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { notFound(mux, w, r) })
	s.handler = s.outer(s.cors(formOnlyForLogin(mux)))
	return s
}

func apiConfig(version string) huma.Config {
	c := huma.DefaultConfig("Lanyard", version)
	c.Info.Description = apiDescription
	c.OpenAPIPath = "/openapi"
	c.DocsPath = "" // Huma's page loads from a CDN; /docs is served from the binary instead.
	c.SchemasPath = ""
	c.CreateHooks = nil // no $schema links in bodies: clients get exactly the documented objects
	c.Formats = formats()
	// Relative to where the document is served: every instance describes itself.
	c.Servers = []*huma.Server{{URL: "/", Description: "This Lanyard instance"}}
	c.Components.SecuritySchemes = map[string]*huma.SecurityScheme{
		"bearer": {Type: "http", Scheme: "bearer", BearerFormat: "JWT"},
		// The same access token, obtained by the documentation page's Authorize
		// button from the token endpoint with a username and password.
		"oauth2": {Type: "oauth2", Description: oauth2Description, Flows: &huma.OAuthFlows{
			Password: &huma.OAuthFlow{TokenURL: "/api/auth/token", RefreshURL: "/api/auth/token", Scopes: map[string]string{}},
		}},
	}
	return c
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// Registry is where the server's metrics are; other parts of the process register
// theirs here too.
func (s *Server) Registry() *prometheus.Registry { return s.registry }

// MetricsHandler serves the metrics of Registry in Prometheus's format.
func (s *Server) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{})
}

// ShuttingDown makes /readyz fail from now on, so a load balancer stops sending
// traffic while in-flight requests finish.
func (s *Server) ShuttingDown() { s.stopping.Store(true) }

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if s.stopping.Load() {
		w.Header().Set("Retry-After", "5")
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "shutting down"})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		noteCause(r.Context(), err)
		w.Header().Set("Retry-After", "2")
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "store unavailable"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// apiCSP is the Content-Security-Policy of every answer but the documentation's:
// nothing Lanyard serves there is a page.
const apiCSP = "default-src 'none'; frame-ancestors 'none'"

// docsCSP is the policy of /docs and everything under it: Swagger UI may load its own
// scripts, styles and the OpenAPI document from this origin, nothing from anywhere
// else (the bundled index.html would fetch a demo document from the internet), and
// inline styles, which it sets on its elements; no inline script runs.
const docsCSP = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// docs serves Swagger UI from the binary (embedded by the swaggo/files module), so the
// documentation works with no internet access.
func (s *Server) docs(mux *http.ServeMux) {
	withCSP := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Security-Policy", docsCSP)
			next.ServeHTTP(w, r)
		})
	}
	assets := http.StripPrefix("/docs/", http.FileServerFS(swaggerfiles.FS))
	mux.Handle("GET /docs", withCSP(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(docsPage))
	})))
	mux.Handle("GET /docs/lanyard-init.js", withCSP(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		_, _ = w.Write([]byte(docsInit))
	})))
	mux.Handle("GET /docs/", withCSP(assets))
}

const docsPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Lanyard API</title>
<link rel="stylesheet" href="/docs/swagger-ui.css"></head>
<body><div id="ui"></div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script src="/docs/lanyard-init.js"></script></body></html>
`

const docsInit = `window.ui = SwaggerUIBundle({url: "/openapi.json", dom_id: "#ui", deepLinking: true});
`

// notFound answers requests no route took: 405 with Allow when the path exists for
// other methods, 404 otherwise. (The catch-all route hides the mux's own 405.)
func notFound(mux *http.ServeMux, w http.ResponseWriter, r *http.Request) {
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := mux.Handler(probe); pattern != "/" && pattern != "" {
			allow = append(allow, m)
		}
	}
	if len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		writeProblem(w, newProblem(r.Context(), http.StatusMethodNotAllowed, "This resource does not support "+r.Method+"."))
		return
	}
	writeProblem(w, newProblem(r.Context(), http.StatusNotFound, "No such resource."))
}

// formPath reports whether the operation at path may speak OAuth2 forms: login's
// password form, the token endpoint, introspection and revocation.
func formPath(path string) bool {
	return path == "/api/auth/login" || path == "/api/auth/token" || path == "/api/auth/introspect" || path == "/api/auth/revoke"
}

// formOnlyForLogin refuses form bodies everywhere but where formPath allows them.
func formOnlyForLogin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ct, _, _ := strings.Cut(r.Header.Get("Content-Type"), ";")
		if strings.EqualFold(strings.TrimSpace(ct), "application/x-www-form-urlencoded") && !formPath(r.URL.Path) && !pagePath(r.URL.Path) {
			writeProblem(w, newProblem(r.Context(), http.StatusUnsupportedMediaType, "This operation accepts application/json only."))
			return
		}
		next.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeProblem(w http.ResponseWriter, p *Problem) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}
