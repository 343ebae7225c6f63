package config

import (
	"slices"
	"strings"
	"testing"
)

// TestLoad_WebAuthnRelyingParty: the RP ID and origins default from LANYARD_PUBLIC_URL
// (its host and origin) or else LANYARD_ADDR (localhost and its port; a host name and
// https), and every wrong value is one line
// naming its variable: an RP ID that is no domain, an origin that is no origin, one
// off the RP ID, and http anywhere but localhost.
func TestLoad_WebAuthnRelyingParty(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		env         map[string]string
		wantID      string
		wantOrigins []string
		bad         string // the variable the one error line names
	}{
		{"defaults on the loopback address", nil, "localhost", []string{"http://localhost:8080"}, ""},
		{"the port of LANYARD_ADDR", map[string]string{"LANYARD_ADDR": "0.0.0.0:9000"}, "localhost", []string{"http://localhost:9000"}, ""},
		{"a host name in LANYARD_ADDR", map[string]string{"LANYARD_ADDR": "id.example.com:443"}, "id.example.com", []string{"https://id.example.com"}, ""},
		{"the public URL", map[string]string{"LANYARD_PUBLIC_URL": "https://accounts.example.com/base"}, "accounts.example.com", []string{"https://accounts.example.com"}, ""},
		{"the public URL under a parent RP ID", map[string]string{"LANYARD_PUBLIC_URL": "https://id.example.com:8443", "LANYARD_WEBAUTHN_RP_ID": "example.com"}, "example.com", []string{"https://id.example.com:8443"}, ""},
		{"a public URL on an IP address", map[string]string{"LANYARD_PUBLIC_URL": "http://10.0.0.5:8080", "LANYARD_ADDR": "10.0.0.5:8080"}, "localhost", []string{"http://localhost:8080"}, ""},
		{"an RP ID alone", map[string]string{"LANYARD_WEBAUTHN_RP_ID": "Example.com"}, "example.com", []string{"https://example.com"}, ""},
		{"origins on subdomains", map[string]string{"LANYARD_WEBAUTHN_RP_ID": "example.com", "LANYARD_WEBAUTHN_ORIGINS": "https://app.example.com, https://example.com:8443/"},
			"example.com", []string{"https://app.example.com", "https://example.com:8443"}, ""},
		{"an RP ID with a scheme", map[string]string{"LANYARD_WEBAUTHN_RP_ID": "https://example.com"}, "", nil, "LANYARD_WEBAUTHN_RP_ID"},
		{"an RP ID with a port", map[string]string{"LANYARD_WEBAUTHN_RP_ID": "example.com:443"}, "", nil, "LANYARD_WEBAUTHN_RP_ID"},
		{"an IP address as RP ID", map[string]string{"LANYARD_WEBAUTHN_RP_ID": "127.0.0.1"}, "", nil, "LANYARD_WEBAUTHN_RP_ID"},
		{"an origin with a path", map[string]string{"LANYARD_WEBAUTHN_RP_ID": "example.com", "LANYARD_WEBAUTHN_ORIGINS": "https://example.com/login"}, "", nil, "LANYARD_WEBAUTHN_ORIGINS"},
		{"an origin off the RP ID", map[string]string{"LANYARD_WEBAUTHN_RP_ID": "example.com", "LANYARD_WEBAUTHN_ORIGINS": "https://evil-example.com"}, "", nil, "LANYARD_WEBAUTHN_ORIGINS"},
		{"http off localhost", map[string]string{"LANYARD_WEBAUTHN_RP_ID": "example.com", "LANYARD_WEBAUTHN_ORIGINS": "http://app.example.com"}, "", nil, "LANYARD_WEBAUTHN_ORIGINS"},
		{"http on localhost", map[string]string{"LANYARD_WEBAUTHN_ORIGINS": "http://localhost:3000"}, "localhost", []string{"http://localhost:3000"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := Load(func(k string) string { return tt.env[k] })
			if tt.bad != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.bad+": ") || strings.Contains(err.Error(), "\n") {
					t.Fatalf("Load(%v) error = %v; want one line naming %s", tt.env, err, tt.bad)
				}
				return
			}
			if err != nil {
				t.Fatalf("Load(%v): %v", tt.env, err)
			}
			if c.WebAuthnRPID != tt.wantID || !slices.Equal(c.WebAuthnOrigins, tt.wantOrigins) {
				t.Errorf("Load(%v) = RP ID %q, origins %q; want %q, %q", tt.env, c.WebAuthnRPID, c.WebAuthnOrigins, tt.wantID, tt.wantOrigins)
			}
		})
	}
}
