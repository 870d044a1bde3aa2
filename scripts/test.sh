#!/usr/bin/env bash
# One-command test run for sessiongate: bash scripts/test.sh [PYTEST ARGS...]  (default: -q)
#
# Sets up everything itself, on a fresh clone or on a re-run:
#   1. .venv with `pip install -e '.[test]'` (skipped when pyproject.toml is unchanged)
#   2. `npm ci` in tests/interop and examples/* that have a package-lock.json (skipped when
#      node_modules matches the lockfile)
#   3. ruff + mypy (lint failure fails the run)
#   4. a throwaway PostgreSQL on 127.0.0.1 (scripts/pg.sh), exported to the tests as
#        SESSIONGATE_TEST_DATABASE_URL  postgresql://postgres@127.0.0.1:PORT/sessiongate_test
#        SESSIONGATE_TEST_PG_CONTROL    executable: start | stop [fast|immediate|smart] |
#                                       restart [MODE] | status (exit 0 running, 3 stopped) | dsn
#   4b. a throwaway MariaDB on 127.0.0.1 (scripts/mariadb.sh; Debian's mariadb-server, installed
#      when missing and we are root), exported as
#        SESSIONGATE_TEST_MYSQL_URL      mysql://sessiongate:…@127.0.0.1:PORT/sessiongate_test
#        SESSIONGATE_TEST_MYSQL_CONTROL  executable: start | stop [fast|immediate] | restart |
#                                        status | dsn
#   4c. a throwaway Redis on 127.0.0.1 (scripts/redis.sh; Debian's redis-server, installed when
#      missing and we are root), exported as
#        SESSIONGATE_TEST_REDIS_URL      redis://127.0.0.1:PORT/0
#        SESSIONGATE_TEST_REDIS_CONTROL  executable: start | stop | restart | status | url |
#                                        kill-clients
#   5. python -m pytest "$@"; exit code 5 (no tests collected) is reported as a failure
# Everything started is stopped on exit, including on failure and Ctrl-C.
#
# Environment: CI=true makes Node.js, npm packages, PostgreSQL and MariaDB mandatory.
# Outside CI only: SESSIONGATE_NO_PG=1 skips PostgreSQL, SESSIONGATE_SKIP_LINT=1 skips ruff/mypy.
set -euo pipefail

START_SECONDS=$SECONDS
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 PYTHONDONTWRITEBYTECODE=1
export npm_config_fund=false npm_config_audit=false npm_config_update_notifier=false

in_ci() {
    case "${CI:-}" in 1|true|TRUE|True|yes|YES) return 0 ;; *) return 1 ;; esac
}
say() { echo "==> $*"; }
warn() { echo "==> WARNING: $*" >&2; }
fail() { echo "==> FAILED: $*" >&2; exit 1; }

