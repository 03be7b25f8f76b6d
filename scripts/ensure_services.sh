#!/usr/bin/env bash
# Make sure the services robocall needs answer, starting local ones if not.
#
#   Redis      (required) at $REDIS_URL, default redis://127.0.0.1:6379/0.
#              Started as a throwaway daemon (no persistence) under var/ if needed.
#   PostgreSQL (optional) at 127.0.0.1:5432, started with pg_ctlcluster if
#              installed. Without it the test suite runs on SQLite only.
#
# Fast (two TCP pings) when both already run.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VAR_DIR="$ROOT/var"
WAIT_SECONDS="${ENSURE_SERVICES_WAIT_SECONDS:-20}"
PG_HOST=127.0.0.1
PG_PORT=5432

log() { printf 'ensure_services: %s\n' "$*"; }
warn() { printf 'ensure_services: WARNING: %s\n' "$*" >&2; }
die() { printf 'ensure_services: ERROR: %s\n' "$*" >&2; exit 1; }

# The app reads REDIS_URL from the environment or ./.env (see robocall/config.py);
# look in the same places so we check the server the app will actually use.
setting() {
    local name="$1" default="$2" value
    if [[ -n "${!name:-}" ]]; then
        printf '%s' "${!name}"
        return
    fi
    if [[ -f .env ]]; then
        value="$(sed -n -E "s/^[[:space:]]*(export[[:space:]]+)?${name}[[:space:]]*=[[:space:]]*//Ip" .env | tail -n 1)"
        value="${value%\"}"; value="${value#\"}"; value="${value%\'}"; value="${value#\'}"
        if [[ -n "$value" ]]; then
            printf '%s' "$value"
            return
        fi
    fi
    printf '%s' "$default"
}

# Runs "$@" every 0.2 s until it succeeds or $1 seconds have passed.
wait_until() {
    local deadline=$((SECONDS + $1))
    shift
    until "$@"; do
        ((SECONDS >= deadline)) && return 1
        sleep 0.2
    done
}

# Sends PING over plain TCP so this works without redis-cli and without a password
# (a NOAUTH error still proves a Redis server answers).
redis_answers() {
    local reply
    # shellcheck disable=SC2016  # $0/$1 are expanded by the inner bash
    reply="$(timeout 3 bash -c '
        exec 3<>"/dev/tcp/$0/$1" || exit 1
        printf "PING\r\n" >&3
        IFS= read -r -t 2 line <&3 && printf "%s" "$line"' "$1" "$2" 2>/dev/null)" || return 1
    [[ "$reply" == "+PONG"* || "$reply" == "-NOAUTH"* ]]
}

is_local_host() {
    [[ "$1" == localhost || "$1" == 127.* || "$1" == "::1" || "$1" == "[::1]" ]]
}

start_redis() {
    local port="$1"
    if ! command -v redis-server >/dev/null 2>&1; then
        "$ROOT/scripts/install_system_packages.sh" --only redis-server || true
    fi
    command -v redis-server >/dev/null 2>&1 ||
        die "redis-server is not installed and could not be installed (try: sudo apt-get install redis-server)."
    mkdir -p "$VAR_DIR"
    log "starting redis-server on 127.0.0.1:$port (log: var/redis.log)"
    redis-server --daemonize yes --bind 127.0.0.1 --port "$port" \
        --save "" --appendonly no --dir "$VAR_DIR" \
        --logfile "$VAR_DIR/redis.log" --pidfile "$VAR_DIR/redis-$port.pid" ||
        die "redis-server failed to start; see $VAR_DIR/redis.log"
}

ensure_redis() {
    local url rest host port
    url="$(setting REDIS_URL redis://127.0.0.1:6379/0)"
    if [[ "$url" != redis://* ]]; then
        warn "REDIS_URL=$url is not a redis:// URL; not checking it."
        return 0
    fi
    rest="${url#redis://}"
    rest="${rest%%/*}"   # drop /db
    rest="${rest%%\?*}"  # drop ?options
    rest="${rest##*@}"   # drop user:password@
    host="${rest%:*}"
    port=6379
    [[ "$rest" == *:* ]] && port="${rest##*:}"
    [[ -z "$host" ]] && host=127.0.0.1

    if redis_answers "$host" "$port"; then
        return 0
    fi
    is_local_host "$host" ||
        die "Redis does not answer at $host:$port (REDIS_URL) and is not local, so it can't be started here."
    start_redis "$port"
    wait_until "$WAIT_SECONDS" redis_answers 127.0.0.1 "$port" ||
        die "Redis still does not answer at 127.0.0.1:$port after ${WAIT_SECONDS}s; see $VAR_DIR/redis.log"
    log "Redis answers at 127.0.0.1:$port"
}

postgres_answers() {
    if command -v pg_isready >/dev/null 2>&1; then
        pg_isready -q -h "$PG_HOST" -p "$PG_PORT" -t 2
    else
        timeout 2 bash -c "exec 3<>/dev/tcp/$PG_HOST/$PG_PORT" 2>/dev/null
    fi
}

# shellcheck disable=SC2012  # version directories are plain numbers
start_postgres_clusters() {
    local versions version
    versions="$(ls /etc/postgresql 2>/dev/null || true)"
    if [[ -z "$versions" && "$(id -u)" -eq 0 ]]; then
        # Server installed but no cluster (rare: Debian's postinst normally creates one).
        version="$(ls /usr/lib/postgresql 2>/dev/null | sort -n | tail -n 1)"
        [[ -n "$version" ]] && pg_createcluster "$version" main >/dev/null && versions="$version"
    fi
    for version in $versions; do
        log "starting PostgreSQL cluster $version/main"
        pg_ctlcluster --skip-systemctl-redirect "$version" main start ||
            warn "pg_ctlcluster $version main start failed"
    done
}

ensure_postgres() {
    postgres_answers && return 0
    if ! command -v pg_ctlcluster >/dev/null 2>&1; then
        warn "PostgreSQL does not answer at $PG_HOST:$PG_PORT and pg_ctlcluster is not installed." \
            "PostgreSQL is optional: tests will run on SQLite only."
        return 0
    fi
    start_postgres_clusters
    if wait_until "$WAIT_SECONDS" postgres_answers; then
        log "PostgreSQL answers at $PG_HOST:$PG_PORT"
    else
        warn "PostgreSQL is not available at $PG_HOST:$PG_PORT." \
            "PostgreSQL is optional: tests will run on SQLite only."
    fi
}

# The test suite's own PostgreSQL login. A fresh Debian server asks for a password on
# 127.0.0.1, so a role with a known password (and only the right to create databases)
# lets `make test` run the PostgreSQL pass on a new machine too.
ensure_test_role() {
    postgres_answers || return 0
    [[ "$(id -u)" -eq 0 ]] && command -v runuser >/dev/null 2>&1 && command -v psql >/dev/null 2>&1 || return 0
    local exists
    exists="$(cd / && runuser -u postgres -- psql -qAtX -c \
        "SELECT 1 FROM pg_roles WHERE rolname = 'robocall_test'" 2>/dev/null || true)"
    [[ "$exists" == "1" ]] && return 0
    if (cd / && runuser -u postgres -- psql -qX -c \
        "CREATE ROLE robocall_test LOGIN CREATEDB PASSWORD 'robocall_test'" >/dev/null 2>&1); then
        log "created the PostgreSQL role robocall_test for the tests"
    else
        warn "could not create the PostgreSQL role robocall_test; set TEST_POSTGRES_URL to a login that can create databases"
    fi
}

ensure_redis
ensure_postgres
ensure_test_role
