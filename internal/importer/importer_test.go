package importer

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"golang.org/x/crypto/bcrypt"

	"github.com/lanyard/lanyard"
	"github.com/lanyard/lanyard/internal/lanyardtest"
	"github.com/lanyard/lanyard/internal/linkid"
	"github.com/lanyard/lanyard/internal/method"
	"github.com/lanyard/lanyard/internal/password"
	"github.com/lanyard/lanyard/internal/profile"
	"github.com/lanyard/lanyard/internal/store"
)

type fixture struct {
	st    *store.Store
	src   *mongo.Database
	keys  *linkid.Keys
	links *linkid.Service
	clock *lanyardtest.Clock
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	st := lanyardtest.OpenStore(t)
	b := make([]byte, 8)
	rand.Read(b)
	src := st.Raw().Client().Database("src_" + hex.EncodeToString(b))
	t.Cleanup(func() { _ = src.Drop(context.Background()) })
	key := make([]byte, 32)
	rand.Read(key)
	keys, err := linkid.NewKeys(key)
	if err != nil {
		t.Fatal(err)
	}
	clock := lanyardtest.NewClock()
	return &fixture{st: st, src: src, keys: keys, links: linkid.New(st, keys, clock.Now), clock: clock}
}

func (f *fixture) insert(t *testing.T, coll string, docs ...bson.D) {
	t.Helper()
	anys := make([]any, len(docs))
	for i := range docs {
		anys[i] = docs[i]
	}
	if _, err := f.src.Collection(coll).InsertMany(context.Background(), anys); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) run(t *testing.T, m string, mutate ...func(*Options)) (*Report, error) {
	t.Helper()
	mp, err := ParseMap([]byte(m))
	if err != nil {
		t.Fatal(err)
	}
	o := Options{Source: f.src, Store: f.st, Links: f.links, Map: mp, Now: f.clock.Now}
	for _, fn := range mutate {
		fn(&o)
	}
	return Run(context.Background(), o)
}

