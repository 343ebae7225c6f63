package httpapi_test

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/lanyard/lanyard"
	"github.com/lanyard/lanyard/internal/lanyardtest"
	"github.com/lanyard/lanyard/internal/linkid"
	"github.com/lanyard/lanyard/internal/store"
)

// postsAndComments declares posts by their author and comments on posts.
const postsAndComments = `relations:
  - {name: posts, collection: posts, parent: users, field: author_id, on_delete: cascade}
  - {name: comments, collection: comments, parent: posts, field: post_id}
`

// oid parses a hex id from a response.
func oid(t *testing.T, hex string) bson.ObjectID {
	t.Helper()
	id, err := bson.ObjectIDFromHex(hex)
	if err != nil {
		t.Fatalf("id %q: %v", hex, err)
	}
	return id
}

// insertDocs stores n documents in coll, oldest first, each with a fresh _id followed
// by mk(i)'s fields, and returns their ids in insertion (= age) order.
func insertDocs(t *testing.T, env *lanyardtest.Env, coll string, n int, mk func(i int) bson.D) []bson.ObjectID {
	t.Helper()
	ids := make([]bson.ObjectID, n)
	docs := make([]any, n)
	for i := range n {
		ids[i] = bson.NewObjectID()
		docs[i] = append(bson.D{{Key: "_id", Value: ids[i]}}, mk(i)...)
	}
	if n == 0 {
		return ids
	}
	if _, err := env.DB.Collection(coll).InsertMany(t.Context(), docs); err != nil {
		t.Fatalf("insert into %s: %v", coll, err)
	}
	return ids
}

// newAdmin registers an account and promotes it.
func newAdmin(t *testing.T, env *lanyardtest.Env) lanyardtest.Account {
	t.Helper()
	a := env.Register("root")
	env.Promote(a)
	return a
}

// expanded is a user as the API renders it, with expand.
type expanded struct {
	ID        string                      `json:"id"`
	Expand    map[string][]map[string]any `json:"expand"`
	Truncated []string                    `json:"expand_truncated"`
}

// docID is the hex _id of a declared document rendered as relaxed Extended JSON.
func docID(t *testing.T, d map[string]any) string {
	t.Helper()
	id, ok := d["_id"].(map[string]any)
	if !ok {
		t.Fatalf("document %v has no {\"$oid\": ...} _id", d)
	}
	hex, _ := id["$oid"].(string)
	return hex
}

// docIDs lists the _ids of declared documents.
func docIDs(t *testing.T, docs []map[string]any) []string {
	t.Helper()
	out := make([]string, len(docs))
	for i, d := range docs {
		out[i] = docID(t, d)
	}
	return out
}

// newestFirst lists ids as hex, the last inserted first.
func newestFirst(ids ...bson.ObjectID) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[len(ids)-1-i] = id.Hex()
	}
	return out
}

// children decodes the expand of a declared document.
func children(t *testing.T, d map[string]any, rel string) []map[string]any {
	t.Helper()
	exp, ok := d["expand"].(map[string]any)
	if !ok {
		t.Fatalf("document %s has no expand object: %v", docID(t, d), d)
	}
	arr, ok := exp[rel].([]any)
	if !ok {
		t.Fatalf("document %s: expand.%s = %v; want an array", docID(t, d), rel, exp[rel])
	}
	out := make([]map[string]any, len(arr))
	for i, v := range arr {
		out[i], _ = v.(map[string]any)
	}
	return out
}

