#!/usr/bin/env bash
# Build the test control plane (kube-apiserver, kubectl, etcd, helm, and kube-controller-manager
# for the one controller tests start: ClusterRole aggregation) from Go modules.
#
# Why: integration tests run against a real kube-apiserver + etcd (the envtest approach) and
# drive real kubectl and helm. We build them from source through the Go module proxy at pinned
# versions instead of downloading release tarballs, so the only network we need is the proxy.
#
# Flow, per binary:
#   pins below -> build dir in the cache (never the repo) -> generated go.mod
#   (+ go.sum from tests/tools/go-sums/ to verify hashes) -> go mod tidy -> go build of the
#   upstream main package (CGO_ENABLED=0, version stamped with -ldflags) -> binary in
#   ${ACCOUNTOPS_CACHE:-$HOME/.cache/accountops}/test-binaries/k8s-<version>/
#
# We build the upstream `package main` itself (k8s.io/kubernetes/cmd/kube-apiserver,
# .../cmd/kubectl, .../cmd/kube-controller-manager, go.etcd.io/etcd/server/v3, helm.sh/helm/v3/cmd/helm) through a `tool`
# directive, so there is no copy of any upstream main to keep in sync.
#
# k8s.io/kubernetes is not meant to be a dependency: its go.mod requires its staging modules
# (k8s.io/api, k8s.io/client-go, ...) at v0.0.0 and replaces them with ./staging/src/...
# We derive the list of those modules from the release's own go.mod and replace each with its
# published tag (v1.35.4 -> v0.35.4), so the list never needs hand maintenance.
#
# Usage:
#   bash tests/tools/test-binaries.sh               build what is missing, print export line
#   bash tests/tools/test-binaries.sh --print-dir   same, but stdout is only the directory
#   bash tests/tools/test-binaries.sh --update-sums also copy the resulting go.sum files back
#                                                   into tests/tools/go-sums/ (after a bump)
#
# Environment: ACCOUNTOPS_CACHE (cache root), GOCACHE/GOMODCACHE (Go defaults, kept between
# runs), GOPROXY (Go default).
set -euo pipefail

K8S_VERSION=v1.35.4
ETCD_VERSION=v3.6.16
HELM_VERSION=v3.22.0

# The checksum database (sum.golang.org) is not reachable from our CI, only the module proxy.
# Hashes are pinned instead by the go.sum files committed in tests/tools/go-sums/ (go refuses
# a module whose hash differs from go.sum); modules not listed there are trusted from the
# proxy on first use and then kept in GOMODCACHE.
export GOSUMDB=off
# The go.mod files are generated per build: let go complete them (requires, go.sum) itself.
export GOFLAGS=-mod=mod
# Use the installed Go; only a too old one switches to a fetched toolchain (below).
export GOTOOLCHAIN=local
export CGO_ENABLED=0

print_dir=false
update_sums=false
for arg in "$@"; do
  case "$arg" in
    --print-dir) print_dir=true ;;
    --update-sums) update_sums=true ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 0 ;;
    *) echo "test-binaries.sh: unknown argument: $arg" >&2; exit 2 ;;
  esac
done

# With --print-dir stdout carries only the directory; all progress goes to stderr.
log() { echo "test-binaries: $*" >&2; }

tools_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${ACCOUNTOPS_CACHE:-$HOME/.cache/accountops}
out=$cache/test-binaries/k8s-$K8S_VERSION
build_root=$cache/test-binaries/build
mkdir -p "$out" "$build_root"

# A stamp per binary records what it was built from, so bumping a pin rebuilds just that one.
declare -A want=(
  [kube-apiserver]="k8s.io/kubernetes@$K8S_VERSION"
  [kubectl]="k8s.io/kubernetes@$K8S_VERSION"
  [kube-controller-manager]="k8s.io/kubernetes@$K8S_VERSION"
  [etcd]="go.etcd.io/etcd/server/v3@$ETCD_VERSION"
  [helm]="helm.sh/helm/v3@$HELM_VERSION"
)
is_current() { [[ -x "$out/$1" && "$(cat "$out/.$1.stamp" 2>/dev/null)" == "${want[$1]}" ]]; }
all_current() {
  local b
  for b in kube-apiserver kubectl kube-controller-manager etcd helm; do is_current "$b" || return 1; done
}
finish() {
  if $print_dir; then echo "$out"; else echo "export KUBEBUILDER_ASSETS=$out"; fi
}

if all_current; then
  log "up to date in $out"
  finish
  exit 0
fi

# Two concurrent runs (e.g. two test jobs) must not build into the same dirs.
exec 9>"$cache/test-binaries/.lock"
flock 9
if all_current; then log "built by a concurrent run in $out"; finish; exit 0; fi

if ! command -v go >/dev/null; then
  # Non-login shells often lack /usr/local/go/bin on PATH.
  if [[ -x /usr/local/go/bin/go ]]; then
    export PATH=$PATH:/usr/local/go/bin
  else
    log "go not found; installing golang-go with apt"
    apt-get update -qq >&2 && apt-get install -y -qq golang-go >&2
  fi
fi
# etcd and helm need Go >= 1.26. An older go (e.g. Debian's) fetches that toolchain itself,
# as the module golang.org/toolchain from the same proxy.
go_minor=$(GOTOOLCHAIN=local go env GOVERSION | sed -E 's/^go1\.([0-9]+).*/\1/')
if [[ $go_minor -lt 26 ]]; then
  export GOTOOLCHAIN=go1.26.8
  log "$(GOTOOLCHAIN=local go env GOVERSION) is too old; using toolchain $GOTOOLCHAIN"
