package importer

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/lanyard/lanyard/internal/linkid"
)

// Map says where an application keeps its users and their linked IDs, field by
// field: the YAML file `lanyard import --map` reads (see LoadMap).
type Map struct {
	Users     UserMap   `yaml:"users"`
	LinkedIDs []LinkMap `yaml:"linked_ids"`
}

// UserMap names the users collection and the field holding each part of an account.
type UserMap struct {
	Collection   string `yaml:"collection"`
	ID           string `yaml:"id"` // default _id
	Email        string `yaml:"email"`
	Username     string `yaml:"username"` // optional
	PasswordHash string `yaml:"password_hash"`
	// Fields maps Lanyard's optional profile fields (first_name, last_name, contact,
	// birthday) to the source's field names.
	Fields map[string]string `yaml:"fields"`
	// Profile names source fields copied, under the same names, into the account's
	// custom profile.
	Profile   []string `yaml:"profile"`
	CreatedAt string   `yaml:"created_at"` // optional
}

// LinkMap names a collection of linked IDs: each document's user (the value of the
// users' id field), provider and external id.
type LinkMap struct {
	Collection string   `yaml:"collection"`
	UserField  string   `yaml:"user_field"`
	Provider   Provider `yaml:"provider"`
	ExternalID string   `yaml:"external_id"`
}

// Provider is a linked ID's provider: a constant (Name), or read from each
// document's Field.
type Provider struct {
	Name, Field string
}

// UnmarshalYAML reads `provider: legacy` or `provider: {field: kind}`.
func (p *Provider) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		return n.Decode(&p.Name)
	}
	var f struct {
		Field string `yaml:"field"`
	}
	d := yaml.NewDecoder(bytes.NewReader(mustYAML(n)))
	d.KnownFields(true)
	if err := d.Decode(&f); err != nil || f.Field == "" {
		return fmt.Errorf("line %d: provider must be a name or {field: <name>}", n.Line)
	}
	p.Field = f.Field
	return nil
}

func mustYAML(n *yaml.Node) []byte {
	b, _ := yaml.Marshal(n) // a node just decoded always encodes
	return b
}

// profileFields are the fields `fields:` may map: Lanyard's optional profile.
var profileFields = []string{"first_name", "last_name", "contact", "birthday"}

// LoadMap reads and checks the map file at path: every wrong entry is one line of
// the error.
func LoadMap(path string) (Map, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Map{}, fmt.Errorf("map: %w", err)
	}
	return ParseMap(b)
}

// ParseMap reads and checks a map: every wrong entry is one line of the error.
func ParseMap(b []byte) (Map, error) {
	var m Map
	d := yaml.NewDecoder(bytes.NewReader(b))
	d.KnownFields(true)
	var lines []string
	if err := d.Decode(&m); err != nil {
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			return Map{}, fmt.Errorf("map: %w", err)
		}
		lines = append(lines, te.Errors...)
	}
	lines = append(lines, m.check()...)
	if len(lines) > 0 {
		return Map{}, errors.New("map:\n" + strings.Join(lines, "\n"))
	}
	if m.Users.ID == "" {
		m.Users.ID = "_id"
	}
	return m, nil
}

// check lists what is wrong with m, one line each.
func (m Map) check() []string {
	var out []string
	bad := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	field := func(name, v string, required bool) {
		switch {
		case v == "" && required:
			bad("%s: is required", name)
		case v != "" && !fieldPath(v):
			bad("%s: %q is not a field name (letters, digits and '_', dotted for a nested field; not starting with '$')", name, v)
		}
	}
	u := m.Users
	field("users.collection", u.Collection, true)
	field("users.id", u.ID, false)
	field("users.email", u.Email, true)
	field("users.username", u.Username, false)
	field("users.password_hash", u.PasswordHash, true)
	field("users.created_at", u.CreatedAt, false)
	for _, k := range sortedKeys(u.Fields) {
		if !slices.Contains(profileFields, k) {
			bad("users.fields.%s: is not one of %s", k, strings.Join(profileFields, ", "))
			continue
		}
		field("users.fields."+k, u.Fields[k], true)
	}
	seen := map[string]bool{}
	for i, p := range u.Profile {
		name := fmt.Sprintf("users.profile[%d]", i)
		field(name, p, true)
		if seen[p] {
			bad("%s: %q is listed twice", name, p)
		}
		seen[p] = true
	}
	for i, l := range m.LinkedIDs {
		name := fmt.Sprintf("linked_ids[%d]", i)
		field(name+".collection", l.Collection, true)
		field(name+".user_field", l.UserField, true)
		field(name+".external_id", l.ExternalID, true)
		switch p := l.Provider; {
		case p.Name == "" && p.Field == "":
			bad("%s.provider: is required: a name, or {field: <name>}", name)
		case p.Field != "":
			field(name+".provider.field", p.Field, true)
		default:
			if _, _, err := linkid.Canonical(p.Name, "x"); err != nil {
				bad("%s.provider: %q must be 2-32 characters: a letter, then letters, digits, '_', '.' or '-'", name, p.Name)
			}
		}
	}
	return out
}

// fieldPath reports whether s names a field, perhaps nested ("profile.bio").
func fieldPath(s string) bool {
	for _, part := range strings.Split(s, ".") {
		if part == "" || strings.HasPrefix(part, "$") || strings.ContainsAny(part, " \t\x00") {
			return false
		}
	}
	return true
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