func TestExpand_LinkedIDsAndNestedPostsWithComments(t *testing.T) {
	t.Parallel()
	env := newEnv(t, lanyardtest.WithRelations(t, postsAndComments))
	ada, bob := env.Register("ada"), env.Register("bob")
	link(env, ada, "Google", " g-1 ").Must(t, http.StatusCreated)
	link(env, ada, "student", "S-42").Must(t, http.StatusCreated)
	link(env, bob, "google", "g-2").Must(t, http.StatusCreated)

	at := time.Date(2026, 11, 22, 10, 4, 5, 123_000_000, time.UTC)
	posts := insertDocs(t, env, "posts", 2, func(i int) bson.D {
		return bson.D{{Key: "author_id", Value: oid(t, ada.ID)}, {Key: "title", Value: fmt.Sprint("ada ", i)}, {Key: "at", Value: at}}
	})
	bobsPost := insertDocs(t, env, "posts", 1, func(int) bson.D {
		return bson.D{{Key: "author_id", Value: oid(t, bob.ID)}, {Key: "title", Value: "bob"}}
	})[0]
	comments := insertDocs(t, env, "comments", 4, func(i int) bson.D {
		on := []bson.ObjectID{posts[0], posts[1], posts[0], bobsPost}[i]
		return bson.D{{Key: "post_id", Value: on}, {Key: "text", Value: fmt.Sprint("c", i)}}
	})

	for _, path := range []string{"/api/users/me", "/api/users/" + ada.ID} {
		req := "GET " + path + "?expand=linked_ids,posts.comments"
		r := env.Do("GET", path+"?expand=linked_ids,posts.comments", nil, "Bearer", ada.Access)
		expect(t, r, req, http.StatusOK)
		var u expanded
		r.JSON(t, &u)
		if u.ID != ada.ID {
			t.Fatalf("%s: id = %q; want %q", req, u.ID, ada.ID)
		}
		if m := r.Map(t); m["expand_truncated"] != nil {
			t.Errorf("%s: expand_truncated = %v; want it absent", req, m["expand_truncated"])
		}
		if len(u.Expand) != 2 {
			t.Errorf("%s: expand has %d relations; want linked_ids and posts: %s", req, len(u.Expand), r.Body)
		}

		links := u.Expand["linked_ids"]
		if len(links) != 2 || links[0]["provider"] != "student" || links[0]["external_id"] != "S-42" ||
			links[1]["provider"] != "google" || links[1]["external_id"] != "g-1" {
			t.Errorf("%s: linked_ids = %v; want student S-42 then google g-1, decrypted, newest first", req, links)
		}
		for _, l := range links {
			if len(l) != 5 || !hexIDRE.MatchString(fmt.Sprint(l["id"])) || !millisRE.MatchString(fmt.Sprint(l["created_at"])) || l["verified"] != false {
				t.Errorf("%s: linked id %v; want exactly id, provider, external_id, created_at, verified (false: typed in)", req, l)
			}
		}

		got := u.Expand["posts"]
		if ids := docIDs(t, got); !slices.Equal(ids, newestFirst(posts...)) {
			t.Fatalf("%s: posts = %v; want ada's %v, newest first, never bob's %s", req, ids, newestFirst(posts...), bobsPost.Hex())
		}
		if got[0]["title"] != "ada 1" || got[0]["author_id"].(map[string]any)["$oid"] != ada.ID ||
			got[0]["at"].(map[string]any)["$date"] != "2026-11-22T10:04:05.123Z" {
			t.Errorf("%s: post = %v; want its fields as relaxed Extended JSON", req, got[0])
		}
		if ids := docIDs(t, children(t, got[0], "comments")); !slices.Equal(ids, newestFirst(comments[1])) {
			t.Errorf("%s: comments of the newer post = %v; want [%s]", req, ids, comments[1].Hex())
		}
		if ids := docIDs(t, children(t, got[1], "comments")); !slices.Equal(ids, newestFirst(comments[0], comments[2])) {
			t.Errorf("%s: comments of the older post = %v; want %v (newest first)", req, ids, newestFirst(comments[0], comments[2]))
		}
		for _, p := range got {
			if _, ok := p["expand_truncated"]; ok {
				t.Errorf("%s: post %v has expand_truncated; want it absent", req, p)
			}
		}
	}

	// Without expand there is no expand member at all.
	if m := me(t, env, ada); m["expand"] != nil || m["expand_truncated"] != nil {
		t.Errorf("GET /api/users/me without expand = %v; want no expand members", m)
	}
	// An empty relation is an empty array, not an absent one.
	var u expanded
	env.Do("GET", "/api/users/me?expand=posts,audit_events", nil, "Bearer", bob.Access).Must(t, http.StatusOK).JSON(t, &u)
	if p, ok := u.Expand["posts"]; !ok || len(p) != 1 || docID(t, p[0]) != bobsPost.Hex() {
		t.Errorf("bob's expand.posts = %v; want only his post", u.Expand["posts"])
	}
}

