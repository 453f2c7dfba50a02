#!/usr/bin/env bash
# The operator image, built here from Debian packages as the Dockerfile describes it.
#
#   tests/tools/image.sh build [BINARY] [TAG]  build TAG (default localhost/accountops:VERSION)
#                                              from BINARY (default the release build:
#                                              $CARGO_TARGET_DIR/release/accountops, else
#                                              target/release/accountops); prints TAG
#   tests/tools/image.sh containerfile BASE    print the Containerfile `build` uses
#   tests/tools/image.sh podman ARGS...        podman with this script's storage, runtime and
#                                              containers.conf (run, inspect, rmi, ...)
#   tests/tools/image.sh install               install mmdebstrap, podman and runc when missing
#
# The Dockerfile's base images live in registries these machines cannot reach, so `build`
# replaces them, keeping the Dockerfile the one description of the image:
#   1. a minimal root filesystem from Debian packages (the release distroless names, e.g.
#      cc-debian12 -> bookworm): `mmdebstrap --variant=extract` of $PACKAGES, plus what
#      distroless adds by hand (the CA bundle, a `nonroot` user 65532). Cached as a tarball in
#      $ACCOUNTOPS_IMAGE_CACHE/rootfs-RELEASE-KEY.tar, KEY a hash of the release, the package
#      list and those additions, so mmdebstrap runs only on a cold cache (delete it to pick up
#      Debian updates);
#   2. the tarball imported with `podman import` as localhost/accountops-base:RELEASE-KEY;
#   3. `podman build` of the Dockerfile's runtime stage, verbatim except `FROM` (that base) and
#      the `COPY --from=build` of the binary (BINARY from the build context, to the same path):
#      user, entrypoint, command and labels are the Dockerfile's own lines.
#
# Podman here: cgroups are in hybrid (v1) mode, so it runs with runc (`--runtime runc`) and a
# containers.conf with `default_ulimits = []` (else runc fails "error setting rlimit type 7").
# The conf is written to the cache dir and used through CONTAINERS_CONF.
#
# Environment:
#   ACCOUNTOPS_IMAGE_CACHE   rootfs tarballs and containers.conf (~/.cache/accountops/image)
#   ACCOUNTOPS_IMAGE_STORE   podman's storage: --root STORE/root --runroot STORE/run
#                            ($ACCOUNTOPS_IMAGE_CACHE/store; tests use a temp dir each)
#   ACCOUNTOPS_DOCKERFILE    the Dockerfile describing the image ($root/Dockerfile)
#   ACCOUNTOPS_DEBIAN_MIRROR the Debian mirror (http://deb.debian.org/debian; security updates
#                            come from the same host's debian-security)
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
dockerfile="${ACCOUNTOPS_DOCKERFILE:-$root/Dockerfile}"
cache="${ACCOUNTOPS_IMAGE_CACHE:-$HOME/.cache/accountops/image}"
store="${ACCOUNTOPS_IMAGE_STORE:-$cache/store}"
mirror="${ACCOUNTOPS_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
# distroless/cc's content: glibc, libgcc, CA certificates, /etc/services and friends, time zones.
PACKAGES="libc6,libgcc-s1,ca-certificates,netbase,tzdata"

log() { printf 'image.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# What the maintainer scripts would have done (the extract variant runs none) and distroless
# ships: the CA bundle rustls reads (update-ca-certificates concatenates the same files) and
# the user the Dockerfile runs as. Part of the cache key: change it and the rootfs is re-made.
# shellcheck disable=SC2016 # expanded by mmdebstrap's hook shell, $1 being the root directory
ADDITIONS='cat "$1"/usr/share/ca-certificates/mozilla/*.crt > "$1"/etc/ssl/certs/ca-certificates.crt
printf "root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n" > "$1"/etc/passwd
printf "root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n" > "$1"/etc/group
mkdir -p "$1"/home/nonroot && chown 65532:65532 "$1"/home/nonroot && chmod 700 "$1"/home/nonroot'

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo -n "$@"; fi
}

