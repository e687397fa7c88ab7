#!/usr/bin/env bash
# HAProxy runtime API in one place for the rollback's fast paths (one socat call per action, no reload):
#   lb_runtime.sh SOCKET BACKEND off SERVER...        weight 0 for every SERVER (prints "changed" if any was not 0)
#   lb_runtime.sh SOCKET BACKEND drain SERVER [SECS]  weight 0, then wait until SERVER has no current session
#   lb_runtime.sh SOCKET BACKEND weight SERVER W      set SERVER's weight to W (prints "changed" if it differed)
set -euo pipefail
socket=$1 backend=$2 action=$3
shift 3

api() { printf '%s\n' "$1" | socat -t 2 stdio "unix-connect:${socket}"; }

# "get weight" answers "<current> (initial <n>)" or an error line; print the current weights, one per line.
weights() {
  local query="" server
  for server in "$@"; do query+="get weight ${backend}/${server};"; done
  api "${query%;}" | awk 'NF'
}

set_weights() {
  local weight=$1 query="" server
  shift
  for server in "$@"; do query+="set weight ${backend}/${server} ${weight};"; done
  api "${query%;}" >/dev/null
}

require_weights() {
  local expected=$1 line
  shift
  while read -r line; do
    if [[ ${line%% *} != "$expected" ]]; then
      echo "lb_runtime: ${backend}: expected weight ${expected} for $*, HAProxy answered: ${line}" >&2
      exit 1
    fi
  done < <(weights "$@")
}

case $action in
  off)
    if weights "$@" | awk '$1 != "0" { found = 1 } END { exit !found }'; then
      set_weights 0 "$@"
      echo changed
    fi
    require_weights 0 "$@"
    ;;
  drain)
    server=$1 limit=${2:-30}
    if weights "$server" | awk '$1 != "0" { found = 1 } END { exit !found }'; then
      set_weights 0 "$server"
      echo changed
    fi
    require_weights 0 "$server"
    # show stat CSV: pxname,svname,qcur,qmax,scur,...: wait for in-flight requests to finish.
    deadline=$((SECONDS + limit))
    while api "show stat" | awk -F, -v b="$backend" -v s="$server" '$1 == b && $2 == s && $5 != "0" { busy = 1 } END { exit !busy }'; do
      if ((SECONDS >= deadline)); then
        echo "lb_runtime: ${backend}/${server} still has sessions after ${limit} s" >&2
        exit 1
      fi
      sleep 0.2
    done
    ;;
  weight)
    server=$1 weight=$2
    if [[ $(weights "$server" | awk '{ print $1 }') != "$weight" ]]; then
      set_weights "$weight" "$server"
      echo changed
    fi
    require_weights "$weight" "$server"
    ;;
  *)
    echo "lb_runtime: unknown action ${action} (off, drain, weight)" >&2
    exit 2
    ;;
esac
