package account

import (
	"net/mail"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/secure/precis"
	"golang.org/x/text/unicode/norm"
	"golang.org/x/text/width"

	"github.com/lanyard/lanyard"
	"github.com/lanyard/lanyard/internal/password"
)

var (
	usernameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{2,31}$`)
	domainRE   = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$`)
)

// NormalizeEmail is an email in the form in which it is stored and compared:
// trimmed, fullwidth forms mapped to ASCII ("ａｄａ＠…" is "ada@…"), lower-cased and
// in Unicode NFC, so that every spelling of one address that looks the same names
// one account. Logins by email go through it too.
func NormalizeEmail(s string) string {
	s = width.Fold.String(strings.TrimSpace(s))
	return norm.NFC.String(strings.ToLower(s))
}

// checkEmail reports why a normalised email is not a plausible address, or "".
func checkEmail(e string) string {
	if e == "" {
		return "is required"
	}
	if len(e) > 254 {
		return "must be at most 254 characters"
	}
	// net/mail accepts any multibyte rune (RFC 6532), zero-width and bidi controls
	// included: those would make addresses that look like another's.
	if strings.IndexFunc(e, func(r rune) bool { return invisible(r) || unicode.IsControl(r) }) >= 0 {
		return "must not contain invisible or formatting characters"
	}
	at := strings.LastIndexByte(e, '@')
	if at > 0 && !plainLocal(e[:at]) {
		return "must be written in plain letters and digits before the @: no spaces, symbols, or styled, circled, small-capital or phonetic forms of letters"
	}
	if at > 0 && mixesScripts(e[:at]) {
		return "must not mix letters of different scripts (such as Latin and Cyrillic) before the @"
	}
	addr, err := mail.ParseAddress(e)
	if err != nil || addr.Address != e || addr.Name != "" || at < 1 || at > 64 || !domainRE.MatchString(e[at+1:]) {
		return "must be an email address such as ada@example.com"
	}
	return ""
}

// plainLocal reports whether an address's local part is written as a person types
// it: beyond ASCII only letters of a script, digits and combining marks, and none of
// them a compatibility form. The mixed-script check cannot see the rest: "𝐚da" (U+1D41A
// mathematical bold), "ⓐda" (circled) and "ada" + U+00A0 (a no-break space) are of
// the Common script, which belongs to every script, and "ᴀda" (U+1D00, a small capital)
// is Latin; yet each reads as "ada". NFKC would map most of them, but refusing them
// names one account per spelling without a second normalisation that logins, stored
// addresses and the unique index would all have to agree on.
func plainLocal(local string) bool {
	if !norm.NFKC.IsNormalString(local) {
		return false
	}
	for _, r := range local {
		switch {
		case r < utf8.RuneSelf, unicode.IsMark(r), unicode.IsDigit(r):
		case unicode.IsLetter(r):
			if scriptOf(r) == "" || unicode.Is(phoneticLetters, r) {
				return false
			}
		default: // spaces, symbols and punctuation such as U+2010, a hyphen like '-'
			return false
		}
	}
	return true
}

// phoneticLetters are the letters that transcription uses and no orthography needs
// (Unicode TS #39 restricts them as Technical): small capitals such as "ᴀ" and "ɪ",
// which pass for capitals, and the rest of the phonetic blocks.
var phoneticLetters = &unicode.RangeTable{
	R16: []unicode.Range16{
		{Lo: 0x0262, Hi: 0x0262, Stride: 1}, // ɢ
		{Lo: 0x026A, Hi: 0x026A, Stride: 1}, // ɪ
		{Lo: 0x0274, Hi: 0x0274, Stride: 1}, // ɴ
		{Lo: 0x0280, Hi: 0x0281, Stride: 1}, // ʀ ʁ
		{Lo: 0x028F, Hi: 0x028F, Stride: 1}, // ʏ
		{Lo: 0x0299, Hi: 0x0299, Stride: 1}, // ʙ
		{Lo: 0x029C, Hi: 0x029C, Stride: 1}, // ʜ
		{Lo: 0x029F, Hi: 0x029F, Stride: 1}, // ʟ
		{Lo: 0x1D00, Hi: 0x1DBF, Stride: 1}, // Phonetic Extensions and its Supplement
		{Lo: 0xA730, Hi: 0xA731, Stride: 1}, // ꜰ ꜱ
		{Lo: 0xA7FA, Hi: 0xA7FA, Stride: 1}, // ꟺ
	},
	R32: []unicode.Range32{
		{Lo: 0x10780, Hi: 0x107BF, Stride: 1}, // Latin Extended-F (modifier letters)
		{Lo: 0x1DF00, Hi: 0x1DFFF, Stride: 1}, // Latin Extended-G (phonetic letters)
	},
}