install() {
    local missing=()
    command -v mmdebstrap >/dev/null 2>&1 || missing+=(mmdebstrap)
    command -v podman >/dev/null 2>&1 || missing+=(podman)
    command -v runc >/dev/null 2>&1 || [ -x /usr/sbin/runc ] || missing+=(runc)
    [ "${#missing[@]}" -eq 0 ] && return
    log "installing ${missing[*]} (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    as_root apt-get update -qq >&2
    as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

# Writes $cache/containers.conf (atomically, only when it differs) and exports CONTAINERS_CONF.
containers_conf() {
    mkdir -p "$cache"
    local conf="$cache/containers.conf" want
    want='# Written by tests/tools/image.sh: podman on hybrid cgroups (v1).
[containers]
# runc cannot set the default RLIMIT_NPROC/NOFILE here: "error setting rlimit type 7".
default_ulimits = []

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"'
    if [ "$(cat "$conf" 2>/dev/null)" != "$want" ]; then
        printf '%s\n' "$want" >"$conf.$$" && mv -f "$conf.$$" "$conf"
    fi
    export CONTAINERS_CONF="$conf"
}

podman_() {
    containers_conf
    podman --root "$store/root" --runroot "$store/run" --runtime runc "$@"
}

# The line number of the Dockerfile's last FROM: where its runtime stage starts.
runtime_from_line() {
    local line
    line="$(grep -n -i '^[[:space:]]*FROM[[:space:]]' "$dockerfile" | tail -n 1 | cut -d: -f1)"
    [ -n "$line" ] || die "$dockerfile has no FROM"
    echo "$line"
}

# The Debian release of the Dockerfile's runtime base (distroless `...-debianNN`).
debian_release() {
    local line from
    line="$(runtime_from_line)"
    from="$(sed -n "${line}p" "$dockerfile")"
    case "$from" in
        *-debian12*) echo bookworm ;;
        *-debian13*) echo trixie ;;
        *) die "cannot tell the Debian release of the runtime base: $from" ;;
    esac
}

# The Dockerfile's runtime stage FROM $1, the binary copied from the build context.
containerfile() {
    local base="$1" start copies
    start="$(runtime_from_line)"
    copies="$(tail -n +"$start" "$dockerfile" | grep -c -i '^[[:space:]]*COPY[[:space:]].*--from=' || true)"
    [ "$copies" -eq 1 ] || die "the runtime stage must copy one file from the build stage (the binary), found $copies"
    printf '# Generated by tests/tools/image.sh from the runtime stage of the Dockerfile.\n'
    tail -n +"$start" "$dockerfile" | awk -v base="$base" '
        NR == 1 { print "FROM " base; next }
        tolower($1) == "copy" && $2 ~ /^--from=/ {
            if (NF != 4) { print "image.sh: error: expected COPY --from=STAGE SOURCE DEST: " $0 > "/dev/stderr"; exit 1 }
            print "COPY accountops " $4; next
        }
        { print }'
}

rootfs() {
    local release="$1" host="${mirror%/debian}" key tarball
    # The mirror is given explicitly: without one mmdebstrap reads sources from stdin.
    local args=(--variant=extract --include="$PACKAGES" --format=tar --extract-hook="$ADDITIONS" "$release"
        "deb $mirror $release main" "deb $mirror $release-updates main"
        "deb $host/debian-security $release-security main")
    # Keyed by everything that makes it: the release, the packages, the additions, the sources.
    key="$(printf '%s\n' "${args[@]}" | sha256sum | cut -c1-12)"
    tarball="$cache/rootfs-$release-$key.tar"
    if [ ! -s "$tarball" ]; then
        log "making the $release root filesystem ($PACKAGES) with mmdebstrap"
        mkdir -p "$cache"
        # The output path goes between the suite and the sources.
        mmdebstrap --quiet "${args[@]:0:5}" "$tarball.$$" "${args[@]:5}" </dev/null >&2
        mv -f "$tarball.$$" "$tarball"
    fi
    printf '%s %s\n' "$tarball" "$key"
}

build() {
    local binary="${1:-${CARGO_TARGET_DIR:-$root/target}/release/accountops}"
    local version
    version="$(sed -n 's/^version = "\(.*\)"$/\1/p' "$root/Cargo.toml" | head -n 1)"
    local tag="${2:-localhost/accountops:$version}"
    [ -x "$binary" ] || die "no binary at $binary (cargo build --release --bin accountops, or pass BINARY)"
    # Everything read from the Dockerfile is checked before anything is installed or made.
    local release made tarball key base
    release="$(debian_release)"
    containerfile BASE >/dev/null
    install
    made="$(rootfs "$release")"
    read -r tarball key <<<"$made"
    base="localhost/accountops-base:$release-$key"
    if ! podman_ image exists "$base"; then
        log "importing $tarball as $base"
        podman_ import --quiet "$tarball" "$base" >/dev/null
    fi
    context="$(mktemp -d)"
    trap 'rm -rf -- "$context"' EXIT
    containerfile "$base" >"$context/Containerfile"
    cp -- "$binary" "$context/accountops"
    log "building $tag from $binary"
    podman_ build --quiet --pull=never -f "$context/Containerfile" -t "$tag" "$context" >/dev/null
    printf '%s\n' "$tag"
}

case "${1:-}" in
    build) shift; build "$@" ;;
    containerfile) [ $# -eq 2 ] || die "usage: image.sh containerfile BASE"; containerfile "$2" ;;
    # exec: a signal to this script (a test stopping `podman run`) reaches podman itself.
    podman) shift; containers_conf; exec podman --root "$store/root" --runroot "$store/run" --runtime runc "$@" ;;
    install) install ;;
    *) sed -n '2,11s/^# \{0,1\}//p' "$0" >&2; exit 2 ;;
esac
