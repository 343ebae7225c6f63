// Package client owns service clients: application services that authenticate to
// Lanyard with a client_id and a client_secret, to introspect and revoke tokens and at
// the token endpoint. A client is added by the operator (`lanyard clients add`), which
// prints its secret once; the store keeps only the secret's SHA-256. Holding a client
// lets a service ask about tokens, never mint one.
package client

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/lanyard/lanyard"
	"github.com/lanyard/lanyard/internal/store"
)

// idLen is the random bytes of a client id, printed as hex: ids are public, and only
// need to be unique.
const idLen = 16

// secretLen is the random bytes of a client secret: 256 bits, beyond guessing, which
// is why a fast hash is enough to keep it (as refresh secrets are kept).
const secretLen = 32

// MaxName bounds a client's name, in characters.
const MaxName = 100

// secretEnc is unpadded base64url, strict so that a secret has one spelling.
var secretEnc = base64.RawURLEncoding.Strict()

// Secret is a client secret in clear, which exists only between Add and the operator.
type Secret string

// LogValue keeps a secret out of the logs.
func (Secret) LogValue() slog.Value { return slog.StringValue("[redacted]") }

// Service adds, lists, removes and authenticates clients.
type Service struct {
	st  *store.Store
	now func() time.Time
}

// New returns a Service keeping clients in st. now nil: time.Now.
func New(st *store.Store, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{st: st, now: now}
}

// Add registers a client called name and returns it with its secret, which is shown
// this once: the store keeps only its hash.
func (s *Service) Add(ctx context.Context, name string) (lanyard.Client, Secret, error) {
	name = strings.TrimSpace(name)
	if msg := checkName(name); msg != "" {
		bad := &lanyard.InvalidError{}
		bad.Add("name", msg)
		return lanyard.Client{}, "", bad
	}
	id := make([]byte, idLen)
	rand.Read(id) // never fails since Go 1.24
	secret := make([]byte, secretLen)
	rand.Read(secret)
	sum := sha256.Sum256(secret)
	c := lanyard.Client{ID: hex.EncodeToString(id), Name: name, SecretHash: sum[:], CreatedAt: store.Millis(s.now())}
	if err := s.st.InsertClient(ctx, c); err != nil {
		return lanyard.Client{}, "", fmt.Errorf("add client: %w", err)
	}
	return c, Secret(secretEnc.EncodeToString(secret)), nil
}

// checkName says what is wrong with a client's name, or "".
func checkName(name string) string {
	switch n := utf8.RuneCountInString(name); {
	case !utf8.ValidString(name):
		return "is not valid UTF-8"
	case n == 0:
		return "is required"
	case n > MaxName:
		return fmt.Sprintf("is longer than %d characters", MaxName)
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		return "holds a control character"
	}
	return ""
}

// List returns every client, by id.
func (s *Service) List(ctx context.Context) ([]lanyard.Client, error) {
	cs, err := s.st.Clients(ctx)
	if err != nil {
		return nil, fmt.Errorf("list clients: %w", err)
	}
	return cs, nil
}

// Remove deletes the client with this id: lanyard.ErrNotFound when there is none.
// Its secret authenticates nothing from then on.
func (s *Service) Remove(ctx context.Context, id string) error {
	if !isID(id) {
		return fmt.Errorf("remove client: %w", lanyard.ErrNotFound)
	}
	if err := s.st.DeleteClient(ctx, id); err != nil {
		return fmt.Errorf("remove client: %w", err)
	}
	return nil
}

// dummyHash is compared against when the id names no client, so that an unknown id
// costs what a wrong secret does.
var dummyHash = make([]byte, sha256.Size)

// Authenticate returns the client that id and secret prove, or lanyard.ErrClientInvalid:
// an unknown id, a malformed one and a wrong secret are one answer.
func (s *Service) Authenticate(ctx context.Context, id, secret string) (lanyard.Client, error) {
	raw, err := secretEnc.DecodeString(secret)
	if !isID(id) || err != nil || len(raw) != secretLen {
		return lanyard.Client{}, fmt.Errorf("authenticate client: %w", lanyard.ErrClientInvalid)
	}
	c, err := s.st.ClientByID(ctx, id)
	want := c.SecretHash
	switch {
	case errors.Is(err, lanyard.ErrNotFound):
		want = dummyHash
	case err != nil:
		return lanyard.Client{}, fmt.Errorf("authenticate client: %w", err)
	}
	sum := sha256.Sum256(raw)
	if subtle.ConstantTimeCompare(sum[:], want) != 1 || err != nil {
		return lanyard.Client{}, fmt.Errorf("authenticate client: %w", lanyard.ErrClientInvalid)
	}
	return c, nil
}

// isID reports whether id has a client id's form (lowercase hex of idLen bytes), so
// that nothing else is ever looked up.
func isID(id string) bool {
	if len(id) != 2*idLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
