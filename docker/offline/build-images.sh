#!/usr/bin/env bash
# Build fencepost's two offline images without pulling anything:
#   fencepost-redis:offline  redis-server/redis-cli/redis-sentinel from the host's Debian packages
#   fencepost:offline        the given fencepost binary, scenarios/ and docker/topology.toml
# Each image is a rootfs assembled from host files (binaries + their ldd closure) and imported
# with `docker import`: no base image, no registry, no Dockerfile.
# An image is rebuilt only when the sha256 over its inputs (files and this script) differs from
# the `io.fencepost.inputs` label of the image already carrying the tag.
#
#   docker/offline/build-images.sh target/release/fencepost
set -euo pipefail
umask 022

REDIS_TAG=fencepost-redis:offline
FENCEPOST_TAG=fencepost:offline
LABEL=io.fencepost.inputs
IMAGE_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

die() { echo "build-images: $*" >&2; exit 1; }

[[ $# -eq 1 ]] || die "usage: $0 FENCEPOST_BINARY   (e.g. target/release/fencepost)"
[[ -f $1 && -x $1 ]] || die "$1: not an executable file (build it: cargo build --release -p fencepost)"
FENCEPOST_BINARY=$(readlink -f -- "$1")

SCRIPT=$(readlink -f -- "${BASH_SOURCE[0]}")
REPO=$(cd -- "$(dirname -- "$SCRIPT")/../.." && pwd)

command -v docker >/dev/null || die "docker CLI not found (Debian package docker.io)"
command -v ldd >/dev/null || die "ldd not found (Debian package libc-bin)"
docker info >/dev/null 2>&1 || die "cannot reach the Docker engine (is dockerd running? docker info)"

# Host file -> Debian package that provides it.
need() {
    [[ -e $1 ]] || die "missing $1 on this host: install the Debian package $2 (apt-get install $2)"
}
need /usr/bin/redis-server redis-server
need /usr/bin/redis-cli redis-tools
need /bin/dash dash
need "$REPO/docker/topology.toml" "(the repository's docker/topology.toml)"
[[ -d $REPO/scenarios ]] || die "missing $REPO/scenarios"

# Shared libraries (and the dynamic loader) a binary needs, as absolute paths, one a line.
closure() {
    local out
    out=$(ldd "$1" 2>&1) || die "ldd $1 failed: $out"
    if grep -q 'not found' <<<"$out"; then
        die "ldd $1: missing libraries:"$'\n'"$(grep 'not found' <<<"$out")"
    fi
    # "libc.so.6 => /lib/.../libc.so.6 (0x…)" and "/lib64/ld-linux-x86-64.so.2 (0x…)";
    # linux-vdso has no file. A static binary prints "not a dynamic executable": nothing to add.
    awk '$2 == "=>" && $3 ~ /^\// { print $3; next } $1 ~ /^\// { print $1 }' <<<"$out"
}

# Manifest: "DEST<TAB>SOURCE" lines (SOURCE a host file, copied dereferenced to DEST in the
# rootfs). Binaries go to fixed places, libraries to the path ldd reports.
manifest_for() { # BINARY_DEST=BINARY_SOURCE ...
    local pair dest src
    {
        for pair in "$@"; do
            dest=${pair%%=*}
            src=${pair#*=}
            printf '%s\t%s\n' "$dest" "$src"
            closure "$src" | awk '{ printf "%s\t%s\n", $1, $1 }'
        done
    } | sort -u -t $'\t' -k1,1
}

# sha256 over the manifest's files (content and destination), extra trees, and this script.
inputs_hash() { # MANIFEST [DEST_PREFIX:DIR ...]
    local manifest=$1 spec dest src
    shift
    {
        while IFS=$'\t' read -r dest src; do
            printf '%s %s\n' "$dest" "$(sha256sum <"$src" | cut -d' ' -f1)"
        done <<<"$manifest"
        for spec in "$@"; do
            dest=${spec%%:*}
            src=${spec#*:}
            if [[ -d $src ]]; then
                (cd "$src" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum) \
                    | sed "s|  \./| $dest/|"
            else
                printf '%s %s\n' "$dest" "$(sha256sum <"$src" | cut -d' ' -f1)"
            fi
        done
        printf 'script %s\n' "$(sha256sum <"$SCRIPT" | cut -d' ' -f1)"
    } | sha256sum | cut -d' ' -f1
}

current_label() {
    docker image inspect -f "{{ index .Config.Labels \"$LABEL\" }}" "$1" 2>/dev/null || true
}

# Common skeleton: the host's top-level usr-merge symlinks (bin -> usr/bin, lib -> usr/lib, ...)
# so ldd's paths and /bin/sh resolve as on the host, /tmp, /etc/passwd, /etc/group.
skeleton() {
    local root=$1 d
    chmod 0755 "$root"
    mkdir -p "$root"/usr/bin "$root"/usr/sbin "$root"/usr/lib "$root"/etc "$root"/tmp \
        "$root"/usr/local/bin "$root"/root
    for d in bin sbin lib lib32 lib64 libx32; do
        if [[ -L /$d ]]; then
            # Relative inside the rootfs, so writing through it never lands on the host.
            ln -s "$(readlink "/$d" | sed 's|^/*||')" "$root/$d"
            mkdir -p "$root/$(readlink -m "/$d" | sed 's|^/*||')"
        elif [[ -d /$d ]]; then
            mkdir -p "$root/$d"
        fi
    done
    chmod 1777 "$root/tmp"
    chmod 0700 "$root/root"
    cat >"$root/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
redis:x:999:999:redis:/data:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/sh
EOF
    cat >"$root/etc/group" <<'EOF'
root:x:0:
redis:x:999:
nogroup:x:65534:
EOF
    printf 'passwd: files\ngroup: files\nhosts: files dns\n' >"$root/etc/nsswitch.conf"
}

install_manifest() { # ROOT MANIFEST
    local root=$1 dest src
    while IFS=$'\t' read -r dest src; do
        mkdir -p "$root$(dirname -- "$dest")"
        cp -L -- "$src" "$root$dest"
    done <<<"$2"
}

import_rootfs() { # ROOT TAG CHANGE...
    local root=$1 tag=$2 old c
    shift 2
    old=$(docker image inspect -f '{{.Id}}' "$tag" 2>/dev/null || true)
    local args=()
    for c in "$@"; do args+=(--change "$c"); done
    tar -C "$root" --numeric-owner --owner=0 --group=0 -c . \
        | docker import "${args[@]}" - "$tag" >/dev/null
    # The previous image under this tag is now untagged: drop it unless something still uses it.
    if [[ -n $old && $old != "$(docker image inspect -f '{{.Id}}' "$tag")" ]]; then
        docker image rm "$old" >/dev/null 2>&1 || true
    fi
}

now() { echo "$EPOCHREALTIME"; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2fs", b - a }'; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/fencepost-offline.XXXXXX")
trap 'rm -rf -- "$WORK"' EXIT

# ---- fencepost-redis:offline -------------------------------------------------------------------
t0=$(now)
redis_manifest=$(manifest_for \
    /usr/bin/redis-server=/usr/bin/redis-server \
    /usr/bin/redis-cli=/usr/bin/redis-cli \
    /bin/dash=/bin/dash)
redis_hash=$(inputs_hash "$redis_manifest")
if [[ $(current_label "$REDIS_TAG") == "$redis_hash" ]]; then
    echo "$REDIS_TAG: up to date (inputs $redis_hash), skipped in $(elapsed "$t0")"
else
    root=$WORK/redis
    mkdir -p "$root"
    skeleton "$root"
    install_manifest "$root" "$redis_manifest"
    # One binary; redis picks sentinel / check mode from argv[0].
    ln -s redis-server "$root/usr/bin/redis-sentinel"
    ln -s redis-server "$root/usr/bin/redis-check-aof"
    ln -s redis-server "$root/usr/bin/redis-check-rdb"
    ln -s dash "$root/bin/sh"
    mkdir -p "$root/data"
    import_rootfs "$root" "$REDIS_TAG" \
        "ENV PATH=$IMAGE_PATH" \
        'WORKDIR /data' \
        'CMD ["redis-server"]' \
        "LABEL $LABEL=$redis_hash"
    echo "$REDIS_TAG: built in $(elapsed "$t0") (inputs $redis_hash, $(du -sh "$root" | cut -f1) rootfs)"
fi

# ---- fencepost:offline -------------------------------------------------------------------------
t0=$(now)
fp_manifest=$(manifest_for \
    /usr/local/bin/fencepost="$FENCEPOST_BINARY" \
    /bin/dash=/bin/dash)
fp_hash=$(inputs_hash "$fp_manifest" \
    "/fencepost/scenarios:$REPO/scenarios" \
    "/fencepost/topology.toml:$REPO/docker/topology.toml")
if [[ $(current_label "$FENCEPOST_TAG") == "$fp_hash" ]]; then
    echo "$FENCEPOST_TAG: up to date (inputs $fp_hash), skipped in $(elapsed "$t0")"
else
    root=$WORK/fencepost
    mkdir -p "$root"
    skeleton "$root"
    install_manifest "$root" "$fp_manifest"
    ln -s dash "$root/bin/sh"
    mkdir -p "$root/fencepost/results"
    cp -RL -- "$REPO/scenarios" "$root/fencepost/scenarios"
    cp -L -- "$REPO/docker/topology.toml" "$root/fencepost/topology.toml"
    import_rootfs "$root" "$FENCEPOST_TAG" \
        "ENV PATH=$IMAGE_PATH" \
        'WORKDIR /fencepost' \
        'ENTRYPOINT ["fencepost"]' \
        'CMD ["--help"]' \
        "LABEL $LABEL=$fp_hash"
    echo "$FENCEPOST_TAG: built in $(elapsed "$t0") (inputs $fp_hash, $(du -sh "$root" | cut -f1) rootfs)"
fi
