package config

import (
	"strings"
	"testing"
	"time"
)

func TestLoad_PasswordMinScoreIsZeroToFour(t *testing.T) {
	tests := []struct {
		value string
		want  int
		bad   bool
	}{
		{"", 3, false},
		{"0", 0, false},
		{"4", 4, false},
		{" 2 ", 2, false},
		{"5", 0, true},
		{"-1", 0, true},
		{"three", 0, true},
		{"3.5", 0, true},
	}
	for _, tt := range tests {
		c, err := Load(func(k string) string {
			if k == "LANYARD_PASSWORD_MIN_SCORE" {
				return tt.value
			}
			return ""
		})
		if tt.bad {
			if err == nil || !strings.HasPrefix(err.Error(), "LANYARD_PASSWORD_MIN_SCORE: ") || strings.Contains(err.Error(), "\n") {
				t.Errorf("Load(LANYARD_PASSWORD_MIN_SCORE=%q) error = %v; want one line naming the variable", tt.value, err)
			}
			continue
		}
		if err != nil || c.PasswordMinScore != tt.want {
			t.Errorf("Load(LANYARD_PASSWORD_MIN_SCORE=%q) = %d, %v; want %d", tt.value, c.PasswordMinScore, err, tt.want)
		}
	}
}

// TestLoad_SigningSettings: LANYARD_JWT_SECRET is no longer required with MONGODB_URI
// (signing keys live in the store; the secret only verifies the previous version's
// tokens), the audience defaults to the issuer, and the publish delay is a duration
// of 0 to 24h.
func TestLoad_SigningSettings(t *testing.T) {
	dataKey := "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=" // 32 bytes
	tests := []struct {
		name    string
		env     map[string]string
		bad     string // the variable the one error line names; "" for none
		check   func(Config) bool
		explain string
	}{
		{"MONGODB_URI without a JWT secret", map[string]string{"MONGODB_URI": "mongodb://db.example/", "LANYARD_DATA_KEY": dataKey}, "",
			func(c Config) bool { return c.JWTSecret == nil }, "no secret"},
		{"defaults", nil, "",
			func(c Config) bool { return c.Audience == "lanyard" && c.KeyPublishDelay == 10*time.Minute }, "audience lanyard, delay 10m"},
		{"audience follows the issuer", map[string]string{"LANYARD_ISSUER": "https://id.example"}, "",
			func(c Config) bool { return c.Audience == "https://id.example" }, "audience https://id.example"},
		{"audience given", map[string]string{"LANYARD_AUDIENCE": "api"}, "",
			func(c Config) bool { return c.Audience == "api" && c.Issuer == "lanyard" }, "audience api"},
		{"no delay", map[string]string{"LANYARD_KEY_PUBLISH_DELAY": "0s"}, "",
			func(c Config) bool { return c.KeyPublishDelay == 0 }, "delay 0"},
		{"delay not a duration", map[string]string{"LANYARD_KEY_PUBLISH_DELAY": "soon"}, "LANYARD_KEY_PUBLISH_DELAY", nil, ""},
		{"negative delay", map[string]string{"LANYARD_KEY_PUBLISH_DELAY": "-1m"}, "LANYARD_KEY_PUBLISH_DELAY", nil, ""},
		{"delay over a day", map[string]string{"LANYARD_KEY_PUBLISH_DELAY": "25h"}, "LANYARD_KEY_PUBLISH_DELAY", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(func(k string) string { return tt.env[k] })
			if tt.bad != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.bad+": ") || strings.Contains(err.Error(), "\n") {
					t.Errorf("Load error = %v; want one line naming %s", err, tt.bad)
				}
				return
			}
			if err != nil || !tt.check(c) {
				t.Errorf("Load = %+v, %v; want %s", c, err, tt.explain)
			}
		})
	}
}
