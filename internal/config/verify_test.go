package config

import (
	"strings"
	"testing"
	"time"
)

func TestLoad_RequireVerifiedEmailIsABoolDefaultFalse(t *testing.T) {
	tests := []struct {
		value string
		want  bool
		bad   bool
	}{
		{"", false, false},
		{"true", true, false},
		{"false", false, false},
		{"1", true, false},
		{" TRUE ", true, false},
		{"yes", false, true},
		{"on", false, true},
	}
	for _, tt := range tests {
		c, err := Load(func(k string) string {
			if k == "LANYARD_REQUIRE_VERIFIED_EMAIL" {
				return tt.value
			}
			return ""
		})
		if tt.bad {
			if err == nil || !strings.HasPrefix(err.Error(), "LANYARD_REQUIRE_VERIFIED_EMAIL: ") || strings.Contains(err.Error(), "\n") {
				t.Errorf("Load(LANYARD_REQUIRE_VERIFIED_EMAIL=%q) error = %v; want one line naming the variable", tt.value, err)
			}
			continue
		}
		if err != nil || c.RequireVerifiedEmail != tt.want {
			t.Errorf("Load(LANYARD_REQUIRE_VERIFIED_EMAIL=%q) = %v, %v; want %v", tt.value, c.RequireVerifiedEmail, err, tt.want)
		}
	}
}

func TestLoad_VerifyLinkAndLifetime(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		bad  string // the variable the one error line names; "" for none
		url  string
		ttl  time.Duration
	}{
		{"defaults", nil, "", "http://127.0.0.1:8080/verify-email?token={token}", 24 * time.Hour},
		{"under the public URL", map[string]string{"LANYARD_PUBLIC_URL": "https://id.example.com"}, "", "https://id.example.com/verify-email?token={token}", 24 * time.Hour},
		{"the application's page", map[string]string{"LANYARD_VERIFY_URL": "https://app.example.com/verify/{token}", "LANYARD_VERIFY_TTL": "72h"}, "", "https://app.example.com/verify/{token}", 72 * time.Hour},
		{"no {token}", map[string]string{"LANYARD_VERIFY_URL": "https://app.example.com/verify"}, "LANYARD_VERIFY_URL", "", 0},
		{"not http", map[string]string{"LANYARD_VERIFY_URL": "ftp://app.example.com/{token}"}, "LANYARD_VERIFY_URL", "", 0},
		{"not a duration", map[string]string{"LANYARD_VERIFY_TTL": "a day"}, "LANYARD_VERIFY_TTL", "", 0},
		{"over a week", map[string]string{"LANYARD_VERIFY_TTL": "169h"}, "LANYARD_VERIFY_TTL", "", 0},
	}
	for _, tt := range tests {
		c, err := Load(func(k string) string { return tt.env[k] })
		if tt.bad != "" {
			if err == nil || !strings.HasPrefix(err.Error(), tt.bad+": ") || strings.Contains(err.Error(), "\n") {
				t.Errorf("%s: error = %v; want one line naming %s", tt.name, err, tt.bad)
			}
			continue
		}
		if err != nil || c.VerifyURL != tt.url || c.VerifyTTL != tt.ttl {
			t.Errorf("%s: VerifyURL %q, VerifyTTL %v, %v; want %q, %v", tt.name, c.VerifyURL, c.VerifyTTL, err, tt.url, tt.ttl)
		}
	}
}
