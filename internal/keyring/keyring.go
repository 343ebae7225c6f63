// Package keyring keeps the access tokens' signing keys: Ed25519 keys in the store
// (collection signing_keys), their private part sealed with AES-256-GCM under a
// subkey of LANYARD_DATA_KEY, shared by every instance. It makes the first key,
// rotates, lists, reloads the keys into the token.Signer, and answers the JWK Set
// of the keys whose tokens may still be alive.
//
// A key signs from its SignsFrom until the next key's SignsFrom, when it retires;
// it stays published until every token it signed has expired: retirement plus the
// access-token lifetime. A rotation adds a key that is published at once and signs
// from PublishDelay later, so every instance (which reloads every ReloadEvery) and
// every verifier caching the JWK Set knows it before the first token it signs.
package keyring

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync/atomic"
	"time"

	"github.com/lanyard/lanyard/internal/store"
	"github.com/lanyard/lanyard/internal/subkey"
	"github.com/lanyard/lanyard/internal/token"
)

// sealInfo is the HKDF info of the key that seals signing keys.
const sealInfo = "lanyard/signing-key/v1"

// ReloadEvery is how often every instance reads the keys again, so a rotation made
// elsewhere reaches it well within the publish delay.
const ReloadEvery = 30 * time.Second

// DefaultPublishDelay is LANYARD_KEY_PUBLISH_DELAY's default.
const DefaultPublishDelay = 10 * time.Minute

// Options configure a Ring.
type Options struct {
	Store   *store.Store
	DataKey []byte // LANYARD_DATA_KEY, the root of the sealing subkey
	Signer  *token.Signer
	// PublishDelay is how long a rotated-in key is published before it signs.
	PublishDelay time.Duration
	Now          func() time.Time // nil: time.Now
}

// Ring is the signing keys of the store, loaded into a Signer.
type Ring struct {
	st     *store.Store
	aead   cipher.AEAD
	signer *token.Signer
	delay  time.Duration
	now    func() time.Time
	loaded atomic.Pointer[[]Info] // the keys as last loaded, for the JWK Set
}

// Info is what may be shown of a key: never its material but the public key.
type Info struct {
	KID       string
	Public    ed25519.PublicKey
	CreatedAt time.Time
	SignsFrom time.Time
	// RetiredAt is when the next key starts signing (zero while none is rotated
	// in); ExpiresAt when the last token this key signed expires, after which
	// it leaves the JWK Set (zero with RetiredAt).
	RetiredAt time.Time
	ExpiresAt time.Time
}

// New returns the Ring of o.Store. It loads nothing: Start does.
func New(o Options) (*Ring, error) {
	key, err := subkey.Derive(o.DataKey, sealInfo)
	if err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.PublishDelay < 0 {
		return nil, errors.New("keyring: publish delay is negative")
	}
	r := &Ring{st: o.Store, aead: aead, signer: o.Signer, delay: o.PublishDelay, now: o.Now}
	empty := []Info{}
	r.loaded.Store(&empty)
	o.Signer.OnUnknownKey(r.Load)
	return r, nil
}

// LogValue keeps key material out of logs.
func (*Ring) LogValue() slog.Value { return slog.StringValue("[redacted]") }

// Start makes the first key when the store has none, then loads the keys. Of
// instances starting at once on an empty store exactly one adds the first key (a
// claim on its place), and all load that one.
func (r *Ring) Start(ctx context.Context) error {
	keys, err := r.st.SigningKeys(ctx)
	if err != nil {
		return fmt.Errorf("keyring: %w", err)
	}
	if len(keys) == 0 {
		now := r.now()
		if _, err := r.add(ctx, 1, now, now); err != nil && !errors.Is(err, store.ErrDuplicate) {
			return err
		}
	}
	return r.Load(ctx)
}

// add seals a fresh key and claims place seq for it.
func (r *Ring) add(ctx context.Context, seq int64, created, signsFrom time.Time) (store.SigningKey, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return store.SigningKey{}, fmt.Errorf("keyring: generate: %w", err)
	}
	kid := token.KeyID(pub)
	nonce := make([]byte, r.aead.NonceSize())
	rand.Read(nonce)
	k := store.SigningKey{
		Seq: seq, KID: kid, CreatedAt: store.Millis(created), SignsFrom: store.Millis(signsFrom),
		// The kid is the associated data: a sealed key opens only as the key it
		// says it is.
		Sealed: r.aead.Seal(nonce, nonce, priv.Seed(), []byte(kid)),
	}
	if err := r.st.AddSigningKey(ctx, k); err != nil {
		return store.SigningKey{}, fmt.Errorf("keyring: add key: %w", err)
	}
	return k, nil
}

