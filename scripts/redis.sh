#!/usr/bin/env bash
# Throwaway Redis (or Valkey) server for the sessiongate test suite (used by scripts/test.sh).
#
#   redis.sh setup    DIR            start a server on 127.0.0.1 and a free port, data in the
#                                    empty DIR, and write DIR/redis.env (URL etc.) and
#                                    DIR/control (the control script)
#   redis.sh ctl      DIR COMMAND    COMMAND is one of:
#                                      start         start the server (no-op if running)
#                                      stop          stop it (no-op if stopped)
#                                      restart       stop then start (same port, no data kept)
#                                      status        print "running (pid N, port P)" and exit 0,
#                                                    or print "stopped" and exit 3
#                                      url           print the redis:// URL
#                                      kill-clients  close every client connection (CLIENT KILL)
#   redis.sh teardown DIR            stop the server (SIGKILL if needed) and rm -rf DIR
#   redis.sh find-bin                print the server binary (valkey-server or redis-server)
#   redis.sh install                 apt-get install redis-server when no server is found (root)
#   redis.sh watch    DIR PID        wait until process PID is gone, then teardown DIR (a safety
#                                    net for when the caller is killed with SIGKILL)
#
# When run as root, the server runs as the system user sessiongate-redis (created if missing).
# Nothing is persisted (no RDB, no AOF): the data lives as long as the process.
set -euo pipefail

REDIS_SYSTEM_USER="${SESSIONGATE_REDIS_USER:-sessiongate-redis}"
SCRIPT_PATH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")"

die() { echo "redis.sh: $*" >&2; exit 1; }

find_server() {
    local name path
    for name in valkey-server redis-server; do
        if path="$(command -v "$name" 2>/dev/null)"; then
            echo "$path"
            return 0
        fi
        if [[ -x "/usr/bin/$name" ]]; then
            echo "/usr/bin/$name"
            return 0
        fi
    done
    return 1
}

cmd_install() {
    if find_server >/dev/null; then
        return 0
    fi
    [[ "$(id -u)" -eq 0 ]] || die "redis-server is not installed (apt-get install redis-server)"
    command -v apt-get >/dev/null 2>&1 || die "redis-server is not installed and apt-get is missing"
    # Debian's package would start a system-wide server where services may start: keep it off.
    { apt-get -o DPkg::Lock::Timeout=300 update -qq \
        && DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 apt-get -o DPkg::Lock::Timeout=300 install \
            -y -qq --no-install-recommends redis-server; } >/tmp/sessiongate-apt-redis.log 2>&1 \
        || { cat /tmp/sessiongate-apt-redis.log >&2; die "apt-get install redis-server failed"; }
    find_server >/dev/null || die "redis-server still missing after apt-get install"
}

ensure_system_user() {
    local user="$1"
    if id -u "$user" >/dev/null 2>&1; then
        return 0
    fi
    local nologin=/usr/sbin/nologin
    [[ -x "$nologin" ]] || nologin=/bin/false
    useradd --system --no-create-home --home-dir /nonexistent --shell "$nologin" \
        --comment "sessiongate throwaway test Redis" "$user" 2>/dev/null \
        || id -u "$user" >/dev/null 2>&1 \
        || die "could not create system user $user (useradd failed)"
}

as_owner() {
    if [[ -n "${REDIS_RUN_AS:-}" && "$(id -u)" -eq 0 ]]; then
        if command -v runuser >/dev/null 2>&1; then
            runuser -u "$REDIS_RUN_AS" -- "$@"
        else
            su -s /bin/bash "$REDIS_RUN_AS" -c "$(printf '%q ' "$@")"
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
    [[ -f "$dir/redis.env" ]] || die "$dir/redis.env not found (not a redis.sh directory)"
    # shellcheck source=/dev/null
    source "$dir/redis.env"
}

# Send one command over RESP with bash's /dev/tcp (no redis-cli needed); prints the reply line.
resp() {
    local port="$1"
    shift
    local payload="*$#\r\n" arg
    for arg in "$@"; do
        payload+="\$${#arg}\r\n${arg}\r\n"
    done
    exec 7<>"/dev/tcp/127.0.0.1/$port" || return 1
    printf '%b' "$payload" >&7
    local line=""
    IFS= read -r -t 5 line <&7 || true
    exec 7>&- 7<&-
    printf '%s\n' "${line%$'\r'}"
}

server_pid() {
    [[ -f "$REDIS_PIDFILE" ]] || return 1
    local pid
    pid="$(head -n 1 "$REDIS_PIDFILE" 2>/dev/null || true)"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    echo "$pid"
}

is_running() {
    server_pid >/dev/null && [[ "$(resp "$REDIS_PORT" PING 2>/dev/null)" == "+PONG" ]]
}

ctl_start() {
    if is_running; then
        echo "already running"
        return 0
    fi
    rm -f "$REDIS_PIDFILE"
    (cd "$REDIS_DIR" && as_owner "$REDIS_BIN" "$REDIS_DIR/redis.conf") >/dev/null 2>&1 || true
    local _
    for _ in $(seq 1 100); do
        if is_running; then
            echo "started"
            return 0
        fi
        sleep 0.05
    done
    echo "redis.sh: the server did not start; last lines of $REDIS_LOG:" >&2
    tail -n 20 "$REDIS_LOG" >&2 || true
    return 1
}

