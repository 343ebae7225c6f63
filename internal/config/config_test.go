package config

import (
	"strings"
	"testing"
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