func TestExpand_SessionsMarkExactlyTheCallersSessionCurrent(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	a := env.Register("ada")
	env.Login(&a)
	env.Login(&a) // three sessions; a holds the last one's tokens
	current, _, _ := strings.Cut(a.Refresh, ".")

	r := env.Do("GET", "/api/users/me?expand=sessions", nil, "Bearer", a.Access)
	expect(t, r, "GET /api/users/me?expand=sessions", http.StatusOK)
	var u expanded
	r.JSON(t, &u)
	sessions := u.Expand["sessions"]
	if len(sessions) != 3 {
		t.Fatalf("expand.sessions has %d sessions; want 3: %s", len(sessions), r.Body)
	}
	var currents []any
	for _, s := range sessions {
		if s["current"] == true {
			currents = append(currents, s["id"])
		}
		want := []string{"created_at", "current", "expires_at", "id", "ip", "last_used_at", "user_agent"}
		if keys := slices.Sorted(maps.Keys(s)); !slices.Equal(keys, want) {
			t.Errorf("session has fields %v; want exactly %v", keys, want)
		}
		for _, k := range []string{"created_at", "last_used_at", "expires_at"} {
			if !millisRE.MatchString(fmt.Sprint(s[k])) {
				t.Errorf("session %s = %v; want RFC 3339 UTC with milliseconds", k, s[k])
			}
		}
	}
	if len(currents) != 1 || currents[0] != current {
		t.Errorf("current sessions = %v; want exactly [%s]", currents, current)
	}
	for _, secret := range []string{"hash", "secret", strings.SplitN(a.Refresh, ".", 2)[1]} {
		if strings.Contains(string(r.Body), secret) {
			t.Errorf("GET /api/users/me?expand=sessions: body contains %q: %s", secret, r.Body)
		}
	}
}

func TestExpand_AuditEventsShowALink(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	a := env.Register("ada")
	l := link(env, a, "google", "secret-sub-1").Must(t, http.StatusCreated).Map(t)

	r := env.Do("GET", "/api/users/me?expand=audit_events", nil, "Bearer", a.Access)
	expect(t, r, "GET /api/users/me?expand=audit_events", http.StatusOK)
	var u expanded
	r.JSON(t, &u)
	events := u.Expand["audit_events"]
	if len(events) != 1 {
		t.Fatalf("expand.audit_events = %v; want the one link event", events)
	}
	e := events[0]
	detail, _ := e["detail"].(map[string]any)
	if e["type"] != "linked_id.linked" || !hexIDRE.MatchString(fmt.Sprint(e["id"])) || !millisRE.MatchString(fmt.Sprint(e["at"])) ||
		detail["linked_id"] != l["id"] || detail["provider"] != "google" {
		t.Errorf("audit event = %v; want linked_id.linked naming link %v", e, l["id"])
	}
	if keys := slices.Sorted(maps.Keys(e)); !slices.Equal(keys, []string{"at", "detail", "id", "ip", "type"}) {
		t.Errorf("audit event has fields %v; want id, type, at, ip, detail", keys)
	}
	if strings.Contains(string(r.Body), "secret-sub-1") {
		t.Errorf("audit events show the external id: %s", r.Body)
	}
}

func TestExpand_At100ChildrenPerParentNamesTheRelationTruncated(t *testing.T) {
	t.Parallel()
	env := newEnv(t, lanyardtest.WithRelations(t, postsAndComments))
	a := env.Register("ada")
	author := oid(t, a.ID)
	posts := insertDocs(t, env, "posts", 101, func(int) bson.D { return bson.D{{Key: "author_id", Value: author}} })

	t.Run("posts", func(t *testing.T) {
		var u expanded
		env.Do("GET", "/api/users/me?expand=posts", nil, "Bearer", a.Access).Must(t, http.StatusOK).JSON(t, &u)
		got := docIDs(t, u.Expand["posts"])
		if want := newestFirst(posts...)[:100]; !slices.Equal(got, want) {
			t.Errorf("expand.posts has %d posts; want the newest 100, newest first", len(got))
		}
		if !slices.Equal(u.Truncated, []string{"posts"}) {
			t.Errorf("expand_truncated = %v; want [posts]", u.Truncated)
		}
	})

	t.Run("comments at depth 2", func(t *testing.T) {
		// The newest post gets 101 comments, the one before it 3.
		busy, quiet := posts[100], posts[99]
		comments := insertDocs(t, env, "comments", 104, func(i int) bson.D {
			on := busy
			if i >= 101 {
				on = quiet
			}
			return bson.D{{Key: "post_id", Value: on}}
		})
		var u expanded
		env.Do("GET", "/api/users/me?expand=posts.comments", nil, "Bearer", a.Access).Must(t, http.StatusOK).JSON(t, &u)
		got := u.Expand["posts"]
		if len(got) != 100 || docID(t, got[0]) != busy.Hex() || docID(t, got[1]) != quiet.Hex() {
			t.Fatalf("expand.posts = %d posts starting %v; want 100 starting with the two commented ones", len(got), docIDs(t, got[:2]))
		}
		if ids := docIDs(t, children(t, got[0], "comments")); !slices.Equal(ids, newestFirst(comments[:101]...)[:100]) {
			t.Errorf("busy post shows %d comments; want its newest 100, newest first", len(ids))
		}
		if tr := got[0]["expand_truncated"]; fmt.Sprint(tr) != "[comments]" {
			t.Errorf("busy post expand_truncated = %v; want [comments]", tr)
		}
		if ids := docIDs(t, children(t, got[1], "comments")); !slices.Equal(ids, newestFirst(comments[101:]...)) {
			t.Errorf("quiet post comments = %v; want its 3", ids)
		}
		if tr, ok := got[1]["expand_truncated"]; ok {
			t.Errorf("quiet post expand_truncated = %v; want it absent", tr)
		}
		if !slices.Equal(u.Truncated, []string{"posts"}) {
			t.Errorf("user expand_truncated = %v; want [posts]", u.Truncated)
		}
	})
}

