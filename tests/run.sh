#!/usr/bin/env bash
# The whole test suite, on a fresh machine or a warm one: installs and starts what the tests
# need, then formats-checks, lints and runs every test once.
#
#   ./tests/run.sh            everything (this is what CI runs)
#   ./tests/run.sh -- FILTER  pass a test-name filter through to cargo test
#
# What it sets up (each step is quick when already done):
#   - PostgreSQL 15 (Debian package) started with a role `accountops`: tests/tools/postgres.sh
#   - two more clusters for the TLS tests, one with a test CA's certificate, one without TLS:
#     tests/tools/postgres-tls.sh
#   - aiosmtpd and scim2-server (PyPI), the SMTP and SCIM servers tests start on loopback
#   - podman, runc and mmdebstrap (Debian packages) for the image test: tests/tools/image.sh
#   - kube-apiserver, etcd, kubectl, helm and kube-controller-manager built from Go modules into
#     ~/.cache/accountops/test-binaries/k8s-<version>/: tests/tools/test-binaries.sh
#     (set KUBEBUILDER_ASSETS to use binaries of your own instead)
#   - the Rust target dir in ~/.cache/accountops/target, shared by every run
#   - lua5.4 (Debian package), which runs the chart's Argo CD health checks
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*" >&2; }
started=$(date +%s)

export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/accountops/target}
export PATH="$HOME/.cargo/bin:/usr/local/go/bin:$PATH"
# Tests that need a server fail instead of skipping when it is missing under CI.
export CI=${CI:-}

step "PostgreSQL"
ACCOUNTOPS_TEST_POSTGRES_URL=$(bash tests/tools/postgres.sh)
export ACCOUNTOPS_TEST_POSTGRES_URL

step "PostgreSQL with and without TLS"
# Exports ACCOUNTOPS_TEST_PG_TLS_URL, _TLS_CA, _WRONG_CA and _PLAIN_URL.
tls_env=$(bash tests/tools/postgres-tls.sh)
eval "$tls_env"

step "Python test servers (aiosmtpd, scim2-server)"
# A real SMTP server for the mail tests and a real SCIM 2.0 server for the provisioning tests,
# from PyPI; quick when already installed.
if ! python3 -c 'import aiosmtpd' 2>/dev/null; then
  python3 -m pip install --quiet --disable-pip-version-check 'aiosmtpd==1.4.6'
fi
if ! command -v scim2-server >/dev/null 2>&1; then
  python3 -m pip install --quiet --disable-pip-version-check 'scim2-server==0.8.3'
fi

step "podman, runc, mmdebstrap (the image test)"
# The image test builds the operator image from Debian packages and runs it with podman
# (tests/tools/image.sh); quick when installed. Its rootfs is cached in ~/.cache/accountops/image.
bash tests/tools/image.sh install

step "Lua 5.4 (Argo CD health checks)"
# The chart's Argo CD health scripts are run by a real Lua interpreter (tests/it/gitops_health.rs).
if ! command -v lua5.4 >/dev/null 2>&1; then
  apt-get install -y --no-install-recommends lua5.4 >/dev/null || { apt-get update -qq && apt-get install -y --no-install-recommends lua5.4 >/dev/null; }
fi

step "Kubernetes control plane binaries"
if [ -z "${KUBEBUILDER_ASSETS:-}" ]; then
  KUBEBUILDER_ASSETS=$(bash tests/tools/test-binaries.sh --print-dir)
fi
export KUBEBUILDER_ASSETS
echo "KUBEBUILDER_ASSETS=$KUBEBUILDER_ASSETS" >&2

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy"
cargo clippy --all-targets --locked -- -D warnings

step "cargo test"
# Test binaries are built once; the integration binary shares one control plane.
cargo test --all-targets --locked "$@"

echo "tests/run.sh: all green in $(( $(date +%s) - started ))s" >&2
