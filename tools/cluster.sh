#!/usr/bin/env bash
# A local kvraft cluster of 3 kvd processes on 127.0.0.1, for trying the
# store out and for development.
#
#   tools/cluster.sh start          start the nodes that are not running; wait for a leader
#   tools/cluster.sh stop           stop every node cleanly (SIGTERM)
#   tools/cluster.sh status         which nodes run; each node's view (kvctl status)
#   tools/cluster.sh kill N         SIGKILL node N (a crash)
#   tools/cluster.sh restart N      stop node N cleanly (if running) and start it again
#   tools/cluster.sh wipe           stop everything and delete the cluster's data
#
# Node N serves clients on 127.0.0.1:710N and peers on 127.0.0.1:700N.
# Data and logs live under $KVRAFT_CLUSTER_DIR (default: .cluster/ in the
# repository); binaries come from $KVRAFT_BIN (default: build/bin/).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dir="${KVRAFT_CLUSTER_DIR:-$root/.cluster}"
bin="${KVRAFT_BIN:-$root/build/bin}"
nodes=(1 2 3)
peers="1=127.0.0.1:7001,2=127.0.0.1:7002,3=127.0.0.1:7003"
clients="1=127.0.0.1:7101,2=127.0.0.1:7102,3=127.0.0.1:7103"
endpoints="127.0.0.1:7101,127.0.0.1:7102,127.0.0.1:7103"

die() { echo "cluster.sh: $*" >&2; exit 1; }
pidfile() { echo "$dir/node$1/kvd.pid"; }
alive() {
  # A process that exited but whose parent has not reaped it yet (a zombie)
  # has stopped: it counts as gone.
  [ -r "/proc/$1/status" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}
running() {
  local f; f="$(pidfile "$1")"
  [ -f "$f" ] && alive "$(cat "$f")"
}
check_node() {
  case "${1:-}" in 1|2|3) ;; *) die "name a node: 1, 2 or 3" ;; esac
}

start_node() {
  local n="$1"
  if running "$n"; then echo "node $n already runs (pid $(cat "$(pidfile "$n")"))"; return; fi
  [ -x "$bin/kvd" ] || die "$bin/kvd not found: build first (cmake -S . -B build -G Ninja && cmake --build build)"
  mkdir -p "$dir/node$n/logs"
  nohup "$bin/kvd" --node_id="$n" --cluster_id=local --peers="$peers" --client_addresses="$clients" \
    --data_dir="$dir/node$n/data" --log_dir="$dir/node$n/logs" \
    >"$dir/node$n/kvd.out" 2>&1 </dev/null &
  echo $! >"$(pidfile "$n")"
  echo "node $n started (pid $!, log $dir/node$n/logs/kvd.INFO)"
}

stop_node() {
  local n="$1"
  if ! running "$n"; then rm -f "$(pidfile "$n")"; return; fi
  local pid; pid="$(cat "$(pidfile "$n")")"
  kill -TERM "$pid"
  for _ in $(seq 1 200); do
    alive "$pid" || { rm -f "$(pidfile "$n")"; echo "node $n stopped"; return; }
    sleep 0.1
  done
  die "node $n (pid $pid) did not stop within 20 s of SIGTERM; see $dir/node$n/logs/kvd.INFO"
}

wait_for_leader() {
  for _ in $(seq 1 100); do
    if "$bin/kvctl" --endpoints="$endpoints" --timeout_ms=500 status 2>/dev/null | grep -qw leader; then
      return 0
    fi
    sleep 0.2
  done
  die "no leader after 20 s; see the logs under $dir/node*/logs/"
}

cmd="${1:-}"
case "$cmd" in
  start)
    for n in "${nodes[@]}"; do start_node "$n"; done
    wait_for_leader
    "$bin/kvctl" --endpoints="$endpoints" status
    cat <<EOF

The cluster is up. Try:
  $bin/kvctl put greeting hello
  $bin/kvctl get greeting
  $bin/kvctl status
  tools/cluster.sh kill 1 ; tools/cluster.sh restart 1 ; tools/cluster.sh stop
EOF
    ;;
  stop) for n in "${nodes[@]}"; do stop_node "$n"; done ;;
  status)
    for n in "${nodes[@]}"; do
      if running "$n"; then echo "node $n: running (pid $(cat "$(pidfile "$n")"))"; else echo "node $n: not running"; fi
    done
    "$bin/kvctl" --endpoints="$endpoints" --timeout_ms=1000 status || true
    ;;
  kill)
    check_node "${2:-}"
    if running "$2"; then kill -KILL "$(cat "$(pidfile "$2")")"; rm -f "$(pidfile "$2")"; echo "node $2 killed"
    else echo "node $2 is not running"; fi
    ;;
  restart) check_node "${2:-}"; stop_node "$2"; start_node "$2" ;;
  wipe) for n in "${nodes[@]}"; do stop_node "$n"; done; rm -rf "$dir"; echo "removed $dir" ;;
  *) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 64 ;;
esac
