package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/danielgtaylor/huma/v2"
)

// maxDepth bounds JSON nesting: deeper bodies are refused before anything decodes them.
const maxDepth = 32

// errBody* are the public reasons a body is not one JSON value. They go to clients,
// so they never quote the body.
var (
	errBodySyntax    = errors.New("body is not valid JSON")
	errBodyTrailing  = errors.New("body has data after its JSON value")
	errBodyDuplicate = errors.New("body has a duplicate object key")
	errBodyDepth     = errors.New("body is nested deeper than 32 levels")
	errBodyUTF8      = errors.New("body is not valid UTF-8")
)

// strictUnmarshal is the JSON decoder for request bodies. Huma decodes a body twice:
// first into an `any` to validate it, then into the input struct. The first pass is
// where the shape of the document is checked (one value, no duplicate keys, bounded
// depth), because encoding/json silently keeps the last of two duplicate keys —
// `{"role":"user","role":"admin"}` must not mean whatever the last key says.
func strictUnmarshal(data []byte, v any) error {
	if _, generic := v.(*any); generic {
		// encoding/json would quietly turn invalid UTF-8 into U+FFFD and store that.
		if !utf8.Valid(data) {
			return errBodyUTF8
		}
		if err := checkShape(data); err != nil {
			return err
		}
	}
	if err := json.Unmarshal(data, v); err != nil {
		return errBodySyntax
	}
	return nil
}

// checkShape reads the tokens of data once: exactly one value, no duplicate keys,
// at most maxDepth nested containers.
func checkShape(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := walkValue(dec, 0); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errBodyTrailing
	}
	return nil
}

// walkValue consumes one value; open is the number of containers around it. The
// recursion is bounded by maxDepth.
func walkValue(dec *json.Decoder, open int) error {
	tok, err := dec.Token()
	if err != nil {
		return errBodySyntax
	}
	d, isDelim := tok.(json.Delim)
	if !isDelim {
		return nil
	}
	if open >= maxDepth {
		return errBodyDepth
	}
	var keys map[string]struct{}
	if d == '{' {
		keys = map[string]struct{}{}
	}
	for dec.More() {
		if keys != nil {
			kt, err := dec.Token()
			if err != nil {
				return errBodySyntax
			}
			key, _ := kt.(string)
			key = foldKey(key)
			if _, dup := keys[key]; dup {
				return errBodyDuplicate
			}
			keys[key] = struct{}{}
		}
		if err := walkValue(dec, open+1); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil { // the closing delimiter
		return errBodySyntax
	}
	return nil
}

// foldKey is the form under which encoding/json matches an object key to a struct
// field: case-insensitively, so "Email" and "EMAIL" set the same field as "email",
// and "pa\u017f\u017fword" (long s) the same as "password". Keys equal under it are
// duplicates, or `{"email":"a@x.io","EMAIL":"b@x.io"}` would mean whatever the last
// key says.
// (This is encoding/json's own folding: ToUpper(ToLower(r)) per rune.)
func foldKey(k string) string {
	return strings.Map(func(r rune) rune { return unicode.ToUpper(unicode.ToLower(r)) }, k)
}

// formUnmarshal decodes an OAuth2 password-grant form (application/x-www-form-urlencoded)
// into the same shape a JSON body has, so the login operation validates both alike.
func formUnmarshal(data []byte, v any) error {
	values, err := url.ParseQuery(string(data))
	if err != nil {
		return errors.New("body is not a valid form")
	}
	m := make(map[string]any, len(values))
	for k, vs := range values {
		if len(vs) != 1 {
			return errors.New("form field " + strconv.Quote(k) + " is repeated")
		}
		m[k] = vs[0]
	}
	if p, ok := v.(*any); ok {
		*p = m
		return nil
	}
	b, _ := json.Marshal(m)
	return json.Unmarshal(b, v)
}

// formats returns a fresh format table: Huma's DefaultFormats is a shared global that
// must not be modified.
func formats() map[string]huma.Format {
	j := huma.Format{Marshal: huma.DefaultJSONFormat.Marshal, Unmarshal: strictUnmarshal}
	return map[string]huma.Format{
		"application/json":                  j,
		"json":                              j,
		"application/merge-patch+json":      j,
		"application/problem+json":          j,
		"application/x-www-form-urlencoded": {Marshal: huma.DefaultJSONFormat.Marshal, Unmarshal: formUnmarshal},
	}
}