// open unseals a stored key and checks that it is the key its kid names.
func (r *Ring) open(k store.SigningKey) (ed25519.PrivateKey, error) {
	n := r.aead.NonceSize()
	if len(k.Sealed) < n {
		return nil, fmt.Errorf("keyring: key %d is not sealed", k.Seq)
	}
	seed, err := r.aead.Open(nil, k.Sealed[:n], k.Sealed[n:], []byte(k.KID))
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("keyring: key %d does not open with LANYARD_DATA_KEY", k.Seq)
	}
	priv := ed25519.NewKeyFromSeed(seed)
	if token.KeyID(priv.Public().(ed25519.PublicKey)) != k.KID {
		return nil, fmt.Errorf("keyring: key %d is not the key its kid names", k.Seq)
	}
	return priv, nil
}

// Load reads every key, opens it and hands the Signer those whose tokens may
// still be alive. It is what the periodic reload and an unknown kid run.
func (r *Ring) Load(ctx context.Context) error {
	stored, err := r.st.SigningKeys(ctx)
	if err != nil {
		return fmt.Errorf("keyring: %w", err)
	}
	infos := r.infos(stored)
	now := r.now()
	var keys []token.Key
	var live []Info
	for i, k := range stored {
		in := infos[i]
		if !in.ExpiresAt.IsZero() && !now.Before(in.ExpiresAt) {
			continue // every token it signed has expired
		}
		priv, err := r.open(k)
		if err != nil {
			return err
		}
		in.Public = priv.Public().(ed25519.PublicKey)
		keys = append(keys, token.Key{ID: k.KID, Private: priv, Public: in.Public, SignsFrom: k.SignsFrom})
		live = append(live, in)
	}
	if err := r.signer.SetKeys(keys); err != nil {
		return fmt.Errorf("keyring: %w", err)
	}
	r.loaded.Store(&live)
	return nil
}

// infos works out each key's retirement: the SignsFrom of the key that follows
// it in signing order (by SignsFrom, then place).
func (r *Ring) infos(stored []store.SigningKey) []Info {
	order := make([]int, len(stored))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return stored[a].SignsFrom.Compare(stored[b].SignsFrom) })
	out := make([]Info, len(stored))
	for j, i := range order {
		k := stored[i]
		out[i] = Info{KID: k.KID, CreatedAt: k.CreatedAt, SignsFrom: k.SignsFrom}
		if j+1 < len(order) {
			out[i].RetiredAt = stored[order[j+1]].SignsFrom
			out[i].ExpiresAt = out[i].RetiredAt.Add(r.signer.TTL())
		}
	}
	return out
}

// Rotate adds a key that is published at once and signs from PublishDelay on;
// the key signing until then retires at that moment. Concurrent rotations each
// add a key of their own, one after the other.
func (r *Ring) Rotate(ctx context.Context) (Info, error) {
	for range 5 {
		stored, err := r.st.SigningKeys(ctx)
		if err != nil {
			return Info{}, fmt.Errorf("keyring: %w", err)
		}
		var seq int64 = 1
		if len(stored) > 0 {
			seq = stored[len(stored)-1].Seq + 1
		}
		now := r.now()
		k, err := r.add(ctx, seq, now, now.Add(r.delay))
		if errors.Is(err, store.ErrDuplicate) {
			continue // another rotation took this place: take the next
		}
		if err != nil {
			return Info{}, err
		}
		if err := r.Load(ctx); err != nil {
			return Info{}, err
		}
		return Info{KID: k.KID, CreatedAt: k.CreatedAt, SignsFrom: k.SignsFrom}, nil
	}
	return Info{}, errors.New("keyring: rotate: too many rotations at once")
}

// List is every stored key, in the order they were added, expired ones included.
func (r *Ring) List(ctx context.Context) ([]Info, error) {
	stored, err := r.st.SigningKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	return r.infos(stored), nil
}

// JWK is one public key of a JWK Set (RFC 7517, RFC 8037).
type JWK struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	X   string `json:"x"`
}

// JWKSet is the document of GET /.well-known/jwks.json.
type JWKSet struct {
	Keys []JWK `json:"keys"`
}

// JWKS is the JWK Set of every loaded key whose tokens may still be alive: those
// not yet signing, the one signing and those retired less than a token's lifetime
// ago.
func (r *Ring) JWKS() JWKSet {
	now := r.now()
	set := JWKSet{Keys: []JWK{}}
	for _, in := range *r.loaded.Load() {
		if !in.ExpiresAt.IsZero() && !now.Before(in.ExpiresAt) {
			continue
		}
		set.Keys = append(set.Keys, JWK{Kty: "OKP", Crv: "Ed25519", Kid: in.KID, Use: "sig", Alg: "EdDSA",
			X: base64.RawURLEncoding.EncodeToString(in.Public)})
	}
	return set
}