func TestExpand_InvalidPathsAre422NamingTheValidRelations(t *testing.T) {
	t.Parallel()
	env := newEnv(t, lanyardtest.WithRelations(t, postsAndComments+
		"  - {name: likes, collection: likes, parent: comments, field: comment_id}\n"+
		"  - {name: flags, collection: flags, parent: likes, field: like_id}\n"))
	a := newAdmin(t, env)
	eleven := strings.TrimSuffix(strings.Repeat("linked_ids,", 11), ",")
	cases := []struct{ name, expand string }{
		{"unknown relation", "linked_ids,nope"},
		{"four levels", "posts.comments.likes.flags"},
		{"more than 10 paths", eleven},
		{"child at the top level", "comments"},
		{"below a built-in", "linked_ids.posts"},
		{"empty path", "posts,"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, path := range []string{"/api/users/me", "/api/users/" + a.ID, "/api/users"} {
				req := "GET " + path + "?expand=" + c.expand
				p := problem(t, env.Do("GET", path+"?expand="+url.QueryEscape(c.expand), nil, "Bearer", a.Access), req, http.StatusUnprocessableEntity)
				wantLocations(t, p, req, "query.expand")
				if msg := p.Errors[0].Message; !strings.Contains(msg, "linked_ids") || !strings.Contains(msg, "posts") {
					t.Errorf("%s: message %q; want it to name the valid relations", req, msg)
				}
			}
		})
	}
	// The deepest allowed path is fine.
	env.Do("GET", "/api/users/me?expand=posts.comments.likes", nil, "Bearer", a.Access).Must(t, http.StatusOK)
}

func TestExpand_StringIDFormatMatchesTheParentsHexID(t *testing.T) {
	t.Parallel()
	env := newEnv(t, lanyardtest.WithRelations(t, postsAndComments+
		"  - {name: notes, collection: notes, parent: users, field: owner, id_format: string}\n"+
		"  - {name: tags, collection: tags, parent: posts, field: post_ref, id_format: string}\n"))
	a, b := env.Register("ada"), env.Register("bob")
	notes := insertDocs(t, env, "notes", 3, func(i int) bson.D {
		owner := []string{a.ID, b.ID, a.ID}[i]
		return bson.D{{Key: "owner", Value: owner}}
	})
	post := insertDocs(t, env, "posts", 1, func(int) bson.D { return bson.D{{Key: "author_id", Value: oid(t, a.ID)}} })[0]
	tags := insertDocs(t, env, "tags", 2, func(i int) bson.D {
		ref := []any{post.Hex(), post}[i] // only the hex string is a string-format reference
		return bson.D{{Key: "post_ref", Value: ref}}
	})

	var u expanded
	env.Do("GET", "/api/users/me?expand=notes,posts.tags", nil, "Bearer", a.Access).Must(t, http.StatusOK).JSON(t, &u)
	if got := docIDs(t, u.Expand["notes"]); !slices.Equal(got, newestFirst(notes[0], notes[2])) {
		t.Errorf("expand.notes = %v; want ada's two notes %v", got, newestFirst(notes[0], notes[2]))
	}
	if len(u.Expand["posts"]) != 1 {
		t.Fatalf("expand.posts = %v; want ada's post", u.Expand["posts"])
	}
	if got := docIDs(t, children(t, u.Expand["posts"][0], "tags")); !slices.Equal(got, []string{tags[0].Hex()}) {
		t.Errorf("post's tags = %v; want the one referring to it by hex string, %s", got, tags[0].Hex())
	}
}

