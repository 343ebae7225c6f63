#!/usr/bin/env bash
# The project's test command (README, "The two commands"; CI runs it through .ci/run).
#
#   1. The whole suite, exactly as `go test ./...` runs it alone: every package, the
#      HTTP suite on an embedded store in the test process, and the multi-process tests
#      (real `lanyard store` and `lanyard serve` processes).
#   2. The PostgreSQL leg: every package whose tests use internal/lanyardtest (the HTTP
#      suite) again, against a separately started `lanyard store` that keeps its data in
#      a throwaway PostgreSQL cluster (FerretDB's PostgreSQL handler), through
#      LANYARD_TEST_MONGODB_URI; then the multi-process tests with their own
#      `lanyard store` on that PostgreSQL (LANYARD_TEST_STORE_POSTGRESQL_URL).
#   Before them, python_setup makes Debian's python3-jwt available to the whole suite's
#   Python JWKS check (a Python service verifying a token through PyJWKClient): installed
#   with apt-get as root where missing; else "SKIPPED: Python JWKS check: <reason>", a
#   failure in CI (CI=true).
#   chromium_setup does the same for Debian's chromium (the browser tests, through
#   LANYARD_TEST_CHROMIUM): "SKIPPED: browser tests: <reason>", a failure in CI.
#   Between the two, the OpenAPI document is linted with @redocly/cli (redocly_leg below):
#   errors fail; where it cannot be installed it prints "SKIPPED: redocly lint: <reason>",
#   except in CI (CI=true), where a skip fails the script.
#
# Arguments are passed to both `go test` runs, e.g. `scripts/test.sh -v -run Login`.
#
# The PostgreSQL leg uses initdb and pg_ctl from Debian's packages (/usr/lib/postgresql/N/bin)
# or from PATH. When they are missing and the script runs as root with apt-get, it installs
# Debian's postgresql. The cluster lives in a temporary directory, listens only on a Unix
# socket there, runs as the `postgres` user when the script runs as root (PostgreSQL refuses
# to run as root), and is removed at exit with the store. Where PostgreSQL cannot be
# installed or started, the leg prints "SKIPPED: PostgreSQL leg: <reason>" and does not fail —
# except in CI (CI=true), where the leg must run: there a skip fails the script.
#
# Exit status: non-zero when a test failed in either leg, or the lint found an error.
set -uo pipefail
cd "$(dirname "$0")/.."
trap 'exit 130' INT TERM

# python_setup finds a python3 with Debian's python3-jwt (PyJWT) and python3-cryptography
# (PyJWT's EdDSA) for TestAccessToken_VerifiesInPythonWithPyJWKClient and exports it as
# LANYARD_TEST_PYTHON: Debian's /usr/bin/python3 first (apt's modules are its, whatever
# python3 comes first on PATH), installing both packages with apt-get when they are
# missing and the script runs as root (apt-get update only if the install fails without
# it). Where they cannot be installed it prints "SKIPPED: Python JWKS check: <reason>"
# and the test skips too, except in CI (CI=true), where both fail.
# Status: 0 available, 2 skipped.
python_setup() {
  local py=/usr/bin/python3 pkgs="python3-jwt python3-cryptography"
  [ -x "$py" ] || py=$(command -v python3 2>/dev/null) || py=/usr/bin/python3
  if ! "$py" -c 'import jwt, cryptography' >/dev/null 2>&1; then
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
      echo "SKIPPED: Python JWKS check: $py cannot import jwt and cryptography, and not running as root with apt-get to install Debian's $pkgs"
      return 2
    fi
    echo "installing Debian's $pkgs (apt-get install -y $pkgs)"
    # shellcheck disable=SC2086 # one word per package
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y $pkgs >/dev/null 2>&1 &&
      ! { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y $pkgs; } >/dev/null 2>&1; then
      echo "SKIPPED: Python JWKS check: apt-get install $pkgs failed"
      return 2
    fi
    py=/usr/bin/python3
    if ! "$py" -c 'import jwt, cryptography' >/dev/null 2>&1; then
      echo "SKIPPED: Python JWKS check: $pkgs installed, but $py cannot import jwt and cryptography"
      return 2
    fi
  fi
  export LANYARD_TEST_PYTHON="$py"
  echo "Python JWKS check: $py, PyJWT $("$py" -c 'import jwt; print(jwt.__version__)')"
}
python_setup
python_status=$?

