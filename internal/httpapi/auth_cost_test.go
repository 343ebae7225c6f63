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
