package account

import (
	"net/mail"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/lanyard/lanyard"
	"github.com/lanyard/lanyard/internal/password"
	"github.com/lanyard/lanyard/internal/store"
)

var (
	usernameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{2,31}$`)
	domainRE   = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$`)
)

// NormalizeEmail trims and lower-cases an email, the form in which it is stored and
// compared.
func NormalizeEmail(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// checkEmail reports why a normalised email is not a plausible address, or "".
func checkEmail(e string) string {
	if e == "" {
		return "is required"
	}
	if len(e) > 254 {
		return "must be at most 254 characters"
	}
	at := strings.LastIndexByte(e, '@')
	addr, err := mail.ParseAddress(e)
	if err != nil || addr.Address != e || addr.Name != "" || at < 1 || at > 64 || !domainRE.MatchString(e[at+1:]) {
		return "must be an email address such as ada@example.com"
	}
	return ""
}

func checkUsername(u string) string {
	if !usernameRE.MatchString(u) {
		return "must be 3-32 characters of letters, digits, '_', '.' or '-', starting with a letter or digit"
	}
	return ""
}

// CheckNewPassword reports why pw may not become the password of account u, or "".
// Registration, password change and any later way of setting a password ask it, so
// the rule is one. u's email, its local part, username and names are what an
// attacker who knows the account tries first, so they count against the estimate;
// the answer never says which list or pattern a refused password matched.
func (s *Service) CheckNewPassword(pw string, u store.User) string {
	n := utf8.RuneCountInString(pw)
	switch {
	case pw == "":
		return "is required"
	case n < 8:
		return "must be at least 8 characters"
	case n > 128:
		return "must be at most 128 characters"
	case password.Score(pw, passwordContext(u)...) < s.minScore:
		return "is too easy to guess; choose a longer or less predictable password, such as a few unrelated words"
	}
	return ""
}

// passwordContext is the account's own data that a password must not lean on.
func passwordContext(u store.User) []string {
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
	return ""
}

// normalizeContact returns a phone number as '+' and digits, or a reason it is not one.
func normalizeContact(s string) (string, string) {
	const msg = "must be a phone number of 7-15 digits, optionally starting with '+'"
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, "+")
	var b strings.Builder
	b.WriteByte('+')
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == ' ' || r == '-' || r == '(' || r == ')':
		default:
			return "", msg
		}
	}
	if d := b.Len() - 1; d < 7 || d > 15 {
		return "", msg
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
