package httpapi

import (
	"net/http"

	"github.com/lanyard/lanyard/internal/keyring"
)

// KeySet answers the JWK Set of the signing keys whose tokens may still be alive.
type KeySet interface {
	JWKS() keyring.JWKSet
}

// jwksPath is where application services fetch the public keys.
const jwksPath = "/.well-known/jwks.json"

// jwks serves the JWK Set. Verifiers may cache it for five minutes: a rotated-in
// key is published for LANYARD_KEY_PUBLISH_DELAY (10 minutes by default) before it
// signs, and a verifier refetches on an unknown kid anyway.
func (s *Server) jwks(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "public, max-age=300")
	writeJSON(w, http.StatusOK, s.keys.JWKS())
}

// authServerMetadata is RFC 8414's document, with the entries of what exists. The
// authorization code comes from a sign-in through an identity provider, whose
// authorization endpoint is per provider (/api/auth/oauth/{provider}/authorize): so
// response_types_supported and code_challenge_methods_supported are named, and no
// single authorization_endpoint is (it would have to name one provider).
type authServerMetadata struct {
	Issuer           string   `json:"issuer"`
	JWKSURI          string   `json:"jwks_uri"`
	TokenEndpoint    string   `json:"token_endpoint"`
	GrantTypes       []string `json:"grant_types_supported"`
	TokenAuthMethods []string `json:"token_endpoint_auth_methods_supported"`
	ResponseTypes    []string `json:"response_types_supported,omitempty"`
	CodeChallenges   []string `json:"code_challenge_methods_supported,omitempty"`
	// Introspection (RFC 7662) takes a service client; revocation (RFC 7009) a
	// public client too.
	IntrospectionEndpoint    string   `json:"introspection_endpoint"`
	IntrospectionAuthMethods []string `json:"introspection_endpoint_auth_methods_supported"`
	RevocationEndpoint       string   `json:"revocation_endpoint"`
	RevocationAuthMethods    []string `json:"revocation_endpoint_auth_methods_supported"`
}

// authorizationServer serves RFC 8414 metadata. jwks_uri is absolute (RFC 8414
// §2), built from the address the request reached: Lanyard does not know the
// public URL it is reached by.
func (s *Server) authorizationServer(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "public, max-age=300")
	origin := requestOrigin(r)
	m := authServerMetadata{
		Issuer: s.issuer, JWKSURI: origin + jwksPath,
		TokenEndpoint: origin + "/api/auth/token",
		GrantTypes:    []string{"password", "refresh_token"},
		// A service client by HTTP Basic or in the body; a public client by its
		// client_id alone (or none).
		TokenAuthMethods:         []string{"client_secret_basic", "client_secret_post", "none"},
		IntrospectionEndpoint:    origin + "/api/auth/introspect",
		IntrospectionAuthMethods: []string{"client_secret_basic", "client_secret_post"},
		RevocationEndpoint:       origin + "/api/auth/revoke",
		RevocationAuthMethods:    []string{"client_secret_basic", "client_secret_post", "none"},
	}
	// The code flow exists where identity providers are configured; the
	// application's PKCE at their authorize endpoints is S256 only.
	if len(s.oauth.List()) > 0 {
		m.GrantTypes = append(m.GrantTypes, "authorization_code")
		m.ResponseTypes, m.CodeChallenges = []string{"code"}, []string{"S256"}
	}
	writeJSON(w, http.StatusOK, m)
}

// requestOrigin is the scheme and host the request was sent to.
func requestOrigin(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}
