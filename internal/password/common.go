package password

import (
	"encoding/json"
	"strings"
	"sync"

	"github.com/ccojocar/zxcvbn-go/data"
)

// IsCommon reports whether plain is one of the most common passwords
// (case-insensitive), so sign-up and password change can refuse it
// (ASVS 6.2.4 asks for at least the top 3,000).
func IsCommon(plain string) bool {
	_, ok := commonPasswords()[strings.ToLower(plain)]
	return ok
}

// commonPasswords is zxcvbn's ranked "passwords" frequency list (about 7,000
// entries, all of it: a map of that size is small).
//
// It is read from zxcvbn-go's embedded data rather than its frequency package
// because that package decodes every list it ships (names, English words,
// ~10 MB of allocations) in init, at every start of any program importing it;
// this decodes one list, on first use.
var commonPasswords = sync.OnceValue(func() map[string]struct{} {
	raw, err := data.Asset("data/Passwords.json")
	if err != nil {
		// Only a dependency upgrade that moved the list can get here; failing
		// loudly beats silently accepting every common password.
		panic("password: common password list missing: " + err.Error())
	}
	var list struct{ List []string }
	if err := json.Unmarshal(raw, &list); err != nil {
		panic("password: common password list unreadable: " + err.Error())
	}
	m := make(map[string]struct{}, len(list.List))
	for _, p := range list.List {
		m[strings.ToLower(p)] = struct{}{}
	}
	return m
})
