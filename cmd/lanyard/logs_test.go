package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/pquerna/otp/totp"

	"github.com/lanyard/lanyard/internal/lanyardtest"
)

// storeURIInLog is the embedded store's URI as serve logs it at start, in either format.
var storeURIInLog = regexp.MustCompile(`"?uri"?[=:]"?(mongodb://[^ "]+)`)

// callT is call with the answer as status and body, failing the test when there is none.
func callT(t *testing.T, method, url, bearer string, body any) (int, map[string]any) {
	t.Helper()
	a := call(apiClient, method, url, body, bearer, nil)
	if a.err != nil {
		t.Fatalf("%s %s: %v", method, url, a.err)
	}
	return a.status, a.body
}

// binaryForms are the ways a log line could spell b.
func binaryForms(b []byte) []string {
	return []string{
		hex.EncodeToString(b),
		base64.StdEncoding.EncodeToString(b),
		base64.RawStdEncoding.EncodeToString(b),
		base64.RawURLEncoding.EncodeToString(b),
	}
}

// At debug level, in both formats, nothing written by serve — its own logs and the
// embedded store's — holds a password, a password or secret hash, a token, an email,
// an external ID, an attempted login name, a ciphertext or a key, through a
// registration, failed and successful logins, a refresh, a link and a delete.
func TestServe_DebugLogsHoldNoSecrets(t *testing.T) {
	for _, format := range []string{"text", "json"} {
		t.Run(format, func(t *testing.T) {
			t.Parallel()
			tag := hex.EncodeToString(randomBytes(4))
			var (
				email      = "ada-" + tag + "@example.com"
				username   = "adauser" + tag
				pw         = "correct horse battery staple " + tag
				wrongPw    = "wrong horse battery staple " + tag
				ghost      = "ghost-login-" + tag
				externalID = "student-" + tag
			)
			dir := t.TempDir()
			logs := &syncBuffer{}
			base, stop := startServeLogging(t, dir, map[string]string{"LANYARD_LOG_LEVEL": "debug", "LANYARD_LOG_FORMAT": format}, logs)

			if code, m := callT(t, "POST", base+"/api/auth/register", "", map[string]any{"email": email, "username": username, "password": pw}); code != http.StatusCreated {
				t.Fatalf("register = %d %v; want 201", code, m)
			}
			if code, _ := callT(t, "POST", base+"/api/auth/register", "", map[string]any{"email": email, "password": pw}); code != http.StatusConflict {
				t.Fatalf("second register of the email = %d; want 409", code)
			}
			if code, _ := callT(t, "POST", base+"/api/auth/login", "", map[string]any{"login": username, "password": wrongPw}); code != http.StatusUnauthorized {
				t.Fatalf("login with a wrong password = %d; want 401", code)
			}
			if code, _ := callT(t, "POST", base+"/api/auth/login", "", map[string]any{"login": ghost, "password": pw}); code != http.StatusUnauthorized {
				t.Fatalf("login of an unknown name = %d; want 401", code)
			}
			code, pair := callT(t, "POST", base+"/api/auth/login", "", map[string]any{"login": email, "password": pw})
			if code != http.StatusOK {
				t.Fatalf("login = %d %v; want 200", code, pair)
			}
			access1, refresh1 := pair["access_token"].(string), pair["refresh_token"].(string)
			code, pair = callT(t, "POST", base+"/api/auth/refresh", "", map[string]any{"refresh_token": refresh1})
			if code != http.StatusOK {
				t.Fatalf("refresh = %d %v; want 200", code, pair)
			}
			access2, refresh2 := pair["access_token"].(string), pair["refresh_token"].(string)
			if code, m := callT(t, "POST", base+"/api/users/me/linked-ids", access2, map[string]any{"provider": "school", "external_id": externalID}); code != http.StatusCreated {
				t.Fatalf("link = %d %v; want 201", code, m)
			}
			// TOTP: an enrolment, its confirmation, and logins with an mfa_token and
			// a wrong code, a right code and a recovery code.
			code, enrol := callT(t, "POST", base+"/api/users/me/mfa/totp", access2, nil)
			if code != http.StatusOK {
				t.Fatalf("enrol totp = %d %v; want 200", code, enrol)
			}
			secret, uri := enrol["secret"].(string), enrol["otpauth_uri"].(string)
			totpCode := func(at time.Time) string {
				c, err := totp.GenerateCode(secret, at)
				if err != nil {
					t.Fatal(err)
				}
				return c
			}
			code, confirmed := callT(t, "POST", base+"/api/users/me/mfa/totp/confirm", access2, map[string]any{"code": totpCode(time.Now())})
			if code != http.StatusOK {
				t.Fatalf("confirm totp = %d %v; want 200", code, confirmed)
			}
			var recovery []string
			for _, c := range confirmed["recovery_codes"].([]any) {
				recovery = append(recovery, c.(string))
			}
			mfaToken := func() string {
				code, m := callT(t, "POST", base+"/api/auth/login", "", map[string]any{"login": email, "password": pw})
				if code != http.StatusOK || m["mfa_token"] == nil {
					t.Fatalf("login with totp on = %d %v; want 200 mfa_required", code, m)
				}
				return m["mfa_token"].(string)
			}
			tok1, tok2 := mfaToken(), mfaToken()
			if code, _ := callT(t, "POST", base+"/api/auth/mfa", "", map[string]any{"mfa_token": tok1, "method": "recovery_code", "code": "aaaaa-bbbbb"}); code != http.StatusUnauthorized {
				t.Fatalf("a wrong recovery code = %d; want 401", code)
			}
			code, pair = callT(t, "POST", base+"/api/auth/mfa", "", map[string]any{"mfa_token": tok2, "method": "recovery_code", "code": recovery[0]})
			if code != http.StatusOK {
				t.Fatalf("login with a recovery code = %d %v; want 200", code, pair)
			}
			accessMFA, refreshMFA := pair["access_token"].(string), pair["refresh_token"].(string)

			// A password reset: with no SMTP server the mail is a file of the outbox
			// directory, which the log names; its link and token, and the new
			// password, are never logged.
			if code, m := callT(t, "POST", base+"/api/auth/password-reset", "", map[string]any{"email": email}); code != http.StatusAccepted {
				t.Fatalf("password reset = %d %v; want 202", code, m)
			}
			var files []string
			waitFor(t, 15*time.Second, "the files of the verification and the reset mail", func() bool {
				files, _ = filepath.Glob(filepath.Join(dir, "outbox", "*.eml"))
				return len(files) == 2
			}, func() string { return logs.String() })
			var eml, resetLink, resetToken, verifyLink string
			for _, f := range files {
				raw, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				mail, err := lanyardtest.ParseMail(raw)
				if err != nil {
					t.Fatalf("parse %s: %v", f, err)
				}
				if mail.Header.Get("Subject") == "Reset your password" {
					eml, resetLink, resetToken = f, mail.Link(t), mail.Token(t)
				} else {
					verifyLink = mail.Link(t)
				}
			}
			if eml == "" || verifyLink == "" {
				t.Fatalf("outbox files %v: want one reset mail and one other", files)
			}
			newPw := "a reset horse battery staple " + tag
			// The account has TOTP on: the reset asks for it, and a recovery code ends it.
			code, challenge := callT(t, "POST", base+"/api/auth/password-reset/confirm", "", map[string]any{"token": resetToken, "new_password": newPw})
			resetMFA, _ := challenge["mfa_token"].(string)
			if code != http.StatusOK || resetMFA == "" {
				t.Fatalf("confirm the reset = %d %v; want 200 mfa_required", code, challenge)
			}
			code, pair = callT(t, "POST", base+"/api/auth/mfa", "", map[string]any{"mfa_token": resetMFA, "method": "recovery_code", "code": recovery[1]})
			if code != http.StatusOK {
				t.Fatalf("the reset's second step = %d %v; want 200", code, pair)
			}
			access3, refresh3 := pair["access_token"].(string), pair["refresh_token"].(string)

			forbidden := map[string]string{
				"reset token": resetToken, "reset link": resetLink, "new password": newPw, "verification link": verifyLink,
				"third access token": access3, "third refresh token": refresh3,
				"password": pw, "wrong password": wrongPw, "email": email, "username": username,
				"unknown login name": ghost, "external id": externalID,
				"access token": access1, "second access token": access2,
				"refresh token": refresh1, "second refresh token": refresh2,
				"argon2id hash prefix": "$argon2id$",
				"totp secret":          secret, "otpauth uri": uri, "first mfa token": tok1, "second mfa token": tok2, "the reset's mfa token": resetMFA,
				"access token of the mfa login": accessMFA, "refresh token of the mfa login": refreshMFA,
			}
			for i, c := range recovery {
				forbidden[fmt.Sprintf("recovery code %d", i)] = c
				forbidden[fmt.Sprintf("recovery code %d without its dash", i)] = strings.ReplaceAll(c, "-", "")
			}
			addBinary := func(what string, b []byte) {
				if len(b) == 0 {
					t.Fatalf("no %s stored; the test would check nothing", what)
				}
				for i, s := range binaryForms(b) {
					forbidden[fmt.Sprintf("%s (form %d)", what, i)] = s
				}
			}
			// What the store holds, read through the store itself.
			m := storeURIInLog.FindStringSubmatch(logs.String())
			if m == nil {
				t.Fatalf("no store URI in the log:\n%s", logs)
			}
			db := connectDB(t, m[1], "lanyard")
			var u struct {
				ID   bson.ObjectID `bson:"_id"`
				Hash string        `bson:"password_hash"`
			}
			if !lanyardtest.RawDoc(t, db, "users", bson.D{{Key: "email", Value: email}}, &u) {
				t.Fatal("the user is not stored")
			}
			forbidden["password hash"] = u.Hash
			for i, part := range strings.Split(u.Hash, "$") {
				if len(part) >= 16 { // the salt and the hash
					forbidden[fmt.Sprintf("password hash part %d", i)] = part
				}
			}
			var sessions []struct {
				Secret   []byte `bson:"secret_hash"`
				Previous []byte `bson:"previous_hash"`
			}
			if lanyardtest.RawAll(t, db, "sessions", bson.D{{Key: "user_id", Value: u.ID}}, &sessions); len(sessions) == 0 {
				t.Fatal("no sessions stored")
			}
			for i, s := range sessions {
				addBinary(fmt.Sprintf("session %d secret hash", i), s.Secret)
				if s.Previous != nil {
					addBinary(fmt.Sprintf("session %d previous hash", i), s.Previous)
				}
			}
			var link struct {
				Lookup string `bson:"lookup"`
				Enc    []byte `bson:"external_id_enc"`
			}
			if !lanyardtest.RawDoc(t, db, "linked_ids", bson.D{{Key: "user_id", Value: u.ID}}, &link) {
				t.Fatal("the linked id is not stored")
			}
			forbidden["linked id lookup hash"] = link.Lookup
			var mfa struct {
				TOTP struct {
					Secret   []byte   `bson:"secret"`
					Recovery [][]byte `bson:"recovery"`
				} `bson:"totp"`
			}
			if !lanyardtest.RawDoc(t, db, "users", bson.D{{Key: "_id", Value: u.ID}}, &mfa) {
				t.Fatal("the user is not stored")
			}
			addBinary("sealed totp secret", mfa.TOTP.Secret)
			for i, h := range mfa.TOTP.Recovery {
				addBinary(fmt.Sprintf("recovery code hash %d", i), h)
			}
			addBinary("linked id ciphertext", link.Enc)
			var signing struct {
				Sealed []byte `bson:"private_enc"`
			}
			if !lanyardtest.RawDoc(t, db, "signing_keys", bson.D{{Key: "_id", Value: int64(1)}}, &signing) {
				t.Fatal("the signing key is not stored")
			}
			addBinary("sealed signing key", signing.Sealed)
			// No jwt.key is made any more: signing keys live in the store.
			for _, key := range []string{"data.key"} {
				b, err := os.ReadFile(filepath.Join(dir, key))
				if err != nil {
					t.Fatal(err)
				}
				forbidden[key] = strings.TrimSpace(string(b))
			}

			if code, m := callT(t, "DELETE", base+"/api/users/me", access3, map[string]any{"password": newPw}); code != http.StatusOK {
				t.Fatalf("delete = %d %v; want 200", code, m)
			}
			if err := stop(); err != nil {
				t.Fatalf("serve returned %v after cancel; want nil", err)
			}

			out := logs.String()
			// Debug still tells what happened: each request, and each store command.
			for _, want := range []string{"/api/auth/login", "/api/users/me/linked-ids", "store command", "insert", "Connection started", "mail sent", eml} {
				if !strings.Contains(out, want) {
					t.Fatalf("the debug log does not mention %q:\n%s", want, out)
				}
			}
			names := slices.Sorted(maps.Keys(forbidden))
			for _, what := range names {
				s := forbidden[what]
				if i := strings.Index(out, s); i >= 0 {
					line := out[strings.LastIndex(out[:i], "\n")+1:]
					if j := strings.IndexByte(line, '\n'); j >= 0 {
						line = line[:j]
					}
					t.Errorf("the debug log holds the %s, e.g. in: %.300s", what, line)
				}
			}
		})
	}
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// connectDB opens database name on the store at uri, for the test to read directly.
func connectDB(t *testing.T, uri, name string) *mongo.Database {
	t.Helper()
	client, err := mongo.Connect(options.Client().ApplyURI(uri).SetTimeout(10 * time.Second))
	if err != nil {
		t.Fatalf("connect to the store: %v", err)
	}
	t.Cleanup(func() { _ = client.Disconnect(context.Background()) })
	return client.Database(name)
}
