package httpapi

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// FuzzStrictUnmarshal: request bodies are decoded by strictUnmarshal before anything
// else sees them. Whatever the input, it must not panic, and whatever it accepts must
// be exactly one valid JSON value without duplicate keys or deep nesting.
func FuzzStrictUnmarshal(f *testing.F) {
	for _, seed := range []string{
		`{"email":"a@example.com","password":"x"}`,
		`{"email":"a@example.com","email":"b@example.com"}`,
		`{"Email":"a","EMAIL":"b"}`,
		`{"a":{"b":[1,2,{"c":null}]}}`,
		`{} {}`,
		`[` + strings.Repeat(`[`, 40) + strings.Repeat(`]`, 40) + `]`,
		`"just a string"`,
		`{"k":"\ud800"}`,
		"{\"k\":\"\xff\"}",
		``,
		`{"a":1,}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var v any
		err := strictUnmarshal(data, &v)
		if err != nil {
			for _, known := range []error{errBodySyntax, errBodyTrailing, errBodyDuplicate, errBodyDepth, errBodyUTF8} {
				if errors.Is(err, known) {
					return
				}
			}
			t.Fatalf("strictUnmarshal(%q) = %v; want one of the public body errors", data, err)
		}
		if !json.Valid(data) {
			t.Fatalf("strictUnmarshal accepted invalid JSON %q", data)
		}
		if depth(v) > maxDepth {
			t.Fatalf("strictUnmarshal accepted nesting %d > %d", depth(v), maxDepth)
		}
	})
}

func depth(v any) int {
	switch t := v.(type) {
	case map[string]any:
		d := 0
		for _, x := range t {
			d = max(d, depth(x))
		}
		return d + 1
	case []any:
		d := 0
		for _, x := range t {
			d = max(d, depth(x))
		}
		return d + 1
	}
	return 0
}

func TestCheckShape(t *testing.T) {
	cases := []struct {
		body string
		want error
	}{
		{`{"a":1}`, nil},
		{`{"a":{"a":1}}`, nil}, // the same key at different levels is fine
		{`{"a":1,"a":2}`, errBodyDuplicate},
		{`{"pa\u017f\u017fword":"x","password":"y"}`, errBodyDuplicate}, // long s folds to s, as encoding/json matches it
		{`{"a":1} x`, errBodyTrailing},
		{`{"a":1}{"a":2}`, errBodyTrailing},
		{strings.Repeat(`[`, 32) + strings.Repeat(`]`, 32), nil},
		{strings.Repeat(`[`, 33) + strings.Repeat(`]`, 33), errBodyDepth},
		{`{"a":`, errBodySyntax},
	}
	for _, c := range cases {
		if err := checkShape([]byte(c.body)); !errors.Is(err, c.want) && !(err == nil && c.want == nil) {
			t.Errorf("checkShape(%.40q) = %v; want %v", c.body, err, c.want)
		}
	}
}
