package token

import "sync"

// rememberedSize bounds the tokens a Signer remembers: two generations of at most
// this many, so a burst of new tokens costs at most their Ed25519 verification again.
const rememberedSize = 4096

// remembered holds access tokens that passed every check of Verify, with their
// claims. A client sends the same access token with every request of its lifetime,
// so each later request costs a map lookup instead of an Ed25519 verification.
// Only the identical token, byte for byte, is found; its expiry and its key are
// checked again on every use (verifyRemembered).
type remembered struct {
	mu        sync.RWMutex
	cur, prev map[string]Claims
}

func (r *remembered) get(tok string) (Claims, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	c, ok := r.cur[tok]
	if !ok {
		c, ok = r.prev[tok]
	}
	return c, ok
}

func (r *remembered) put(tok string, c Claims) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cur == nil || len(r.cur) >= rememberedSize {
		r.prev, r.cur = r.cur, make(map[string]Claims, rememberedSize)
	}
	r.cur[tok] = c
}
