package httpapi_test

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/lanyard/lanyard"
	"github.com/lanyard/lanyard/internal/audit"
	"github.com/lanyard/lanyard/internal/lanyardtest"
	"github.com/lanyard/lanyard/internal/linkid"
	"github.com/lanyard/lanyard/internal/passkey"
	"github.com/lanyard/lanyard/internal/session"
	"github.com/lanyard/lanyard/internal/store"
)

// builtInExpand expands every built-in relation.
const builtInExpand = "expand=linked_ids,sessions,audit_events"

// secretHistory is an account that has been through everything that stores secrets:
// several logins, rotated refresh tokens, a username, links and an unlink (which write
// audit events). It keeps every token it was issued.
type secretHistory struct {
	a       lanyardtest.Account
	tokens  []string // every access and refresh token issued
	linkIDs []string // the external ids it linked, unlinked ones included
}

func newSecretHistory(t *testing.T, env *lanyardtest.Env) *secretHistory {
	t.Helper()
	h := &secretHistory{a: env.Register("ada")}
	h.tokens = append(h.tokens, h.a.Access, h.a.Refresh)
	for range 2 {
		env.Login(&h.a)
		h.tokens = append(h.tokens, h.a.Access, h.a.Refresh)
	}
	for range 3 {
		m := env.Do("POST", "/api/auth/refresh", map[string]any{"refresh_token": h.a.Refresh}).Must(t, http.StatusOK).Map(t)
		h.a.Access, _ = m["access_token"].(string)
		h.a.Refresh, _ = m["refresh_token"].(string)
		h.tokens = append(h.tokens, h.a.Access, h.a.Refresh)
	}
	env.Do("PATCH", "/api/users/me", map[string]any{"username": "Ada.Lovelace"}, "Bearer", h.a.Access).Must(t, http.StatusOK)
	var unlink string
	for _, e := range []string{"C-1", "student-42", "gone-7"} {
		m := link(env, h.a, "crm", e).Must(t, http.StatusCreated).Map(t)
		h.linkIDs = append(h.linkIDs, e)
		unlink, _ = m["id"].(string)
	}
	env.Do("DELETE", "/api/users/me/linked-ids/"+unlink, nil, "Bearer", h.a.Access).Must(t, http.StatusNoContent)
	return h
}

// encodings are the forms a stored secret could take in a JSON body.
func encodings(b []byte) []string {
	return []string{
		hex.EncodeToString(b), strings.ToUpper(hex.EncodeToString(b)),
		base64.StdEncoding.EncodeToString(b), base64.RawStdEncoding.EncodeToString(b),
		base64.URLEncoding.EncodeToString(b), base64.RawURLEncoding.EncodeToString(b),
	}
}

// storedSecrets reads, raw from the database, every secret Lanyard keeps for the
// account: what no body may hold in any encoding, each named for the failure message.
func storedSecrets(t *testing.T, env *lanyardtest.Env, userID string) map[string]string {
	t.Helper()
	out := map[string]string{}
	add := func(name string, v any) {
		switch v := v.(type) {
		case string:
			if v != "" {
				out[name] = v
			}
		case bson.Binary:
			for i, e := range encodings(v.Data) {
				out[fmt.Sprintf("%s (encoding %d)", name, i)] = e
			}
		case nil:
		default:
			t.Fatalf("%s is a %T; want a string or binary", name, v)
		}
	}
	uid := oid(t, userID)
	byUser := bson.D{{Key: "user_id", Value: uid}}
	users := lanyardtest.RawDocs(t, env.DB, "users", bson.D{{Key: "_id", Value: uid}})
	if len(users) != 1 {
		t.Fatalf("%d users stored; want 1", len(users))
	}
	if s, _ := users[0]["password_hash"].(string); !strings.HasPrefix(s, "$argon2id$") {
		t.Fatalf("stored password hash %q is not argon2id PHC", s)
	}
	add("password hash", users[0]["password_hash"])
	previous := 0
	for i, ss := range lanyardtest.RawDocs(t, env.DB, "sessions", byUser) {
		add(fmt.Sprintf("session %d secret_hash", i), ss["secret_hash"])
		if ss["previous_hash"] != nil {
			previous++
			add(fmt.Sprintf("session %d previous_hash", i), ss["previous_hash"])
		}
	}
	if previous == 0 {
		t.Fatal("no session has a previous_hash: the history rotated nothing")
	}
	links := lanyardtest.RawDocs(t, env.DB, "linked_ids", byUser)
	if len(links) == 0 {
		t.Fatal("no linked ids stored")
	}
	for i, l := range links {
		add(fmt.Sprintf("linked id %d external_id_enc", i), l["external_id_enc"])
		add(fmt.Sprintf("linked id %d lookup", i), l["lookup"])
	}
	for _, coll := range []string{"user_keys", "linked_id_keys"} {
		keys := lanyardtest.RawDocs(t, env.DB, coll, byUser)
		if len(keys) == 0 {
			t.Fatalf("no %s stored", coll)
		}
		for i, k := range keys {
			add(fmt.Sprintf("%s %d", coll, i), k["_id"])
		}
	}
	for i, c := range lanyardtest.RawDocs(t, env.DB, "refresh_claims", nil) {
		id, _ := c["_id"].(string)
		if _, spent, ok := strings.Cut(id, "."); ok {
			out[fmt.Sprintf("refresh claim %d", i)] = spent
		}
	}
	return out
}