# chromium_setup finds a Chromium for the browser tests (lanyardtest.Browser: the
# documentation page, the reset and verification pages, passkeys through DevTools'
# virtual authenticator) and exports it as LANYARD_TEST_CHROMIUM: chromium or
# chromium-browser from PATH, else Debian's chromium installed with apt-get when the
# script runs as root (apt-get update only if the install fails without it). Where it
# cannot be installed it prints "SKIPPED: browser tests: <reason>" and the tests skip
# too, except in CI (CI=true), where both fail.
# Status: 0 available, 2 skipped.
chromium_setup() {
  local c
  c=$(command -v chromium 2>/dev/null || command -v chromium-browser 2>/dev/null)
  if [ -z "$c" ]; then
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
      echo "SKIPPED: browser tests: no chromium on PATH, and not running as root with apt-get to install Debian's chromium"
      return 2
    fi
    echo "installing Debian's chromium (apt-get install -y chromium)"
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y chromium >/dev/null 2>&1 &&
      ! { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; } >/dev/null 2>&1; then
      echo "SKIPPED: browser tests: apt-get install chromium failed"
      return 2
    fi
    c=$(command -v chromium 2>/dev/null) || {
      echo "SKIPPED: browser tests: chromium installed, but not on PATH"
      return 2
    }
  fi
  export LANYARD_TEST_CHROMIUM="$c"
  echo "browser tests: $("$c" --version 2>/dev/null | head -n 1)"
}
chromium_setup
chromium_status=$?

main_status=0
echo "== go test ./... (the whole suite, embedded store)"
go test "$@" ./... || main_status=1

# pg_bindir prints the directory holding initdb and pg_ctl, newest Debian version first.
pg_bindir() {
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
      echo "$d"
      return 0
    fi
  done
  d=$(command -v initdb 2>/dev/null) || return 1
  d=$(dirname "$d")
  [ -x "$d/pg_ctl" ] || return 1
  echo "$d"
}