PG_DIR=""
WATCH_PID=""
MYSQL_DIR=""
MYSQL_WATCH_PID=""
REDIS_DIR=""
REDIS_WATCH_PID=""
# shellcheck disable=SC2317  # invoked via trap
cleanup() {
    local rc=$?
    trap - EXIT INT TERM HUP
    if [[ -n "$WATCH_PID" ]]; then
        kill "$WATCH_PID" 2>/dev/null || true
    fi
    if [[ -n "$MYSQL_WATCH_PID" ]]; then
        kill "$MYSQL_WATCH_PID" 2>/dev/null || true
    fi
    if [[ -n "$REDIS_WATCH_PID" ]]; then
        kill "$REDIS_WATCH_PID" 2>/dev/null || true
    fi
    if [[ -n "$REDIS_DIR" && -d "$REDIS_DIR" ]]; then
        bash "$ROOT/scripts/redis.sh" teardown "$REDIS_DIR" || warn "could not clean up $REDIS_DIR"
    fi
    if [[ -n "$MYSQL_DIR" && -d "$MYSQL_DIR" ]]; then
        bash "$ROOT/scripts/mariadb.sh" teardown "$MYSQL_DIR" || warn "could not clean up $MYSQL_DIR"
    fi
    if [[ -n "$PG_DIR" && -d "$PG_DIR" ]]; then
        bash "$ROOT/scripts/pg.sh" teardown "$PG_DIR" || warn "could not clean up $PG_DIR"
    fi
    echo "==> done in $((SECONDS - START_SECONDS))s (exit $rc)"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

sha256_of() { sha256sum "$@" | sha256sum | cut -d' ' -f1; }

# Serialise venv/npm set-up between concurrent runs in the same checkout.
if command -v flock >/dev/null 2>&1; then
    LOCK_FILE="${TMPDIR:-/tmp}/sessiongate-setup-$(echo "$ROOT" | sha256sum | cut -c1-16).lock"
    exec 9>"$LOCK_FILE"
    flock 9
fi

# --- 1. virtualenv -------------------------------------------------------------------------
VENV="$ROOT/.venv"
PY="$VENV/bin/python"
venv_ok() {
    [[ -x "$PY" ]] && "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null
}
if ! venv_ok; then
    BASE_PY=""
    for candidate in python3.11 python3 python3.12 python3.13 python; do
        if command -v "$candidate" >/dev/null 2>&1 \
            && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            BASE_PY="$candidate"
            break
        fi
    done
    [[ -n "$BASE_PY" ]] || fail "Python >= 3.11 not found (tried python3.11, python3, ...)"
    say "creating venv (.venv, $("$BASE_PY" --version 2>&1))"
    rm -rf "$VENV"
    "$BASE_PY" -m venv "$VENV" || fail "python -m venv failed (Debian: apt-get install python3-venv)"
fi
DEPS_STAMP="$VENV/.sessiongate-deps"
DEPS_HASH="$(sha256_of pyproject.toml) $("$PY" --version 2>&1)"
if [[ "$(cat "$DEPS_STAMP" 2>/dev/null || true)" != "$DEPS_HASH" ]] \
    || ! "$PY" -c 'import pytest, mypy' 2>/dev/null || [[ ! -x "$VENV/bin/ruff" ]]; then
    say "pip install -e '.[test]'"
    rm -f "$DEPS_STAMP"
    # Quiet, but show pip's full output if it fails (the build backend's warnings are noise).
    PIP_LOG="$(mktemp "${TMPDIR:-/tmp}/sessiongate-pip.XXXXXX")"
    if ! { "$PY" -m pip install --quiet --upgrade pip \
        && "$PY" -m pip install --quiet -e '.[test]'; } >"$PIP_LOG" 2>&1; then
        cat "$PIP_LOG" >&2
        rm -f "$PIP_LOG"
        fail "pip install -e '.[test]' failed"
    fi
    rm -f "$PIP_LOG"
    echo "$DEPS_HASH" > "$DEPS_STAMP"
else
    say "venv up to date"
fi
export PATH="$VENV/bin:$PATH"
export VIRTUAL_ENV="$VENV"

# --- 2. npm packages -----------------------------------------------------------------------
npm_install() {
    local dir="$1"
    if ! command -v npm >/dev/null 2>&1 || ! command -v node >/dev/null 2>&1; then
        if in_ci; then
            fail "node/npm not found on PATH, needed for $dir (CI=true)"
        fi
        warn "node/npm not found: skipping npm ci in $dir (tests needing it will skip)"
        return 0
    fi
    local stamp="$dir/node_modules/.sessiongate-lock"
    local want
    want="$(sha256_of "$dir/package-lock.json" "$dir/package.json") node $(node --version)"
    if [[ -d "$dir/node_modules" && "$(cat "$stamp" 2>/dev/null || true)" == "$want" ]]; then
        say "npm ci ($dir): up to date"
        return 0
    fi
    say "npm ci ($dir)"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error) || fail "npm ci in $dir failed"
    echo "$want" > "$stamp"
}
if [[ -f tests/interop/package-lock.json ]]; then
    npm_install tests/interop
elif [[ -d tests/interop ]]; then
    say "npm ci (tests/interop): skipped, no package-lock.json yet"
fi
if [[ -f tests/interop/db/mysql/package-lock.json ]]; then
    npm_install tests/interop/db/mysql
