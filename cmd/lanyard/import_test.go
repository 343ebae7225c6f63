package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// app1Map is a map of the kind docs/import.md shows.
const app1Map = `users:
  collection: users
  id: _id
  email: email
  username: username
  password_hash: password
linked_ids:
  - collection: linked_ids
    user_field: user_id
    provider: legacy
    external_id: linked_id
`

func TestImport_RefusesWrongArgumentsAndLanyardsOwnCollections(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good := filepath.Join(dir, "map.yaml")
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(good, []byte(app1Map), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte("users: {collection: users, emial: email}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	getenv := env(map[string]string{"LANYARD_DATA_DIR": t.TempDir(), "LANYARD_DB": "lanyard"})
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"no map", []string{"--from", "mongodb://127.0.0.1:1", "--db", "app"}, []string{"--from, --db and --map are required"}},
		{"a wrong map", []string{"--from", "mongodb://127.0.0.1:1", "--db", "app", "--map", bad},
			[]string{"field emial not found", "users.email: is required", "users.password_hash: is required"}},
		{"Lanyard's own database", []string{"--from", "mongodb://127.0.0.1:1", "--db", "lanyard", "--map", good},
			[]string{`collection "users" of database "lanyard" is Lanyard's own`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := run(context.Background(), append([]string{"import"}, tc.args...), getenv, &bytes.Buffer{}, &bytes.Buffer{})
			if err == nil {
				t.Fatal("run(import) = nil; want an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("run(import) = %v; want it to say %q", err, w)
				}
			}
		})
	}
}
