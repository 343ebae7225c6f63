package password

import (
	"unicode"
	"unicode/utf8"

	zxcvbn "github.com/ccojocar/zxcvbn-go"
	"golang.org/x/text/unicode/norm"
)

// Scores are zxcvbn's: 0 is guessed in under ~10^2 seconds of an offline attack,
// 4 takes more than ~10^8; DefaultMinScore is what registration asks by default.
const (
	MaxScore        = 4
	DefaultMinScore = 3
)

// estimateRunes is how much of a password Score looks at. zxcvbn-go's matchers try
// every substring against every list (and its spatial matcher re-reads a keyboard
// graph for each match), so the cost grows faster than the square of the length:
// about 150 ms for 128 digits, the size of three argon2id hashes, against under
// 10 ms for the first 32 (BenchmarkScore). A password whose first 32 characters
// are easy to guess is refused whatever follows, which costs a real password
// little: 32 characters that score 3 are easy to find.
const estimateRunes = 32

// minInputRunes keeps one- and two-letter names out of the user inputs: zxcvbn
// prices a dictionary word at its rank, so "al" as a word would make every "al" in
// any password free.
const minInputRunes = 3

// Score estimates how hard plain is to guess, as zxcvbn's score from 0 to
// MaxScore, with userInputs (the account's own email, names and the like) as
// words an attacker who knows the account tries first.
//
// The estimate is taken on the password as a person reads it: compatibility
// forms folded (fullwidth "ｐａｓｓ" is "pass") and invisible characters dropped
// (eight zero-width spaces are an empty password, not 89 bits of entropy).
// The hash is still made from the password as given.
func Score(plain string, userInputs ...string) int {
	s := readable(plain, estimateRunes)
	if s == "" {
		return 0
	}
	inputs := make([]string, 0, len(userInputs))
	for _, in := range userInputs {
		if in = readable(in, -1); utf8.RuneCountInString(in) >= minInputRunes {
			inputs = append(inputs, in)
		}
	}
	return zxcvbn.PasswordStrength(s, inputs).Score
}

// readable is s in NFKC without default-ignorable characters (format characters
// such as zero-width spaces and bidi controls, variation selectors, fillers), cut
// to at most limit runes (limit < 0: no cut).
func readable(s string, limit int) string {
	s = norm.NFKC.String(s)
	out := make([]rune, 0, len(s))
	for _, r := range s {
		if limit >= 0 && len(out) == limit {
			break
		}
		if invisible(r) {
			continue
		}
		out = append(out, r)
	}
	return string(out)
}

// invisible reports whether r is a default-ignorable code point: one a reader
// cannot see.
func invisible(r rune) bool {
	return unicode.In(r, unicode.Cf, unicode.Variation_Selector, unicode.Other_Default_Ignorable_Code_Point)
}