fi
for lock in examples/*/package-lock.json; do
    [[ -f "$lock" ]] || continue
    npm_install "$(dirname "$lock")"
done

# nginx, for the test that runs examples/nginx/auth_request.conf in a real nginx. Installed from
# Debian's packages when missing and we may (root with apt-get); otherwise the test fails under
# CI and is skipped, with a message, on a laptop.
if ! command -v nginx >/dev/null 2>&1 && [[ ! -x /usr/sbin/nginx ]]; then
    if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null 2>&1; then
        say "apt-get install nginx-light"
        if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
                --no-install-recommends nginx-light; } >/tmp/sessiongate-apt.log 2>&1; then
            cat /tmp/sessiongate-apt.log >&2
            if in_ci; then fail "could not install nginx"; fi
            warn "could not install nginx: its test will be skipped"
        fi
    else
        warn "nginx is not installed (apt-get install nginx-light): its test will be skipped"
    fi
fi

if [[ -n "${LOCK_FILE:-}" ]]; then
    flock -u 9
    exec 9>&-
fi

# --- 3. lint -------------------------------------------------------------------------------
if [[ -n "${SESSIONGATE_SKIP_LINT:-}" ]] && ! in_ci; then
    warn "SESSIONGATE_SKIP_LINT set: skipping ruff and mypy"
else
    LINT_DIRS=()
    for d in src tests benchmarks examples; do
        [[ -d "$d" ]] && LINT_DIRS+=("$d")
    done
    say "ruff"
    ruff check --quiet "${LINT_DIRS[@]}" || fail "ruff check ${LINT_DIRS[*]}"
    if find src/sessiongate -name '*.py' -print -quit 2>/dev/null | grep -q .; then
        say "mypy"
        mypy || fail "mypy (strict, src/sessiongate)"
    else
        warn "no Python files in src/sessiongate yet: skipping mypy"
    fi
fi

# --- 4. PostgreSQL -------------------------------------------------------------------------
unset SESSIONGATE_TEST_PG_CONTROL
if [[ -n "${SESSIONGATE_NO_PG:-}" ]] && in_ci; then
    warn "SESSIONGATE_NO_PG is ignored under CI=true"
fi
if [[ -n "${SESSIONGATE_NO_PG:-}" ]] && ! in_ci; then
    warn "SESSIONGATE_NO_PG set: not starting PostgreSQL (postgres tests will skip)"
    unset SESSIONGATE_TEST_DATABASE_URL
elif ! bash scripts/pg.sh find-bin >/dev/null 2>&1; then
    if in_ci; then
        fail "PostgreSQL binaries (initdb, pg_ctl, postgres) not found on PATH or in /usr/lib/postgresql/*/bin (CI=true)"
    fi
    warn "PostgreSQL binaries not found: postgres tests will skip"
    unset SESSIONGATE_TEST_DATABASE_URL
else
    if [[ "$(id -u)" -eq 0 ]]; then
        PG_DIR="$(mktemp -d /tmp/sessiongate-pg.XXXXXX)"  # reachable by the non-root PG user
    else
        PG_DIR="$(mktemp -d "${TMPDIR:-/tmp}/sessiongate-pg.XXXXXX")"
    fi
    # Safety net if this script is SIGKILLed: tear PostgreSQL down once we are gone.
    setsid bash scripts/pg.sh watch "$PG_DIR" "$$" </dev/null >/dev/null 2>&1 &
    WATCH_PID=$!
    bash scripts/pg.sh setup "$PG_DIR" || fail "could not start PostgreSQL"
    # shellcheck source=/dev/null
    PG_PORT="$(source "$PG_DIR/pg.env" && echo "$PG_PORT")"
    # shellcheck source=/dev/null
    PG_RUN_AS="$(source "$PG_DIR/pg.env" && echo "$PG_RUN_AS")"
    SESSIONGATE_TEST_DATABASE_URL="$(bash scripts/pg.sh ctl "$PG_DIR" dsn)"
    SESSIONGATE_TEST_PG_CONTROL="$PG_DIR/control"
    export SESSIONGATE_TEST_DATABASE_URL SESSIONGATE_TEST_PG_CONTROL
    say "postgres on 127.0.0.1:$PG_PORT (${PG_RUN_AS:+user $PG_RUN_AS, }data in $PG_DIR)"
