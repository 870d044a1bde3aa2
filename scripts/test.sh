#!/usr/bin/env bash
# One-command test run for sessiongate: bash scripts/test.sh [PYTEST ARGS...]  (default: -q)
#
# Sets up everything itself, on a fresh clone or on a re-run:
#   1. .venv with `pip install -e '.[test]'` plus uv (skipped when pyproject.toml is unchanged);
#      with the matrix on (below) also, through uv:
#        .venv-lowest      the same Python, `--resolution lowest-direct`: every dependency at the
#                          lowest version pyproject.toml allows
#        .venv-py3.N       every other Python listed in the classifiers (3.12, 3.13), newest deps
#   2. `npm ci` in tests/interop, tests/interop/db/mysql and examples/* that have a
#      package-lock.json (skipped when node_modules matches the lockfile); nginx-light,
#      mariadb-server and redis-server from Debian's packages when missing (as root; waits for
#      another apt/dpkg run to finish instead of failing)
#   3. lint: ruff check, ruff format --check, mypy --strict (a failure fails the run)
#   4. services, one throwaway instance per pytest worker (see start_service):
#      PostgreSQL on 127.0.0.1 (scripts/pg.sh), exported to the tests as
#        SESSIONGATE_TEST_DATABASE_URL  postgresql://postgres@127.0.0.1:PORT/sessiongate_test
#        SESSIONGATE_TEST_PG_CONTROL    executable: start | stop [fast|immediate|smart] |
#                                       restart [MODE] | status (exit 0 running, 3 stopped) | dsn
#      MariaDB on 127.0.0.1 (scripts/mariadb.sh), exported as
#        SESSIONGATE_TEST_MYSQL_URL      mysql://sessiongate:…@127.0.0.1:PORT/sessiongate_test
#        SESSIONGATE_TEST_MYSQL_CONTROL  executable: start | stop [fast|immediate] | restart |
#                                        status | dsn
#      Redis on 127.0.0.1 (scripts/redis.sh), exported as
#        SESSIONGATE_TEST_REDIS_URL      redis://127.0.0.1:PORT/0
#        SESSIONGATE_TEST_REDIS_CONTROL  executable: start | stop | restart | status | url |
#                                        kill-clients
#      and, for pytest-xdist worker gwK, the same names suffixed __GWK (tests/conftest.py gives
#      each worker its own instances, so a test that stops "its" server disturbs no other worker)
#   5. python -m pytest -n WORKERS --dist loadfile "$@" in .venv, then in each matrix venv;
#      exit code 5 (no tests collected) is a failure, and so is any failing run
# Everything started is stopped on exit, including on failure and Ctrl-C.
#
# Environment:
#   CI=true                       Node.js, npm packages, nginx, PostgreSQL, MariaDB and every
#                                 supported Python are mandatory, and the matrix (1.) always runs
#   SESSIONGATE_MATRIX=1          run the matrix outside CI too (or a comma-separated list of
#                                 entries: SESSIONGATE_MATRIX=lowest-deps,python3.13)
#   SESSIONGATE_TEST_WORKERS=N    pytest-xdist workers (default: the number of CPUs; 1 = no
#                                 xdist); `-n N` or `-p no:xdist` in the arguments also work
#   SESSIONGATE_APT_WAIT=SECONDS  how long to wait for another apt/dpkg run (default 600)
# Outside CI only: SESSIONGATE_NO_PG=1 skips the databases (PostgreSQL and MariaDB),
# SESSIONGATE_SKIP_LINT=1 skips lint.
set -euo pipefail

START_SECONDS=$SECONDS
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 PYTHONDONTWRITEBYTECODE=1
export npm_config_fund=false npm_config_audit=false npm_config_update_notifier=false

UV_REQUIREMENT="uv>=0.8"   # builds the matrix venvs; installed into .venv next to the test extra

in_ci() {
    case "${CI:-}" in 1|true|TRUE|True|yes|YES) return 0 ;; *) return 1 ;; esac
}
say() { echo "==> $*"; }
warn() { echo "==> WARNING: $*" >&2; }
fail() { echo "==> FAILED: $*" >&2; exit 1; }
# matrix_wants NAME: is matrix entry NAME (lowest-deps, python3.12, ...) to be run?
matrix_wants() {
    in_ci && return 0
    case ",${SESSIONGATE_MATRIX:-}," in *,1,* | *,"$1",*) return 0 ;; *) return 1 ;; esac
}

