package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/lanyard/lanyard"
	"github.com/lanyard/lanyard/internal/session"
)

type principalKey struct{}

// errNoToken is a request without credentials: RFC 6750 has its challenge carry no
// error code, unlike a token that was presented and refused.
var errNoToken = fmt.Errorf("no access token: %w", lanyard.ErrUnauthorized)

// fail writes err through the one error mapping.
func (s *Server) fail(ctx huma.Context, err error) {
	_ = huma.WriteErr(s.api, ctx, http.StatusInternalServerError, "", err)
}

func bearerToken(h string) (string, bool) {
	scheme, tok, ok := strings.Cut(h, " ")
	tok = strings.TrimSpace(tok)
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return "", false
	}
	return tok, true
}

// principal is the authenticated caller; only operations guard let through call it.
func principal(ctx context.Context) session.Principal {
	p, _ := ctx.Value(principalKey{}).(session.Principal)
	return p
}

// clientOf describes the caller for the session record.
func clientOf(ctx context.Context) session.Client {
	if st := stateOf(ctx); st != nil {
		return session.Client{IP: st.ip, UserAgent: st.userAgent}
	}
	return session.Client{}
}
