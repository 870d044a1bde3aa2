#!/usr/bin/env bash
# Throwaway PostgreSQL for the sessiongate test suite (used by scripts/test.sh).
#
#   pg.sh setup    DIR            initdb into the empty DIR, start a server on 127.0.0.1 and a
#                                 free port, create database sessiongate_test, and write
#                                 DIR/pg.env (DSN etc.) and DIR/control (the control script)
#   pg.sh ctl      DIR COMMAND    COMMAND is one of:
#                                   start               start the server (no-op if running)
#                                   stop [fast|immediate|smart]
#                                                       stop it (default fast; no-op if stopped)
#                                   restart [MODE]      stop then start (same port, same data)
#                                   status              print "running (pid N, port P)" and exit
#                                                       0, or print "stopped" and exit 3
#                                   dsn                 print the database URL
#   pg.sh teardown DIR            stop the server (immediate, then SIGKILL if needed), rm -rf DIR
#   pg.sh find-bin                print the directory holding initdb/pg_ctl/postgres (exit 1 if none)
#   pg.sh watch    DIR PID        wait until process PID is gone, then teardown DIR (a safety net
#                                 for when the caller is killed with SIGKILL)
#
# When run as root, every PostgreSQL binary runs as the system user sessiongate-pg (created
# if missing): initdb and postgres refuse to run as root.
set -euo pipefail

PG_SYSTEM_USER="${SESSIONGATE_PG_USER:-sessiongate-pg}"
PG_DB_USER="postgres"
PG_DB_NAME="sessiongate_test"
SCRIPT_PATH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")"

die() { echo "pg.sh: $*" >&2; exit 1; }

# Directory holding initdb, pg_ctl and postgres: PATH first, then Debian's layout.
find_pg_bin() {
    local initdb_path dir
    if initdb_path="$(command -v initdb 2>/dev/null)" && command -v pg_ctl >/dev/null 2>&1 \
        && command -v postgres >/dev/null 2>&1; then
        # Resolve symlinks (/usr/local/bin/initdb -> /usr/lib/postgresql/15/bin/initdb) so the
        # three binaries come from the same installation.
        dir="$(dirname "$(readlink -f "$initdb_path")")"
        if [[ -x "$dir/pg_ctl" && -x "$dir/postgres" ]]; then
            echo "$dir"
            return 0
        fi
        dirname "$initdb_path"
        return 0
    fi
    local candidate
    # shellcheck disable=SC2012  # plain version-sorted directory names
    for candidate in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -rV); do
        if [[ -x "$candidate/initdb" && -x "$candidate/pg_ctl" && -x "$candidate/postgres" ]]; then
            echo "$candidate"
            return 0
        fi
    done
    return 1
}

ensure_system_user() {
    local user="$1"
    if id -u "$user" >/dev/null 2>&1; then
        return 0
    fi
    local nologin=/usr/sbin/nologin
    [[ -x "$nologin" ]] || nologin=/bin/false
    # A concurrent run may create it between the check and useradd: re-check on failure.
    useradd --system --no-create-home --home-dir /nonexistent --shell "$nologin" \
        --comment "sessiongate throwaway test PostgreSQL" "$user" 2>/dev/null \
        || id -u "$user" >/dev/null 2>&1 \
        || die "could not create system user $user (useradd failed)"
}

# Run a command as the PostgreSQL owner (only differs from the caller when the caller is root).
as_pg() {
    if [[ -n "${PG_RUN_AS:-}" && "$(id -u)" -eq 0 ]]; then
        if command -v runuser >/dev/null 2>&1; then
            runuser -u "$PG_RUN_AS" -- "$@"
        else
            su -s /bin/bash "$PG_RUN_AS" -c "$(printf '%q ' "$@")"
        fi
    else
        "$@"
    fi
}

