package httpapi

import (
	"context"

	"github.com/danielgtaylor/huma/v2"

	"github.com/lanyard/lanyard"
	"github.com/lanyard/lanyard/internal/session"
)

// access is who may call an operation. Each operation declares its access in the
// route table (routes*.go); guard and refuse enforce it, so no handler checks a role.
type access int

const (
	// accessPublic: anyone; no token is read.
	accessPublic access = iota
	// accessAuthenticated: any caller with a valid bearer token.
	accessAuthenticated
	// accessAdmin: admins only; anyone else is refused whatever the request names.
	accessAdmin
	// accessSelfOrAdmin: the account the {user_id} path parameter names, when that is
	// the caller ("me" or its own id), or any account for admins. A non-admin naming
	// anyone else is refused whether or not that account exists, so the operation
	// cannot probe for ids; an admin naming no one gets the handler's 404.
	accessSelfOrAdmin
)

// guard is the one middleware that enforces a: it authenticates the caller (loading
// the user, role included, from the store on every request) and decides whether a
// lets the caller in. A caller it refuses is answered 403 by refuse, once Huma has
// read and validated the input: that is where the handlers used to refuse, so a
// refused caller's invalid input is still 422, as the contract has always answered.
func (s *Server) guard(a access) func(huma.Context, func(huma.Context)) {
	return func(ctx huma.Context, next func(huma.Context)) {
		tok, ok := bearerToken(ctx.Header("Authorization"))
		if !ok {
			s.fail(ctx, errNoToken)
			return
		}
		p, err := s.sessions.Authenticate(ctx.Context(), tok)
		if err != nil {
			s.fail(ctx, err)
			return
		}
		ctx = huma.WithValue(ctx, principalKey{}, p)
		if !a.allows(p, ctx.Param("user_id")) {
			ctx = huma.WithValue(ctx, refusedKey{}, true)
		}
		next(ctx)
	}
}

type refusedKey struct{}

// refuse wraps the handler of every guarded operation: it answers 403 to the callers
// guard refused, so the handler only ever runs for callers its access admits.
func refuse[I, O any](h func(context.Context, *I) (*O, error)) func(context.Context, *I) (*O, error) {
	return func(ctx context.Context, in *I) (*O, error) {
		if refused, _ := ctx.Value(refusedKey{}).(bool); refused {
			return nil, lanyard.ErrForbidden
		}
		return h(ctx, in)
	}
}

// allows reports whether the authenticated p may call an operation of access a
// whose {user_id} parameter (empty where there is none) is userID.
func (a access) allows(p session.Principal, userID string) bool {
	switch a {
	case accessPublic, accessAuthenticated:
		return true
	case accessAdmin:
		return p.User.IsAdmin()
	case accessSelfOrAdmin:
		return namesCaller(p, userID) || p.User.IsAdmin()
	}
	return false
}

// namesCaller reports whether a {user_id} parameter names the caller.
func namesCaller(p session.Principal, userID string) bool {
	return userID == "me" || userID == p.User.ID.Hex()
}
