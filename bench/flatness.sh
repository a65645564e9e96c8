#!/usr/bin/env bash
# flatness.sh: throughput at a small and a large key space, alternated, on
# kept clusters whose files are read into the page cache before every run.
#
# Usage (from anywhere; needs build/bin/kvbench and python3):
#   bench/flatness.sh                                   # 10^5 against 10^7 keys
#   SMALL=1000 LARGE=100000 PAIRS=1 DURATION=3 WARMUP=1 bench/flatness.sh   # smoke run
#
# What is measured. Each key space gets a 3-node cluster kept under
# $DIR/keys-N (kvbench --spawn --spawn_dir): the first run loads keys
# 0 .. N-1 (10^7 keys take 7-15 minutes here), later runs and later
# invocations reopen it and skip the load. Then, for each workload in
# WORKLOADS, PAIRS pairs of runs, the small key space first, each run a fresh
# start of that cluster's nodes with WARMUP s of load and DURATION measured
# seconds, at CLIENTS clients over the whole key space.
#
# Why the files are read first. A run reopens its nodes, and a large key
# space is served from gigabytes of SST files that a Get reads through the
# page cache; a file page that is not there is a read from the disk, which is
# then what the run measures. Right before each run this script reads that
# cluster's SST files once (`cat`), and it reports how much of them the page
# cache held before and after that run (fincore) and how many major faults
# (reads from the disk through a mapping, /proc/vmstat) the machine took
# during it; a large-key-space run with many major faults measured the disk.
#
# Reported per pair: ops/s and ops per server CPU-second at each key space
# and their ratios large/small; at the end, per workload, the means and the
# ratio of the means. Raw kvbench JSON stays under $DIR/runs/<timestamp>/.
#
# Environment knobs (defaults in brackets):
#   DIR [/tmp/kvraft-flatness]   kept clusters and raw outputs
#   KVBENCH [<repo>/build/bin/kvbench]
#   SMALL [100000]  LARGE [10000000]   the two key spaces
#   WORKLOADS ["get get:zipfian put"]  get, put, ... with an optional
#                   :zipfian (kvbench --keys=zipfian; uniform otherwise)
#   PAIRS [3]  CLIENTS [64]  DURATION [30]  WARMUP [15]
#   KVBENCH_ARGS [] extra kvbench flags for every run, space-separated
#   WARM [1]        0: do not read the files before a run
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
DIR=${DIR:-/tmp/kvraft-flatness}
KVBENCH=${KVBENCH:-$REPO/build/bin/kvbench}
SMALL=${SMALL:-100000}
LARGE=${LARGE:-10000000}
WORKLOADS=${WORKLOADS:-get get:zipfian put}
PAIRS=${PAIRS:-3}
CLIENTS=${CLIENTS:-64}
DURATION=${DURATION:-30}
WARMUP=${WARMUP:-15}
KVBENCH_ARGS=${KVBENCH_ARGS:-}
WARM=${WARM:-1}

say() { echo "flatness: $*" >&2; }
die() { say "$*"; exit 1; }

[ -x "$KVBENCH" ] || die "no kvbench at $KVBENCH (build first: cmake --build build)"
command -v python3 >/dev/null || die "python3 is needed (bash tools/install-deps.sh)"
[ "$SMALL" -lt "$LARGE" ] || die "SMALL ($SMALL) must be below LARGE ($LARGE)"

RUN_DIR=$DIR/runs/$(date -u +%Y%m%d-%H%M%S)
mkdir -p "$RUN_DIR"
RECORDS=$RUN_DIR/records.jsonl

cluster_dir() { echo "$DIR/keys-$1"; }
sst_files() { compgen -G "$(cluster_dir "$1")/node*/data/kv/db-*/*.sst" || true; }

# MiB of the cluster's SST files in the page cache.
cached_mib() {
  local files
  mapfile -t files < <(sst_files "$1")
  [ "${#files[@]}" -gt 0 ] || { echo 0; return; }
  fincore --bytes --noheadings --output RES "${files[@]}" 2>/dev/null |
    awk '{s += $1} END {printf "%d", s / 1048576}'
}

major_faults() { awk '/^pgmajfault /{print $2}' /proc/vmstat; }

# kvbench over keys [0, n) into the JSON file $2; the rest are kvbench flags.
kvbench_run() {
  local n=$1 out=$2
  shift 2
  # Bounded: the load of a large key space plus the run itself.
  # shellcheck disable=SC2086
  timeout --kill-after=30 $((WARMUP + DURATION + 3600)) \
    "$KVBENCH" --spawn --json --spawn_dir="$(cluster_dir "$n")" --clients="$CLIENTS" \
    --key_space="$n" "$@" $KVBENCH_ARGS >"$out" 2>"${out%.json}.err" ||
    die "kvbench failed; see ${out%.json}.err"
}

