package password

import "testing"

func TestIsCommon(t *testing.T) {
	tests := []struct {
		plain string
		want  bool
	}{
		{"password", true},
		{"123456", true},
		{"qwerty", true},
		{"letmein", true},
		{"iloveyou", true},
		{"Qwerty123", true},  // ranked around 4,460: needs more than the top 3,000
		{"PASSWORD", true},   // case-insensitive
		{"PassWord1", true},  // case-insensitive
		{"password ", false}, // not trimmed: the caller decides what a password is
		{"", false},
		{"vN3#qL8!zR2@wT6$yP0x", false},
		{"correct horse battery staple", false},
	}
	for _, tt := range tests {
		if got := IsCommon(tt.plain); got != tt.want {
			t.Errorf("IsCommon(%q) = %v; want %v", tt.plain, got, tt.want)
		}
	}
}

func TestCommonPasswords_CoverAtLeastTheASVSTop3000(t *testing.T) {
	if n := len(commonPasswords()); n < 3000 {
		t.Errorf("common password list has %d entries; ASVS 6.2.4 wants at least 3,000", n)
	} else {
		t.Logf("common password list: %d entries", n)
	}
}

func BenchmarkIsCommon(b *testing.B) {
	commonPasswords()
	b.ReportAllocs()
	for b.Loop() {
		IsCommon("Correct-Horse")
	}
}