ctl_stop() {
    local pid
    if ! pid="$(server_pid)"; then
        echo "already stopped"
        return 0
    fi
    kill -TERM "$pid" 2>/dev/null || true
    local _
    for _ in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || { echo "stopped"; return 0; }
        sleep 0.05
    done
    kill -KILL "$pid" 2>/dev/null || true
    echo "stopped"
}

ctl_status() {
    local pid
    if is_running && pid="$(server_pid)"; then
        echo "running (pid $pid, port $REDIS_PORT)"
        return 0
    fi
    echo "stopped"
    return 3
}

write_conf() {
    cat > "$REDIS_DIR/redis.conf" <<EOF
# sessiongate throwaway test server (scripts/redis.sh)
bind 127.0.0.1
port $REDIS_PORT
protected-mode yes
daemonize yes
pidfile $REDIS_PIDFILE
logfile $REDIS_LOG
dir $REDIS_DIR/data
save ""
appendonly no
databases 16
maxclients 1000
EOF
}

write_env() {
    {
        printf 'REDIS_DIR=%q\n' "$REDIS_DIR"
        printf 'REDIS_BIN=%q\n' "$REDIS_BIN"
        printf 'REDIS_RUN_AS=%q\n' "$REDIS_RUN_AS"
        printf 'REDIS_PORT=%q\n' "$REDIS_PORT"
        printf 'REDIS_PIDFILE=%q\n' "$REDIS_PIDFILE"
        printf 'REDIS_LOG=%q\n' "$REDIS_LOG"
        printf 'REDIS_URL=%q\n' "redis://127.0.0.1:$REDIS_PORT/0"
    } > "$REDIS_DIR/redis.env"
    {
        echo '#!/usr/bin/env bash'
        echo '# Control script for the throwaway Redis: start | stop | restart | status | url |'
        echo '# kill-clients.  Generated by scripts/redis.sh.'
        printf 'exec bash %q ctl %q "$@"\n' "$SCRIPT_PATH" "$REDIS_DIR"
    } > "$REDIS_DIR/control"
    chmod 755 "$REDIS_DIR/control"
    chmod 644 "$REDIS_DIR/redis.env"
}

cmd_setup() {
    local dir="$1"
    [[ -d "$dir" ]] || die "setup: $dir is not a directory"
    [[ -z "$(ls -A "$dir")" ]] || die "setup: $dir is not empty"
    REDIS_DIR="$(cd "$dir" && pwd)"
    REDIS_BIN="$(find_server)" || die "no valkey-server or redis-server (apt-get install redis-server)"
    REDIS_RUN_AS=""
    if [[ "$(id -u)" -eq 0 ]]; then
        REDIS_RUN_AS="$REDIS_SYSTEM_USER"
        ensure_system_user "$REDIS_RUN_AS"
    fi
    REDIS_PIDFILE="$REDIS_DIR/redis.pid"
    REDIS_LOG="$REDIS_DIR/redis.log"
    mkdir -p "$REDIS_DIR/data"
    chmod 755 "$REDIS_DIR"
    : > "$REDIS_LOG"
    local attempt
    for attempt in 1 2 3 4 5; do
        REDIS_PORT="$(free_port)"
        write_conf
        write_env
        [[ -z "$REDIS_RUN_AS" ]] || chown -R "$REDIS_RUN_AS" "$REDIS_DIR"
        if ctl_start >/dev/null 2>"$REDIS_DIR/start.err"; then
            rm -f "$REDIS_DIR/start.err"
            return 0
        fi
        if grep -qiE 'address already in use|could not create server' "$REDIS_LOG" \
            && [[ "$attempt" -lt 5 ]]; then
            : > "$REDIS_LOG"
            continue
        fi
        cat "$REDIS_DIR/start.err" >&2
        die "the Redis server did not start"
    done
}

cmd_ctl() {
    local dir="$1"
    shift
    load_env "$dir"
    local action="${1:-}"
    case "$action" in
        start) ctl_start ;;
        stop) ctl_stop ;;
        restart) ctl_stop >/dev/null && ctl_start >/dev/null && echo "restarted" ;;
        status) ctl_status ;;
        url) echo "$REDIS_URL" ;;
        kill-clients) resp "$REDIS_PORT" CLIENT KILL TYPE normal >/dev/null \
            && resp "$REDIS_PORT" CLIENT KILL TYPE pubsub ;;
        *) die "usage: control {start|stop|restart|status|url|kill-clients}" ;;
    esac
}

cmd_teardown() {
    local dir="$1"
    [[ -d "$dir" ]] || return 0
    if [[ -f "$dir/redis.env" ]]; then
        load_env "$dir"
        ctl_stop >/dev/null 2>&1 || true
        rm -rf "$dir"
    elif [[ -z "$(ls -A "$dir")" ]]; then
        rm -rf "$dir"
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
        setup) [[ $# -eq 1 ]] || die "usage: redis.sh setup DIR"; cmd_setup "$1" ;;
        ctl) [[ $# -ge 1 ]] || die "usage: redis.sh ctl DIR COMMAND"; cmd_ctl "$@" ;;
        teardown) [[ $# -eq 1 ]] || die "usage: redis.sh teardown DIR"; cmd_teardown "$1" ;;
        find-bin) find_server || die "no valkey-server or redis-server found" ;;
        install) cmd_install ;;
        watch) [[ $# -eq 2 ]] || die "usage: redis.sh watch DIR PID"; cmd_watch "$1" "$2" ;;
        *) die "usage: redis.sh {setup DIR|ctl DIR COMMAND|teardown DIR|find-bin|install|watch DIR PID}" ;;
    esac
}

main "$@"
