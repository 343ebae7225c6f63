package httpapi_test

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/lanyard/lanyard"
	"github.com/lanyard/lanyard/internal/lanyardtest"
)

// userPage is one page of GET /api/users.
type userPage struct {
	Items []struct {
		ID    string `json:"id"`
		Email string `json:"email"`
	} `json:"items"`
	Next *string `json:"next"`
}

// listAll follows GET /api/users?<query> page by page and returns each page's ids;
// it fails the test on a page larger than limit or a loop.
func listAll(t *testing.T, env *lanyardtest.Env, admin lanyardtest.Account, query url.Values, limit int) [][]string {
	t.Helper()
	var pages [][]string
	after := ""
	for range 100 {
		q := url.Values{}
		for k, v := range query {
			q[k] = v
		}
		if after != "" {
			q.Set("after", after)
		}
		req := "GET /api/users?" + q.Encode()
		r := env.Do("GET", "/api/users?"+q.Encode(), nil, "Bearer", admin.Access)
		expect(t, r, req, http.StatusOK)
		var p userPage
		r.JSON(t, &p)
		if len(p.Items) > limit {
			t.Fatalf("%s: %d items; want at most %d", req, len(p.Items), limit)
		}
		ids := make([]string, len(p.Items))
		for i, u := range p.Items {
			ids[i] = u.ID
		}
		pages = append(pages, ids)
		if p.Next == nil {
			return pages
		}
		after = *p.Next
	}
	t.Fatalf("GET /api/users?%s: still a next page after 100 pages", query.Encode())
	return nil
}

func pageSizes(pages [][]string) []int {
	out := make([]int, len(pages))
	for i, p := range pages {
		out[i] = len(p)
	}
	return out
}

func hexOf(users []lanyard.User) []string {
	out := make([]string, len(users))
	for i, u := range users {
		out[i] = u.ID.Hex()
	}
	slices.Sort(out)
	return out
}

func TestListUsers_PagesByIDNeverSkippingOrRepeating(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	admin := newAdmin(t, env)
	all := append([]lanyard.User{adminUser(t, admin)}, insertUsers(t, env, 44)...)

	pages := listAll(t, env, admin, url.Values{"limit": {"20"}}, 20)
	if got := pageSizes(pages); !slices.Equal(got, []int{20, 20, 5}) {
		t.Fatalf("page sizes = %v; want [20 20 5] and then next null", got)
	}
	if got := slices.Concat(pages...); !slices.Equal(got, hexOf(all)) {
		t.Errorf("ids over all pages = %v; want every user once, by id ascending: %v", got, hexOf(all))
	}

	// Without limit a page holds 20.
	var p userPage
	env.Do("GET", "/api/users", nil, "Bearer", admin.Access).Must(t, http.StatusOK).JSON(t, &p)
	if len(p.Items) != 20 || p.Next == nil || *p.Next != pages[0][19] {
		t.Errorf("GET /api/users = %d items, next %v; want 20 and the 20th id %s", len(p.Items), p.Next, pages[0][19])
	}
}

func TestListUsers_EmailFilterIsExactAndCaseInsensitive(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	admin := newAdmin(t, env)
	users := insertUsers(t, env, 3) // user000@example.com ...
	linkIDs(t, env, users[1], "google", "g", 1)

	cases := []struct {
		name string
		q    url.Values
		want []string
	}{
		{"exact", url.Values{"email": {"user001@example.com"}}, []string{users[1].ID.Hex()}},
		{"other case and spaces", url.Values{"email": {" User001@EXAMPLE.com "}}, []string{users[1].ID.Hex()}},
		{"a prefix is no match", url.Values{"email": {"user00"}}, nil},
		{"a pattern is no match", url.Values{"email": {"user.*@example.com"}}, nil},
		{"with a provider it holds", url.Values{"email": {"user001@example.com"}, "provider": {"google"}}, []string{users[1].ID.Hex()}},
		{"with a provider it lacks", url.Values{"email": {"user002@example.com"}, "provider": {"google"}}, nil},
		{"after its id", url.Values{"email": {"user001@example.com"}, "after": {users[1].ID.Hex()}}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pages := listAll(t, env, admin, c.q, 20)
			if got := slices.Concat(pages...); len(pages) != 1 || !slices.Equal(got, c.want) {
				t.Errorf("GET /api/users?%s = %v; want one page %v", c.q.Encode(), pages, c.want)
			}
		})
	}
}

