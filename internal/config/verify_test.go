package config

import (
	"strings"
	"testing"
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
