package httpapi_test

import (
	"os"
	"strings"
	"testing"

	"github.com/lanyard/lanyard/internal/lanyardtest"
)

// TestDocs_HTTPListsEveryOperation keeps docs/http.md's table of operations true: every
// operation of the OpenAPI document is listed once, with the access contractAccess
// holds for it (which TestAccess_EveryOperationAnswersItsDeclaredCallers proves), and
// the table lists nothing else.
func TestDocs_HTTPListsEveryOperation(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../../docs/http.md")
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]string{} // "METHOD path" → access as written
	for _, line := range strings.Split(string(b), "\n") {
		cells := strings.Split(line, "|")
		if len(cells) != 6 || !strings.HasPrefix(strings.TrimSpace(cells[2]), "`/") {
			continue
		}
		key := strings.TrimSpace(cells[1]) + " " + strings.Trim(strings.TrimSpace(cells[2]), "`")
		if _, twice := documented[key]; twice {
			t.Errorf("docs/http.md lists %s twice", key)
		}
		documented[key] = strings.TrimSpace(cells[3])
	}
	written := map[string]string{"public": "public", "authenticated": "authenticated", "admin": "admin", "selfOrAdmin": "self or admin"}
	for _, o := range operations(t, lanyardtest.New(t)) {
		key := o.method + " " + o.path
		got, ok := documented[key]
		delete(documented, key)
		if want := written[contractAccess[o.id].access]; !ok {
			t.Errorf("docs/http.md does not list %s (%s)", key, o.id)
		} else if got != want {
			t.Errorf("docs/http.md says %s is %q; its access is %q", key, got, want)
		}
	}
	for key := range documented {
		t.Errorf("docs/http.md lists %s, which the OpenAPI document does not have", key)
	}
}
