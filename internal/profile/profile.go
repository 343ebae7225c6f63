// Package profile owns the custom fields of an account: the user's profile, checked
// against the JSON Schema LANYARD_PROFILE_SCHEMA names, and the admin's app metadata.
// Both are free-form JSON objects (lanyard.User.Profile, AppMetadata) of at most
// MaxBytes. The schema may use only a small part of JSON Schema (see Parse), so that
// what it allows is what every client can tell from it, and the store can hold it.
package profile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"

	"github.com/lanyard/lanyard"
)

// MaxBytes is the most a profile or app metadata may take, encoded as JSON.
const MaxBytes = 16 << 10

// Schema is a validated, compiled profile schema. A nil *Schema checks only the size
// and the field names: without LANYARD_PROFILE_SCHEMA any object is a profile.
type Schema struct {
	sch *jsonschema.Schema
}

// types are the property types a schema may declare; keywords, which keywords each
// allows beyond type and the annotations.
var (
	types    = []string{"string", "integer", "number", "boolean", "array", "object"}
	keywords = map[string][]string{"string": {"maxLength", "enum", "format"}, "array": {"maxItems"}}
	formats  = []string{"date", "uri", "email"}
	// annotations change nothing a value may be.
	annotations = []string{"title", "description"}
	// nameRE: a property name the store can hold as a field name and a problem
	// document can name.
	nameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]{0,63}$`)
)

// Load reads and parses the schema at path; every wrong entry is one line of the
// error, each naming the variable.
func Load(path string) (*Schema, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("LANYARD_PROFILE_SCHEMA: %w", err)
	}
	s, err := Parse(b)
	if err != nil {
		var lines []error
		for _, line := range strings.Split(err.Error(), "\n") {
			lines = append(lines, fmt.Errorf("LANYARD_PROFILE_SCHEMA %s: %s", path, line))
		}
		return nil, errors.Join(lines...)
	}
	return s, nil
}

// Parse checks that data is an object schema using only what Lanyard allows — at the
// top, type "object", properties and additionalProperties false (and $schema, title,
// description); each property's type one of string, integer, number, boolean, array
// or object, with maxLength, enum and format date, uri or email for strings, maxItems
// for arrays, enum for any (and title, description) — and compiles it with format
// assertions on. Every wrong entry is reported, one line each.
func Parse(data []byte) (*Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("not JSON: %w", err)
	}
	if errs := check(doc); len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	const url = "lanyard:profile.schema.json"
	if err := c.AddResource(url, doc); err != nil {
		return nil, fmt.Errorf("schema: %w", err)
	}
	sch, err := c.Compile(url)
	if err != nil {
		return nil, fmt.Errorf("schema: %w", err)
	}
	return &Schema{sch: sch}, nil
}

// check lists what doc uses beyond what Parse allows.
func check(doc any) []error {
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	top, ok := doc.(map[string]any)
	if !ok {
		return []error{errors.New("must be a JSON object")}
	}
	if top["type"] != "object" {
		fail(`type must be "object"`)
	}
	for _, k := range sortedKeys(top) {
		switch k {
		case "type", "$schema", "title", "description":
		case "additionalProperties":
			if top[k] != false {
				fail("additionalProperties may only be false")
			}
		case "properties":
			props, ok := top[k].(map[string]any)
			if !ok {
				fail("properties must be an object")
				continue
			}
			for _, name := range sortedKeys(props) {
				errs = append(errs, checkProperty(name, props[name])...)
			}
		default:
			fail("%s is not supported (only type, properties, additionalProperties: false, $schema, title, description)", k)
		}
	}
	return errs
}

func checkProperty(name string, v any) []error {
	var errs []error
	fail := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("properties.%s: %s", name, fmt.Sprintf(format, args...)))
	}
	if !nameRE.MatchString(name) {
		fail("the name must be 1-64 of letters, digits, '_' and '-', starting with a letter or '_'")
	}
	p, ok := v.(map[string]any)
	if !ok {
		fail("must be an object")
		return errs
	}
	typ, _ := p["type"].(string)
	if !slices.Contains(types, typ) {
		fail("type must be one of %s", strings.Join(types, ", "))
	}
	for _, k := range sortedKeys(p) {
		switch {
		case k == "type", slices.Contains(annotations, k):
		case k == "enum":
			if vs, ok := p[k].([]any); !ok || len(vs) == 0 {
				fail("enum must be a non-empty array")
			}
		case !slices.Contains(keywords[typ], k):
			if typ != "" && slices.Contains(types, typ) && (k == "maxLength" || k == "format" || k == "maxItems") {
				fail("%s does not apply to type %s", k, typ)
			} else {
				fail("%s is not supported (only type, maxLength, enum, format, maxItems, title, description)", k)
			}
		case k == "maxLength" || k == "maxItems":
			if n, ok := p[k].(json.Number); !ok || !isCount(n) {
				fail("%s must be a non-negative integer", k)
			}
		case k == "format":
			if f, _ := p[k].(string); !slices.Contains(formats, f) {
				fail("format must be one of %s", strings.Join(formats, ", "))
			}
		}
	}
	return errs
}

func isCount(n json.Number) bool {
	i, err := n.Int64()
	return err == nil && i >= 0
}

func sortedKeys(m map[string]any) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// Check lists the problems of v as the value of field ("profile" or "app_metadata"),
// one per wrong field, each located under field: its size, field names the store
// cannot hold, and (when s is not nil) the schema's rules. The schema's messages are
// Lanyard's own: a value is never quoted (it may be an email).
func (s *Schema) Check(field string, v map[string]any) []lanyard.FieldError {
	var out []lanyard.FieldError
	b, err := json.Marshal(v)
	if err != nil {
		return []lanyard.FieldError{{Location: field, Message: "must be a JSON object"}}
	}
	if len(b) > MaxBytes {
		return []lanyard.FieldError{{Location: field, Message: fmt.Sprintf("must be at most %d KiB as JSON", MaxBytes>>10)}}
	}
	out = append(out, badNames(field, v)...)
	if s == nil || len(out) > 0 {
		return out
	}
	// The validator wants JSON values as its own decoder makes them.
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		return []lanyard.FieldError{{Location: field, Message: "must be a JSON object"}}
	}
	var ve *jsonschema.ValidationError
	if err := s.sch.Validate(doc); !errors.As(err, &ve) {
		return nil
	}
	seen := map[string]bool{}
	for _, leaf := range leaves(ve) {
		for _, fe := range fieldErrors(field, leaf) {
			if !seen[fe.Location] {
				seen[fe.Location] = true
				out = append(out, fe)
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Location < out[j].Location })
	return out
}

// Check is (*Schema).Check without a schema: the size and the field names only, what
// app metadata must meet.
func Check(field string, v map[string]any) []lanyard.FieldError {
	var none *Schema
	return none.Check(field, v)
}

// badNames lists field names, at any depth, that the store cannot hold as such: empty,
// starting with '$', or holding '.' or NUL.
func badNames(loc string, v any) []lanyard.FieldError {
	var out []lanyard.FieldError
	switch v := v.(type) {
	case map[string]any:
		for _, k := range sortedKeys(v) {
			if k == "" || strings.HasPrefix(k, "$") || strings.ContainsAny(k, ".\x00") {
				out = append(out, lanyard.FieldError{Location: loc, Message: "holds a field name that is empty, starts with '$' or holds '.'"})
				continue
			}
			out = append(out, badNames(loc+"."+k, v[k])...)
		}
	case []any:
		for i, x := range v {
			out = append(out, badNames(fmt.Sprintf("%s.%d", loc, i), x)...)
		}
	}
	return out
}

func leaves(e *jsonschema.ValidationError) []*jsonschema.ValidationError {
	if len(e.Causes) == 0 {
		return []*jsonschema.ValidationError{e}
	}
	var out []*jsonschema.ValidationError
	for _, c := range e.Causes {
		out = append(out, leaves(c)...)
	}
	return out
}

func fieldErrors(field string, e *jsonschema.ValidationError) []lanyard.FieldError {
	loc := strings.Join(append([]string{field}, e.InstanceLocation...), ".")
	one := func(msg string) []lanyard.FieldError { return []lanyard.FieldError{{Location: loc, Message: msg}} }
	switch k := e.ErrorKind.(type) {
	case *kind.AdditionalProperties:
		out := make([]lanyard.FieldError, 0, len(k.Properties))
		for _, p := range k.Properties {
			out = append(out, lanyard.FieldError{Location: loc + "." + p, Message: "is not a field of the profile schema"})
		}
		return out
	case *kind.Type:
		return one("must be " + strings.Join(articled(k.Want), " or "))
	case *kind.MaxLength:
		return one(fmt.Sprintf("must be at most %d characters", k.Want))
	case *kind.MaxItems:
		return one(fmt.Sprintf("must have at most %d items", k.Want))
	case *kind.Enum:
		vals := make([]string, len(k.Want))
		for i, w := range k.Want {
			b, _ := json.Marshal(w)
			vals[i] = string(b)
		}
		return one("must be one of " + strings.Join(vals, ", "))
	case *kind.Format:
		switch k.Want {
		case "date":
			return one("must be a date, YYYY-MM-DD")
		case "email":
			return one("must be an email address")
		case "uri":
			return one("must be an absolute URI")
		}
	}
	return one("is not valid")
}

func articled(types []string) []string {
	out := make([]string, len(types))
	for i, t := range types {
		a := "a "
		if t == "integer" || t == "object" || t == "array" {
			a = "an "
		}
		out[i] = a + t
	}
	return out
}
