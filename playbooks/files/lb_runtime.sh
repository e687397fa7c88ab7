#!/usr/bin/env bash
# HAProxy runtime API in one place for the rollback's fast paths (one socat call per action, no reload):
#   lb_runtime.sh SOCKET BACKEND off [--keep FILE] SERVER...  weight 0 for every SERVER (prints "changed" if any was not 0),
#                                    except NODE-canary for each NODE listed in FILE (a rollback's targets, see flip)
#   lb_runtime.sh SOCKET BACKEND flip NODE...          NODE-canary to 100 and NODE-stable to 0, all in one call
#   lb_runtime.sh SOCKET BACKEND drain SERVER [SECS]   weight 0, then wait until SERVER has no current session
#   lb_runtime.sh SOCKET BACKEND weight SERVER W       set SERVER's weight to W (prints "changed" if it differed)
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
    keep=()
    if [[ ${1:-} == --keep ]]; then
      if [[ -f $2 ]]; then mapfile -t keep < <(awk 'NF { print $1 "-canary" }' "$2"); fi
      shift 2
    fi
    servers=()
    for server in "$@"; do
      [[ " ${keep[*]} " == *" ${server} "* ]] || servers+=("$server")
    done
    if ((${#servers[@]} == 0)); then exit 0; fi
    if weights "${servers[@]}" | awk '$1 != "0" { found = 1 } END { exit !found }'; then
      set_weights 0 "${servers[@]}"
      echo changed
    fi
    require_weights 0 "${servers[@]}"
    ;;
  flip)
    pairs=()
    for node in "$@"; do pairs+=("${node}-canary" "${node}-stable"); done
    current=$(weights "${pairs[@]}" | awk '{ printf "%s ", $1 }')
    if [[ $current != "$(printf '100 0 %.0s' "$@")" ]]; then
      query=""
      for node in "$@"; do query+="set weight ${backend}/${node}-canary 100;set weight ${backend}/${node}-stable 0;"; done
      api "${query%;}" >/dev/null
      echo changed
    fi
    for node in "$@"; do
      require_weights 100 "${node}-canary"
      require_weights 0 "${node}-stable"
    done
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
    echo "lb_runtime: unknown action ${action} (off, flip, drain, weight)" >&2
    exit 2
    ;;
esac
