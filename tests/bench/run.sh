#!/usr/bin/env bash
# The scale benchmark of issue 15; see the README's Performance section.
#
#   tests/bench/run.sh [N] [--local N] [--steady SECONDS] [--skip-cluster|--skip-local] [-- RUN-FLAGS]
#
# N Memberships (default 1000; half with logins) under 50 Organizations and 1 Account, on a
# kube-apiserver + etcd, PostgreSQL database and SMTP sink of its own; --local N sets local
# mode's count (default: N). Flags after `--` go to `accountops run` (e.g. `-- --concurrency 16`).
# It builds the release binary (CARGO_TARGET_DIR is honoured), prints one table and asserts no
# timings. Needs what the integration tests need: Go (for the control plane binaries, built once
# into a cache), the PostgreSQL Debian package and python3 (aiosmtpd is installed if missing).
set -euo pipefail
cd "$(dirname "$0")/../.."

log() { printf 'run.sh: %s\n' "$*" >&2; }

if [ -z "${KUBEBUILDER_ASSETS:-}" ]; then
    log "building or finding kube-apiserver, etcd, kubectl and helm"
    KUBEBUILDER_ASSETS="$(bash tests/tools/test-binaries.sh --print-dir)"
    export KUBEBUILDER_ASSETS
fi
if [ -z "${ACCOUNTOPS_TEST_POSTGRES_URL:-}" ]; then
    log "starting PostgreSQL"
    ACCOUNTOPS_TEST_POSTGRES_URL="$(bash tests/tools/postgres.sh)"
    export ACCOUNTOPS_TEST_POSTGRES_URL
fi
python3 -c 'import aiosmtpd' 2>/dev/null || python3 -m pip install --quiet 'aiosmtpd==1.4.6'
export PATH="$KUBEBUILDER_ASSETS:$PATH"

# tests/tools/faults.sh comes through here with --faults: the same servers, the other target.
bench=scale
if [ "${1:-}" = "--faults" ]; then
    bench=faults
    shift
fi
log "building the release binary and the $bench target"
cargo bench --locked --bench "$bench" --no-run
exec cargo bench --locked --bench "$bench" -- "$@"
