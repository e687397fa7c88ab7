#!/usr/bin/env bash
# Make a Docker engine available: use a running one; else, as root on Debian/Ubuntu,
# install docker.io and start dockerd in the background; else say what to do, in one line.
set -euo pipefail

DOCKERD_LOG=${DOCKERD_LOG:-/var/log/dockerd-liveavatar.log}
WAIT_SECONDS=${DOCKER_ENGINE_WAIT_SECONDS:-60}

engine_answers() { command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; }

die() { echo "docker-engine: $*" >&2; exit 1; }

if engine_answers; then
  echo "docker-engine: using the running engine ($(docker version --format '{{.Server.Version}}'))"
  exit 0
fi

[ "$(id -u)" -eq 0 ] || die "no Docker engine answers and this is not root: start one (or run as root so this script installs docker.io), then retry"
# shellcheck source=/dev/null
. /etc/os-release 2>/dev/null || die "no Docker engine answers and /etc/os-release is missing: install and start Docker by hand, then retry"
case " ${ID:-} ${ID_LIKE:-} " in
  *" debian "*|*" ubuntu "*) ;;
  *) die "no Docker engine answers and ${ID:-this OS} is not Debian/Ubuntu: install and start Docker by hand, then retry" ;;
esac

if ! command -v dockerd >/dev/null 2>&1 || ! command -v iptables >/dev/null 2>&1; then
  echo "docker-engine: installing docker.io (no recommends)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null || die "apt-get update failed: check the apt sources and network, then retry"
  apt-get install -y -qq --no-install-recommends docker.io iptables ca-certificates >/dev/null \
    || die "apt-get install docker.io failed: install Docker by hand, then retry"
fi

if ! pgrep -x dockerd >/dev/null 2>&1; then
  echo "docker-engine: starting dockerd in the background (log: $DOCKERD_LOG)"
  nohup dockerd >"$DOCKERD_LOG" 2>&1 &
fi

for _ in $(seq "$WAIT_SECONDS"); do
  engine_answers && { echo "docker-engine: engine ready ($(docker version --format '{{.Server.Version}}'))"; exit 0; }
  sleep 1
done
die "dockerd did not answer within ${WAIT_SECONDS}s: read $DOCKERD_LOG"