// invisible reports whether r is a default-ignorable code point (format
// characters such as zero-width spaces and bidi controls, variation selectors,
// fillers): one a reader cannot see.
func invisible(r rune) bool {
	return unicode.In(r, unicode.Cf, unicode.Variation_Selector, unicode.Other_Default_Ignorable_Code_Point)
}

// mixesScripts reports whether s holds letters of more than one script, other
// than the mixes a Japanese, Chinese or Korean address is written in (Unicode
// TS #39's "highly restrictive" level): "pаypal" with a Cyrillic "а" mixes,
// "алиса" and "ada" do not. Digits, punctuation and combining marks belong to
// every script.
func mixesScripts(s string) bool {
	seen := map[string]bool{}
	for _, r := range s {
		if sc := scriptOf(r); sc != "" {
			seen[sc] = true
		}
	}
	if len(seen) <= 1 {
		return false
	}
	for _, allowed := range [][]string{
		{"Latin", "Han", "Hiragana", "Katakana"},
		{"Latin", "Han", "Bopomofo"},
		{"Latin", "Han", "Hangul"},
	} {
		n := 0
		for _, sc := range allowed {
			if seen[sc] {
				n++
			}
		}
		if n == len(seen) {
			return false
		}
	}
	return true
}

// scriptOf is the name of r's Unicode script, or "" for the shared ones (Common,
// Inherited). "ー" (U+30FC), Common but written only in kana words, is Katakana: with
// the Hiragana it also follows, that is one of the Japanese mixes.
func scriptOf(r rune) string {
	if r < utf8.RuneSelf {
		if unicode.IsLetter(r) {
			return "Latin"
		}
		return ""
	}
	if r == '\u30fc' {
		return "Katakana"
	}
	if unicode.In(r, unicode.Common, unicode.Inherited) {
		return ""
	}
	for name, table := range unicode.Scripts {
		if unicode.Is(table, r) {
			return name
		}
	}
	return ""
}

// NormalizeUsername is a username, or a login that names one, in the form
// usernames are compared in: PRECIS UsernameCaseMapped (RFC 8265 §3.3: fullwidth
// forms mapped, lower-cased, NFC). What that profile refuses is returned
// lower-cased: it names no account, and the login throttle can still count it.
func NormalizeUsername(s string) string {
	if k, err := precis.UsernameCaseMapped.String(s); err == nil {
		return k
	}
	return strings.ToLower(s)
}

// prepareUsername is a username as it is stored and shown, PRECIS
// UsernameCasePreserved (fullwidth forms mapped, NFC, case kept), and why it is
// not acceptable, or "". The prepared form must also be 3-32 ASCII letters,
// digits, '_', '.' or '-' starting with a letter or digit, so PRECIS only decides
// which spellings are the same name ("ａｄａ" is "ada"); its key is
// NormalizeUsername of it.
func prepareUsername(u string) (string, string) {
	const msg = "must be 3-32 characters of letters, digits, '_', '.' or '-', starting with a letter or digit"
	p, err := precis.UsernameCasePreserved.String(u)
	if err != nil || !usernameRE.MatchString(p) {
		return u, msg
	}
	return p, ""
}

