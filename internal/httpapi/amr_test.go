package httpapi_test

import (
	"net/http"
	"reflect"
	"testing"

	"github.com/lanyard/lanyard/internal/lanyardtest"
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
