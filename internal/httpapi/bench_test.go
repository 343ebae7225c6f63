package httpapi_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/lanyard/lanyard/internal/lanyardtest"
)

// These benchmarks call the real handler in-process (no socket), so they measure
// Lanyard's own work per request: routing, middleware, decoding and validation, the
// handler and the response; GET /me adds its one store round trip. Compare with
// `lanyard bench`, which measures the same over HTTP under concurrency.

// serve runs one request through the handler and checks its status.
func serve(b *testing.B, h http.Handler, method, path, auth, body string, want int) {
	var r *http.Request
	if body != "" {
		r = httptest.NewRequest(method, path, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
	} else {
		r = httptest.NewRequest(method, path, nil)
	}
	if auth != "" {
		r.Header.Set("Authorization", "Bearer "+auth)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != want {
		b.Fatalf("%s %s = %d; want %d; body: %s", method, path, w.Code, want, w.Body)
	}
}

// BenchmarkLoginInvalidBody is request decoding and validation: a login body that
// fails them is a 422 before any store work or hashing. "schema" fails Huma's schema
// (a number where a string belongs); "rule" passes it and fails the handler's own
// check (no password); "unknown_field" names a field the operation does not have.
func BenchmarkLoginInvalidBody(b *testing.B) {
	env := lanyardtest.New(b)
	for _, c := range []struct{ name, body string }{
		{"schema", `{"login":5,"password":"correct horse battery staple"}`},
		{"rule", `{"login":"ada@example.com"}`},
		{"unknown_field", `{"login":"ada@example.com","password":"correct horse battery staple","remember":true}`},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				serve(b, env.App.Handler, http.MethodPost, "/api/auth/login", "", c.body, http.StatusUnprocessableEntity)
			}
		})
	}
}

// BenchmarkGetMe is an authenticated read: verify the access token, load the user
// (one FindOne by _id on the test store), render it; "expand" adds the linked IDs and
// sessions (one query per relation). "raw_findone" is the floor: the driver's FindOne
// of the same user, nothing else. The embedded store runs in this process, so
// allocations include its side of every command; subtract raw_findone's to see
// Lanyard's own.
func BenchmarkGetMe(b *testing.B) {
	env := lanyardtest.New(b)
	a := env.Register("bench")
	env.Do("POST", "/api/users/me/linked-ids", map[string]string{"provider": "bench", "external_id": "42"}, "Bearer", a.Access).Must(b, http.StatusCreated)
	b.Run("raw_findone", func(b *testing.B) {
		id, err := bson.ObjectIDFromHex(a.ID)
		if err != nil {
			b.Fatal(err)
		}
		users := env.DB.Collection("users")
		b.ReportAllocs()
		for b.Loop() {
			if _, err := users.FindOne(b.Context(), bson.D{{Key: "_id", Value: id}}).Raw(); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, c := range []struct{ name, path string }{
		{"plain", "/api/users/me"},
		{"expand", "/api/users/me?expand=linked_ids,sessions"},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				serve(b, env.App.Handler, http.MethodGet, c.path, a.Access, "", http.StatusOK)
			}
		})
	}
}
