package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// LANYARD_PROFILE_SCHEMA names an object schema using only what the contract lists;
// anything else stops the start, one line per wrong entry, each naming the variable.
func TestLoad_ProfileSchemaUsesOnlyWhatTheContractLists(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, schema string
		lines        []string // each a part of one line of the error, in order; nil: accepted
	}{
		{"every allowed keyword", `{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object","title":"p","additionalProperties":false,
			"properties":{"a":{"type":"string","maxLength":5,"enum":["x"],"format":"date"},"b":{"type":"string","format":"uri"},"c":{"type":"string","format":"email"},
			"d":{"type":"integer"},"e":{"type":"number","enum":[1,2]},"f":{"type":"boolean"},"g":{"type":"array","maxItems":3},"h":{"type":"object","description":"x"}}}`, nil},
		{"no additionalProperties", `{"type":"object","properties":{"a":{"type":"string"}}}`, nil},
		{"not JSON", `{"type":`, []string{"not JSON"}},
		{"not an object schema", `{"type":"array"}`, []string{`type must be "object"`}},
		{"a JSON array", `[]`, []string{"must be a JSON object"}},
		{"additionalProperties true", `{"type":"object","additionalProperties":true}`, []string{"additionalProperties may only be false"}},
		{"a keyword beyond the list, at the top", `{"type":"object","required":["a"]}`, []string{"required is not supported"}},
		{"every wrong entry, one line each", `{"type":"object","properties":{
			"a":{"type":"string","pattern":"^x"},
			"b":{"type":"integer","maxLength":3},
			"c":{"type":"string","format":"ipv4"},
			"d":{"type":"null"},
			"e":{"type":"array","items":{"type":"string"}},
			"f":{"type":"string","maxLength":-1},
			"g":{"type":"string","enum":[]},
			"h.i":{"type":"string"},
			"j":"string"}}`,
			[]string{"properties.a: pattern is not supported", "properties.b: maxLength does not apply to type integer", "properties.c: format must be one of date, uri, email",
				"properties.d: type must be one of", "properties.e: items is not supported", "properties.f: maxLength must be a non-negative integer",
				"properties.g: enum must be a non-empty array", "properties.h.i: the name must be", "properties.j: must be an object"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "schema.json")
			if err := os.WriteFile(path, []byte(c.schema), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg, err := Load(func(k string) string {
				if k == "LANYARD_PROFILE_SCHEMA" {
					return path
				}
				return ""
			})
			if c.lines == nil {
				if err != nil || cfg.ProfileSchema == nil {
					t.Fatalf("Load = %v (schema %v); want the schema accepted", err, cfg.ProfileSchema)
				}
				return
			}
			if err == nil {
				t.Fatalf("Load accepted the schema; want %q", c.lines)
			}
			got := strings.Split(err.Error(), "\n")
			if len(got) != len(c.lines) {
				t.Fatalf("Load error has %d lines; want %d:\n%s", len(got), len(c.lines), err)
			}
			for i, line := range got {
				if !strings.HasPrefix(line, "LANYARD_PROFILE_SCHEMA ") || !strings.Contains(line, c.lines[i]) {
					t.Errorf("line %d = %q; want it to name LANYARD_PROFILE_SCHEMA and say %q", i, line, c.lines[i])
				}
			}
		})
	}
	_, err := Load(func(k string) string {
		if k == "LANYARD_PROFILE_SCHEMA" {
			return filepath.Join(t.TempDir(), "missing.json")
		}
		return ""
	})
	if err == nil || !strings.HasPrefix(err.Error(), "LANYARD_PROFILE_SCHEMA: ") {
		t.Errorf("a missing schema file: Load = %v; want an error naming the variable", err)
	}
}

func TestLoad_CollectionPrefix(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		value string
		ok    bool
	}{{"", true}, {"lanyard_", true}, {"Auth", true}, {"_x", true}, {"lanyard.", false}, {"a$", false}, {"9x", false}, {"system_", false}, {strings.Repeat("a", 33), false}} {
		cfg, err := Load(func(k string) string {
			if k == "LANYARD_COLLECTION_PREFIX" {
				return c.value
			}
			return ""
		})
		switch {
		case c.ok && (err != nil || cfg.CollectionPrefix != c.value):
			t.Errorf("LANYARD_COLLECTION_PREFIX=%q: %q, %v; want it taken", c.value, cfg.CollectionPrefix, err)
		case !c.ok && (err == nil || !strings.HasPrefix(err.Error(), "LANYARD_COLLECTION_PREFIX: ") || strings.Contains(err.Error(), "\n")):
			t.Errorf("LANYARD_COLLECTION_PREFIX=%q: error %v; want one line naming the variable", c.value, err)
		}
	}
}
