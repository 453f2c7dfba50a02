#!/usr/bin/env bash
# Start the machine's PostgreSQL for the store tests and print the admin URL.
#
#   tests/tools/postgres.sh              ensure the server runs and the role exists; print the URL
#   tests/tools/postgres.sh --print-url  print the URL only (no changes)
#   tests/tools/postgres.sh --stop       stop the cluster (only if this machine runs it)
#   tests/tools/postgres.sh --restart S  stop the cluster (fast: connections are cut), keep it
#                                        down S seconds, start it, wait until it answers
#
# Idempotent and quick when already done: when the server answers and the role can log in,
# it only prints the URL. Otherwise it installs the Debian package (only when missing),
# creates the cluster if needed, starts it, waits until it accepts connections and creates
# (or repairs) the `accountops` role (LOGIN CREATEDB, password `accountops`).
#
# The URL goes to stdout (last line); progress goes to stderr, so
#   export ACCOUNTOPS_TEST_POSTGRES_URL="$(tests/tools/postgres.sh)"
# works. Settings: ACCOUNTOPS_PG_VERSION (15), ACCOUNTOPS_PG_CLUSTER (main).
set -euo pipefail

version="${ACCOUNTOPS_PG_VERSION:-15}"
cluster="${ACCOUNTOPS_PG_CLUSTER:-main}"
role="accountops"
password="accountops"
host="127.0.0.1"

log() { printf 'postgres.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Root runs the cluster commands directly; anyone else needs sudo.
as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo -n "$@"; fi
}
as_postgres() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        sudo -n -u postgres "$@"
    fi
}

# The port of an existing cluster, from its configuration (default 5432).
cluster_port() {
    local port=""
    if command -v pg_conftool >/dev/null 2>&1; then
        port="$(pg_conftool -s "$version" "$cluster" show port 2>/dev/null || true)"
    fi
    printf '%s' "${port:-5432}"
}

url() { printf 'postgres://%s:%s@%s:%s/postgres\n' "$role" "$password" "$host" "$(cluster_port)"; }

# True when the role can log in over TCP with its password (the tests' exact path).
role_ready() {
    command -v psql >/dev/null 2>&1 || return 1
    PGPASSWORD="$password" PGCONNECT_TIMEOUT=3 psql -X -q -t -A -w \
        -h "$host" -p "$(cluster_port)" -U "$role" -d postgres \
        -c 'select 1' >/dev/null 2>&1
}

install_server() {
    if [ -x "/usr/lib/postgresql/$version/bin/postgres" ]; then
        return
    fi
    log "installing postgresql-$version (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    as_root apt-get update -qq >&2
    as_root apt-get install -y -qq --no-install-recommends "postgresql-$version" >&2
}

ensure_cluster() {
    if ! pg_lsclusters -h 2>/dev/null | awk -v v="$version" -v c="$cluster" \
        '$1 == v && $2 == c { found = 1 } END { exit !found }'; then
        log "creating cluster $version/$cluster"
        as_root pg_createcluster "$version" "$cluster" >&2
    fi
}

start_server() {
    local status
    status="$(pg_lsclusters -h | awk -v v="$version" -v c="$cluster" '$1 == v && $2 == c { print $4 }')"
    if [ "$status" != "online" ]; then
        log "starting cluster $version/$cluster"
        as_root pg_ctlcluster "$version" "$cluster" start >&2
    fi
    local port i
    port="$(cluster_port)"
    for i in $(seq 1 60); do
        if pg_isready -q -h "$host" -p "$port"; then
            return
        fi
        sleep 0.5
    done
    die "PostgreSQL $version/$cluster did not accept connections on $host:$port within 30s (see /var/log/postgresql/postgresql-$version-$cluster.log)"
}

ensure_role() {
    log "ensuring role $role (LOGIN CREATEDB)"
    # Run from / so psql does not complain about an unreadable working directory.
    (cd / && as_postgres psql -X -q -v ON_ERROR_STOP=1 -p "$(cluster_port)" -d postgres >&2) <<SQL
DO \$\$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = '$role') THEN
        CREATE ROLE $role;
    END IF;
END
\$\$;
ALTER ROLE $role WITH LOGIN CREATEDB PASSWORD '$password';
SQL
}

case "${1:-}" in
    --print-url)
        url
        exit 0
        ;;
    --stop)
        if pg_lsclusters -h 2>/dev/null | awk -v v="$version" -v c="$cluster" \
            '$1 == v && $2 == c && $4 == "online" { found = 1 } END { exit !found }'; then
            as_root pg_ctlcluster "$version" "$cluster" stop >&2
        fi
        exit 0
        ;;
    --restart)
        down="${2:-0}"
        as_root pg_ctlcluster "$version" "$cluster" stop -m fast >&2
        sleep "$down"
        start_server
        exit 0
        ;;
    "") ;;
    *) die "unknown argument '$1' (use --print-url, --stop or --restart SECONDS)" ;;
esac

if role_ready; then
    url
    exit 0
fi

install_server
ensure_cluster
start_server
ensure_role
role_ready || die "role $role cannot log in on $host:$(cluster_port) after setup"
url