fi

# --- 4b. MariaDB ---------------------------------------------------------------------------
unset SESSIONGATE_TEST_MYSQL_CONTROL
if [[ -n "${SESSIONGATE_NO_PG:-}" ]] && ! in_ci; then
    warn "SESSIONGATE_NO_PG set: not starting MariaDB either (mysql tests will skip)"
    unset SESSIONGATE_TEST_MYSQL_URL
else
    if ! bash scripts/mariadb.sh find-bin >/dev/null 2>&1 && [[ "$(id -u)" -eq 0 ]]; then
        say "apt-get install mariadb-server"
        bash scripts/mariadb.sh install || warn "could not install mariadb-server"
    fi
    if ! bash scripts/mariadb.sh find-bin >/dev/null 2>&1; then
        if in_ci; then
            fail "MariaDB (mariadbd) not found and not installable (CI=true)"
        fi
        warn "MariaDB not installed (apt-get install mariadb-server): mysql tests will skip"
        unset SESSIONGATE_TEST_MYSQL_URL
    else
        MYSQL_DIR="$(mktemp -d /tmp/sessiongate-mariadb.XXXXXX)"  # reachable by its own user
        setsid bash scripts/mariadb.sh watch "$MYSQL_DIR" "$$" </dev/null >/dev/null 2>&1 &
        MYSQL_WATCH_PID=$!
        bash scripts/mariadb.sh setup "$MYSQL_DIR" || fail "could not start MariaDB"
        SESSIONGATE_TEST_MYSQL_URL="$(bash scripts/mariadb.sh ctl "$MYSQL_DIR" dsn)"
        SESSIONGATE_TEST_MYSQL_CONTROL="$MYSQL_DIR/control"
        export SESSIONGATE_TEST_MYSQL_URL SESSIONGATE_TEST_MYSQL_CONTROL
        # shellcheck source=/dev/null
        say "mariadb on 127.0.0.1:$(source "$MYSQL_DIR/mariadb.env" && echo "$DB_PORT") (data in $MYSQL_DIR)"
    fi
fi

# --- 4c. Redis -----------------------------------------------------------------------------
unset SESSIONGATE_TEST_REDIS_URL SESSIONGATE_TEST_REDIS_CONTROL
if ! bash scripts/redis.sh find-bin >/dev/null 2>&1 && [[ "$(id -u)" -eq 0 ]]; then
    say "apt-get install redis-server"
    bash scripts/redis.sh install || warn "could not install redis-server"
fi
if ! bash scripts/redis.sh find-bin >/dev/null 2>&1; then
    if in_ci; then
        fail "Redis (redis-server or valkey-server) not found and not installable (CI=true)"
    fi
    warn "redis-server not installed (apt-get install redis-server): redis tests will skip"
else
    REDIS_DIR="$(mktemp -d /tmp/sessiongate-redis.XXXXXX)"  # reachable by its own user
    setsid bash scripts/redis.sh watch "$REDIS_DIR" "$$" </dev/null >/dev/null 2>&1 &
    REDIS_WATCH_PID=$!
    bash scripts/redis.sh setup "$REDIS_DIR" || fail "could not start Redis"
    SESSIONGATE_TEST_REDIS_URL="$(bash scripts/redis.sh ctl "$REDIS_DIR" url)"
    SESSIONGATE_TEST_REDIS_CONTROL="$REDIS_DIR/control"
    export SESSIONGATE_TEST_REDIS_URL SESSIONGATE_TEST_REDIS_CONTROL
    say "redis on $SESSIONGATE_TEST_REDIS_URL (data in $REDIS_DIR)"
fi

# --- 5. pytest -----------------------------------------------------------------------------
if [[ $# -eq 0 ]]; then
    set -- -q
fi
say "pytest $*"
set +e
python -m pytest "$@"
rc=$?
set -e
if [[ $rc -eq 5 ]]; then
    echo "==> FAILED: pytest collected no tests (exit 5); a run that tests nothing is a failure" >&2
fi
exit "$rc"