func TestExpand_DocumentsOwnExpandFieldGivesWayToTheExpansion(t *testing.T) {
	t.Parallel()
	env := newEnv(t, lanyardtest.WithRelations(t, postsAndComments))
	a := env.Register("ada")
	post := insertDocs(t, env, "posts", 1, func(int) bson.D {
		return bson.D{{Key: "author_id", Value: oid(t, a.ID)}, {Key: "expand", Value: "stored"}, {Key: "title", Value: "t"}}
	})[0]
	insertDocs(t, env, "comments", 1, func(int) bson.D { return bson.D{{Key: "post_id", Value: post}} })

	r := env.Do("GET", "/api/users/me?expand=posts.comments", nil, "Bearer", a.Access).Must(t, http.StatusOK)
	if n := strings.Count(string(r.Body), `"expand"`); n != 2 {
		t.Errorf("body has %d expand keys; want 2 (the user's and the post's, no duplicate): %s", n, r.Body)
	}
	var u expanded
	r.JSON(t, &u)
	if p := u.Expand["posts"]; len(p) != 1 || p[0]["title"] != "t" || len(children(t, p[0], "comments")) != 1 {
		t.Errorf("expand.posts = %v; want the post with its comment", p)
	}
	// Without a deeper path the document is shown as stored.
	env.Do("GET", "/api/users/me?expand=posts", nil, "Bearer", a.Access).Must(t, http.StatusOK).JSON(t, &u)
	if p := u.Expand["posts"]; len(p) != 1 || p[0]["expand"] != "stored" {
		t.Errorf("expand.posts = %v; want the post's own expand field", p)
	}
}

// insertUsers stores n users directly (no password hashing, no sessions) and returns
// them in id order.
func insertUsers(t *testing.T, env *lanyardtest.Env, n int) []lanyard.User {
	t.Helper()
	users := make([]lanyard.User, n)
	accounts := make([]store.Account, n)
	now := store.Millis(time.Now())
	for i := range n {
		users[i] = lanyard.User{
			ID: store.NewID(), Email: fmt.Sprintf("user%03d@example.com", i), PasswordHash: "-",
			Role: lanyard.RoleUser, Status: lanyard.StatusActive, CreatedAt: now, UpdatedAt: now,
		}
		accounts[i].User = users[i]
	}
	if err := env.App.Store.ImportAccounts(t.Context(), accounts, now); err != nil {
		t.Fatalf("insert users: %v", err)
	}
	return users
}

// linkIDs links external ids of provider to u: ids "<prefix>-0" ... "<prefix>-(n-1)".
func linkIDs(t *testing.T, env *lanyardtest.Env, u lanyard.User, provider, prefix string, n int) {
	t.Helper()
	for i := range n {
		if _, err := env.App.LinkIDs.Link(context.Background(), u, provider, fmt.Sprintf("%s-%d", prefix, i), "", linkid.Actor{}); err != nil {
			t.Fatalf("link %s to %s: %v", provider, u.Email, err)
		}
	}
}

// adminUser is the stored form of a registered account, as Link needs it.
func adminUser(t *testing.T, a lanyardtest.Account) lanyard.User {
	t.Helper()
	return lanyard.User{ID: lanyard.ID(oid(t, a.ID)), Email: a.Email, Status: lanyard.StatusActive}
}

