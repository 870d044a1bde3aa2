#!/usr/bin/env bash
# Throwaway MariaDB for the sessiongate test suite (used by scripts/test.sh), the distribution's
# mariadb-server, on 127.0.0.1 and a free port, as an unprivileged user, data in a temp dir.
#
#   mariadb.sh setup    DIR          mariadb-install-db into the empty DIR, start a server on
#                                    127.0.0.1 and a free port, create database sessiongate_test
#                                    and user sessiongate (all privileges: tests create and drop
#                                    one database each), and write DIR/mariadb.env (URL etc.) and
#                                    DIR/control (the control script)
#   mariadb.sh ctl      DIR COMMAND  COMMAND is one of:
#                                      start             start the server (no-op if running)
#                                      stop [fast|immediate]
#                                                        fast: orderly shutdown (SIGTERM);
#                                                        immediate: SIGKILL, a crash (default fast)
#                                      restart [MODE]    stop then start (same port, same data)
#                                      status            print "running (pid N, port P)" and exit
#                                                        0, or print "stopped" and exit 3
#                                      dsn               print the database URL
#   mariadb.sh teardown DIR          stop the server (SIGKILL if needed) and rm -rf DIR
#   mariadb.sh find-bin              print the path of mariadbd (exit 1 if none)
#   mariadb.sh install               apt-get install mariadb-server when missing (root only)
#   mariadb.sh watch    DIR PID      wait until process PID is gone, then teardown DIR
#
# When run as root, the server runs as the system user sessiongate-mariadb (created if
# missing). No configuration file of the system is read (--no-defaults); the server's own time
# zone is +05:00 on purpose, so a reader that shifts naive date columns is caught by the tests.
# Commits reach the OS at once (innodb_flush_log_at_trx_commit=2, no fsync): a SIGKILL of the
# server (stop immediate) loses nothing.
set -euo pipefail

DB_SYSTEM_USER="${SESSIONGATE_MARIADB_USER:-sessiongate-mariadb}"
DB_NAME="sessiongate_test"
DB_USER="sessiongate"
# Test-only credentials for a server bound to loopback; '/' and '@' check URL percent-decoding.
DB_PASSWORD='sg-test/p@ss'
DB_PASSWORD_URL='sg-test%2Fp%40ss'
SCRIPT_PATH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")"

die() { echo "mariadb.sh: $*" >&2; exit 1; }

find_bin() {
    local candidate
    for candidate in "$(command -v mariadbd 2>/dev/null || true)" /usr/sbin/mariadbd \
        /usr/local/sbin/mariadbd /usr/libexec/mariadbd; do
        if [[ -n "$candidate" && -x "$candidate" ]]; then
            echo "$candidate"
            return 0
        fi
    done
    return 1
}

find_install_db() {
    local candidate
    for candidate in "$(command -v mariadb-install-db 2>/dev/null || true)" \
        /usr/bin/mariadb-install-db /usr/local/bin/mariadb-install-db; do
        if [[ -n "$candidate" && -x "$candidate" ]]; then
            echo "$candidate"
            return 0
        fi
    done
    return 1
}

cmd_install() {
    if find_bin >/dev/null && find_install_db >/dev/null; then
        return 0
    fi
    [[ "$(id -u)" -eq 0 ]] || die "mariadb-server is not installed (and we are not root)"
    command -v apt-get >/dev/null 2>&1 || die "mariadb-server is not installed (no apt-get)"
    local wait="${SESSIONGATE_APT_WAIT:-300}"
    # Debian's postinst would start a system-wide server; a policy-rc.d (as in Docker images)
    # prevents that, and so does the absence of an init system. Ours is started by setup.
    { apt-get -o DPkg::Lock::Timeout="$wait" update -qq \
        && DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout="$wait" install -y -qq \
            --no-install-recommends mariadb-server; } >"${TMPDIR:-/tmp}/sessiongate-mariadb-apt.log" 2>&1 \
        || { cat "${TMPDIR:-/tmp}/sessiongate-mariadb-apt.log" >&2; die "apt-get install mariadb-server failed"; }
    find_bin >/dev/null || die "mariadbd not found after installing mariadb-server"
}

ensure_system_user() {
    local user="$1"
    if id -u "$user" >/dev/null 2>&1; then
        return 0
    fi
    local nologin=/usr/sbin/nologin
    [[ -x "$nologin" ]] || nologin=/bin/false
    useradd --system --no-create-home --home-dir /nonexistent --shell "$nologin" \
        --comment "sessiongate throwaway test MariaDB" "$user" 2>/dev/null \
        || id -u "$user" >/dev/null 2>&1 \
        || die "could not create system user $user (useradd failed)"
}