free_port() {
    local py
    py="$(command -v python3 || command -v python || true)"
    [[ -n "$py" ]] || die "python3 is needed to pick a free port"
    "$py" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

load_env() {
    local dir="$1"
    [[ -f "$dir/pg.env" ]] || die "$dir/pg.env not found (not a pg.sh directory, or already torn down)"
    # shellcheck source=/dev/null
    source "$dir/pg.env"
}

postmaster_pid() {
    [[ -f "$PG_DATA/postmaster.pid" ]] || return 1
    local pid
    pid="$(head -n 1 "$PG_DATA/postmaster.pid" 2>/dev/null || true)"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    echo "$pid"
}

is_running() {
    (cd "$PG_DIR" && as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1)
}

ctl_start() {
    if is_running; then
        echo "already running"
        return 0
    fi
    if ! (cd "$PG_DIR" && as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w -t 60 start \
        >/dev/null); then
        echo "pg.sh: PostgreSQL failed to start; last lines of $PG_LOG:" >&2
        tail -n 20 "$PG_LOG" >&2 || true
        return 1
    fi
    echo "started"
}

ctl_stop() {
    local mode="${1:-fast}"
    case "$mode" in fast|immediate|smart) ;; *) die "stop mode must be fast, immediate or smart" ;; esac
    if ! is_running; then
        echo "already stopped"
        return 0
    fi
    (cd "$PG_DIR" && as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m "$mode" -w -t 60 stop >/dev/null)
    echo "stopped"
}

ctl_status() {
    local pid
    if is_running && pid="$(postmaster_pid)"; then
        echo "running (pid $pid, port $PG_PORT)"
        return 0
    fi
    echo "stopped"
    return 3
}

cmd_setup() {
    local dir="$1"
    [[ -d "$dir" ]] || die "setup: $dir is not a directory"
    [[ -z "$(ls -A "$dir")" ]] || die "setup: $dir is not empty"
    dir="$(cd "$dir" && pwd)"

    local bin
    bin="$(find_pg_bin)" || die "PostgreSQL binaries (initdb, pg_ctl, postgres) not found on PATH or in /usr/lib/postgresql/*/bin"

    local run_as=""
    if [[ "$(id -u)" -eq 0 ]]; then
        run_as="$PG_SYSTEM_USER"
        ensure_system_user "$run_as"
    fi

    PG_DIR="$dir"
    PG_BIN="$bin"
    PG_RUN_AS="$run_as"
    PG_DATA="$dir/data"
    PG_SOCK="$dir/sock"
    PG_LOG="$dir/postgres.log"
    mkdir -p "$PG_SOCK"
    chmod 755 "$dir"
    chmod 700 "$PG_SOCK"
    : > "$PG_LOG"
    if [[ -n "$run_as" ]]; then
        chown -R "$run_as" "$dir"
    fi

    if ! (cd "$dir" && as_pg "$bin/initdb" -D "$PG_DATA" -U "$PG_DB_USER" -A trust --no-locale \
        -E UTF8 --no-sync >"$dir/initdb.log" 2>&1); then
        cat "$dir/initdb.log" >&2
        die "initdb failed"
    fi

    # Trust authentication, but only over the private socket directory and IPv4 loopback.
    cat > "$PG_DATA/pg_hba.conf" <<'EOF'
# TYPE  DATABASE  USER  ADDRESS       METHOD
local   all       all                 trust
host    all       all   127.0.0.1/32  trust
EOF
    {
        echo ""
        echo "# --- sessiongate throwaway test server (scripts/pg.sh) ---"
        echo "listen_addresses = '127.0.0.1'"
        echo "unix_socket_directories = '$PG_SOCK'"
        echo "fsync = off"
        echo "full_page_writes = off"
        echo "synchronous_commit = off"
        echo "max_connections = 200"
        echo "logging_collector = off"
    } >> "$PG_DATA/postgresql.conf"
    [[ -z "$run_as" ]] || chown "$run_as" "$PG_DATA/pg_hba.conf" "$PG_DATA/postgresql.conf"

    # Create the test database in single-user mode (needs no client binaries).
    local out
    out="$(cd "$dir" && echo "CREATE DATABASE $PG_DB_NAME;" \
        | as_pg "$bin/postgres" --single -D "$PG_DATA" postgres 2>&1)" \
        || { echo "$out" >&2; die "creating database $PG_DB_NAME failed"; }
    if grep -qE '(ERROR|FATAL|PANIC):' <<<"$out"; then
        echo "$out" >&2
        die "creating database $PG_DB_NAME failed"
    fi

    # Pick a free port; retry if another process grabs it before postgres binds.
    local attempt port
    for attempt in 1 2 3 4 5; do
        port="$(free_port)"
        echo "port = $port" >> "$PG_DATA/postgresql.conf"
        PG_PORT="$port"
        write_env
        if ctl_start >/dev/null 2>"$dir/start.err"; then
            rm -f "$dir/start.err"
            return 0
        fi
        if grep -qiE 'could not (bind|create listen)|address already in use' "$PG_LOG" \
            && [[ "$attempt" -lt 5 ]]; then
            : > "$PG_LOG"
            continue
        fi
        cat "$dir/start.err" >&2
        die "PostgreSQL did not start"
    done
}

