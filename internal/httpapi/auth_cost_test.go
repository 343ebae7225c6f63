package httpapi_test

import (
	"net/http"
	"testing"

	"github.com/lanyard/lanyard/internal/lanyardtest"
)

func TestAuthenticatedRead_CostsOneStoreCommand(t *testing.T) {
	t.Parallel()
	env := lanyardtest.New(t)
	a := env.Register("ada")
	for _, path := range []string{"/api/users/me", "/api/users/" + a.ID} {
		env.Commands.Reset()
		env.Do("GET", path, nil, "Bearer", a.Access).Must(t, http.StatusOK)
		if n, finds := env.Commands.Total(), env.Commands.Count("find"); n != 1 || finds != 1 {
			t.Errorf("GET %s sent %d commands (%d finds); want exactly 1 find", path, n, finds)
		}
	}
}

// A successful login costs eight commands: the throttle reserves the attempt on the
// address and on the account (one findAndModify each, which also returns the
// counter), the email key and the user are read, the session is stored and listed in
// the user's document (which the cap of 100 sessions per account counts, and which
// stays an update by _id: the sessions themselves are read only beyond the cap), and
// the account's failures are forgotten and the address's reservation taken back. A
// login from an address the account does not know yet remembers it in that same
// update of the user (known_test.go).
func TestLogin_CostsEightStoreCommands(t *testing.T) {
	t.Parallel()
	env := lanyardtest.New(t)
	a := env.Register("ada")
	env.App.Sessions.Wait()
	env.Commands.Reset()
	env.Login(&a)
	want := map[string]int{"findAndModify": 2, "find": 2, "insert": 1, "delete": 1, "update": 2}
	for name, n := range want {
		if got := env.Commands.Count(name); got != n {
			t.Errorf("login sent %d %s commands; want %d", got, name, n)
		}
	}
	if n := env.Commands.Total(); n != 8 {
		t.Errorf("login sent %d commands in all; want 8", n)
	}
}