func TestListUsers_ProviderFilterPagesNeverSkippingOrRepeating(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	admin := newAdmin(t, env)
	users := insertUsers(t, env, 9)
	// Holders interleave with users holding none, or only another provider's IDs; some
	// hold several, so one user's links span what would otherwise be page boundaries.
	googleIDs := []int{3, 0, 1, 2, 0, 1, 0, 3, 2}
	var want []lanyard.User
	for i, u := range users {
		linkIDs(t, env, u, "google", u.Email, googleIDs[i])
		if googleIDs[i] > 0 {
			want = append(want, u)
		}
	}
	linkIDs(t, env, users[1], "github", "gh", 2)
	linkIDs(t, env, users[4], "github", "gh4", 1)
	linkIDs(t, env, adminUser(t, admin), "github", "root", 1)

	for _, provider := range []string{"google", "Google"} {
		pages := listAll(t, env, admin, url.Values{"provider": {provider}, "limit": {"2"}}, 2)
		if got := pageSizes(pages); !slices.Equal(got, []int{2, 2, 2}) {
			t.Errorf("provider=%s: page sizes = %v; want [2 2 2] and then next null", provider, got)
		}
		if got := slices.Concat(pages...); !slices.Equal(got, hexOf(want)) {
			t.Errorf("provider=%s: ids = %v; want each holder once, by id: %v", provider, got, hexOf(want))
		}
	}
	pages := listAll(t, env, admin, url.Values{"provider": {"github"}, "limit": {"2"}}, 2)
	if got, want := slices.Concat(pages...), hexOf([]lanyard.User{adminUser(t, admin), users[1], users[4]}); !slices.Equal(got, want) {
		t.Errorf("provider=github: ids = %v; want %v", got, want)
	}
	if pages := listAll(t, env, admin, url.Values{"provider": {"gitlab"}}, 20); len(pages) != 1 || len(pages[0]) != 0 {
		t.Errorf("provider=gitlab = %v; want one empty page", pages)
	}
}

func TestListUsers_OnlyForAdmins(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	a := env.Register("ada")
	for _, q := range []string{"", "?limit=5", "?provider=google", "?email=" + url.QueryEscape(a.Email)} {
		problem(t, env.Do("GET", "/api/users"+q, nil, "Bearer", a.Access), "GET /api/users"+q+" as non-admin", http.StatusForbidden)
	}
	problem(t, env.Do("GET", "/api/users", nil), "GET /api/users without a token", http.StatusUnauthorized)
}

func TestListUsers_BadLimitOrCursorIs422(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	admin := newAdmin(t, env)
	cases := []struct{ query, location string }{
		{"limit=0", "query.limit"},
		{"limit=101", "query.limit"},
		{"limit=-1", "query.limit"},
		{"limit=ten", "query.limit"},
		{"after=nope", "query.after"},
		{"after=" + strings.ToUpper(admin.ID), "query.after"},
		{"after=" + admin.ID + "0", "query.after"},
		{"provider=" + url.QueryEscape("$ne"), "query.provider"},
	}
	for _, c := range cases {
		req := "GET /api/users?" + c.query
		p := problem(t, env.Do("GET", "/api/users?"+c.query, nil, "Bearer", admin.Access), req, http.StatusUnprocessableEntity)
		wantLocations(t, p, req, c.location)
	}
	for _, q := range []string{"limit=1", "limit=100", "after=" + admin.ID} {
		env.Do("GET", "/api/users?"+q, nil, "Bearer", admin.Access).Must(t, http.StatusOK)
	}
}
