package httpapi_test

import (
	"bytes"
	"encoding/base64"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/lanyard/lanyard/internal/lanyardtest"
)

// pythonWithPyJWT is the interpreter the Python check runs: LANYARD_TEST_PYTHON
// (scripts/test.sh sets it), else Debian's /usr/bin/python3, where apt's python3-jwt
// lands even when another python3 comes first on PATH, else python3 from PATH. Where
// it or its modules are missing the test is skipped, except in CI (CI=true), where
// the check must run.
func pythonWithPyJWT(t *testing.T) string {
	t.Helper()
	unavailable := func(reason string) {
		msg := "SKIPPED: Python JWKS check: " + reason + " (scripts/test.sh installs Debian's python3-jwt and python3-cryptography as root)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg + "; skipping is not allowed in CI (CI=true)")
		}
		t.Skip(msg)
	}
	py := os.Getenv("LANYARD_TEST_PYTHON")
	if py == "" {
		py = "/usr/bin/python3"
		if _, err := os.Stat(py); err != nil {
			if py, err = exec.LookPath("python3"); err != nil {
				unavailable("no python3 (set LANYARD_TEST_PYTHON)")
			}
		}
	}
	// PyJWT needs cryptography for OKP keys and EdDSA.
	if out, err := exec.CommandContext(t.Context(), py, "-c", "import jwt, cryptography").CombinedOutput(); err != nil {
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		unavailable(py + " cannot import jwt and cryptography: " + lines[len(lines)-1])
	}
	return py
}

// TestAccessToken_VerifiesInPythonWithPyJWKClient: a Python service with Debian's
// python3-jwt and nothing but the JWKS URL (PyJWKClient fetching it over TCP) verifies
// a login's access token — EdDSA only, iss, aud, exp, iat and sub required, typ
// at+jwt — and reads the user's id as sub; the same token with one signature byte
// changed does not verify.
func TestAccessToken_VerifiesInPythonWithPyJWKClient(t *testing.T) {
	t.Parallel()
	py := pythonWithPyJWT(t)
	// No test clock: PyJWT checks exp against the wall clock.
	env := lanyardtest.New(t)
	a := env.Register("ada")

	h, p, s := jwtParts(t, a.Access)
	sig, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatalf("access token signature: %v", err)
	}
	sig[len(sig)/2] ^= 0x01
	forged := h + "." + p + "." + base64.RawURLEncoding.EncodeToString(sig)

	verify := func(tok string) (stdout, stderr string, err error) {
		var o, e bytes.Buffer
		cmd := exec.CommandContext(t.Context(), py, "testdata/verify_jwks.py",
			env.URL+"/.well-known/jwks.json", tok, env.Config.Issuer, env.Config.Audience)
		cmd.Stdout, cmd.Stderr = &o, &e
		err = cmd.Run()
		return strings.TrimSpace(o.String()), strings.TrimSpace(e.String()), err
	}
	for _, c := range []struct {
		name  string
		token string
		ok    bool
	}{
		{"the access token", a.Access, true},
		{"one signature byte changed", forged, false},
	} {
		out, errOut, err := verify(c.token)
		switch {
		case c.ok && err != nil:
			t.Errorf("%s: verify_jwks.py: %v; stderr: %s", c.name, err, errOut)
		case c.ok && out != a.ID:
			t.Errorf("%s: verify_jwks.py printed sub %q; want the user's id %s", c.name, out, a.ID)
		case !c.ok && err == nil:
			t.Errorf("%s: verify_jwks.py exited 0 (printed %q); want a non-zero exit", c.name, out)
		case !c.ok:
			if _, exited := err.(*exec.ExitError); !exited {
				t.Errorf("%s: verify_jwks.py did not run: %v", c.name, err)
			}
		}
	}
}
