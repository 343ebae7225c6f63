package password

import (
	"strings"
	"testing"
)

func TestScore(t *testing.T) {
	inputs := []string{"ada.lovelace@example.com", "ada.lovelace", "adalove", "Ada", "Lovelace"}
	tests := []struct {
		plain string
		min   int // the score is at least min
		max   int // and at most max
	}{
		{"password123", 0, 1},
		{"Password1!", 0, 1},
		{"P@ssw0rd", 0, 1},
		{"Summer2024!", 0, 2},
		{"ada.lovelace123", 0, 2},           // the email's local part + digits
		{"adalove123", 0, 2},                // the username + digits
		{"        ", 0, 1},                  // eight spaces
		{strings.Repeat("\u200b", 8), 0, 0}, // eight zero-width spaces: nothing to read
		{"ｐａｓｓｗｏｒｄ１２３", 0, 1},               // fullwidth is folded first
		{"pass\u200bword\u200b123", 0, 1},   // invisible characters do not add strength
		{strings.Repeat("a", 128), 0, 0},
		{"", 0, 0},
		{"correct horse battery 9", 3, 4},
		{"correct horse battery staple", 3, 4},
		{"vN3#qL8!zR2@wT6$yP0x", 4, 4},
	}
	for _, tt := range tests {
		if got := Score(tt.plain, inputs...); got < tt.min || got > tt.max {
			t.Errorf("Score(%q) = %d; want %d-%d", tt.plain, got, tt.min, tt.max)
		}
	}
}

func TestScore_LooksAtTheFirst32Characters(t *testing.T) {
	weak := strings.Repeat("a", estimateRunes)
	if got := Score(weak + "vN3#qL8!zR2@wT6$yP0x"); got != 0 {
		t.Errorf("Score(32×a + strong tail) = %d; want 0: only the first %d characters count", got, estimateRunes)
	}
	if got := Score("vN3#qL8!zR2@wT6$yP0x" + weak); got < 3 {
		t.Errorf("Score(strong + 32×a) = %d; want at least 3", got)
	}
}

func TestScore_NeverPanicsOnUnicode(t *testing.T) {
	// zxcvbn-go mixes rune and byte offsets; whatever a client sends must not panic.
	for _, p := range []string{"ééééééééé", "日本語のパスワードです", "🔑🔑🔑🔑🔑🔑🔑🔑", "é\u0301\u0301\u0301abc123", "\xff\xfe\xfdabcdefgh", "ǅǅǅǅǅǅǅǅ1999"} {
		Score(p, "ééé@example.com", "日本語")
	}
}

// BenchmarkScore measures the estimate on 128-character passwords, the longest
// registration accepts, of the patterns that cost zxcvbn the most.
//
//	go test ./internal/password -run '^$' -bench Score -benchmem
func BenchmarkScore(b *testing.B) {
	inputs := []string{"ada.lovelace@example.com", "ada.lovelace", "adalove", "Ada", "Lovelace"}
	for _, bm := range []struct{ name, plain string }{
		{"a×128", strings.Repeat("a", 128)},
		{"digits×128", strings.Repeat("0123456789", 13)[:128]},
		{"keyboard-walk×128", strings.Repeat("1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik,9ol.0p;/", 4)[:128]},
		{"dates×128", strings.Repeat("19991231", 16)},
		{"leet×128", strings.Repeat("p@$$w0rd", 16)},
		{"passphrase", "correct horse battery 9"},
	} {
		b.Run(bm.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Score(bm.plain, inputs...)
			}
		})
	}
}
