package linkid

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/lanyard/lanyard"
)

var providerRE = regexp.MustCompile(`^[a-z][a-z0-9_.-]{1,31}$`)

// MaxPerUser is how many linked IDs one account may hold.
const MaxPerUser = 50

// Canonical returns the one form of a provider and external id that is stored,
// hashed and compared: the provider lower-cased, the external id trimmed and in
// Unicode NFC, so " 123" and "123" (or a composed and a decomposed "é") are one ID.
// Every problem is reported at once.
func Canonical(provider, externalID string) (string, string, error) {
	bad := &lanyard.InvalidError{}
	p := strings.ToLower(strings.TrimSpace(provider))
	if !providerRE.MatchString(p) {
		bad.Add("provider", "must be 2-32 characters: a letter, then letters, digits, '_', '.' or '-'")
	}
	var e string
	switch {
	case !utf8.ValidString(externalID):
		bad.Add("external_id", "must be valid UTF-8")
	default:
		e = norm.NFC.String(strings.TrimSpace(externalID))
		n := utf8.RuneCountInString(e)
		switch {
		case n == 0:
			bad.Add("external_id", "is required")
		case n > 256:
			bad.Add("external_id", "must be at most 256 characters")
		case strings.IndexFunc(e, unicode.IsControl) >= 0:
			bad.Add("external_id", "must not contain control characters")
		}
	}
	return p, e, bad.Err()
}

// checkLabel reports why a label is not acceptable, or "".
func checkLabel(l string) string {
	switch {
	case utf8.RuneCountInString(l) > 100:
		return "must be at most 100 characters"
	case !utf8.ValidString(l) || strings.IndexFunc(l, unicode.IsControl) >= 0:
		return "must not contain control characters"
	}
	return ""
}
