package lanyard_test

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/lanyard/lanyard"
)

// TestLogValue_KeepsPersonalDataAndSecretsOutOfLogs: a user or a linked ID logged by
// mistake shows its ids, role, status and provider, never an email, a name, a hash,
// a ciphertext or an external id.
func TestLogValue_KeepsPersonalDataAndSecretsOutOfLogs(t *testing.T) {
	t.Parallel()
	id, _ := lanyard.ParseID("0123456789abcdef01234567")
	tests := []struct {
		name   string
		value  any
		shown  []string
		hidden []string
	}{
		{"user", lanyard.User{
			ID: id, Email: "ada@example.com", Username: "ada_l", UsernameKey: "ada_l", FirstName: "Augusta", LastName: "Lovelace",
			Contact: "+441234567890", Birthday: "1815-12-10", PasswordHash: "$argon2id$v=19$secret-hash", Role: lanyard.RoleAdmin, Status: lanyard.StatusActive,
			KnownAddrs: []lanyard.KnownAddress{{Mark: []byte("address-mark")}},
		}, []string{id.Hex(), "admin", "active"}, []string{"ada@example.com", "ada_l", "Augusta", "Lovelace", "+441234567890", "1815-12-10", "secret-hash", "address-mark"}},
		{"linked id", lanyard.LinkedID{
			ID: id, UserID: id, Provider: "google", ExternalID: "subject-4711", Lookup: "lookup-hash", ExternalIDEnc: []byte("ciphertext"), Label: "work",
		}, []string{id.Hex(), "google"}, []string{"subject-4711", "lookup-hash", "ciphertext"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			slog.New(slog.NewTextHandler(&buf, nil)).Info("oops", "it", tt.value)
			line := buf.String()
			for _, s := range tt.shown {
				if !strings.Contains(line, s) {
					t.Errorf("log line %q does not show %q", line, s)
				}
			}
			for _, s := range tt.hidden {
				if strings.Contains(line, s) {
					t.Errorf("log line %q shows %q", line, s)
				}
			}
		})
	}
}