# postgresql_leg runs in a subshell so that its EXIT trap tears everything down.
# Status: 0 passed, 1 a test failed (or the store would not start), 2 skipped.
postgresql_leg() (
  skip() {
    echo "SKIPPED: PostgreSQL leg: $*"
    exit 2
  }

  bindir=$(pg_bindir)
  if [ -z "$bindir" ]; then
    if [ "$(id -u)" != 0 ]; then
      skip "initdb/pg_ctl not found, and not running as root to install Debian's postgresql"
    fi
    if ! command -v apt-get >/dev/null 2>&1; then
      skip "initdb/pg_ctl not found, and no apt-get to install postgresql with"
    fi
    echo "installing Debian's postgresql (apt-get update && apt-get install -y postgresql)"
    install_log=$(mktemp)
    if ! { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql; } >"$install_log" 2>&1; then
      tail -n 20 "$install_log"
      rm -f "$install_log"
      skip "apt-get install postgresql failed (output above)"
    fi
    rm -f "$install_log"
    bindir=$(pg_bindir) || skip "postgresql installed, but no initdb/pg_ctl under /usr/lib/postgresql/*/bin"
  fi

  # PostgreSQL refuses to run as root: as root, the cluster belongs to `postgres`.
  as_pg=()
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || skip "running as root and there is no postgres user to run PostgreSQL as"
    command -v runuser >/dev/null 2>&1 || skip "running as root and there is no runuser to run PostgreSQL as postgres"
    as_pg=(runuser -u postgres --)
  fi

  work=$(mktemp -d "${TMPDIR:-/tmp}/lanyard-pg.XXXXXX") || skip "cannot create a temporary directory"
  pgdir="$work/pg" # data directory, Unix socket and server log
  store_pid=""
  teardown() {
    if [ -n "$store_pid" ]; then
      kill "$store_pid" 2>/dev/null
      wait "$store_pid" 2>/dev/null
    fi
    if [ -f "$pgdir/data/postmaster.pid" ]; then
      "${as_pg[@]}" "$bindir/pg_ctl" -D "$pgdir/data" -m immediate -w stop >/dev/null 2>&1
    fi
    rm -rf "$work"
  }
  trap teardown EXIT
  trap 'exit 130' INT TERM

  chmod 755 "$work"
  mkdir -m 700 "$pgdir"
  if [ "$(id -u)" = 0 ]; then
    chown postgres: "$pgdir"
  fi

  echo "== PostgreSQL leg: $("$bindir/postgres" --version 2>/dev/null || echo "PostgreSQL in $bindir")"
  # FerretDB requires UTF8 and one of the C, POSIX, C.UTF8 or en_US.UTF8 locales.
  if ! "${as_pg[@]}" "$bindir/initdb" -D "$pgdir/data" -U postgres -A trust -E UTF8 --locale=C --no-sync \
    >"$work/initdb.log" 2>&1; then
    cat "$work/initdb.log"
    skip "initdb failed (output above)"
  fi
  # A throwaway cluster: no TCP listener, no durability.
  if ! "${as_pg[@]}" "$bindir/pg_ctl" -D "$pgdir/data" -l "$pgdir/postgresql.log" -w -t 60 \
    -o "-c listen_addresses= -c unix_socket_directories=$pgdir -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
    start >/dev/null; then
    tail -n 20 "$pgdir/postgresql.log" 2>/dev/null
    skip "pg_ctl start failed (server log above)"
  fi

  # From here on PostgreSQL runs: a failure is a failure, not a skip.
  if ! go build -o "$work/lanyard" ./cmd/lanyard; then
    echo "FAILED: PostgreSQL leg: go build ./cmd/lanyard"
    exit 1
  fi
  # pgx's URL form for a Unix socket: the directory goes in the host parameter.
  pg_url="postgres://postgres@/postgres?host=$pgdir"
  env -u MONGODB_URI \
    LANYARD_STORE_POSTGRESQL_URL="$pg_url" \
    LANYARD_STORE_ADDR=127.0.0.1:0 \
    LANYARD_DATA_DIR="$work/store-data" \
    LANYARD_LOG_LEVEL=info \
    LANYARD_LOG_FORMAT=text \
    "$work/lanyard" store >"$work/store.log" 2>&1 &
  store_pid=$!
  # The store logs its URI once it accepts connections.
  uri=""
  for _ in $(seq 600); do
    uri=$(sed -nE 's/.*msg="embedded store started" uri=([^ ]+).*/\1/p' "$work/store.log" | head -n 1)
    [ -n "$uri" ] && break
    if ! kill -0 "$store_pid" 2>/dev/null; then
      break
    fi
    sleep 0.1
  done
  if [ -z "$uri" ]; then
    cat "$work/store.log"
    echo "FAILED: PostgreSQL leg: lanyard store did not start (log above)"
    exit 1
  fi
  echo "lanyard store on PostgreSQL: $uri"

  pkgs=$(go list -f '{{.ImportPath}}{{range .TestImports}} {{.}}{{end}}{{range .XTestImports}} {{.}}{{end}}' ./... |
    awk '/ github.com\/lanyard\/lanyard\/internal\/lanyardtest( |$)/ {print $1}')
  if [ -z "$pkgs" ]; then
    echo "FAILED: PostgreSQL leg: found no package whose tests use internal/lanyardtest"
    exit 1
  fi
  echo "== go test" $pkgs "(LANYARD_TEST_MONGODB_URI=$uri, lanyard store on PostgreSQL)"
  # shellcheck disable=SC2086 # one word per package
  status=0
  if ! LANYARD_TEST_MONGODB_URI="$uri" go test -count=1 "$@" $pkgs; then
    echo "-- lanyard store log (last 30 lines)"
    tail -n 30 "$work/store.log"
    status=1
  fi
  # One FerretDB per PostgreSQL database at a time (each caches the catalogue): this
  # store stops before the multi-process tests start theirs on the same database.
  kill "$store_pid" 2>/dev/null
  wait "$store_pid" 2>/dev/null
  store_pid=""
  echo "== go test -run TestMultiProcess ./cmd/lanyard (their lanyard store on PostgreSQL)"
  if ! LANYARD_TEST_STORE_POSTGRESQL_URL="$pg_url" go test -count=1 -run TestMultiProcess "$@" ./cmd/lanyard; then
    status=1
  fi
  exit "$status"
)