func TestExpand_ListPageCostsOneQueryPerRelationWhateverItsSize(t *testing.T) {
	t.Parallel()
	for _, n := range []int{10, 100} {
		t.Run(fmt.Sprint(n, " users"), func(t *testing.T) {
			t.Parallel()
			env := newEnv(t)
			admin := newAdmin(t, env)
			users := append([]lanyard.User{adminUser(t, admin)}, insertUsers(t, env, n-1)...)
			for i, u := range users {
				linkIDs(t, env, u, "crm", fmt.Sprint("user", i), 1)
			}

			const req = "GET /api/users?limit=100&expand=linked_ids"
			// The first request meets the collections; the second is measured.
			env.Do("GET", "/api/users?limit=100&expand=linked_ids", nil, "Bearer", admin.Access).Must(t, http.StatusOK)
			c := measure(env)
			r := env.Do("GET", "/api/users?limit=100&expand=linked_ids", nil, "Bearer", admin.Access)
			expect(t, r, req, http.StatusOK)
			// auth, then the page and linked_ids: two queries.
			c.check(t, req, 2)
			var page struct {
				Items []expanded
				Next  *string
			}
			r.JSON(t, &page)
			if len(page.Items) != n || page.Next != nil {
				t.Fatalf("page has %d users, next %v; want all %d and no next", len(page.Items), page.Next, n)
			}
			for _, u := range page.Items {
				i := slices.IndexFunc(users, func(s lanyard.User) bool { return s.ID.Hex() == u.ID })
				if l := u.Expand["linked_ids"]; len(l) != 1 || l[0]["external_id"] != fmt.Sprint("user", i, "-0") {
					t.Errorf("user %s expand.linked_ids = %v; want its own link user%d-0", u.ID, l, i)
				}
			}
		})
	}
}

func TestExpand_NestedExpandCostsOneQueryPerLevelWhateverTheNumberOfPosts(t *testing.T) {
	t.Parallel()
	for _, perUser := range []int{5, 50} {
		env := newEnv(t, lanyardtest.WithRelations(t, postsAndComments))
		admin := newAdmin(t, env)
		users := append([]lanyard.User{adminUser(t, admin)}, insertUsers(t, env, 2)...)
		for _, u := range users {
			posts := insertDocs(t, env, "posts", perUser, func(int) bson.D { return bson.D{{Key: "author_id", Value: bson.ObjectID(u.ID)}} })
			insertDocs(t, env, "comments", 2*perUser, func(i int) bson.D { return bson.D{{Key: "post_id", Value: posts[i/2]}} })
		}
		env.Do("GET", "/api/users?expand=posts.comments", nil, "Bearer", admin.Access).Must(t, http.StatusOK)

		c := measure(env)
		var u expanded
		env.Do("GET", "/api/users/me?expand=posts.comments", nil, "Bearer", admin.Access).Must(t, http.StatusOK).JSON(t, &u)
		if p := u.Expand["posts"]; len(p) != perUser || len(children(t, p[0], "comments")) != 2 {
			t.Fatalf("%d posts per user: me has %d posts; want %d with 2 comments each", perUser, len(p), perUser)
		}
		// auth, then posts and comments: two queries.
		c.check(t, fmt.Sprintf("me, %d posts per user", perUser), 2)

		c = measure(env)
		var page struct{ Items []expanded }
		env.Do("GET", "/api/users?expand=posts.comments", nil, "Bearer", admin.Access).Must(t, http.StatusOK).JSON(t, &page)
		if len(page.Items) != 3 || len(page.Items[2].Expand["posts"]) != perUser {
			t.Fatalf("%d posts per user: list = %d users; want 3 with %d posts each", perUser, len(page.Items), perUser)
		}
		// The page adds one query.
		c.check(t, fmt.Sprintf("list, %d posts per user", perUser), 3)
	}
}

// cost is what the service asked of the store since measure.
type cost struct {
	env *lanyardtest.Env
	sql int64
}

func measure(env *lanyardtest.Env) cost {
	env.Commands.Reset()
	return cost{env: env, sql: env.App.Store.SQLiteQueries()}
}

// check asserts the cost of a read of queries relation queries (the page of users
// counting as one) after the auth load, whatever the number of documents shown. On the
// embedded SQLite store each query is one SQL query through its indexes, which reads
// the documents too, and the one find is the auth load; elsewhere the server answers
// each query with one find.
func (c cost) check(t *testing.T, what string, queries int) {
	t.Helper()
	finds := c.env.Commands.Count("find")
	if c.env.SQLiteFile == "" {
		if finds != 1+queries {
			t.Errorf("%s: %d finds; want %d (auth and one per query)", what, finds, 1+queries)
		}
		return
	}
	if n := c.env.App.Store.SQLiteQueries() - c.sql; n != int64(queries) {
		t.Errorf("%s: %d SQL queries; want %d", what, n, queries)
	}
	if finds != 1 {
		t.Errorf("%s: %d finds; want 1 (the auth load)", what, finds)
	}
	onlyIDFilters(t, c.env, what, "posts", "comments")
}
