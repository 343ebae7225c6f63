package httpapi_test

import (
	"context"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/lanyard/lanyard"
	"github.com/lanyard/lanyard/internal/lanyardtest"
	"github.com/lanyard/lanyard/internal/session"
)

// amrOf is the amr claim of an access token, as JSON decodes it.
func amrOf(t *testing.T, tok string) any {
	t.Helper()
	return jwtClaimsOf(t, tok)["amr"]
}

// TestAccessToken_SaysHowTheUserProvedThemselves: every access token names, in amr
// (RFC 8176), how its session was proved; a password login is ["pwd"], and the
// session's refreshes and a password change keep saying so.
func TestAccessToken_SaysHowTheUserProvedThemselves(t *testing.T) {
	t.Parallel()
	env := lanyardtest.New(t)
	a := env.Register("ada")
	want := []any{"pwd"}

	if got := amrOf(t, a.Access); !reflect.DeepEqual(got, want) {
		t.Errorf("amr of the login's access token = %#v; want %#v", got, want)
	}
	p := decodeTokenPair(t, "POST /api/auth/refresh", refreshWith(env, a.Refresh), a.ID)
	if got := amrOf(t, p.AccessToken); !reflect.DeepEqual(got, want) {
		t.Errorf("amr after a refresh = %#v; want %#v", got, want)
	}
	p = decodeTokenPair(t, "POST /api/auth/refresh (second)", refreshWith(env, p.RefreshToken), a.ID)
	if got := amrOf(t, p.AccessToken); !reflect.DeepEqual(got, want) {
		t.Errorf("amr after a second refresh = %#v; want %#v", got, want)
	}
	r := changePassword(env, p.AccessToken, a.Password, "a different horse battery staple")
	c := decodeTokenPair(t, "PUT /api/users/me/password", r, a.ID)
	if got := amrOf(t, c.AccessToken); !reflect.DeepEqual(got, want) {
		t.Errorf("amr after a password change = %#v; want %#v", got, want)
	}
	if got := meStatus(env, c.AccessToken); got != http.StatusOK {
		t.Errorf("GET /api/users/me with the new access token = %d; want %d", got, http.StatusOK)
	}
}

// sessionAMR is the amr field of session sid as stored, and whether it is there.
func sessionAMR(t *testing.T, env *lanyardtest.Env, sid string) (any, bool) {
	t.Helper()
	var doc bson.M
	if !lanyardtest.RawDoc(t, env.DB, "sessions", bson.D{{Key: "_id", Value: oid(t, sid)}}, &doc) {
		t.Fatalf("session %s is not stored", sid)
	}
	amr, ok := doc["amr"]
	return amr, ok
}

// TestSession_RecordsHowItWasProved: the session document keeps amr, and a refresh,
// which signs from the session, keeps it.
func TestSession_RecordsHowItWasProved(t *testing.T) {
	t.Parallel()
	env := lanyardtest.New(t)
	a := env.Register("ada")
	sid, _, _ := strings.Cut(a.Refresh, ".")
	want := bson.A{"pwd"}
	if got, _ := sessionAMR(t, env, sid); !reflect.DeepEqual(got, want) {
		t.Errorf("amr of the login's session = %#v; want %#v", got, want)
	}
	refreshWith(env, a.Refresh).Must(t, http.StatusOK)
	if got, _ := sessionAMR(t, env, sid); !reflect.DeepEqual(got, want) {
		t.Errorf("amr of the session after a refresh = %#v; want %#v", got, want)
	}
}

// TestRefresh_ASessionStoredBeforeAMRSaysPassword: sessions stored before sessions
// recorded amr all came from a password, and their access tokens say so.
func TestRefresh_ASessionStoredBeforeAMRSaysPassword(t *testing.T) {
	t.Parallel()
	env := lanyardtest.New(t)
	a := env.Register("ada")
	sid, _, _ := strings.Cut(a.Refresh, ".")
	if _, err := env.DB.Collection("sessions").UpdateOne(context.Background(), bson.D{{Key: "_id", Value: oid(t, sid)}},
		bson.D{{Key: "$unset", Value: bson.D{{Key: "amr", Value: ""}}}}); err != nil {
		t.Fatal(err)
	}
	if _, ok := sessionAMR(t, env, sid); ok {
		t.Fatal("the session still holds amr after $unset")
	}
	p := decodeTokenPair(t, "POST /api/auth/refresh", refreshWith(env, a.Refresh), a.ID)
	if got, want := amrOf(t, p.AccessToken), []any{"pwd"}; !reflect.DeepEqual(got, want) {
		t.Errorf("amr after refreshing a session stored without one = %#v; want %#v", got, want)
	}
	if got := meStatus(env, p.AccessToken); got != http.StatusOK {
		t.Errorf("GET /api/users/me with that access token = %d; want %d", got, http.StatusOK)
	}
}

// TestIssue_RefusesAProofThatSaysNotHow: a way in must say how the user proved
// themselves; a session without amr is never started.
func TestIssue_RefusesAProofThatSaysNotHow(t *testing.T) {
	t.Parallel()
	env := lanyardtest.New(t)
	a := env.Register("ada")
	uid, err := lanyard.ParseID(a.ID)
	if err != nil {
		t.Fatal(err)
	}
	u, err := env.App.Store.UserByID(context.Background(), uid)
	if err != nil {
		t.Fatal(err)
	}
	before := lanyardtest.RawCount(t, env.DB, "sessions", nil)
	if _, err := env.App.Sessions.Issue(context.Background(), lanyard.Proof{User: u}, session.Client{IP: "192.0.2.1"}); err == nil {
		t.Error("Issue(a proof without amr) = nil error; want a refusal")
	}
	if n := lanyardtest.RawCount(t, env.DB, "sessions", nil); n != before {
		t.Errorf("sessions after the refused Issue = %d; want %d", n, before)
	}
}