# redocly_leg lints the OpenAPI document the service serves with @redocly/cli's
# recommended rules (zero errors; warnings are printed and pass). The document comes
# from TestOpenAPI_DocumentValidatesAgainstTheSpecification (LANYARD_TEST_OPENAPI_OUT);
# @redocly/cli is installed with npm into a temporary directory, and npm itself, where
# it is missing and the script runs as root, from Debian's nodejs and npm.
# Status: 0 passed, 1 lint errors, 2 skipped.
redocly_version=2.77.0
redocly_leg() (
  skip() {
    echo "SKIPPED: redocly lint: $*"
    exit 2
  }
  if ! command -v npm >/dev/null 2>&1; then
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
      skip "npm not found, and not running as root with apt-get to install Debian's nodejs and npm"
    fi
    echo "installing Debian's nodejs and npm (apt-get update && apt-get install -y nodejs npm)"
    if ! { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y nodejs npm; } >/dev/null 2>&1; then
      skip "apt-get install nodejs npm failed"
    fi
  fi
  work=$(mktemp -d "${TMPDIR:-/tmp}/lanyard-redocly.XXXXXX") || skip "cannot create a temporary directory"
  trap 'rm -rf "$work"' EXIT
  echo "== redocly lint /openapi.json (@redocly/cli $redocly_version)"
  if ! LANYARD_TEST_OPENAPI_OUT="$work/openapi.json" go test -count=1 \
    -run '^TestOpenAPI_DocumentValidatesAgainstTheSpecification$' ./internal/httpapi >"$work/go.log" 2>&1 ||
    [ ! -s "$work/openapi.json" ]; then
    cat "$work/go.log"
    echo "FAILED: redocly lint: could not get the OpenAPI document"
    exit 1
  fi
  if ! npm install --prefix "$work/npm" --no-audit --no-fund --loglevel=error "@redocly/cli@$redocly_version" \
    >"$work/npm.log" 2>&1; then
    tail -n 20 "$work/npm.log"
    skip "npm install @redocly/cli@$redocly_version failed (output above)"
  fi
  if ! "$work/npm/node_modules/.bin/redocly" lint --format=stylish "$work/openapi.json"; then
    echo "FAILED: redocly lint: the OpenAPI document has errors (above)"
    exit 1
  fi
)

redocly_leg
redocly_status=$?

postgresql_leg "$@"
pg_status=$?

echo "== summary"
if [ "$main_status" = 0 ]; then echo "whole suite: ok"; else echo "whole suite: FAILED"; fi
# summarise prints how leg $1 ended, from the variable named $2 (0 ran, 2 skipped,
# else failed; $3 says what "ran" means), and sets that variable to 1 for a skip in
# CI, where no leg may skip.
summarise() {
  case "${!2}" in
  0) echo "$1: $3" ;;
  2) echo "$1: SKIPPED (reason above)" ;;
  *) echo "$1: FAILED" ;;
  esac
  if [ "${!2}" = 2 ] && [ "${CI:-}" = true ]; then
    echo "$1: skipping is not allowed in CI (CI=true)"
    printf -v "$2" 1
  fi
}
summarise "redocly lint" redocly_status ok
summarise "Python JWKS check" python_status "ran in the whole suite"
summarise "browser tests" chromium_status "ran in the whole suite"
summarise "PostgreSQL leg" pg_status ok
if [ "$main_status" != 0 ] || [ "$redocly_status" = 1 ] || [ "$python_status" = 1 ] || [ "$chromium_status" = 1 ] || { [ "$pg_status" != 0 ] && [ "$pg_status" != 2 ]; }; then
  exit 1
fi
