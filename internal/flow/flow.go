// Package flow keeps what one request of a way in leaves for a later one: an OAuth
// state with its nonce and PKCE verifier, an mfa_token between the password and the
// second factor, a mail token, a WebAuthn challenge. A flow is persisted (any
// instance may serve the second request), expires, and is taken once: of any number
// of concurrent takes of one token exactly one gets the flow.
//
// The client holds a random token; the store keeps only a keyed hash of it, as the
// flow's _id, so a flow is found by _id (the one lookup the embedded store answers
// without a scan), a copy of the database names no live token, and whoever can
// write to the database but lacks LANYARD_DATA_KEY cannot make a flow of their own.
package flow

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/lanyard/lanyard"
	"github.com/lanyard/lanyard/internal/store"
	"github.com/lanyard/lanyard/internal/subkey"
)

// Token is what the client holds to take its flow.
type Token string

// LogValue keeps a token out of the logs.
func (Token) LogValue() slog.Value { return slog.StringValue("[redacted]") }

// tokenLen is the random bytes of a token: 256 bits, beyond guessing, so a fast
// hash is enough to keep it.
const tokenLen = 32

// tokenEnc is unpadded base64url, strict so that a token has one spelling.
var tokenEnc = base64.RawURLEncoding.Strict()

// MaxPayload bounds a flow's payload (the lengths of its keys and values): a flow
// carries a few identifiers and secrets, never a document.
const MaxPayload = 4096

// SweepEvery is how often expired flows are deleted. An expired flow is refused
// whether or not it is still stored, so the sweep only reclaims space.
const SweepEvery = 10 * time.Minute

// infoToken is the HKDF info of the subkey of LANYARD_DATA_KEY that hashes tokens.
const infoToken = "lanyard/flow/token/v1"

// Service starts and takes flows.
type Service struct {
	st  *store.Store
	key []byte
	now func() time.Time
}

// New returns a Service keeping flows in st, hashing their tokens under a subkey of
// dataKey. now nil: time.Now.
func New(st *store.Store, dataKey []byte, now func() time.Time) (*Service, error) {
	key, err := subkey.Derive(dataKey, infoToken)
	if err != nil {
		return nil, fmt.Errorf("flow key: %w", err)
	}
	if now == nil {
		now = time.Now
	}
	return &Service{st: st, key: key, now: now}, nil
}

// Start stores a flow of kind for userID (the zero ID: none) carrying payload, which
// expires after ttl, and returns the token that takes it. The token goes to the
// client only; the store keeps its keyed hash.
func (s *Service) Start(ctx context.Context, kind lanyard.FlowKind, userID lanyard.ID, payload map[string]string, ttl time.Duration) (Token, error) {
	switch {
	case kind == "":
		return "", errors.New("start flow: no kind")
	case ttl <= 0:
		return "", fmt.Errorf("start flow %s: ttl %v is not positive", kind, ttl)
	case payloadSize(payload) > MaxPayload:
		return "", fmt.Errorf("start flow %s: payload over %d bytes", kind, MaxPayload)
	}
	// crypto/rand.Read never fails since Go 1.24 (it crashes the program instead).
	raw := make([]byte, tokenLen)
	rand.Read(raw)
	tok := tokenEnc.EncodeToString(raw)
	now := store.Millis(s.now())
	err := s.st.InsertFlow(ctx, s.id(kind, tok), lanyard.Flow{
		Kind: kind, UserID: userID, Payload: payload, CreatedAt: now, ExpiresAt: store.Millis(now.Add(ttl)),
	})
	if err != nil {
		return "", fmt.Errorf("start flow %s: %w", kind, err)
	}
	return Token(tok), nil
}

// Take ends the flow of kind that tok names and returns it. A token that names no
// such flow — unknown, malformed, already taken, expired (swept or not), or of
// another kind — is lanyard.ErrFlowInvalid, and a wrong kind leaves the flow as it
// was. Of concurrent takes of one flow exactly one returns it.
func (s *Service) Take(ctx context.Context, kind lanyard.FlowKind, tok string) (lanyard.Flow, error) {
	id, f, err := s.find(ctx, kind, tok)
	if err != nil {
		return lanyard.Flow{}, fmt.Errorf("take flow %s: %w", kind, err)
	}
	// The read above may be shared by any number of concurrent takes; the delete is
	// what only one of them can do.
	won, err := s.st.DeleteFlow(ctx, id)
	if err != nil {
		return lanyard.Flow{}, fmt.Errorf("take flow %s: %w", kind, err)
	}
	if !won {
		return lanyard.Flow{}, fmt.Errorf("take flow %s: %w", kind, lanyard.ErrFlowInvalid)
	}
	return f, nil
}

// Peek returns the flow of kind that tok names, as Take would, without taking it: a
// confirmation checks what it was given (a new password, say) before it spends the
// token, so that a refusal leaves the token working. It refuses what Take refuses;
// only Take decides who gets the flow.
func (s *Service) Peek(ctx context.Context, kind lanyard.FlowKind, tok string) (lanyard.Flow, error) {
	_, f, err := s.find(ctx, kind, tok)
	if err != nil {
		return lanyard.Flow{}, fmt.Errorf("peek flow %s: %w", kind, err)
	}
	return f, nil
}

// find reads the live flow of kind that tok names, and its _id.
func (s *Service) find(ctx context.Context, kind lanyard.FlowKind, tok string) (string, lanyard.Flow, error) {
	if !wellFormed(tok) {
		return "", lanyard.Flow{}, lanyard.ErrFlowInvalid
	}
	// The kind is part of the hash, so a token of another kind names another _id:
	// taking it as the wrong kind finds nothing and spends nothing.
	id := s.id(kind, tok)
	f, err := s.st.FlowByID(ctx, id)
	if errors.Is(err, lanyard.ErrNotFound) {
		return "", lanyard.Flow{}, lanyard.ErrFlowInvalid
	}
	if err != nil {
		return "", lanyard.Flow{}, err
	}
	if f.Kind != kind || !s.now().Before(f.ExpiresAt) {
		return "", lanyard.Flow{}, lanyard.ErrFlowInvalid
	}
	return id, f, nil
}

// Sweep deletes the flows that expired, and says how many.
func (s *Service) Sweep(ctx context.Context) (int64, error) {
	n, err := s.st.SweepFlows(ctx, s.now())
	if err != nil {
		return n, fmt.Errorf("sweep flows: %w", err)
	}
	return n, nil
}

// id is the _id of the flow of kind that tok takes: HMAC-SHA256 of the kind and the
// token under the service's key, in base64url.
func (s *Service) id(kind lanyard.FlowKind, tok string) string {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(kind))
	m.Write([]byte{0})
	m.Write([]byte(tok))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// wellFormed reports whether tok could be a token Start made: exactly tokenLen bytes
// of strict base64url. Anything else costs no store work.
func wellFormed(tok string) bool {
	if len(tok) != tokenEnc.EncodedLen(tokenLen) {
		return false
	}
	var raw [tokenLen]byte
	n, err := tokenEnc.Decode(raw[:], []byte(tok))
	return err == nil && n == tokenLen
}

func payloadSize(p map[string]string) int {
	n := 0
	for k, v := range p {
		n += len(k) + len(v)
	}
	return n
}