// CheckNewPassword reports why pw may not become the password of account u, or "".
// Registration, password change and any later way of setting a password ask it, so
// the rule is one. u's email, its local part, username and names are what an
// attacker who knows the account tries first, so they count against the estimate;
// the answer never says which list or pattern a refused password matched.
func (s *Service) CheckNewPassword(pw string, u lanyard.User) string {
	if msg := checkPasswordLength(pw); msg != "" {
		return msg
	}
	return s.checkPasswordScore(pw, u)
}

// checkPasswordLength is the cheap part of CheckNewPassword, which every caller may
// run before deciding whether to pay for the estimate.
func checkPasswordLength(pw string) string {
	n := utf8.RuneCountInString(pw)
	switch {
	case pw == "":
		return "is required"
	case n < 8:
		return "must be at least 8 characters"
	case n > 128:
		return "must be at most 128 characters"
	}
	return ""
}

// checkPasswordScore is the strength estimate of CheckNewPassword: milliseconds of
// CPU, so a caller that anyone can reach counts the attempt against a limit first.
func (s *Service) checkPasswordScore(pw string, u lanyard.User) string {
	if password.Score(pw, passwordContext(u)...) < s.minScore {
		return "is too easy to guess; choose a longer or less predictable password, such as a few unrelated words"
	}
	return ""
}

// passwordContext is the account's own data that a password must not lean on.
func passwordContext(u lanyard.User) []string {
	in := []string{u.Email, u.Username, u.FirstName, u.LastName}
	if at := strings.LastIndexByte(u.Email, '@'); at > 0 {
		local := u.Email[:at]
		in = append(in, local)
		// "ada.lovelace" also gives "ada" and "lovelace".
		in = append(in, strings.FieldsFunc(local, func(r rune) bool { return strings.ContainsRune("._-+", r) })...)
	}
	return in
}

func checkName(s string) string {
	if s == "" || strings.TrimSpace(s) == "" {
		return "must not be empty"
	}
	if utf8.RuneCountInString(s) > 100 {
		return "must be at most 100 characters"
	}
	if !utf8.ValidString(s) || strings.IndexFunc(s, unicode.IsControl) >= 0 {
		return "must not contain control characters"
	}
	// PRECIS FreeformClass (RFC 8264) refuses the invisible and formatting
	// characters (bidi overrides such as U+202E, zero-width spaces) and allows
	// the joiners only where a script needs them.
	if _, err := precis.NewFreeform().String(s); err != nil {
		return "must not contain invisible or formatting characters"
	}
	return ""
}

// normalizeContact returns a phone number as '+' and digits, or a reason it is not one.
func normalizeContact(s string) (string, string) {
	const msg = "must be a phone number of 7-15 digits, optionally starting with '+'"
	s = strings.TrimSpace(s)
	// With a '+' the number is international (E.164: '+' and its digits); without one
	// it is kept as the digits given, a national number whose country Lanyard cannot
	// know, so it never becomes a '+0…' that no one can dial.
	plus := strings.HasPrefix(s, "+")
	s = strings.TrimPrefix(s, "+")
	var b strings.Builder
	if plus {
		b.WriteByte('+')
	}
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == ' ' || r == '-' || r == '(' || r == ')':
		default:
			return "", msg
		}
	}
	digits := strings.TrimPrefix(b.String(), "+")
	if d := len(digits); d < 7 || d > 15 {
		return "", msg
	}
	if plus && digits[0] == '0' {
		return "", "must not start with +0: an international number starts with its country code"
	}
	return b.String(), ""
}

var earliestBirthday = time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)

func checkBirthday(s string, now time.Time) string {
	d, err := time.Parse(time.DateOnly, s)
	switch {
	case err != nil || len(s) != 10:
		return "must be a real date written YYYY-MM-DD"
	case d.Before(earliestBirthday):
		return "must not be before 1900-01-01"
	case d.After(now.UTC()):
		return "must not be in the future"
	}
	return ""
}

// problems collects field errors under their field names.
type problems struct{ e lanyard.InvalidError }

func (p *problems) add(field, msg string) {
	if msg != "" {
		p.e.Add(field, msg)
	}
}

func (p *problems) err() error { return p.e.Err() }
