#!/usr/bin/env bash
# Two more PostgreSQL clusters for the store's TLS tests, next to the one postgres.sh runs:
#
#   accountops_tls    ssl = on, with a server certificate for DNS:localhost only, signed by a
#                     test CA made here (so verify-full to localhost works, to 127.0.0.1 not)
#   accountops_plain  ssl = off (a server that answers an SSLRequest with 'N')
#
#   tests/tools/postgres-tls.sh          ensure both run (creating them once); print the env
#   tests/tools/postgres-tls.sh --stop   stop both
#
# Prints `export NAME=value` lines for the tests (eval them):
#   ACCOUNTOPS_TEST_PG_TLS_URL     postgres://accountops:accountops@localhost:PORT/postgres
#   ACCOUNTOPS_TEST_PG_TLS_CA      the CA that signed the server certificate
#   ACCOUNTOPS_TEST_PG_WRONG_CA    another CA, which signed nothing the server has
#   ACCOUNTOPS_TEST_PG_PLAIN_URL   the cluster without TLS
# Quick when already done (both online, the role logs in). Needs the PostgreSQL package that
# postgres.sh installs, and openssl (a dependency of that package's ssl-cert).
set -euo pipefail
cd "$(dirname "$0")"

version="${ACCOUNTOPS_PG_VERSION:-15}"
certs="/var/lib/postgresql/accountops-tls-certs"

log() { printf 'postgres-tls.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo -n "$@"; fi
}
exists() {
    pg_lsclusters -h 2>/dev/null | awk -v v="$version" -v c="$1" '$1 == v && $2 == c { found = 1 } END { exit !found }'
}
port_of() { pg_conftool -s "$version" "$1" show port; }

if [ "${1:-}" = "--stop" ]; then
    for cluster in accountops_tls accountops_plain; do
        if exists "$cluster"; then as_root pg_ctlcluster "$version" "$cluster" stop >&2 || true; fi
    done
    exit 0
fi

# The package (and the main cluster) first: postgres.sh is quick when it is all there.
bash ./postgres.sh >/dev/null

make_certs() {
    if [ -s "$certs/server.crt" ] && [ -s "$certs/wrong-ca.crt" ]; then
        return
    fi
    log "making a test CA and a server certificate for localhost in $certs"
    as_root mkdir -p "$certs"
    local tmp
    tmp="$(mktemp -d)"
    (
        cd "$tmp"
        for ca in ca wrong-ca; do
            openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -keyout "$ca.key" -out "$ca.crt" \
                -subj "/CN=accountops test $ca" \
                -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
                2>/dev/null
        done
        openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj "/CN=localhost" 2>/dev/null
        printf '%s\n' "subjectAltName=DNS:localhost" "basicConstraints=critical,CA:FALSE" \
            "keyUsage=critical,digitalSignature,keyEncipherment" "extendedKeyUsage=serverAuth" >server.ext
        openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 \
            -extfile server.ext -out server.crt 2>/dev/null
    )
    as_root cp "$tmp/ca.crt" "$tmp/wrong-ca.crt" "$tmp/server.crt" "$tmp/server.key" "$certs/"
    rm -rf "$tmp"
    as_root chown -R postgres:postgres "$certs"
    as_root chmod 0600 "$certs/server.key"
    as_root chmod 0644 "$certs/ca.crt" "$certs/wrong-ca.crt" "$certs/server.crt"
}

create() {
    local cluster="$1" ssl="$2"
    if exists "$cluster"; then
        return
    fi
    log "creating cluster $version/$cluster (ssl $ssl)"
    as_root pg_createcluster "$version" "$cluster" >&2
    as_root pg_conftool "$version" "$cluster" set ssl "$ssl"
    if [ "$ssl" = on ]; then
        as_root pg_conftool "$version" "$cluster" set ssl_cert_file "$certs/server.crt"
        as_root pg_conftool "$version" "$cluster" set ssl_key_file "$certs/server.key"
    fi
    # Small: these clusters only answer a few connections of the TLS tests.
    as_root pg_conftool "$version" "$cluster" set shared_buffers 16MB
    as_root pg_conftool "$version" "$cluster" set max_connections 20
}

make_certs
create accountops_tls on
create accountops_plain off
# postgres.sh starts a cluster and creates the role when it is not ready; quick otherwise.
ACCOUNTOPS_PG_CLUSTER=accountops_tls bash ./postgres.sh >/dev/null
ACCOUNTOPS_PG_CLUSTER=accountops_plain bash ./postgres.sh >/dev/null

tls_port="$(port_of accountops_tls)"
plain_port="$(port_of accountops_plain)"
[ -n "$tls_port" ] && [ -n "$plain_port" ] || die "no port configured for the test clusters"
echo "export ACCOUNTOPS_TEST_PG_TLS_URL=postgres://accountops:accountops@localhost:$tls_port/postgres"
echo "export ACCOUNTOPS_TEST_PG_TLS_CA=$certs/ca.crt"
echo "export ACCOUNTOPS_TEST_PG_WRONG_CA=$certs/wrong-ca.crt"
echo "export ACCOUNTOPS_TEST_PG_PLAIN_URL=postgres://accountops:accountops@localhost:$plain_port/postgres"
