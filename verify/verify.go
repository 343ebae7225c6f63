// Package verify lets an application service verify Lanyard's access tokens on its
// own, with nothing but Lanyard's public keys: it fetches the JWK Set
// (/.well-known/jwks.json) and caches it, fetching it again when a token names a
// kid it does not hold (a key rotated in since) or when the cache is older than
// the JWK Set's max-age; it checks the EdDSA signature, typ at+jwt, iss, aud and
// exp, and gives net/http middleware that puts the verified claims in the
// request's context.
//
// A verified token says who the user was when it was issued, for at most its
// lifetime (15 minutes by default): a logout is not seen until it expires. Ask
// Lanyard (introspection) where that matters.
package verify

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// ErrInvalid is wrapped by every refusal of a token.
var ErrInvalid = errors.New("verify: invalid token")

// Options configure a Verifier.
type Options struct {
	// JWKSURL is Lanyard's JWK Set, e.g. https://id.example.com/.well-known/jwks.json.
	JWKSURL string
	// Issuer is Lanyard's LANYARD_ISSUER (default there: "lanyard").
	Issuer string
	// Audience is the aud tokens must carry: Lanyard's LANYARD_AUDIENCE, which
	// defaults to its issuer; "" means Issuer.
	Audience string
	// Client fetches the JWK Set; nil means a client with a 10-second timeout.
	Client *http.Client
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Claims are what a verified access token says.
type Claims struct {
	Subject   string    // sub: the user id
	SessionID string    // sid
	Role      string    // role: "user" or "admin"
	AMR       []string  // amr: how the user proved themselves (RFC 8176)
	Version   int64     // ver: the user's token version when it was issued
	ID        string    // jti
	KeyID     string    // the header's kid
	IssuedAt  time.Time // iat
	ExpiresAt time.Time // exp
}

// Verifier verifies access tokens against a cached JWK Set. It is safe for
// concurrent use.
type Verifier struct {
	o      Options
	parser *jwt.Parser

	mu        sync.Mutex // held while fetching, so concurrent misses fetch once
	keys      map[string]ed25519.PublicKey
	fetchedAt time.Time
	maxAge    time.Duration
}

// minRefetch bounds the fetches that unknown kids cause: anyone can send one.
const minRefetch = 10 * time.Second

// defaultMaxAge is how long a JWK Set is kept when its answer says nothing.
const defaultMaxAge = 5 * time.Minute

// New returns a Verifier for o. It fetches nothing until the first token.
func New(o Options) (*Verifier, error) {
	if o.JWKSURL == "" || o.Issuer == "" {
		return nil, errors.New("verify: JWKSURL and Issuer are required")
	}
	if o.Audience == "" {
		o.Audience = o.Issuer
	}
	if o.Client == nil {
		o.Client = &http.Client{Timeout: 10 * time.Second}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Verifier{o: o, maxAge: defaultMaxAge, parser: jwt.NewParser(
		// EdDSA only: no "none", no HS256 with a public key as its secret.
		jwt.WithValidMethods([]string{jwt.SigningMethodEdDSA.Alg()}),
		jwt.WithIssuer(o.Issuer),
		jwt.WithAudience(o.Audience),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(o.Now),
		jwt.WithStrictDecoding(),
	)}, nil
}

// wire is a token's claims as Lanyard writes them.
type wire struct {
	SessionID string   `json:"sid"`
	Role      string   `json:"role"`
	AMR       []string `json:"amr"`
	Version   *int64   `json:"ver"`
	IssuedAt  *float64 `json:"iat"` // seconds, with a millisecond fraction
	jwt.RegisteredClaims
}

// errUnknownKid is a kid the cached JWK Set does not hold.
var errUnknownKid = errors.New("verify: unknown kid")

// Verify checks tok and returns its claims; every refusal wraps ErrInvalid. A
// failure to fetch the JWK Set is returned as it is (not ErrInvalid): the token
// may be good.
func (v *Verifier) Verify(ctx context.Context, tok string) (*Claims, error) {
	if err := v.refresh(ctx, false); err != nil {
		return nil, err
	}
	var w wire
	t, err := v.parser.ParseWithClaims(tok, &w, v.key)
	if errors.Is(err, errUnknownKid) {
		if ferr := v.refresh(ctx, true); ferr != nil {
			return nil, ferr
		}
		w = wire{}
		t, err = v.parser.ParseWithClaims(tok, &w, v.key)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if w.Subject == "" || w.SessionID == "" || w.Version == nil || w.IssuedAt == nil {
		return nil, fmt.Errorf("%w: sub, sid, ver or iat missing", ErrInvalid)
	}
	kid, _ := t.Header["kid"].(string)
	return &Claims{
		Subject: w.Subject, SessionID: w.SessionID, Role: w.Role, AMR: w.AMR, Version: *w.Version,
		ID: w.ID, KeyID: kid,
		// Rounded: a fraction such as .123 is not exact in binary.
		IssuedAt:  time.UnixMilli(int64(math.Round(*w.IssuedAt * 1000))).UTC(),
		ExpiresAt: w.ExpiresAt.UTC(),
	}, nil
}

// key is jwt's key function: typ at+jwt (RFC 9068) and the key the kid names.
func (v *Verifier) key(t *jwt.Token) (any, error) {
	if typ, _ := t.Header["typ"].(string); typ != "at+jwt" && !strings.EqualFold(typ, "application/at+jwt") {
		return nil, errors.New("verify: typ is not at+jwt")
	}
	kid, _ := t.Header["kid"].(string)
	v.mu.Lock()
	k, ok := v.keys[kid]
	v.mu.Unlock()
	if !ok {
		return nil, errUnknownKid
	}
	return k, nil
}

// refresh fetches the JWK Set when none is cached or the cache is past its
// max-age, or, with miss, for an unknown kid unless a fetch was made in the last
// minRefetch.
func (v *Verifier) refresh(ctx context.Context, miss bool) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	now := v.o.Now()
	age := now.Sub(v.fetchedAt)
	switch {
	case v.keys == nil:
	case miss && age >= minRefetch:
	case !miss && age >= v.maxAge:
	default:
		return nil
	}
	keys, maxAge, err := v.fetch(ctx)
	if err != nil {
		if v.keys != nil && !miss {
			return nil // keep verifying with the keys held; try again next time
		}
		return err
	}
	v.keys, v.fetchedAt, v.maxAge = keys, now, maxAge
	return nil
}

// fetch gets and decodes the JWK Set, keeping the Ed25519 signing keys.
func (v *Verifier) fetch(ctx context.Context) (map[string]ed25519.PublicKey, time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, v.o.JWKSURL, nil)
	if err != nil {
		return nil, 0, fmt.Errorf("verify: JWKS: %w", err)
	}
	res, err := v.o.Client.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("verify: JWKS: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, 0, fmt.Errorf("verify: JWKS: status %d", res.StatusCode)
	}
	var set struct {
		Keys []struct{ Kty, Crv, Kid, Use, Alg, X string } `json:"keys"`
	}
	if err := json.NewDecoder(io.LimitReader(res.Body, 1<<20)).Decode(&set); err != nil {
		return nil, 0, fmt.Errorf("verify: JWKS: %w", err)
	}
	keys := map[string]ed25519.PublicKey{}
	for _, k := range set.Keys {
		if k.Kty != "OKP" || k.Crv != "Ed25519" || (k.Use != "" && k.Use != "sig") || (k.Alg != "" && k.Alg != "EdDSA") {
			continue
		}
		x, err := base64.RawURLEncoding.DecodeString(k.X)
		if err != nil || len(x) != ed25519.PublicKeySize {
			continue
		}
		keys[k.Kid] = ed25519.PublicKey(x)
	}
	return keys, maxAgeOf(res.Header.Get("Cache-Control")), nil
}

// maxAgeOf is a Cache-Control header's max-age, or defaultMaxAge.
func maxAgeOf(cc string) time.Duration {
	for _, d := range strings.Split(cc, ",") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(d), "max-age="); ok {
			if n, err := strconv.Atoi(v); err == nil && n >= 0 {
				return time.Duration(n) * time.Second
			}
		}
	}
	return defaultMaxAge
}

type ctxKey struct{}

// FromContext is the claims Middleware verified for this request.
func FromContext(ctx context.Context) (*Claims, bool) {
	c, ok := ctx.Value(ctxKey{}).(*Claims)
	return c, ok
}

// Middleware lets through only requests with a valid "Authorization: Bearer"
// access token, with its claims in the context (FromContext); others get 401 with
// a Bearer challenge (RFC 6750), or 503 when the JWK Set cannot be fetched.
func (v *Verifier) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || tok == "" {
			w.Header().Set("WWW-Authenticate", `Bearer`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		c, err := v.Verify(r.Context(), tok)
		switch {
		case errors.Is(err, ErrInvalid):
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		case err != nil:
			http.Error(w, "token keys unavailable", http.StatusServiceUnavailable)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, c)))
	})
}