load() {
  local n=$1 start=$SECONDS
  say "key space $n: loading unless $(cluster_dir "$n") holds it already"
  mkdir -p "$(cluster_dir "$n")"
  kvbench_run "$n" "$RUN_DIR/load-$n.json" --workload=get --warmup=0 --duration=1
  say "key space $n: ready after $((SECONDS - start)) s"
}

# One measured run: label, key space, workload spec.
measure() {
  local label=$1 n=$2 spec=$3
  local workload=${spec%%:*} keys=uniform
  if [ "$spec" != "$workload" ]; then keys=${spec#*:}; fi
  local before read_s="not read" faults0 files out=$RUN_DIR/$label.json
  before=$(cached_mib "$n")
  if [ "$WARM" = 1 ]; then
    local t0=$SECONDS
    mapfile -t files < <(sst_files "$n")
    [ "${#files[@]}" -eq 0 ] || cat "${files[@]}" >/dev/null
    read_s="read in $((SECONDS - t0)) s"
  fi
  faults0=$(major_faults)
  kvbench_run "$n" "$out" --workload="$workload" --keys="$keys" \
    --warmup="$WARMUP" --duration="$DURATION"
  # The run's record goes to $RECORDS, and a line for the reader to stderr.
  python3 - "$out" "$label" "$spec" "$n" "$before" "$read_s" "$(cached_mib "$n")" \
    "$(( $(major_faults) - faults0 ))" >>"$RECORDS" <<'PY'
import json, sys
out, label, spec, n, before, read_s, after, faults = sys.argv[1:]
d = json.load(open(out))
r = dict(label=label, workload=spec, keys=int(n),
         ops=d["ops_per_second"], ops_cpu=d["ops_per_server_cpu_second"],
         p50=d["latency_ms"]["p50"], p99=d["latency_ms"]["p99"],
         errors=d["errors"], cached_before=int(before), files=read_s,
         cached_after=int(after), major_faults=int(faults))
print(json.dumps(r))
print("flatness: %(label)-22s %(ops)9.0f ops/s %(ops_cpu)9.0f ops/CPU-s  p50 %(p50).2f p99 %(p99).2f ms  "
      "errors %(errors)d  page cache %(cached_before)d MiB (%(files)s) -> %(cached_after)d MiB  "
      "major faults %(major_faults)d" % r, file=sys.stderr)
PY
}

say "machine: $(nproc) CPUs, $(free -g | awk '/^Mem:/{print $2}') GiB; load average $(cut -d' ' -f1-3 /proc/loadavg)"
load "$SMALL"
load "$LARGE"
for spec in $WORKLOADS; do
  for ((i = 1; i <= PAIRS; i++)); do
    measure "${spec/:/-}-$SMALL-$i" "$SMALL" "$spec"
    measure "${spec/:/-}-$LARGE-$i" "$LARGE" "$spec"
  done
done

python3 - "$RECORDS" "$SMALL" "$LARGE" "$RUN_DIR" <<'PY' | tee "$RUN_DIR/results.md"
import json, sys
from collections import defaultdict
path, small, large, run_dir = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
runs = defaultdict(lambda: defaultdict(list))
for line in open(path):
    r = json.loads(line)
    runs[r["workload"]][r["keys"]].append(r)
print(f"Throughput at {large:,} keys against {small:,} (raw: {run_dir})\n")
print(f"| workload | pair | ops/s {small:,} | ops/s {large:,} | ratio | ops/CPU-s ratio | major faults at {large:,} |")
print("|---|---|---|---|---|---|---|")
summary = []
for w, by in runs.items():
    for i, (s, l) in enumerate(zip(by[small], by[large]), 1):
        print(f"| {w} | {i} | {s['ops']:,.0f} | {l['ops']:,.0f} | {l['ops'] / s['ops']:.2f} "
              f"| {l['ops_cpu'] / s['ops_cpu']:.2f} | {l['major_faults']:,} |")
    mean = lambda rs, k: sum(r[k] for r in rs) / len(rs)
    summary.append((w, mean(by[small], "ops"), mean(by[large], "ops"),
                    mean(by[large], "ops_cpu") / mean(by[small], "ops_cpu")))
print("\n| workload | mean ops/s " + f"{small:,} | mean ops/s {large:,} | ratio of means | ops/CPU-s ratio |")
print("|---|---|---|---|---|")
for w, s, l, c in summary:
    print(f"| {w} | {s:,.0f} | {l:,.0f} | **{l / s:.2f}** | {c:.2f} |")
PY