as_db() {
    if [[ -n "${DB_RUN_AS:-}" && "$(id -u)" -eq 0 ]]; then
        if command -v runuser >/dev/null 2>&1; then
            runuser -u "$DB_RUN_AS" -- "$@"
        else
            su -s /bin/bash "$DB_RUN_AS" -c "$(printf '%q ' "$@")"
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

# Wait until the server accepts TCP connections and has sent its handshake (exit 0), or time out.
wait_ready() {
    local port="$1" pid="$2" py
    py="$(command -v python3 || command -v python)"
    "$py" - "$port" "$pid" <<'EOF'
import os, socket, sys, time
port, pid = int(sys.argv[1]), int(sys.argv[2])
deadline = time.monotonic() + 60
while time.monotonic() < deadline:
    try:
        os.kill(pid, 0)
    except OSError:
        sys.exit(2)  # the server died
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.settimeout(2)
            if s.recv(64):  # the server's handshake packet
                sys.exit(0)
    except OSError:
        pass
    time.sleep(0.1)
sys.exit(1)
EOF
}

load_env() {
    local dir="$1"
    [[ -f "$dir/mariadb.env" ]] || die "$dir/mariadb.env not found (not a mariadb.sh directory, or already torn down)"
    # shellcheck source=/dev/null
    source "$dir/mariadb.env"
}

server_pid() {
    [[ -f "$DB_PID_FILE" ]] || return 1
    local pid
    pid="$(head -n 1 "$DB_PID_FILE" 2>/dev/null || true)"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    grep -qE 'mariadbd|mysqld' "/proc/$pid/comm" 2>/dev/null || return 1
    echo "$pid"
}

ctl_start() {
    if server_pid >/dev/null; then
        echo "already running"
        return 0
    fi
    rm -f "$DB_PID_FILE"
    local -a prefix=()
    if [[ -n "$DB_RUN_AS" && "$(id -u)" -eq 0 ]]; then
        prefix=(runuser -u "$DB_RUN_AS" --)
    fi
    # setsid: the server outlives this shell; the caller stops it with ctl stop / teardown.
    (cd "$DB_DIR" && exec setsid "${prefix[@]}" "$DB_BIN" --no-defaults \
        --datadir="$DB_DATA" --port="$DB_PORT" --bind-address=127.0.0.1 \
        --socket="$DB_SOCK" --pid-file="$DB_PID_FILE" --log-error="$DB_LOG" \
        --skip-name-resolve --skip-log-bin --performance-schema=OFF \
        --innodb-buffer-pool-size=32M --innodb-log-file-size=16M \
        --innodb-flush-log-at-trx-commit=2 --max-connections=200 \
        --default-time-zone=+05:00 --character-set-server=utf8mb4 \
        --init-file="$DB_DIR/init.sql") </dev/null >/dev/null 2>&1 &
    local _ pid=""
    for _ in $(seq 1 300); do
        pid="$(server_pid || true)"
        [[ -n "$pid" ]] && break
        sleep 0.1
    done
    if [[ -z "$pid" ]] || ! wait_ready "$DB_PORT" "$pid"; then
        echo "mariadb.sh: MariaDB failed to start; last lines of $DB_LOG:" >&2
        tail -n 20 "$DB_LOG" >&2 || true
        return 1
    fi
    echo "started"
}

ctl_stop() {
    local mode="${1:-fast}" pid signal _
    case "$mode" in fast) signal=TERM ;; immediate) signal=KILL ;; *) die "stop mode must be fast or immediate" ;; esac
    if ! pid="$(server_pid)"; then
        echo "already stopped"
        return 0
    fi
    kill "-$signal" "$pid" 2>/dev/null || true
    for _ in $(seq 1 600); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null || true
        sleep 0.5
    fi
    rm -f "$DB_PID_FILE"
    echo "stopped"
}