write_env() {
    local dsn="postgresql://$PG_DB_USER@127.0.0.1:$PG_PORT/$PG_DB_NAME"
    {
        printf 'PG_DIR=%q\n' "$PG_DIR"
        printf 'PG_BIN=%q\n' "$PG_BIN"
        printf 'PG_RUN_AS=%q\n' "$PG_RUN_AS"
        printf 'PG_DATA=%q\n' "$PG_DATA"
        printf 'PG_SOCK=%q\n' "$PG_SOCK"
        printf 'PG_LOG=%q\n' "$PG_LOG"
        printf 'PG_PORT=%q\n' "$PG_PORT"
        printf 'PG_DSN=%q\n' "$dsn"
    } > "$PG_DIR/pg.env"
    {
        echo '#!/usr/bin/env bash'
        echo '# Control script for the throwaway PostgreSQL: start | stop [fast|immediate|smart] |'
        echo '# restart [MODE] | status | dsn.  Generated by scripts/pg.sh.'
        printf 'exec bash %q ctl %q "$@"\n' "$SCRIPT_PATH" "$PG_DIR"
    } > "$PG_DIR/control"
    chmod 755 "$PG_DIR/control"
    chmod 644 "$PG_DIR/pg.env"
}

cmd_ctl() {
    local dir="$1"
    shift
    load_env "$dir"
    local action="${1:-}"
    [[ $# -gt 0 ]] && shift
    case "$action" in
        start) ctl_start ;;
        stop) ctl_stop "${1:-fast}" ;;
        restart) ctl_stop "${1:-fast}" >/dev/null && ctl_start >/dev/null && echo "restarted" ;;
        status) ctl_status ;;
        dsn) echo "$PG_DSN" ;;
        *) die "usage: control {start|stop [fast|immediate|smart]|restart [MODE]|status|dsn}" ;;
    esac
}

cmd_teardown() {
    local dir="$1"
    [[ -d "$dir" ]] || return 0
    if [[ ! -f "$dir/pg.env" ]]; then
        # Setup failed before writing pg.env: only remove what looks like ours.
        if [[ -z "$(ls -A "$dir")" || -f "$dir/initdb.log" ]]; then
            kill_leftover "$dir/data"
            rm -rf "$dir"
        fi
        return 0
    fi
    load_env "$dir"
    if is_running; then
        (cd "$PG_DIR" && as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m immediate -w -t 30 stop \
            >/dev/null 2>&1) || true
    fi
    kill_leftover "$PG_DATA"
    rm -rf "$dir"
}

# Last resort: SIGKILL a postmaster still running from this data directory.
kill_leftover() {
    local data="$1" pid
    [[ -f "$data/postmaster.pid" ]] || return 0
    pid="$(head -n 1 "$data/postmaster.pid" 2>/dev/null || true)"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 0
    if kill -0 "$pid" 2>/dev/null && grep -q postgres "/proc/$pid/comm" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null || true
        local _
        for _ in $(seq 1 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
    fi
}

cmd_watch() {
    local dir="$1" pid="$2"
    while kill -0 "$pid" 2>/dev/null; do
        sleep 1
    done
    cmd_teardown "$dir"
}

main() {
    local cmd="${1:-}"
    [[ $# -gt 0 ]] && shift
    case "$cmd" in
        setup) [[ $# -eq 1 ]] || die "usage: pg.sh setup DIR"; cmd_setup "$1" ;;
        ctl) [[ $# -ge 1 ]] || die "usage: pg.sh ctl DIR COMMAND"; cmd_ctl "$@" ;;
        teardown) [[ $# -eq 1 ]] || die "usage: pg.sh teardown DIR"; cmd_teardown "$1" ;;
        find-bin) find_pg_bin || die "PostgreSQL binaries not found" ;;
        watch) [[ $# -eq 2 ]] || die "usage: pg.sh watch DIR PID"; cmd_watch "$1" "$2" ;;
        *) die "usage: pg.sh {setup DIR|ctl DIR COMMAND|teardown DIR|find-bin|watch DIR PID}" ;;
    esac
}

main "$@"
