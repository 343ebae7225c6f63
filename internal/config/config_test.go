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

// TestLoad_MailSettings: the SMTP URL's schemes, ports, tls=none and credentials (never
// echoed), the public URL's default from LANYARD_ADDR, the links' {token}, the sender
// address and the reset TTL, each wrong value one line naming its variable.
func TestLoad_MailSettings(t *testing.T) {
	tests := []struct {
		name  string
		env   map[string]string
		bad   string // the variable the one error line names; "" for none
		check func(Config) bool
	}{
		{"defaults", nil, "", func(c Config) bool {
			return c.SMTP == nil && c.PublicURL == "http://127.0.0.1:8080" && c.ResetTTL == 30*time.Minute &&
				c.ResetURL == "http://127.0.0.1:8080/reset-password?token={token}" && c.MailFrom == "Lanyard <noreply@localhost>"
		}},
		{"public URL from an unspecified address", map[string]string{"LANYARD_ADDR": "0.0.0.0:9000"}, "", func(c Config) bool {
			return c.PublicURL == "http://localhost:9000"
		}},
		{"public URL given", map[string]string{"LANYARD_PUBLIC_URL": "https://id.example.com/"}, "", func(c Config) bool {
			return c.PublicURL == "https://id.example.com" && c.ResetURL == "https://id.example.com/reset-password?token={token}" &&
				c.MailFrom == "Lanyard <noreply@id.example.com>"
		}},
		{"public URL with a query", map[string]string{"LANYARD_PUBLIC_URL": "https://id.example.com/?a=b"}, "LANYARD_PUBLIC_URL", nil},
		{"public URL not http", map[string]string{"LANYARD_PUBLIC_URL": "ftp://id.example.com"}, "LANYARD_PUBLIC_URL", nil},
		{"smtp with STARTTLS and credentials", map[string]string{"LANYARD_SMTP_URL": "smtp://ada:p%40ss@mail.example.com"}, "", func(c Config) bool {
			s := c.SMTP
			return s.Host == "mail.example.com" && s.Port == 587 && s.Username == "ada" && string(s.Password) == "p@ss" && s.Security == "starttls"
		}},
		{"smtp plain", map[string]string{"LANYARD_SMTP_URL": "smtp://127.0.0.1:2525?tls=none"}, "", func(c Config) bool {
			return c.SMTP.Port == 2525 && c.SMTP.Security == "none" && c.SMTP.Username == ""
		}},
		{"smtps", map[string]string{"LANYARD_SMTP_URL": "smtps://ada:pw@mail.example.com"}, "", func(c Config) bool {
			return c.SMTP.Port == 465 && c.SMTP.Security == "tls"
		}},
		{"smtps with tls=none", map[string]string{"LANYARD_SMTP_URL": "smtps://mail.example.com?tls=none"}, "LANYARD_SMTP_URL", nil},
		{"smtp with another tls", map[string]string{"LANYARD_SMTP_URL": "smtp://mail.example.com?tls=maybe"}, "LANYARD_SMTP_URL", nil},
		{"smtp with another parameter", map[string]string{"LANYARD_SMTP_URL": "smtp://mail.example.com?auth=plain"}, "LANYARD_SMTP_URL", nil},
		{"not smtp", map[string]string{"LANYARD_SMTP_URL": "http://ada:secretpw@mail.example.com"}, "LANYARD_SMTP_URL", nil},
		{"smtp bad port", map[string]string{"LANYARD_SMTP_URL": "smtp://ada:secretpw@mail.example.com:99999"}, "LANYARD_SMTP_URL", nil},
		{"from", map[string]string{"LANYARD_MAIL_FROM": "Accounts <noreply@example.com>"}, "", func(c Config) bool {
			return c.MailFrom == "Accounts <noreply@example.com>"
		}},
		{"from not an address", map[string]string{"LANYARD_MAIL_FROM": "noreply"}, "LANYARD_MAIL_FROM", nil},
		{"reset URL", map[string]string{"LANYARD_RESET_URL": "https://app.example.com/reset#{token}"}, "", func(c Config) bool {
			return c.ResetURL == "https://app.example.com/reset#{token}"
		}},
		{"reset URL without the token", map[string]string{"LANYARD_RESET_URL": "https://app.example.com/reset"}, "LANYARD_RESET_URL", nil},
		{"reset URL relative", map[string]string{"LANYARD_RESET_URL": "/reset?token={token}"}, "LANYARD_RESET_URL", nil},
		{"reset TTL", map[string]string{"LANYARD_RESET_TTL": "1h"}, "", func(c Config) bool { return c.ResetTTL == time.Hour }},
		{"reset TTL too long", map[string]string{"LANYARD_RESET_TTL": "48h"}, "LANYARD_RESET_TTL", nil},
		{"test mail hold", map[string]string{"LANYARD_TEST_MAIL_HOLD": "1"}, "", func(c Config) bool {
			return c.TestMailHold && strings.Join(c.TestSettings(), ",") == "LANYARD_TEST_MAIL_HOLD"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(func(k string) string { return tt.env[k] })
			if tt.bad != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.bad+": ") || strings.Contains(err.Error(), "\n") {
					t.Fatalf("Load(%v) error = %v; want one line naming %s", tt.env, err, tt.bad)
				}
				for _, secret := range []string{"secretpw", "ada:"} {
					if strings.Contains(err.Error(), secret) {
						t.Errorf("the error %q echoes the URL's credentials", err)
					}
				}
				return
			}
			if err != nil || !tt.check(c) {
				t.Fatalf("Load(%v) = %+v, %v", tt.env, c, err)
			}
		})
	}
}
