package importer

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"golang.org/x/crypto/bcrypt"

	"github.com/lanyard/lanyard/internal/lanyardtest"
)

// The two applications of issue 19, as their code writes their records.
//
// App 1 (FastAPI + PyMongo, bcrypt): users {_id: ObjectId, username, email,
// password: bcrypt.hashpw(...) — bytes, so BSON binary}, and linked_ids {user_id:
// str(user["_id"]) or the ObjectId, linked_id}.
//
// App 2 (FastAPI + PyMongo + passlib): users {_id: str(uuid4()) — or 24 hex digits,
// email, username, hashed_password: pwd_context.hash(...) — a "$2b$" string, bio,
// profile_image_url}, and identities {user, kind, sub: an int}.
//
// The hashes are made here at bcrypt's lowest cost, to keep the test fast; the
// reference vectors of internal/password keep their libraries' costs.

type appUser struct {
	id                        any // bson.ObjectID or string
	email, username, password string
	hash                      any // []byte (BSON binary) or string
	bio, imageURL             string
	importable                bool
	wantLinks                 []string // provider:external_id
	keptID                    bool     // the Lanyard id is the source's
}

type sources struct {
	app1, app2 *mongo.Database
	users      []*appUser
	wantSkips  []Skip
}

const (
	app1Map = `users:
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
	app2Map = `users:
  collection: users
  id: _id
  email: email
  username: username
  password_hash: hashed_password
  profile: [bio, profile_image_url]
  created_at: created_at
linked_ids:
  - collection: identities
    user_field: user
    provider: {field: kind}
    external_id: sub
`
)

func bcryptOf(t *testing.T, pw string) []byte {
	t.Helper()
	b, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func hexID(t *testing.T) string {
	b := make([]byte, 6)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func insert(t *testing.T, db *mongo.Database, coll string, docs ...bson.D) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	anys := make([]any, len(docs))
	for i := range docs {
		anys[i] = docs[i]
	}
	if _, err := db.Collection(coll).InsertMany(ctx, anys); err != nil {
		t.Fatalf("insert %s: %v", coll, err)
	}
}

// buildSources writes both applications' databases, on the test store, with every
// case the import must tell apart.
func buildSources(t *testing.T, client *mongo.Client) *sources {
	t.Helper()
	s := &sources{app1: client.Database("app1_" + hexID(t)), app2: client.Database("app2_" + hexID(t))}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = s.app1.Drop(ctx)
		_ = s.app2.Drop(ctx)
	})
	// Ascending ObjectIds, so that _id order is the order written here.
	base := bson.NewObjectID()
	base[11] = 0
	seq := func(i byte) bson.ObjectID { id := base; id[11] = i; return id }
	ada := &appUser{id: seq(1), email: "ada@example.com", username: "ada", password: "ada's old pw", importable: true, keptID: true,
		wantLinks: []string{"legacy:S-1001"}}
	grace := &appUser{id: seq(2), email: "Grace.Hopper@Example.com", username: "grace", password: "cobol 1959", importable: true, keptID: true,
		wantLinks: []string{"legacy:S-1002"}}
	alan := &appUser{id: seq(3), email: "alan@example.com", username: "alan", password: "enigma!", importable: true, keptID: true}
	noMail := &appUser{id: seq(4), email: "not-an-email", username: "nomail", password: "whatever1"}
	for _, u := range []*appUser{ada, grace, alan, noMail} {
		u.hash = bcryptOf(t, u.password)
	}
	var docs []bson.D
	for _, u := range []*appUser{ada, grace, alan, noMail} {
		docs = append(docs, bson.D{{Key: "_id", Value: u.id}, {Key: "username", Value: u.username}, {Key: "email", Value: u.email}, {Key: "password", Value: u.hash}})
	}
	insert(t, s.app1, "users", docs...)
	l1, l2, l3, l4 := seq(11), seq(12), seq(13), seq(14)
	insert(t, s.app1, "linked_ids",
		bson.D{{Key: "_id", Value: l1}, {Key: "user_id", Value: ada.id.(bson.ObjectID).Hex()}, {Key: "linked_id", Value: "S-1001"}},
		bson.D{{Key: "_id", Value: l2}, {Key: "user_id", Value: grace.id}, {Key: "linked_id", Value: "S-1002"}},
		// alan's is ada's number too: the first wins.
		bson.D{{Key: "_id", Value: l3}, {Key: "user_id", Value: alan.id.(bson.ObjectID).Hex()}, {Key: "linked_id", Value: "S-1001"}},
		bson.D{{Key: "_id", Value: l4}, {Key: "user_id", Value: noMail.id.(bson.ObjectID).Hex()}, {Key: "linked_id", Value: "S-1004"}},
	)

	hex24 := "65f0c0ffee" + hexID(t) + "00" // 24 hex digits, unlike any ObjectId above
	ali := &appUser{id: "a-3f0c5e9e-uuid", email: "ali@example.org", username: "ali", password: "ali pass 2019", importable: true,
		bio: "Writes Go.", imageURL: "https://img.example.org/ali.png", wantLinks: []string{"github:4242"}}
	bea := &appUser{id: "b-77d1c2aa-uuid", email: "bea@example.org", username: "bea", password: "bea's secret", importable: true,
		bio: "Ops.", imageURL: "https://img.example.org/bea.png", wantLinks: []string{"gitlab:bea-gl"}}
	aliAgain := &appUser{id: "c-0a1b2c3d-uuid", email: "ALI@Example.ORG", username: "ali2", password: "other pass"}
	md5 := &appUser{id: "d-9e8f7a6b-uuid", email: "cy@example.org", username: "cyd", password: "x", hash: "5f4dcc3b5aa765d61d8327deb882cf99"}
	// Grace from app 1 signed up to app 2 too: the first import keeps her.
	graceAgain := &appUser{id: "e-1234abcd-uuid", email: "grace.hopper@example.com", username: "ghopper", password: "other pass"}
	hexed := &appUser{id: hex24, email: "dee@example.org", username: "dee", password: "dee dee dee", importable: true, keptID: true}
	for _, u := range []*appUser{ali, bea, aliAgain, graceAgain, hexed} {
		u.hash = string(bcryptOf(t, u.password)) // passlib's CryptContext(schemes=["bcrypt"]) hash: "$2b$…"
	}
	docs = nil
	for _, u := range []*appUser{ali, bea, aliAgain, md5, graceAgain, hexed} {
		d := bson.D{{Key: "_id", Value: u.id}, {Key: "email", Value: u.email}, {Key: "username", Value: u.username}, {Key: "hashed_password", Value: u.hash}}
		if u.bio != "" {
			d = append(d, bson.E{Key: "bio", Value: u.bio}, bson.E{Key: "profile_image_url", Value: u.imageURL})
		}
		d = append(d, bson.E{Key: "created_at", Value: time.Date(2021, 3, 4, 5, 6, 7, 0, time.UTC)})
		docs = append(docs, d)
	}
	insert(t, s.app2, "users", docs...)
	insert(t, s.app2, "identities",
		bson.D{{Key: "_id", Value: "i1"}, {Key: "user", Value: ali.id}, {Key: "kind", Value: "github"}, {Key: "sub", Value: int64(4242)}},
		// bea's GitHub account is ali's: the first wins.
		bson.D{{Key: "_id", Value: "i2"}, {Key: "user", Value: bea.id}, {Key: "kind", Value: "github"}, {Key: "sub", Value: int32(4242)}},
		bson.D{{Key: "_id", Value: "i3"}, {Key: "user", Value: bea.id}, {Key: "kind", Value: "gitlab"}, {Key: "sub", Value: "bea-gl"}},
		bson.D{{Key: "_id", Value: "i4"}, {Key: "user", Value: md5.id}, {Key: "kind", Value: "github"}, {Key: "sub", Value: int64(99)}},
	)
	s.users = []*appUser{ada, grace, alan, noMail, ali, bea, aliAgain, md5, graceAgain, hexed}
	s.wantSkips = []Skip{
		{Collection: "users", SourceID: noMail.id.(bson.ObjectID).Hex(), Reason: InvalidEmail},
		{Collection: "linked_ids", SourceID: l3.Hex(), Reason: ExternalIDHeld},
		{Collection: "linked_ids", SourceID: l4.Hex(), Reason: UserNotImported},
		{Collection: "users", SourceID: aliAgain.id.(string), Reason: DuplicateEmail},
		{Collection: "users", SourceID: md5.id.(string), Reason: UnknownHashFormat},
		{Collection: "users", SourceID: graceAgain.id.(string), Reason: DuplicateEmail},
		{Collection: "identities", SourceID: "i2", Reason: ExternalIDHeld},
		{Collection: "identities", SourceID: "i4", Reason: UserNotImported},
	}
	return s
}

// snapshot is every source document, to show the import changed none.
func snapshot(t *testing.T, s *sources) map[string][]bson.M {
	out := map[string][]bson.M{}
	for _, c := range []struct {
		db   *mongo.Database
		coll string
	}{{s.app1, "users"}, {s.app1, "linked_ids"}, {s.app2, "users"}, {s.app2, "identities"}} {
		out[c.db.Name()+"."+c.coll] = lanyardtest.RawDocs(t, c.db, c.coll, nil)
	}
	return out
}

// importer runs `lanyard import` for both applications against env's database.
type importRun struct {
	t       *testing.T
	env     *lanyardtest.Env
	vars    map[string]string
	dir     string
	s       *sources
	app1Map string
	app2Map string
}

func newImportRun(t *testing.T, env *lanyardtest.Env, dataKey string, s *sources) *importRun {
	dir := t.TempDir()
	r := &importRun{t: t, env: env, dir: dir, s: s,
		app1Map: filepath.Join(dir, "app1.yaml"), app2Map: filepath.Join(dir, "app2.yaml")}
	for path, doc := range map[string]string{r.app1Map: app1Map, r.app2Map: app2Map} {
		if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	vars := map[string]string{
		"MONGODB_URI":       env.StoreURI,
		"LANYARD_DB":        env.Config.DB,
		"LANYARD_DATA_KEY":  dataKey,
		"LANYARD_DATA_DIR":  t.TempDir(),
		"LANYARD_LOG_LEVEL": "warn",
	}
	r.vars = vars
	return r
}

func (r *importRun) args(app string) []string {
	db, m := r.s.app1.Name(), r.app1Map
	if app == "app2" {
		db, m = r.s.app2.Name(), r.app2Map
	}
	return []string{"import", "--from", r.env.StoreURI, "--db", db, "--map", m, "--report", filepath.Join(r.dir, app+".json")}
}

// both imports app 1 then app 2 and returns their reports and the progress.
func (r *importRun) both() (stderr string, reps []Report) {
	r.t.Helper()
	var errs strings.Builder
	for _, app := range []string{"app1", "app2"} {
		errs.WriteString(r.lanyard(app, nil))
		reps = append(reps, r.report(app))
	}
	return errs.String(), reps
}

// lanyard runs `lanyard import` of app to its end, with extra in its environment,
// and returns its stderr.
func (r *importRun) lanyard(app string, extra map[string]string) string {
	r.t.Helper()
	cmd := r.command(app, extra)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		r.t.Fatalf("lanyard import (%s): %v\nstderr:\n%s", app, err, stderr.String())
	}
	return stderr.String()
}

// command is `lanyard import` of app, built from this tree, against env's store
// and database: none of the test process's own Lanyard settings.
func (r *importRun) command(app string, extra map[string]string) *exec.Cmd {
	cmd := exec.Command(lanyardBin(r.t), r.args(app)...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "LANYARD_") && !strings.HasPrefix(kv, "MONGODB_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	for k, v := range r.vars {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	for k, v := range extra {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	return cmd
}

func (r *importRun) report(app string) Report {
	r.t.Helper()
	b, err := os.ReadFile(filepath.Join(r.dir, app+".json"))
	if err != nil {
		r.t.Fatal(err)
	}
	var rep Report
	if err := json.Unmarshal(b, &rep); err != nil {
		r.t.Fatalf("report %s: %v\n%s", app, err, b)
	}
	return rep
}

func skipsOf(reps []Report) []Skip {
	var out []Skip
	for _, r := range reps {
		out = append(out, r.Skipped...)
	}
	return out
}

func sumUsers(reps []Report) (imported, already int) {
	for _, r := range reps {
		imported += r.Users.Imported
		already += r.Users.AlreadyImported
	}
	return imported, already
}

func sumLinks(reps []Report) (imported, already int) {
	for _, r := range reps {
		imported += r.LinkedIDs.Imported
		already += r.LinkedIDs.AlreadyImported
	}
	return imported, already
}

// checkAccounts logs every importable user in over HTTP with the old password and
// checks their account, links and hash upgrade; it returns a summary of the
// accounts as stored, to compare runs by.
func checkAccounts(t *testing.T, env *lanyardtest.Env, s *sources) []string {
	t.Helper()
	var summary []string
	for _, u := range s.users {
		r := env.Do("POST", "/api/auth/login", map[string]any{"email": u.email, "password": u.password})
		if !u.importable {
			if r.Status != http.StatusUnauthorized {
				t.Errorf("login of %s, which is not importable: %d; want 401", u.email, r.Status)
			}
			continue
		}
		if r.Status != http.StatusOK {
			t.Errorf("login of imported %s with the old password: %d %s; want 200", u.email, r.Status, r.Body)
			continue
		}
		access, _ := r.Map(t)["access_token"].(string)
		me := env.Do("GET", "/api/users/me?expand=linked_ids", nil, "Bearer", access).Must(t, http.StatusOK).Map(t)
		if got := me["email"]; got != strings.ToLower(u.email) {
			t.Errorf("%s: email %v; want it lower-cased", u.email, got)
		}
		if got := me["username"]; got != u.username {
			t.Errorf("%s: username %v; want %q", u.email, got, u.username)
		}
		id, _ := me["id"].(string)
		switch v := u.id.(type) {
		case bson.ObjectID:
			if id != v.Hex() {
				t.Errorf("%s: id %s; want the source's ObjectId %s", u.email, id, v.Hex())
			}
		case string:
			if u.keptID && id != v {
				t.Errorf("%s: id %s; want the source's 24 hex digits %s", u.email, id, v)
			}
		}
		var links []string
		exp, _ := me["expand"].(map[string]any)
		ls, _ := exp["linked_ids"].([]any)
		for _, l := range ls {
			m, _ := l.(map[string]any)
			links = append(links, m["provider"].(string)+":"+m["external_id"].(string))
		}
		slices.Sort(links)
		var wantProfile map[string]any
		if u.bio != "" {
			wantProfile = map[string]any{"bio": u.bio, "profile_image_url": u.imageURL}
		}
		if got, _ := me["profile"].(map[string]any); !reflect.DeepEqual(got, wantProfile) {
			t.Errorf("%s: profile %v; want %v", u.email, me["profile"], wantProfile)
		}
		if !slices.Equal(links, u.wantLinks) {
			t.Errorf("%s: linked ids %v; want %v", u.email, links, u.wantLinks)
		}
		var doc struct {
			PasswordHash string `bson:"password_hash"`
		}
		lanyardtest.RawDoc(t, env.DB, "users", bson.D{{Key: "email", Value: strings.ToLower(u.email)}}, &doc)
		if !strings.HasPrefix(doc.PasswordHash, "$argon2id$") {
			t.Errorf("%s: after the first login the hash starts %.10q; want it re-hashed to argon2id", u.email, doc.PasswordHash)
		}
		// Found by its external ids too, through the resolve path.
		summary = append(summary, strings.ToLower(u.email)+" "+strings.Join(links, ","))
	}
	slices.Sort(summary)
	return summary
}

func TestImport_BothFastAPIAppsLogInWithTheirOldPasswordsAndARerunImportsNothing(t *testing.T) {
	t.Parallel()
	dataKey := base64.StdEncoding.EncodeToString(randomBytes(32))
	env := lanyardtest.New(t, lanyardtest.WithEnv("LANYARD_DATA_KEY", dataKey))
	s := buildSources(t, env.DB.Client())
	before := snapshot(t, s)
	r := newImportRun(t, env, dataKey, s)

	stderr, reps := r.both()
	if !strings.Contains(stderr, "import: users: 4 of 4 read") || !strings.Contains(stderr, "import: identities: 4 of 4 read") {
		t.Errorf("stderr shows no progress:\n%s", stderr)
	}
	if got := skipsOf(reps); !reflect.DeepEqual(got, s.wantSkips) {
		t.Errorf("skips:\n got %+v\nwant %+v", got, s.wantSkips)
	}
	if imp, _ := sumUsers(reps); imp != 6 {
		t.Errorf("users imported: %d; want 6", imp)
	}
	if imp, _ := sumLinks(reps); imp != 4 {
		t.Errorf("linked ids imported: %d; want 4", imp)
	}
	for _, secret := range []string{"@example", "$2", "S-100", "4242"} {
		b, _ := json.Marshal(reps)
		if strings.Contains(string(b), secret) || strings.Contains(stderr, secret) {
			t.Errorf("report or progress holds %q (an email, hash or external id)", secret)
		}
	}

	// A second run imports nothing and reports the same skips.
	_, again := r.both()
	if imp, already := sumUsers(again); imp != 0 || already != 6 {
		t.Errorf("second run: users imported %d, already imported %d; want 0, 6", imp, already)
	}
	if imp, already := sumLinks(again); imp != 0 || already != 4 {
		t.Errorf("second run: linked ids imported %d, already imported %d; want 0, 4", imp, already)
	}
	if got := skipsOf(again); !reflect.DeepEqual(got, s.wantSkips) {
		t.Errorf("second run's skips:\n got %+v\nwant %+v", got, s.wantSkips)
	}
	if n := lanyardtest.RawCount(t, env.DB, "users", nil); n != 6 {
		t.Errorf("%d accounts after two runs; want 6", n)
	}

	checkAccounts(t, env, s)
	// The resolve endpoint finds the first holder of a contested external id.
	admin := env.Register("admin")
	env.Promote(admin)
	env.Login(&admin)
	res := env.Do("GET", "/api/linked-ids/resolve?provider=github&external_id=4242", nil, "Bearer", admin.Access).Must(t, http.StatusOK).Map(t)
	var ali struct {
		ID bson.ObjectID `bson:"_id"`
	}
	lanyardtest.RawDoc(t, env.DB, "users", bson.D{{Key: "email", Value: "ali@example.org"}}, &ali)
	if res["user_id"] != ali.ID.Hex() {
		t.Errorf("resolve github:4242 = %v; want ali's id %s", res, ali.ID.Hex())
	}
	if after := snapshot(t, s); !reflect.DeepEqual(after, before) {
		t.Errorf("the import changed the applications' documents")
	}
}

// TestImport_KilledPartWayAndRestartedEndsAsAnUninterruptedRun kills a real `lanyard
// import` process with SIGKILL while it is stopped (LANYARD_TEST_IMPORT_PAUSE_AFTER)
// after writing a user's account and before recording it done, runs it again, and
// compares the outcome with an uninterrupted import of the same records. (Every other
// step a crash may follow is TestRun_StoppedAfterAnyStep….)
func TestImport_KilledPartWayAndRestartedEndsAsAnUninterruptedRun(t *testing.T) {
	t.Parallel()
	dataKey := base64.StdEncoding.EncodeToString(randomBytes(32))

	whole := lanyardtest.New(t, lanyardtest.WithEnv("LANYARD_DATA_KEY", dataKey))
	s := buildSources(t, whole.DB.Client())
	_, wholeReps := newImportRun(t, whole, dataKey, s).both()

	for _, tc := range []struct{ name, app, n string }{
		{"app 1's second user", "app1", "2"},
		{"app 2's first user", "app2", "1"},
	} {
		t.Run("killed after writing "+tc.name, func(t *testing.T) {
			env := lanyardtest.New(t, lanyardtest.WithEnv("LANYARD_DATA_KEY", dataKey))
			r := newImportRun(t, env, dataKey, s)
			app, n := tc.app, tc.n
			if app == "app2" {
				r.lanyard("app1", nil)
			}
			cmd := r.command(app, map[string]string{"LANYARD_TEST_IMPORT_PAUSE_AFTER": n})
			stderr := &syncBuffer{}
			cmd.Stderr = stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(60 * time.Second)
			for !strings.Contains(stderr.String(), "import paused") {
				if time.Now().After(deadline) {
					_ = cmd.Process.Kill()
					t.Fatalf("the import never paused; stderr:\n%s", stderr.String())
				}
				time.Sleep(20 * time.Millisecond)
			}
			if err := cmd.Process.Kill(); err != nil { // SIGKILL
				t.Fatal(err)
			}
			_ = cmd.Wait()
			if ws := cmd.ProcessState.String(); !strings.Contains(ws, "killed") {
				t.Fatalf("import process ended %q; want killed", ws)
			}

			// Restarted: the rest of that application, then the other one as before.
			r.lanyard(app, nil)
			if app == "app1" {
				r.lanyard("app2", nil)
			}
			reps := []Report{r.report("app1"), r.report("app2")}
			if got, want := skipsOf(reps), skipsOf(wholeReps); !reflect.DeepEqual(got, want) {
				t.Errorf("skips after the restart:\n got %+v\nwant %+v", got, want)
			}
			// Every user is imported once: by the killed run (written or not) or the restart.
			if n := lanyardtest.RawCount(t, env.DB, "users", nil); n != 6 {
				t.Errorf("%d accounts; want 6", n)
			}
			if got, want := checkAccounts(t, env, s), checkAccounts(t, whole, s); !slices.Equal(got, want) {
				t.Errorf("accounts after the restart:\n got %v\nwant %v", got, want)
			}
		})
	}
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// syncBuffer is an io.Writer safe to read while a process writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// The lanyard binary, built once from this tree for the tests that run the command.
var built struct {
	once     sync.Once
	dir, bin string
	err      error
}

func lanyardBin(t *testing.T) string {
	t.Helper()
	built.once.Do(func() {
		if built.dir, built.err = os.MkdirTemp("", "lanyard-import-test-"); built.err != nil {
			return
		}
		built.bin = filepath.Join(built.dir, "lanyard")
		goCmd := filepath.Join(runtime.GOROOT(), "bin", "go")
		if out, err := exec.Command(goCmd, "build", "-o", built.bin, "../../cmd/lanyard").CombinedOutput(); err != nil {
			built.err = fmt.Errorf("go build ../../cmd/lanyard: %v\n%s", err, out)
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.bin
}