func cheapBcrypt(t *testing.T, pw string) []byte {
	b, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const simpleMap = `users: {collection: users, email: email, username: username, password_hash: password,
  fields: {first_name: first, birthday: born, contact: phone}, created_at: joined}
linked_ids:
  - {collection: links, user_field: user_id, provider: legacy, external_id: value}
`

// seedMany writes n users, each with one link, and a few records that are skipped.
func (f *fixture) seedMany(t *testing.T, n int) {
	t.Helper()
	var users, links []bson.D
	hash := cheapBcrypt(t, "old password")
	for i := range n {
		id := bson.NewObjectID()
		users = append(users, bson.D{{Key: "_id", Value: id}, {Key: "email", Value: "user" + string(rune('a'+i)) + "@example.com"},
			{Key: "username", Value: "user_" + string(rune('a'+i))}, {Key: "password", Value: hash}})
		ext := "ext-" + string(rune('a'+i))
		if i == n-1 {
			ext = "ext-a" // held by the first user already
		}
		links = append(links, bson.D{{Key: "_id", Value: "l" + string(rune('a'+i))}, {Key: "user_id", Value: id}, {Key: "value", Value: ext}})
	}
	users = append(users,
		bson.D{{Key: "_id", Value: bson.NewObjectID()}, {Key: "email", Value: "USERA@example.com"}, {Key: "password", Value: hash}},
		bson.D{{Key: "_id", Value: bson.NewObjectID()}, {Key: "email", Value: "other@example.com"}, {Key: "username", Value: "USER_A"}, {Key: "password", Value: hash}},
	)
	f.insert(t, "users", users...)
	f.insert(t, "links", links...)
}

type accountState struct {
	ID, Email, Username, Hash string
	Links                     []string
}

// state is every account as stored, with its links opened, in id order.
func (f *fixture) state(t *testing.T) []accountState {
	t.Helper()
	us, err := f.st.Users(context.Background(), store.UserQuery{})
	if err != nil {
		t.Fatal(err)
	}
	var out []accountState
	for _, u := range us {
		ls, err := f.links.List(context.Background(), u)
		if err != nil {
			t.Fatal(err)
		}
		var links []string
		for _, l := range ls {
			links = append(links, l.Provider+":"+l.ExternalID)
		}
		slices.Sort(links)
		out = append(out, accountState{ID: u.ID.Hex(), Email: u.Email, Username: u.Username, Hash: u.PasswordHash, Links: links})
	}
	return out
}

func TestRun_StoppedAfterAnyStepAndRunAgainEndsAsOneUninterruptedRun(t *testing.T) {
	t.Parallel()
	whole := newFixture(t)
	whole.seedMany(t, 4)
	wholeRep, err := whole.run(t, simpleMap)
	if err != nil {
		t.Fatal(err)
	}
	want := whole.state(t)
	if len(want) != 4 || wholeRep.Users.Imported != 4 || wholeRep.LinkedIDs.Imported != 3 {
		t.Fatalf("uninterrupted run: %d accounts, report %+v; want 4 accounts, 4 users and 3 links imported", len(want), wholeRep)
	}
	crash := errors.New("crash")
	type stop struct {
		step Step
		n    int
	}
	var stops []stop
	for n := 1; n <= 4; n++ { // the importable users
		stops = append(stops, stop{UserRecorded, n}, stop{UserWritten, n})
	}
	for n := 1; n <= 3; n++ { // the importable links
		stops = append(stops, stop{LinkWritten, n})
	}
	for _, at := range stops {
		t.Run(fmt.Sprintf("%s %d", at.step, at.n), func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			f.src = whole.src // the same records
			if _, err := f.run(t, simpleMap, func(o *Options) {
				o.AfterStep = func(s Step, n int) error {
					if s == at.step && n == at.n {
						return crash
					}
					return nil
				}
			}); !errors.Is(err, crash) {
				t.Fatalf("run stopped after %s %d: %v; want the crash", at.step, at.n, err)
			}
			rep, err := f.run(t, simpleMap)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(rep.Skipped, wholeRep.Skipped) {
				t.Errorf("skips after the restart:\n got %+v\nwant %+v", rep.Skipped, wholeRep.Skipped)
			}
			if got := rep.Users.Imported + rep.Users.AlreadyImported; got != 4 {
				t.Errorf("restart: %d users imported or already imported; want 4", got)
			}
			if got := f.state(t); !reflect.DeepEqual(got, want) {
				t.Errorf("accounts after the restart:\n got %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestRun_DryRunWritesNothingAndReportsWhatARunWould(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.seedMany(t, 3)
	dry, err := f.run(t, simpleMap, func(o *Options) { o.DryRun = true })
	if err != nil {
		t.Fatal(err)
	}
	for _, coll := range []string{"users", "user_keys", "linked_ids", "linked_id_keys", "imports"} {
		if n := lanyardtest.RawCount(t, f.st.Raw(), coll, nil); n != 0 {
			t.Errorf("dry run wrote %d documents to %s; want none", n, coll)
		}
	}
	real, err := f.run(t, simpleMap)
	if err != nil {
		t.Fatal(err)
	}
	if !dry.DryRun || real.DryRun {
		t.Errorf("dry_run: %v, %v; want true, false", dry.DryRun, real.DryRun)
	}
	dry.DryRun = false
	if !reflect.DeepEqual(dry, real) {
		t.Errorf("dry run reported\n%+v\nthe run\n%+v", dry, real)
	}
}

func TestRun_SkipsEachRecordForItsReasonAndDropsOnlyABadField(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	hash := cheapBcrypt(t, "pw")
	ids := make([]bson.ObjectID, 8)
	for i := range ids {
		ids[i] = bson.NewObjectID()
	}
	f.insert(t, "users",
		bson.D{{Key: "_id", Value: ids[0]}, {Key: "email", Value: "ok@example.com"}, {Key: "username", Value: "okay"}, {Key: "password", Value: hash},
			{Key: "first", Value: "Ada"}, {Key: "born", Value: "31/12/1990"}, {Key: "phone", Value: "+44 20 7946 0958"}},
		bson.D{{Key: "_id", Value: ids[1]}, {Key: "email", Value: "no at sign"}, {Key: "password", Value: hash}},
		bson.D{{Key: "_id", Value: ids[2]}, {Key: "email", Value: "name@example.com"}, {Key: "username", Value: "x"}, {Key: "password", Value: hash}},
		bson.D{{Key: "_id", Value: ids[3]}, {Key: "email", Value: "nohash@example.com"}},
		bson.D{{Key: "_id", Value: ids[4]}, {Key: "email", Value: "md5@example.com"}, {Key: "password", Value: "$1$saltsalt$hash"}},
		bson.D{{Key: "_id", Value: ids[5]}, {Key: "email", Value: "costly@example.com"}, {Key: "password", Value: "$pbkdf2-sha256$99000000$N2YMIWQsBWBMae09x1jrPQ$1t8iyB2A.WF/Z5JZv.lfCIhXXN33N23OSgQYThBYRfk"}},
		bson.D{{Key: "_id", Value: ids[6]}, {Key: "email", Value: "Other@example.com"}, {Key: "username", Value: "OKAY"}, {Key: "password", Value: hash}},
	)
	f.insert(t, "links",
		bson.D{{Key: "_id", Value: 1}, {Key: "user_id", Value: ids[0]}, {Key: "value", Value: "  "}},
		bson.D{{Key: "_id", Value: 2}, {Key: "user_id", Value: ids[7]}, {Key: "value", Value: "v"}},
		bson.D{{Key: "_id", Value: 3}, {Key: "user_id", Value: ids[0].Hex()}, {Key: "value", Value: int64(7)}},
	)
	rep, err := f.run(t, simpleMap)
	if err != nil {
		t.Fatal(err)
	}
	want := []Skip{
		{"users", ids[1].Hex(), InvalidEmail},
		{"users", ids[2].Hex(), InvalidUsername},
		{"users", ids[3].Hex(), NoPasswordHash},
		{"users", ids[4].Hex(), UnknownHashFormat},
		{"users", ids[5].Hex(), UnknownHashFormat},
		{"users", ids[6].Hex(), DuplicateUsername},
		{"links", "1", InvalidExternalID},
		{"links", "2", UserNotImported},
	}
	if !reflect.DeepEqual(rep.Skipped, want) {
		t.Errorf("skips:\n got %+v\nwant %+v", rep.Skipped, want)
	}
	if len(rep.Dropped) != 1 || rep.Dropped[0].Field != "birthday" || rep.Dropped[0].SourceID != ids[0].Hex() {
		t.Errorf("dropped fields %+v; want only the birthday of %s", rep.Dropped, ids[0].Hex())
	}
	u, err := f.st.UserByEmail(context.Background(), "ok@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if u.ID != lanyard.ID(ids[0]) || u.FirstName != "Ada" || u.Birthday != "" || u.Contact != "+442079460958" || u.Username != "okay" {
		t.Errorf("imported account %+v; want the source's id, first name and contact, no birthday", u)
	}
	if !u.CreatedAt.Equal(ids[0].Timestamp()) {
		t.Errorf("created_at %v; want the ObjectId's time %v", u.CreatedAt, ids[0].Timestamp())
	}
	ls, err := f.links.List(context.Background(), u)
	if err != nil || len(ls) != 1 || ls[0].ExternalID != "7" || ls[0].Provider != "legacy" {
		t.Errorf("links %+v, %v; want legacy:7, found through the id's hex spelling", ls, err)
	}
}

func TestRun_CreatedAtFromTheSourceFieldElseTheObjectIDElseNow(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	hash := cheapBcrypt(t, "pw")
	oid := bson.NewObjectID()
	joined := time.Date(2019, 5, 6, 7, 8, 9, 0, time.UTC)
	f.insert(t, "users",
		bson.D{{Key: "_id", Value: "a"}, {Key: "email", Value: "a@example.com"}, {Key: "password", Value: hash}, {Key: "joined", Value: joined}},
		bson.D{{Key: "_id", Value: "b"}, {Key: "email", Value: "b@example.com"}, {Key: "password", Value: hash}, {Key: "joined", Value: "2018-01-02T03:04:05Z"}},
		bson.D{{Key: "_id", Value: oid}, {Key: "email", Value: "c@example.com"}, {Key: "password", Value: hash}},
		bson.D{{Key: "_id", Value: "d"}, {Key: "email", Value: "d@example.com"}, {Key: "password", Value: hash}},
	)
	if _, err := f.run(t, simpleMap); err != nil {
		t.Fatal(err)
	}
	for email, want := range map[string]time.Time{
		"a@example.com": joined, "b@example.com": time.Date(2018, 1, 2, 3, 4, 5, 0, time.UTC),
		"c@example.com": oid.Timestamp(), "d@example.com": f.clock.Now(),
	} {
		u, err := f.st.UserByEmail(context.Background(), email)
		if err != nil {
			t.Fatal(err)
		}
		if !u.CreatedAt.Equal(want) {
			t.Errorf("%s: created_at %v; want %v", email, u.CreatedAt, want)
		}
	}
}

func TestRun_ResumesALinkWhoseKeyWasClaimedButNeverStored(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	id := bson.NewObjectID()
	f.insert(t, "users", bson.D{{Key: "_id", Value: id}, {Key: "email", Value: "a@example.com"}, {Key: "password", Value: cheapBcrypt(t, "pw")}})
	if _, err := f.run(t, `users: {collection: users, email: email, password_hash: password}`); err != nil {
		t.Fatal(err)
	}
	// What a crash inside LinkID leaves: the link's id in the user's list and its key,
	// but no link. A registration's key is held for a minute (keyGrace); the import's
	// own is taken over at once.
	linkID := bson.NewObjectID()
	if _, err := f.st.Raw().Collection("users").UpdateOne(context.Background(), bson.D{{Key: "_id", Value: id}},
		bson.D{{Key: "$push", Value: bson.D{{Key: "linked", Value: linkID}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.Raw().Collection("linked_id_keys").InsertOne(context.Background(), bson.D{
		{Key: "_id", Value: f.keys.Lookup("legacy", "S-1")}, {Key: "user_id", Value: id}, {Key: "linked_id", Value: linkID}, {Key: "created_at", Value: f.clock.Now()},
	}); err != nil {
		t.Fatal(err)
	}
	f.insert(t, "links", bson.D{{Key: "_id", Value: "l1"}, {Key: "user_id", Value: id}, {Key: "value", Value: "S-1"}})
	rep, err := f.run(t, simpleMap)
	if err != nil {
		t.Fatal(err)
	}
	if rep.LinkedIDs.Imported != 1 || len(rep.Skipped) != 0 {
		t.Fatalf("report %+v; want the link imported", rep)
	}
	if got := f.state(t); len(got) != 1 || !slices.Equal(got[0].Links, []string{"legacy:S-1"}) {
		t.Errorf("accounts %+v; want one with legacy:S-1", got)
	}
}

// TestRun_AccountsOfEveryHashFormatProveTheirOldPassword imports one account per
// hash format of internal/password's reference vectors and proves each through the
// password method, which replaces its hash with argon2id.
func TestRun_AccountsOfEveryHashFormatProveTheirOldPassword(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../password/testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var vs []struct{ Format, Password, Hash string }
	if err := json.Unmarshal(b, &vs); err != nil {
		t.Fatal(err)
	}
	f := newFixture(t)
	seen := map[string]bool{}
	var docs []bson.D
	var users []struct{ email, password string }
	for i, v := range vs {
		if seen[v.Format] {
			continue
		}
		seen[v.Format] = true
		email := "f" + string(rune('a'+i)) + "@example.com"
		docs = append(docs, bson.D{{Key: "_id", Value: bson.NewObjectID()}, {Key: "email", Value: email}, {Key: "password", Value: v.Hash}})
		users = append(users, struct{ email, password string }{email, v.Password})
	}
	f.insert(t, "users", docs...)
	rep, err := f.run(t, `users: {collection: users, email: email, password_hash: password}`)
	if err != nil || rep.Users.Imported != len(users) || len(users) != 7 {
		t.Fatalf("import: %+v, %v; want all %d formats imported", rep, err, len(users))
	}
	pw := method.NewPassword(f.st, password.NewHasher(password.Options{Params: password.Cheap, MaxWait: time.Minute}), nil, f.clock.Now)
	for _, u := range users {
		p, err := pw.Prove(context.Background(), u.email, u.password, "192.0.2.1")
		if err != nil {
			t.Errorf("%s: Prove with the old password: %v", u.email, err)
			continue
		}
		if after, _ := f.st.UserByID(context.Background(), p.User.ID); password.Check(after.PasswordHash) != nil || after.PasswordHash[:10] != "$argon2id$" {
			t.Errorf("%s: hash after the login is not argon2id", u.email)
		}
	}
}

func TestRun_CopiesProfileFieldsAndLeavesOutWhatTheSchemaRefuses(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	sch, err := profile.Parse([]byte(`{"type": "object", "additionalProperties": false, "properties": {
		"bio": {"type": "string", "maxLength": 20},
		"profile_image_url": {"type": "string", "format": "uri"},
		"age": {"type": "integer"},
		"joined": {"type": "string", "format": "date"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	hash := cheapBcrypt(t, "pw")
	f.insert(t, "users",
		bson.D{{Key: "_id", Value: "a"}, {Key: "email", Value: "a@example.com"}, {Key: "password", Value: hash},
			{Key: "bio", Value: "Writes Go."}, {Key: "profile_image_url", Value: "https://img.example.org/a.png"},
			{Key: "extra", Value: bson.D{{Key: "age", Value: int32(41)}}}},
		bson.D{{Key: "_id", Value: "b"}, {Key: "email", Value: "b@example.com"}, {Key: "password", Value: hash},
			{Key: "bio", Value: "far too long for the schema's twenty"}, {Key: "profile_image_url", Value: "not a uri"}},
		bson.D{{Key: "_id", Value: "c"}, {Key: "email", Value: "c@example.com"}, {Key: "password", Value: hash}},
	)
	mp := `users: {collection: users, email: email, password_hash: password, profile: [bio, profile_image_url, extra.age]}`
	rep, err := f.run(t, mp, func(o *Options) { o.ProfileSchema = sch })
	if err != nil || rep.Users.Imported != 3 {
		t.Fatalf("import: %+v, %v; want 3 users imported", rep, err)
	}
	want := map[string]map[string]any{
		"a@example.com": {"bio": "Writes Go.", "profile_image_url": "https://img.example.org/a.png", "age": json.Number("41")},
		"b@example.com": nil,
		"c@example.com": nil,
	}
	for email, w := range want {
		u, err := f.st.UserByEmail(context.Background(), email)
		if err != nil {
			t.Fatal(err)
		}
		if len(u.Profile) != len(w) || (len(w) > 0 && !reflect.DeepEqual(u.Profile, w)) {
			t.Errorf("%s: profile %#v; want %#v", email, u.Profile, w)
		}
	}
	var dropped []string
	for _, d := range rep.Dropped {
		dropped = append(dropped, d.SourceID+" "+d.Field)
	}
	slices.Sort(dropped)
	if w := []string{"b profile.bio", "b profile.profile_image_url"}; !slices.Equal(dropped, w) {
		t.Errorf("dropped %v; want %v", dropped, w)
	}
}
