#!/usr/bin/env bash
# Build the lab's base and host images, tagged by the hash of what makes them, so a rebuild
# of unchanged inputs is a no-op. Prints the host image reference on its last line.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
SUITE=${LAB_DEBIAN_SUITE:-bookworm}
MIRROR=${LAB_DEBIAN_MIRROR:-http://deb.debian.org/debian}
PULL_IMAGE=${LAB_BASE_PULL_IMAGE:-debian:bookworm-slim}



docker info >/dev/null 2>&1 || { echo "lab-images: no Docker engine answers: run scripts/docker-engine.sh first" >&2; exit 1; }

# Base: the pulled slim image where a registry answers, else debootstrap + docker import.
base_key=$(printf '%s\n%s\n%s\n' "$SUITE" "$MIRROR" "$(sed -n '/^# base-recipe-start/,/^# base-recipe-end/p' "$0")" | sha256sum | cut -c1-16)
BASE_IMAGE="liveavatar-lab/base:${base_key}"
if docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
  echo "lab-images: base $BASE_IMAGE cached"
elif timeout 60 docker pull -q "$PULL_IMAGE" >/dev/null 2>&1; then
  docker tag "$PULL_IMAGE" "$BASE_IMAGE"
  echo "lab-images: base $BASE_IMAGE from $PULL_IMAGE"
else
  command -v debootstrap >/dev/null 2>&1 || {
    [ "$(id -u)" -eq 0 ] || { echo "lab-images: no registry to pull $PULL_IMAGE from and debootstrap is missing: install debootstrap (root), then retry" >&2; exit 1; }
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
  }
  rootfs=$(mktemp -d /var/tmp/lab-rootfs.XXXXXX)
  trap 'rm -rf "$rootfs"' EXIT
  echo "lab-images: no registry answers; debootstrap $SUITE into $rootfs"
# base-recipe-start
  debootstrap --variant=minbase --include=ca-certificates "$SUITE" "$rootfs" "$MIRROR" >/dev/null
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
# base-recipe-end
  tar -C "$rootfs" -c . | docker import --change 'CMD ["/bin/bash"]' - "$BASE_IMAGE" >/dev/null
  rm -rf "$rootfs"
  trap - EXIT
  echo "lab-images: base $BASE_IMAGE imported"
fi

host_key=$( { echo "$BASE_IMAGE"; cat "$here/host/Dockerfile"; } | sha256sum | cut -c1-16)
HOST_IMAGE="liveavatar-lab/host:${host_key}"
if docker image inspect "$HOST_IMAGE" >/dev/null 2>&1; then
  echo "lab-images: host $HOST_IMAGE cached"
else
  docker build -q --build-arg "BASE_IMAGE=$BASE_IMAGE" -t "$HOST_IMAGE" "$here/host" >/dev/null
  echo "lab-images: host $HOST_IMAGE built"
fi
docker tag "$BASE_IMAGE" liveavatar-lab/base:current
docker tag "$HOST_IMAGE" liveavatar-lab/host:current
echo "$HOST_IMAGE"