# Teardown commands registered by the set-up steps, run in reverse order on exit.
TEARDOWN=()
on_exit() { TEARDOWN+=("$(printf '%q ' "$@")"); }
# shellcheck disable=SC2317  # invoked via trap
cleanup() {
    local rc=$? i
    trap - EXIT INT TERM HUP
    for ((i = ${#TEARDOWN[@]} - 1; i >= 0; i--)); do
        eval "${TEARDOWN[$i]}" || warn "clean-up step failed: ${TEARDOWN[$i]}"
    done
    echo "==> done in $((SECONDS - START_SECONDS))s (exit $rc)"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# shellcheck disable=SC2317  # invoked via cleanup
stop_pid() { kill "$1" 2>/dev/null || true; }
sha256_of() { sha256sum "$@" | sha256sum | cut -d' ' -f1; }

# --- 0. pytest workers ---------------------------------------------------------------------
PYTEST_ARGS=("$@")
[[ ${#PYTEST_ARGS[@]} -gt 0 ]] || PYTEST_ARGS=(-q)

cpu_count() { nproc 2>/dev/null || getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1; }
# Print the worker count the arguments ask for ("" when they do not mention xdist).
workers_in_args() {
    local prev="" arg value=""
    for arg in "$@"; do
        case "$prev" in
            -n | --numprocesses) value="$arg" ;;
            -p) [[ "$arg" == no:xdist ]] && value=0 ;;
        esac
        case "$arg" in
            -n?*) value="${arg#-n}" ;;
            --numprocesses=*) value="${arg#--numprocesses=}" ;;
            -pno:xdist) value=0 ;;
        esac
        prev="$arg"
    done
    echo "$value"
}
WORKERS="$(workers_in_args "${PYTEST_ARGS[@]}")"
if [[ -z "$WORKERS" ]]; then
    WORKERS="${SESSIONGATE_TEST_WORKERS:-auto}"
    [[ "$WORKERS" != auto && "$WORKERS" != logical ]] || WORKERS="$(cpu_count)"
    [[ "$WORKERS" =~ ^[0-9]+$ ]] || fail "SESSIONGATE_TEST_WORKERS must be a number or auto"
    if [[ "$WORKERS" -gt 1 ]]; then
        PYTEST_ARGS=(-n "$WORKERS" --dist loadfile "${PYTEST_ARGS[@]}")
    fi
fi
[[ "$WORKERS" != auto && "$WORKERS" != logical ]] || WORKERS="$(cpu_count)"
[[ "$WORKERS" =~ ^[0-9]+$ ]] || fail "cannot tell the number of pytest workers from '-n $WORKERS'"
[[ "$WORKERS" -ge 1 ]] || WORKERS=1

# Serialise venv/npm/apt set-up between concurrent runs in the same checkout.
if command -v flock >/dev/null 2>&1; then
    LOCK_FILE="${TMPDIR:-/tmp}/sessiongate-setup-$(echo "$ROOT" | sha256sum | cut -c1-16).lock"
    exec 9>"$LOCK_FILE"
    flock 9
fi

# --- 1. virtualenvs ------------------------------------------------------------------------
VENV="$ROOT/.venv"
PY="$VENV/bin/python"
python_ok() {
    "$1" -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1
}
if ! { [[ -x "$PY" ]] && python_ok "$PY"; }; then
    BASE_PY=""
    for candidate in python3.11 python3 python3.12 python3.13 python; do
        if command -v "$candidate" >/dev/null 2>&1 && python_ok "$candidate"; then
            BASE_PY="$candidate"
            break
        fi
    done
    [[ -n "$BASE_PY" ]] || fail "Python >= 3.11 not found (tried python3.11, python3, ...)"
    say "creating venv (.venv, $("$BASE_PY" --version 2>&1))"
    rm -rf "$VENV"
    "$BASE_PY" -m venv "$VENV" || fail "python -m venv failed (Debian: apt-get install python3-venv)"
fi
# Run a command quietly; show its full output only if it fails.
quietly() {
    local log status=0
    log="$(mktemp "${TMPDIR:-/tmp}/sessiongate-setup.XXXXXX")"
    "$@" >"$log" 2>&1 || status=$?
    [[ $status -eq 0 ]] || cat "$log" >&2
    rm -f "$log"
    return "$status"
}
DEPS_STAMP="$VENV/.sessiongate-deps"
# The installed metadata carries the version: reinstall when pyproject.toml or __version__ changes.
VERSION_LINE="$(grep -m1 '^__version__' src/sessiongate/__init__.py || true)"
DEPS_HASH="$(sha256_of pyproject.toml) $("$PY" --version 2>&1) $UV_REQUIREMENT $VERSION_LINE"
if [[ "$(cat "$DEPS_STAMP" 2>/dev/null || true)" != "$DEPS_HASH" ]] \
    || ! "$PY" -c 'import pytest, mypy, xdist' 2>/dev/null || [[ ! -x "$VENV/bin/ruff" ]] \
    || [[ ! -x "$VENV/bin/uv" ]]; then
    say "pip install -e '.[test]' '$UV_REQUIREMENT'"
    rm -f "$DEPS_STAMP"
    quietly "$PY" -m pip install --quiet --upgrade pip || fail "pip install --upgrade pip failed"
    quietly "$PY" -m pip install --quiet -e '.[test]' "$UV_REQUIREMENT" \
        || fail "pip install -e '.[test]' failed"
    echo "$DEPS_HASH" > "$DEPS_STAMP"
else
    say "venv up to date"
fi
export PATH="$VENV/bin:$PATH"
export VIRTUAL_ENV="$VENV"
MAIN_PY_VERSION="$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"

# The Python versions the package claims (its "Programming Language :: Python :: 3.N"
# classifiers): the matrix tests each of them.
supported_pythons() {
    "$PY" - <<'EOF'
import re, tomllib
with open("pyproject.toml", "rb") as f:
    classifiers = tomllib.load(f)["project"]["classifiers"]
for c in classifiers:
    m = re.fullmatch(r"Programming Language :: Python :: (3\.\d+)", c)
    if m:
        print(m.group(1))
EOF
}
# An interpreter for Python X.Y: PATH first (a pyenv shim that cannot run it is skipped), then
# beside the main Python (pyenv keeps versions side by side), pyenv's root, uv, Debian's /usr/bin.
find_python() {
    local want="$1" candidate main_versions
    main_versions="$(dirname "$(dirname "$(dirname "$(readlink -f "$PY")")")")"
    for candidate in "$(command -v "python$want" 2>/dev/null || true)" \
        "$main_versions"/"$want".*/bin/"python$want" \
        "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$want".*/bin/"python$want" \
        "$(uv python find --no-python-downloads "$want" 2>/dev/null || true)" \
        "/usr/bin/python$want"; do
        [[ -n "$candidate" && -x "$candidate" ]] || continue
        if [[ "$("$candidate" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)" \
            == "$want" ]]; then
            echo "$candidate"
            return 0
        fi
    done
    return 1
}
# make_uv_venv DIR PYTHON RESOLUTION: DIR with `uv pip install -e '.[test]'` (stamped like .venv).
make_uv_venv() {
    local dir="$1" python="$2" resolution="$3" stamp want
    stamp="$dir/.sessiongate-deps"
    want="$(sha256_of pyproject.toml) $("$python" --version 2>&1) $resolution $VERSION_LINE"
    if [[ -x "$dir/bin/python" && "$(cat "$stamp" 2>/dev/null || true)" == "$want" ]]; then
        say "venv ${dir#"$ROOT/"} up to date"
        return 0
    fi
    say "uv venv ${dir#"$ROOT/"} ($("$python" --version 2>&1), --resolution $resolution)"
    rm -rf "$dir"
    quietly uv venv --quiet --python "$python" "$dir" || return 1
    quietly uv pip install --quiet --python "$dir/bin/python" --resolution "$resolution" \
        -e '.[test]' || return 1
    echo "$want" > "$stamp"
}
# Each matrix entry: "NAME DIR" (NAME is shown in the summary); its pytest runs after .venv's.
MATRIX=()
if matrix_wants lowest-deps; then
    make_uv_venv "$ROOT/.venv-lowest" "$PY" lowest-direct \
        || fail "could not build .venv-lowest (lowest-direct resolution of pyproject.toml)"
    MATRIX+=("lowest-deps $ROOT/.venv-lowest")
fi
for version in $(supported_pythons); do
    [[ "$version" != "$MAIN_PY_VERSION" ]] && matrix_wants "python$version" || continue
    if ! other_py="$(find_python "$version")"; then
        if in_ci; then fail "Python $version is listed as supported but was not found"; fi
        warn "Python $version not found: not tested"
        continue
    fi
    make_uv_venv "$ROOT/.venv-py$version" "$other_py" highest \
        || fail "could not build .venv-py$version"
    MATRIX+=("python$version $ROOT/.venv-py$version")
done
if [[ ${#MATRIX[@]} -eq 0 ]]; then
    say "matrix (lowest dependencies, other Pythons): off (CI=true or SESSIONGATE_MATRIX=1)"
fi

# --- 2. npm packages and system packages -----------------------------------------------------
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

# apt-get that waits (up to SESSIONGATE_APT_WAIT seconds) for another apt/dpkg run instead of
# failing: DPkg::Lock::Timeout covers the dpkg lock of `install`; `update` takes the package
# lists' lock, which that option does not cover, so it is retried.
APT_WAIT="${SESSIONGATE_APT_WAIT:-600}"
apt_get() {
    local deadline=$((SECONDS + APT_WAIT)) log status
    log="$(mktemp "${TMPDIR:-/tmp}/sessiongate-apt.XXXXXX")"
    while :; do
        status=0
        DEBIAN_FRONTEND=noninteractive apt-get -qq -o DPkg::Lock::Timeout="$APT_WAIT" "$@" \
            >"$log" 2>&1 || status=$?
        if [[ $status -ne 0 ]] && grep -q 'Could not get lock' "$log" \
            && [[ $SECONDS -lt $deadline ]]; then
            say "apt-get $1: waiting for another package manager run to finish"
            sleep 5
            continue
        fi
        [[ $status -eq 0 ]] || cat "$log" >&2
        rm -f "$log"
        return "$status"
    done
}
# apt_install WHAT PACKAGE...: install Debian packages when we may (root with apt-get);
# otherwise what needs them fails under CI and is skipped, with a message, on a laptop.
apt_install() {
    local what="$1"
    shift
    if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null 2>&1; then
        say "apt-get install $*"
        if apt_get update && apt_get install -y --no-install-recommends "$@"; then
            return 0
        fi
        if in_ci; then fail "could not install $*"; fi
        warn "could not install $*: $what will be skipped"
    else
        warn "$* not installed (apt-get install $*): $what will be skipped"
    fi
}
# nginx, for the test that runs examples/nginx/auth_request.conf in a real nginx.
if ! command -v nginx >/dev/null 2>&1 && [[ ! -x /usr/sbin/nginx ]]; then
    apt_install "the nginx test" nginx-light
fi
# MariaDB, for the mysql-marked tests (a throwaway server per worker, section 4).
if ! { [[ -n "${SESSIONGATE_NO_PG:-}" ]] && ! in_ci; } \
    && ! bash scripts/mariadb.sh find-bin >/dev/null 2>&1; then
    apt_install "the MariaDB tests" mariadb-server
fi
# Redis, for the Redis store, listener and revocation tests (a throwaway server per worker).
if ! bash scripts/redis.sh find-bin >/dev/null 2>&1; then
    apt_install "the Redis tests" redis-server
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
    say "ruff check"
    ruff check --quiet "${LINT_DIRS[@]}" || fail "ruff check ${LINT_DIRS[*]}"
    say "ruff format --check"
    ruff format --check --quiet "${LINT_DIRS[@]}" \
        || fail "ruff format --check (run: .venv/bin/ruff format ${LINT_DIRS[*]})"
    if find src/sessiongate -name '*.py' -print -quit 2>/dev/null | grep -q .; then
        say "mypy"
        mypy || fail "mypy (strict, src/sessiongate)"
    else
        warn "no Python files in src/sessiongate yet: skipping mypy"
    fi
fi

# --- 3b. docs ------------------------------------------------------------------------------
# The docs site is built strictly (broken links, missing pages or API references fail the run);
# its code blocks run in tests/test_docs.py.
say "docs (mkdocs build --strict)"
bash scripts/docs.sh --strict --site-dir "${TMPDIR:-/tmp}/sessiongate-site-$$" >/dev/null \
    || fail "docs build (mkdocs --strict): run bash scripts/docs.sh --strict"
rm -rf "${TMPDIR:-/tmp}/sessiongate-site-$$"

# --- 4. services ---------------------------------------------------------------------------
# A service is one function, start_NAME INDEX, that starts instance INDEX (one per pytest
# worker), registers its teardown with on_exit and exports its variables with export_for; then
# `start_service NAME` below starts one instance per worker. Variables of instance K are
# exported as NAME__GWK (read by worker gwK, see tests/conftest.py); instance 0 also as NAME,
# for runs without xdist.
export_for() {
    local index="$1" name="$2" value="$3"
    if [[ "$index" -eq 0 ]]; then
        export "$name=$value"
    fi
    if [[ "$WORKERS" -gt 1 ]]; then
        export "${name}__GW${index}=$value"
    fi
}
start_service() {
    local name="$1" index
    for ((index = 0; index < WORKERS; index++)); do
        "start_$name" "$index"
    done
}

start_postgres() {
    local index="$1" dir watch_pid port run_as
    if [[ "$(id -u)" -eq 0 ]]; then
        dir="$(mktemp -d /tmp/sessiongate-pg.XXXXXX)"  # reachable by the non-root PG user
    else
        dir="$(mktemp -d "${TMPDIR:-/tmp}/sessiongate-pg.XXXXXX")"
    fi
    # Safety net if this script is SIGKILLed: tear PostgreSQL down once we are gone.
    setsid bash scripts/pg.sh watch "$dir" "$$" </dev/null >/dev/null 2>&1 &
    watch_pid=$!
    # reverse order on exit: tear the server down first, then stop its watchdog
    on_exit stop_pid "$watch_pid"
    on_exit bash "$ROOT/scripts/pg.sh" teardown "$dir"
    bash scripts/pg.sh setup "$dir" || fail "could not start PostgreSQL"
    # shellcheck source=/dev/null
    port="$(source "$dir/pg.env" && echo "$PG_PORT")"
    # shellcheck source=/dev/null
    run_as="$(source "$dir/pg.env" && echo "$PG_RUN_AS")"
    export_for "$index" SESSIONGATE_TEST_DATABASE_URL "$(bash scripts/pg.sh ctl "$dir" dsn)"
    export_for "$index" SESSIONGATE_TEST_PG_CONTROL "$dir/control"
    say "postgres #$index on 127.0.0.1:$port (${run_as:+user $run_as, }data in $dir)"
}

start_mariadb() {
    local index="$1" dir watch_pid
    dir="$(mktemp -d /tmp/sessiongate-mariadb.XXXXXX)"  # reachable by its own user
    setsid bash scripts/mariadb.sh watch "$dir" "$$" </dev/null >/dev/null 2>&1 &
    watch_pid=$!
    # reverse order on exit: tear the server down first, then stop its watchdog
    on_exit stop_pid "$watch_pid"
    on_exit bash "$ROOT/scripts/mariadb.sh" teardown "$dir"
    bash scripts/mariadb.sh setup "$dir" || fail "could not start MariaDB"
    export_for "$index" SESSIONGATE_TEST_MYSQL_URL "$(bash scripts/mariadb.sh ctl "$dir" dsn)"
    export_for "$index" SESSIONGATE_TEST_MYSQL_CONTROL "$dir/control"
    # shellcheck source=/dev/null
    say "mariadb #$index on 127.0.0.1:$(source "$dir/mariadb.env" && echo "$DB_PORT") (data in $dir)"
}

start_redis() {
    local index="$1" dir watch_pid
    dir="$(mktemp -d /tmp/sessiongate-redis.XXXXXX)"  # reachable by its own user
    setsid bash scripts/redis.sh watch "$dir" "$$" </dev/null >/dev/null 2>&1 &
    watch_pid=$!
    on_exit bash "$ROOT/scripts/redis.sh" teardown "$dir"
    on_exit stop_pid "$watch_pid"
    bash scripts/redis.sh setup "$dir" || fail "could not start Redis"
    export_for "$index" SESSIONGATE_TEST_REDIS_URL "$(bash scripts/redis.sh ctl "$dir" url)"
    export_for "$index" SESSIONGATE_TEST_REDIS_CONTROL "$dir/control"
    say "redis #$index on $(bash scripts/redis.sh ctl "$dir" url) (data in $dir)"
}

# Never inherit another run's instances.
for var in $(compgen -e); do
    case "$var" in
        SESSIONGATE_TEST_DATABASE_URL* | SESSIONGATE_TEST_PG_CONTROL* | SESSIONGATE_TEST_MYSQL_* \
            | SESSIONGATE_TEST_REDIS_*)
            unset "$var" ;;
    esac
done
if [[ -n "${SESSIONGATE_NO_PG:-}" ]] && in_ci; then
    warn "SESSIONGATE_NO_PG is ignored under CI=true"
fi
if [[ -n "${SESSIONGATE_NO_PG:-}" ]] && ! in_ci; then
    warn "SESSIONGATE_NO_PG set: not starting PostgreSQL (postgres tests will skip)"
elif ! bash scripts/pg.sh find-bin >/dev/null 2>&1; then
    if in_ci; then
        fail "PostgreSQL binaries (initdb, pg_ctl, postgres) not found on PATH or in /usr/lib/postgresql/*/bin (CI=true)"
    fi
    warn "PostgreSQL binaries not found: postgres tests will skip"
else
    start_service postgres
fi
if [[ -n "${SESSIONGATE_NO_PG:-}" ]] && ! in_ci; then
    warn "SESSIONGATE_NO_PG set: not starting MariaDB either (mysql tests will skip)"
elif ! bash scripts/mariadb.sh find-bin >/dev/null 2>&1; then
    if in_ci; then fail "MariaDB (mariadbd) not found and not installable (CI=true)"; fi
    warn "MariaDB not installed (apt-get install mariadb-server): mysql tests will skip"
else
    start_service mariadb
fi
if ! bash scripts/redis.sh find-bin >/dev/null 2>&1; then
    if in_ci; then fail "Redis (redis-server or valkey-server) not found and not installable (CI=true)"; fi
    warn "redis-server not installed (apt-get install redis-server): redis tests will skip"
else
    start_service redis
fi

# --- 5. pytest -----------------------------------------------------------------------------
# run_pytest NAME VENV: python -m pytest in that venv; prints and records the outcome.
SUMMARY=()
FAILED=0
# The matrix runs (lowest dependencies, other Pythons) leave out tests/interop and the slow
# marker: those exercise the JS libraries and real servers, which do not change with the
# Python version or our dependency floors, and the whole CI run must stay under 20 minutes.
MATRIX_ARGS=(--ignore=tests/interop -m "not slow")
run_pytest() {
    local name="$1" venv="$2" rc=0
    shift 2
    say "pytest [$name, $("$venv/bin/python" --version 2>&1)] ${PYTEST_ARGS[*]} $*"
    PATH="$venv/bin:$PATH" VIRTUAL_ENV="$venv" "$venv/bin/python" -m pytest "${PYTEST_ARGS[@]}" \
        "$@" || rc=$?
    if [[ $rc -eq 0 ]]; then
        SUMMARY+=("$name: passed")
        return 0
    fi
    FAILED=1
    if [[ $rc -eq 5 ]]; then
        echo "==> FAILED: pytest [$name] collected no tests (exit 5); a run that tests nothing is a failure" >&2
        SUMMARY+=("$name: FAILED (no tests collected)")
    else
        SUMMARY+=("$name: FAILED (pytest exit $rc)")
    fi
}
run_pytest main "$VENV"
for entry in "${MATRIX[@]}"; do
    run_pytest "${entry%% *}" "${entry#* }" "${MATRIX_ARGS[@]}"
done
if [[ ${#SUMMARY[@]} -gt 1 ]]; then
    say "summary: $(IFS=';'; echo "${SUMMARY[*]}" | sed 's/;/; /g')"
fi
exit "$FAILED"