ctl_status() {
    local pid
    if pid="$(server_pid)"; then
        echo "running (pid $pid, port $DB_PORT)"
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

    local bin install_db
    bin="$(find_bin)" || die "mariadbd not found (apt-get install mariadb-server, or: mariadb.sh install)"
    install_db="$(find_install_db)" || die "mariadb-install-db not found"

    local run_as=""
    if [[ "$(id -u)" -eq 0 ]]; then
        run_as="$DB_SYSTEM_USER"
        ensure_system_user "$run_as"
    fi

    DB_DIR="$dir"
    DB_BIN="$bin"
    DB_RUN_AS="$run_as"
    DB_DATA="$dir/data"
    DB_SOCK="$dir/mariadb.sock"
    DB_PID_FILE="$dir/mariadb.pid"
    DB_LOG="$dir/mariadb.log"
    chmod 755 "$dir"
    : > "$DB_LOG"
    # Runs at every start: idempotent.
    cat > "$dir/init.sql" <<EOF
CREATE DATABASE IF NOT EXISTS $DB_NAME CHARACTER SET utf8mb4;
CREATE USER IF NOT EXISTS '$DB_USER'@'%' IDENTIFIED BY '$DB_PASSWORD';
GRANT ALL PRIVILEGES ON *.* TO '$DB_USER'@'%';
EOF
    if [[ -n "$run_as" ]]; then
        chown -R "$run_as" "$dir"
    fi
    if ! (cd "$dir" && as_db "$install_db" --no-defaults --datadir="$DB_DATA" \
        --auth-root-authentication-method=socket --skip-test-db --skip-name-resolve \
        >"$dir/install.log" 2>&1); then
        cat "$dir/install.log" >&2
        die "mariadb-install-db failed"
    fi

    local attempt port
    for attempt in 1 2 3 4 5; do
        port="$(free_port)"
        DB_PORT="$port"
        write_env
        if ctl_start >/dev/null 2>"$dir/start.err"; then
            rm -f "$dir/start.err"
            return 0
        fi
        if grep -qiE 'address already in use|do you already have another' "$DB_LOG" \
            && [[ "$attempt" -lt 5 ]]; then
            : > "$DB_LOG"
            continue
        fi
        cat "$dir/start.err" >&2
        die "MariaDB did not start"
    done
}

write_env() {
    local dsn="mysql://$DB_USER:$DB_PASSWORD_URL@127.0.0.1:$DB_PORT/$DB_NAME"
    {
        printf 'DB_DIR=%q\n' "$DB_DIR"
        printf 'DB_BIN=%q\n' "$DB_BIN"
        printf 'DB_RUN_AS=%q\n' "$DB_RUN_AS"
        printf 'DB_DATA=%q\n' "$DB_DATA"
        printf 'DB_SOCK=%q\n' "$DB_SOCK"
        printf 'DB_PID_FILE=%q\n' "$DB_PID_FILE"
        printf 'DB_LOG=%q\n' "$DB_LOG"
        printf 'DB_PORT=%q\n' "$DB_PORT"
        printf 'DB_DSN=%q\n' "$dsn"
    } > "$DB_DIR/mariadb.env"
    {
        echo '#!/usr/bin/env bash'
        echo '# Control script for the throwaway MariaDB: start | stop [fast|immediate] |'
        echo '# restart [MODE] | status | dsn.  Generated by scripts/mariadb.sh.'
        printf 'exec bash %q ctl %q "$@"\n' "$SCRIPT_PATH" "$DB_DIR"
    } > "$DB_DIR/control"
    chmod 755 "$DB_DIR/control"
    chmod 644 "$DB_DIR/mariadb.env"
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
        dsn) echo "$DB_DSN" ;;
        *) die "usage: control {start|stop [fast|immediate]|restart [MODE]|status|dsn}" ;;
    esac
}

cmd_teardown() {
    local dir="$1"
    [[ -d "$dir" ]] || return 0
    if [[ ! -f "$dir/mariadb.env" ]]; then
        # Setup failed before writing mariadb.env: only remove what looks like ours.
        if [[ -z "$(ls -A "$dir")" || -f "$dir/init.sql" ]]; then
            rm -rf "$dir"
        fi
        return 0
    fi
    load_env "$dir"
    ctl_stop immediate >/dev/null 2>&1 || true
    rm -rf "$dir"
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
        setup) [[ $# -eq 1 ]] || die "usage: mariadb.sh setup DIR"; cmd_setup "$1" ;;
        ctl) [[ $# -ge 1 ]] || die "usage: mariadb.sh ctl DIR COMMAND"; cmd_ctl "$@" ;;
        teardown) [[ $# -eq 1 ]] || die "usage: mariadb.sh teardown DIR"; cmd_teardown "$1" ;;
        find-bin) find_bin || die "mariadbd not found" ;;
        install) cmd_install ;;
        watch) [[ $# -eq 2 ]] || die "usage: mariadb.sh watch DIR PID"; cmd_watch "$1" "$2" ;;
        *) die "usage: mariadb.sh {setup DIR|ctl DIR COMMAND|teardown DIR|find-bin|install|watch DIR PID}" ;;
    esac
}

main "$@"
