#!/usr/bin/env bash
# ansible-test sanity on a copy of the tracked files placed at .../ansible_collections/liveavatar/rollout.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work="$root/build/sanity/ansible_collections/liveavatar/rollout"
rm -rf "$root/build/sanity" && mkdir -p "$work"
(cd "$root" && git ls-files -co --exclude-standard | grep -v '^build/' | tar -cf - -T - ) | tar -C "$work" -xf -
# ansible-test downloads a pip bootstrap from a host that may be unreachable: use the stand-in where it exists.
pip_ver=24.2  # the pip version ansible-core 2.19's ansible-test asks for
cache="$HOME/.ansible/test/cache"
standin="$root/../shared/tools/ansible-test-get-pip.py"
if [ ! -f "$cache/get_pip_${pip_ver//./_}.py" ] && [ -f "$standin" ]; then
  mkdir -p "$cache" && cp "$standin" "$cache/get_pip_${pip_ver//./_}.py"
fi
cd "$work"
git init -q . && git add -A >/dev/null
ansible-test sanity --venv --python 3.11 --color no "$@"
