package lanyard_test

import (
	"errors"
	"testing"

	"github.com/lanyard/lanyard"
)

// TestParseID_TakesOnlyTheAPIForm: an id is 24 lowercase hex digits; anything else
// names nothing, so it is ErrNotFound, and what parses prints back as it was given.
func TestParseID_TakesOnlyTheAPIForm(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in string
		ok bool
	}{
		{"0123456789abcdef01234567", true},
		{"000000000000000000000000", true},
		{"0123456789ABCDEF01234567", false}, // upper case names another spelling
		{"0123456789abcdef0123456", false},
		{"0123456789abcdef012345678", false},
		{"0123456789abcdef0123456g", false},
		{"", false},
		{"me", false},
	}
	for _, tt := range tests {
		id, err := lanyard.ParseID(tt.in)
		switch {
		case tt.ok && (err != nil || id.Hex() != tt.in || id.String() != tt.in):
			t.Errorf("ParseID(%q) = %s, %v; want it back", tt.in, id, err)
		case !tt.ok && !errors.Is(err, lanyard.ErrNotFound):
			t.Errorf("ParseID(%q) = %s, %v; want ErrNotFound", tt.in, id, err)
		}
	}
	if id, _ := lanyard.ParseID("000000000000000000000000"); !id.IsZero() {
		t.Errorf("the all-zero id is not IsZero")
	}
}
