#!/usr/bin/env bash
# Build the stand-in service image for each version (default: v1.0 v1.1 v1.2), cached by content hash.
# With --push REGISTRY (e.g. 127.0.0.1:15000) also push each image and print "version digest" lines.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
push=""
versions=()
while [ $# -gt 0 ]; do
  case "$1" in
    --push) push="$2"; shift 2 ;;
    *) versions+=("$1"); shift ;;
  esac
done
[ ${#versions[@]} -gt 0 ] || versions=(v1.0 v1.1 v1.2)
"$root/lab/images/build.sh" >/dev/null
base=liveavatar-lab/base:current
base_id=$(docker image inspect -f '{{.Id}}' "$base")
wheelhouse="$root/.cache/wheelhouse"
req_hash=$(sha256sum "$here/requirements.txt" | cut -c1-16)
if [ ! -f "$wheelhouse/.req-$req_hash" ]; then
  echo "workload: downloading wheels on the controller (pip inside containers cannot verify TLS here)"
  mkdir -p "$wheelhouse"
  python3 -m pip download -q -d "$wheelhouse" -r "$here/requirements.txt" --only-binary=:all: --python-version 3.11 \
    --implementation cp --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux_2_28_x86_64 --platform any \
    2> >(grep -v "is ignored: it is neither" >&2)
  rm -f "$wheelhouse"/.req-* && touch "$wheelhouse/.req-$req_hash"
fi
context=$(mktemp -d /var/tmp/workload-context.XXXXXX)
trap 'rm -rf "$context"' EXIT
# -L: the shared manifest schema is a symlink into plugins/module_utils; the image gets the file.
cp -rL "$here/Dockerfile" "$here/requirements.txt" "$here/liveavatar_sim" "$here/versions" "$here/bin" "$context/"
find "$context" -name __pycache__ -prune -exec rm -rf {} +
cp -al "$wheelhouse" "$context/wheelhouse" 2>/dev/null || cp -r "$wheelhouse" "$context/wheelhouse"
content_hash=$( { echo "$base_id"; cd "$context" && find . -path ./wheelhouse -prune -o -type f -print | sort | xargs sha256sum; ls wheelhouse; } | sha256sum | cut -c1-16)
for version in "${versions[@]}"; do
  [ -f "$here/versions/$version.json" ] || { echo "workload: unknown version $version (no lab/workload/versions/$version.json)" >&2; exit 1; }
  image="liveavatar/live-avatar:$version"
  if [ "$(docker image inspect -f '{{index .Config.Labels "io.liveavatar.build-hash"}}' "$image" 2>/dev/null)" = "$content_hash" ]; then
    echo "workload: $image cached ($content_hash)"
  else
    # The legacy builder's deprecation notice goes to stderr on every build: show stderr only on failure.
    docker build -q --build-arg "BASE_IMAGE=$base" --build-arg "LIVEAVATAR_VERSION=$version" \
      --label "io.liveavatar.build-hash=$content_hash" -t "$image" "$context" >/dev/null 2>"$context/build.err" \
      || { cat "$context/build.err" >&2; exit 1; }
    echo "workload: $image built ($content_hash)"
  fi
  if [ -n "$push" ]; then
    docker tag "$image" "$push/liveavatar/live-avatar:$version"
    digest=$(docker push "$push/liveavatar/live-avatar:$version" | sed -n 's/.*digest: \(sha256:[0-9a-f]*\).*/\1/p')
    echo "$version $digest"
  fi
done
