package httpapi_test

import (
	"net/http"
	"testing"

	"github.com/lanyard/lanyard/internal/lanyardtest"
)

func TestRegisterLoginMe_RoundTrip(t *testing.T) {
	t.Parallel()
	env := lanyardtest.New(t)
	a := env.Register("ada")
	me := env.Do("GET", "/api/users/me", nil, "Bearer", a.Access).Must(t, http.StatusOK).Map(t)
	if me["id"] != a.ID || me["email"] != a.Email {
		t.Fatalf("me = %v; want id %s email %s", me, a.ID, a.Email)
	}
}