fi
if ! command -v jq >/dev/null; then
  log "jq not found; installing it with apt"
  apt-get update -qq >&2 && apt-get install -y -qq jq >&2
fi
log "using $(go version)"

# prepare_module NAME MODULE@VERSION TOOL_PKG...: a fresh module dir with go.mod requiring
# MODULE@VERSION and declaring TOOL_PKGs, seeded with the committed go.sum. Prints the dir.
prepare_module() {
  local name=$1 modver=$2; shift 2
  local dir=$build_root/$name
  rm -rf "$dir" && mkdir -p "$dir"
  (
    cd "$dir"
    go mod init "accountops.dev/test-binaries/$name" >/dev/null 2>&1
    go mod edit -require="$modver"
    local pkg
    for pkg in "$@"; do go mod edit -tool="$pkg"; done
    if [[ -f $tools_dir/go-sums/$name.sum ]]; then cp "$tools_dir/go-sums/$name.sum" go.sum; fi
  )
  echo "$dir"
}

# tidy_module DIR NAME: resolve the full module graph, keep go.sum for --update-sums.
tidy_module() {
  local dir=$1 name=$2 t0=$SECONDS
  log "$name: resolving modules (go mod tidy)"
  (cd "$dir" && go mod tidy >&2)
  log "$name: modules resolved in $((SECONDS - t0))s"
  if $update_sums; then
    mkdir -p "$tools_dir/go-sums"
    cp "$dir/go.sum" "$tools_dir/go-sums/$name.sum"
    log "$name: wrote tests/tools/go-sums/$name.sum"
  fi
}

# build_bin DIR BINARY PKG LDFLAGS: build PKG into the output dir atomically and stamp it.
build_bin() {
  local dir=$1 bin=$2 pkg=$3 ldflags=$4 t0=$SECONDS
  log "$bin: building $pkg (${want[$bin]}) ..."
  (cd "$dir" && go build -trimpath -ldflags="-s -w $ldflags" -o "$out/.$bin.tmp" "$pkg")
  mv -f "$out/.$bin.tmp" "$out/$bin"
  echo "${want[$bin]}" >"$out/.$bin.stamp"
  log "$bin: built in $((SECONDS - t0))s -> $out/$bin"
}

started=$SECONDS

if ! is_current kube-apiserver || ! is_current kubectl || ! is_current kube-controller-manager; then
  gomod=$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | jq -r .GoMod)
  # Staging modules are the k8s.io/* entries kubernetes replaces with ./staging/src/...;
  # each is published under the same name with tag v0.<minor>.<patch>.
  staging_version=v0.${K8S_VERSION#v1.}
  mapfile -t staging < <(go mod edit -json "$gomod" |
    jq -r '.Replace[] | select(.New.Path | startswith("./staging/")) | .Old.Path')
  if [[ ${#staging[@]} -lt 10 ]]; then
    log "expected the staging replaces in $gomod, found ${#staging[@]}"; exit 1
  fi
  dir=$(prepare_module kube "k8s.io/kubernetes@$K8S_VERSION" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kubectl \
    k8s.io/kubernetes/cmd/kube-controller-manager)
  for m in "${staging[@]}"; do (cd "$dir" && go mod edit -replace="$m=$m@$staging_version"); done
  log "kube: replaced ${#staging[@]} staging modules with $staging_version"
  tidy_module "$dir" kube

  # What hack/lib/version.sh stamps, so `/version` and `--version` report the release.
  minor=${K8S_VERSION#v1.}; minor=${minor%%.*}
  build_date=$(jq -r .Time "${gomod%.mod}.info")
  kube_ldflags=""
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    kube_ldflags+=" -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor"
    kube_ldflags+=" -X $p.gitTreeState=clean -X $p.buildDate=$build_date"
  done
  # Only what is missing: adding a binary must not rebuild the ones already there.
  for bin in kube-apiserver kubectl kube-controller-manager; do
    is_current "$bin" || build_bin "$dir" "$bin" "k8s.io/kubernetes/cmd/$bin" "$kube_ldflags"
  done
fi

if ! is_current etcd; then
  # etcd's version is a constant in go.etcd.io/etcd/api/v3/version: nothing to stamp.
  dir=$(prepare_module etcd "go.etcd.io/etcd/server/v3@$ETCD_VERSION" go.etcd.io/etcd/server/v3)
  tidy_module "$dir" etcd
  build_bin "$dir" etcd go.etcd.io/etcd/server/v3 ""
fi

if ! is_current helm; then
  dir=$(prepare_module helm "helm.sh/helm/v3@$HELM_VERSION" helm.sh/helm/v3/cmd/helm)
  tidy_module "$dir" helm
  # As helm's Makefile: the release version, and the Kubernetes version it assumes by
  # default (from the client-go it was built with) for `helm template` and `helm lint`.
  client_go=$(cd "$dir" && go list -m -f '{{.Version}}' k8s.io/client-go)
  k8s_minor=${client_go#v0.}; k8s_minor=${k8s_minor%%.*}
  helm_ldflags="-X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
  helm_ldflags+=" -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
  for p in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
    helm_ldflags+=" -X $p.k8sVersionMajor=1 -X $p.k8sVersionMinor=$k8s_minor"
  done
  build_bin "$dir" helm helm.sh/helm/v3/cmd/helm "$helm_ldflags"
fi

log "all built in $((SECONDS - started))s: $out"
finish
