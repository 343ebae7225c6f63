package importer

import (
	"reflect"
	"strings"
	"testing"
)

// contractMap is the map of API.md, "Bringing existing users in".
const contractMap = `users:
  collection: users
  id: _id                  # ObjectId or 24-hex string: kept as the Lanyard id; else a new id
  email: email
  username: username       # optional
  password_hash: password
  fields: {first_name: first_name, last_name: last_name, contact: contact, birthday: birthday}
  profile: [bio, profile_image_url]   # copied into the user's custom profile
  created_at: created_at   # default: the source ObjectId's time, else now
linked_ids:
  - collection: linked_ids
    user_field: user_id
    provider: legacy       # a constant, or {field: <name>}
    external_id: linked_id
`

func TestParseMap_ReadsTheContractsExample(t *testing.T) {
	t.Parallel()
	m, err := ParseMap([]byte(contractMap + `  - collection: identities
    user_field: user
    provider: {field: kind}
    external_id: sub
`))
	if err != nil {
		t.Fatalf("ParseMap: %v", err)
	}
	want := Map{
		Users: UserMap{
			Collection: "users", ID: "_id", Email: "email", Username: "username", PasswordHash: "password",
			Fields:  map[string]string{"first_name": "first_name", "last_name": "last_name", "contact": "contact", "birthday": "birthday"},
			Profile: []string{"bio", "profile_image_url"}, CreatedAt: "created_at",
		},
		LinkedIDs: []LinkMap{
			{Collection: "linked_ids", UserField: "user_id", Provider: Provider{Name: "legacy"}, ExternalID: "linked_id"},
			{Collection: "identities", UserField: "user", Provider: Provider{Field: "kind"}, ExternalID: "sub"},
		},
	}
	if !reflect.DeepEqual(m, want) {
		t.Errorf("ParseMap =\n%+v\nwant\n%+v", m, want)
	}
}

func TestParseMap_IDDefaultsToUnderscoreID(t *testing.T) {
	t.Parallel()
	m, err := ParseMap([]byte("users: {collection: users, email: email, password_hash: pw}\n"))
	if err != nil || m.Users.ID != "_id" {
		t.Fatalf("ParseMap = %+v, %v; want id _id", m.Users, err)
	}
}

func TestParseMap_OneLinePerWrongEntry(t *testing.T) {
	t.Parallel()
	_, err := ParseMap([]byte(`users:
  collection: users
  emial: email
  password_hash: $where
  fields: {nickname: nick, contact: ""}
  profile: [bio, bio]
linked_ids:
  - collection: linked_ids
    provider: "Not A Provider!"
    external_id: linked_id
  - collection: identities
    user_field: user
    external_id: sub
`))
	if err == nil {
		t.Fatal("ParseMap accepted a wrong map")
	}
	want := []string{
		"map:",
		"line 3: field emial not found in type importer.UserMap",
		"users.email: is required",
		`users.password_hash: "$where" is not a field name`,
		"users.fields.contact: is required",
		"users.fields.nickname: is not one of first_name, last_name, contact, birthday",
		`users.profile[1]: "bio" is listed twice`,
		"linked_ids[0].user_field: is required",
		`linked_ids[0].provider: "Not A Provider!" must be 2-32 characters`,
		"linked_ids[1].provider: is required",
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != len(want) {
		t.Fatalf("ParseMap error has %d lines; want %d:\n%s", len(lines), len(want), err)
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("line %d = %q; want it to start with %q", i, lines[i], w)
		}
	}
}