func TestExportAndExpand_HoldNoHashCiphertextOrTokenMaterial(t *testing.T) {
	t.Parallel()
	env := lanyardtest.New(t)
	h := newSecretHistory(t, env)
	admin := env.Register("root")
	env.Promote(admin)

	forbidden := storedSecrets(t, env, h.a.ID)
	forbidden["argon2id PHC prefix"] = "$argon2id$"
	for i, tok := range h.tokens {
		forbidden[fmt.Sprintf("token %d", i)] = tok
		// A refresh token's secret follows the session id; an access token's
		// signature is its last segment.
		if _, secret, ok := strings.Cut(tok, "."); ok && !strings.Contains(secret, ".") {
			forbidden[fmt.Sprintf("token %d secret", i)] = secret
		}
		if parts := strings.Split(tok, "."); len(parts) == 3 {
			forbidden[fmt.Sprintf("token %d signature", i)] = parts[2]
		}
	}
	// A document rendered as stored would show these field names.
	for _, field := range []string{"secret_hash", "previous_hash", "password_hash", "external_id_enc", "lookup", "token_version", "username_key"} {
		forbidden["field "+field] = `"` + field + `"`
	}

	for _, tt := range []struct {
		name, path, bearer string
		sessions           int // the sessions the body must list, so it cannot pass empty
	}{
		{"export", "/api/users/me/export", h.a.Access, 3},
		{"own expand", "/api/users/me?" + builtInExpand, h.a.Access, 3},
		{"admin's expand", "/api/users/" + h.a.ID + "?" + builtInExpand, admin.Access, 3},
		{"admin's list", "/api/users?" + builtInExpand, admin.Access, 4},
	} {
		t.Run(tt.name, func(t *testing.T) {
			body := string(env.Do("GET", tt.path, nil, "Bearer", tt.bearer).Must(t, http.StatusOK).Body)
			for what, secret := range forbidden {
				if strings.Contains(body, secret) {
					t.Errorf("GET %s holds the %s", tt.path, what)
				}
			}
			if n := strings.Count(body, `"last_used_at"`); n != tt.sessions {
				t.Errorf("GET %s lists %d sessions; want %d", tt.path, n, tt.sessions)
			}
			for _, e := range h.linkIDs[:2] {
				if !strings.Contains(body, `"external_id":"`+e+`"`) {
					t.Errorf("GET %s does not show linked id %s decrypted", tt.path, e)
				}
			}
			if n := strings.Count(body, `"type":"linked_id.`); n != 4 {
				t.Errorf("GET %s lists %d audit events; want 4", tt.path, n)
			}
		})
	}
}

func TestExport_HandsOutBuiltInsOnlyAsPublicValues(t *testing.T) {
	t.Parallel()
	env := lanyardtest.New(t, lanyardtest.WithRelations(t, postsAndComments))
	h := newSecretHistory(t, env)
	insertDocs(t, env, "posts", 2, func(int) bson.D { return bson.D{{Key: "author_id", Value: oid(t, h.a.ID)}} })
	key := lanyard.Passkey{ID: store.NewID(), UserID: lanyard.ID(oid(t, h.a.ID)), Name: "key", CredentialID: []byte("cred"), PublicKey: []byte("cose"), CreatedAt: time.Now()}
	if err := env.App.Store.AddPasskey(t.Context(), &key, 1); err != nil {
		t.Fatalf("AddPasskey: %v", err)
	}

	got, err := env.App.Deleter.Export(t.Context(), lanyard.ID(oid(t, h.a.ID)))
	if err != nil {
		t.Fatalf("Export: %v", err)
	}
	for name, want := range map[string]func(any) bool{
		"sessions":     func(v any) bool { _, ok := v.(session.Public); return ok },
		"linked_ids":   func(v any) bool { _, ok := v.(linkid.Public); return ok },
		"audit_events": func(v any) bool { _, ok := v.(audit.Event); return ok },
		"passkeys":     func(v any) bool { _, ok := v.(passkey.Public); return ok },
		"posts":        func(v any) bool { _, ok := v.(store.Document); return ok },
		"comments":     func(v any) bool { _, ok := v.(store.Document); return ok },
	} {
		if len(got[name]) == 0 && name != "comments" {
			t.Errorf("Export()[%q] is empty", name)
		}
		for i, v := range got[name] {
			if !want(v) {
				t.Errorf("Export()[%q][%d] is a %T", name, i, v)
			}
		}
	}
	if len(got) != 6 {
		t.Errorf("Export() has %d relations; want 6", len(got))
	}
}
