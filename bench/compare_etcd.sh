#!/usr/bin/env bash
# compare_etcd.sh: kvraft against etcd, same points, same machine, one run.
#
# Usage (as root, from anywhere):
#   bench/compare_etcd.sh            # = all: install, build, run
#   bench/compare_etcd.sh install    # apt packages (+ a deb-src entry if none exists)
#   bench/compare_etcd.sh build      # etcd's load generator into $WORK/bin/benchmark
#   bench/compare_etcd.sh run        # measure and print the table
#   DURATION=3 WARMUP=1 POINTS="put:1 put:64 get:64" bench/compare_etcd.sh run   # smoke run
#
# What is measured. Each point is one workload at one client count. For every
# point the script first measures etcd, then kvraft (ORDER changes that), then
# moves on, so that slow phases of a shared machine hit both systems alike.
#   etcd:   Debian's etcd-server, 3 members on 127.0.0.1, default flags (fsync
#           on), a new cluster with wiped data dirs for every point. Load comes
#           from etcd's own tools/benchmark, built offline from Debian's etcd
#           source package against Debian's golang-*-dev packages (GOPATH mode,
#           GO111MODULE=off, no module proxy). Puts go to the leader, reads to
#           all 3 members (range --consistency=l or s, of one key).
#           The benchmark takes an op count, not a time: a short calibration
#           run, then a warm-up run of about WARMUP s, give a rate; the measured
#           run is rate x DURATION ops, and its own reported ops/s and elapsed
#           time are what the table shows. Server CPU = utime+stime of the 3
#           member PIDs (/proc/PID/stat) just before and after the measured run.
#   kvraft: build/bin/kvbench --spawn --json (a fresh 3-node kvd cluster of its
#           own on loopback, data under $WORK, deleted afterwards), WARMUP s of
#           warm-up, then DURATION measured seconds; it reports ops/s, latency
#           percentiles and the kvd nodes' CPU seconds in the measured window.
# Both sides: keys KEY_SIZE bytes, values VAL_SIZE bytes; puts draw keys
# uniformly from KEY_SPACE; reads hit READ_KEYS keys (etcd's range reads one
# key, so the default is 1: kvbench loads key 0 and etcd gets the same key).
# Differences that remain: etcd's benchmark multiplexes its clients
# (goroutines) over ETCD_CONNS gRPC connections; kvbench's clients make the
# client library's asynchronous calls, which travel in batches over a few
# connections per node. The load generators run on the same cores as the
# servers.
#
# Reported per point and system: ops/s, p50 and p99 (ms), server CPU seconds
# in the measured window, ops per server CPU-second; and the ratios
# kvraft/etcd (ops/s, ops per CPU-s) and etcd p99 / kvraft p99 (above 1:
# kvraft's tail is shorter). The header above the table gives the disk's
# fdatasync latency for a small append at the start and at the end: every
# one-client put waits for at least one, so it is the floor under both p50s
# at that hour. The table goes to stdout and to $WORK/results.md;
# every raw output stays under $WORK/runs/<timestamp>/.
#
# Environment knobs (defaults in brackets):
#   WORK [/tmp/kvraft-vs-etcd]   build, data dirs, raw outputs, results.md
#   KVBENCH [<repo>/build/bin/kvbench]
#   DURATION [20]   measured seconds per point and system
#   WARMUP [3]      warm-up seconds before each measured run (both systems)
#   PUT_CLIENTS ["1 16 64 256"]  GET_CLIENTS [64]  STALE_CLIENTS [64]
#                   (an empty value drops that kind of point)
#   POINTS          explicit point list overriding the three above, in order,
#                   e.g. "put:1 put:64 get:64 stale:64"
#   KEY_SIZE [16]  VAL_SIZE [256]  KEY_SPACE [1000000]  READ_KEYS [1]
#   KVBENCH_ARGS [] extra kvbench flags for every kvraft run, space-separated
#                   (e.g. "--conns=16", or "--batches=0" to send every call alone)
#   ETCD_CONNS [16] gRPC connections of etcd's benchmark (fewer if fewer clients)
#   ETCD_PORT_BASE [23700]  member i listens on 127.0.0.1:BASE+i (clients) and
#                   127.0.0.1:BASE+100+i (peers)
#   ORDER [etcd-first]  or kvraft-first, or alternate (who goes first flips
#                   every point)
#   PAUSE [2]       seconds of rest between two measured runs
#   ETCD_RETRIES [1] how many times an etcd measured run that took under 0.75
#                   or over 1.33 x DURATION is repeated (sized by its own rate)
#   FORCE_BUILD [0] 1: rebuild the etcd benchmark even if it exists
#
# Safety: only 127.0.0.1 is used; the etcd ports are checked free before each
# cluster starts; the script stops only the processes it started, by PID (also
# on exit, through a trap); every wait and retry loop has a bound, and every
# load run has a time limit.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WORK=${WORK:-/tmp/kvraft-vs-etcd}
KVBENCH=${KVBENCH:-$REPO/build/bin/kvbench}
DURATION=${DURATION:-20}
WARMUP=${WARMUP:-3}
PUT_CLIENTS=${PUT_CLIENTS-"1 16 64 256"}
GET_CLIENTS=${GET_CLIENTS-64}
STALE_CLIENTS=${STALE_CLIENTS-64}
KEY_SIZE=${KEY_SIZE:-16}
VAL_SIZE=${VAL_SIZE:-256}
KEY_SPACE=${KEY_SPACE:-1000000}
READ_KEYS=${READ_KEYS:-1}
ETCD_CONNS=${ETCD_CONNS:-16}
ETCD_PORT_BASE=${ETCD_PORT_BASE:-23700}
ORDER=${ORDER:-etcd-first}
PAUSE=${PAUSE:-2}
FORCE_BUILD=${FORCE_BUILD:-0}
ETCD_RETRIES=${ETCD_RETRIES:-1}
KVBENCH_ARGS=${KVBENCH_ARGS:-}
PY=/usr/bin/python3
BENCH_BIN=$WORK/bin/benchmark
CLK_TCK=$(getconf CLK_TCK)

export ETCDCTL_API=3
# A stray ETCD_* variable would silently reconfigure the members.
while read -r var; do unset "$var"; done < <(compgen -e | grep '^ETCD_' || true)

say() { printf '%s  %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }

# ---------------------------------------------------------------------------
# Python helpers (Debian's interpreter, standard library only).
read -r -d '' PYHELP <<'PYEOF' || true
import json, re, sys

def etcd_summary(path):
    """Fields of one tools/benchmark report."""
    text = open(path, errors="replace").read()
    out = {"total_s": None, "rps": None, "p50_ms": None, "p99_ms": None, "errors": 0}
    m = re.search(r"Total:\s+([0-9.]+) secs", text)
    if m: out["total_s"] = float(m.group(1))
    m = re.search(r"Requests/sec:\s+([0-9.]+)", text)
    if m: out["rps"] = float(m.group(1))
    for pct, key in (("50", "p50_ms"), ("99", "p99_ms")):
        m = re.search(r"^\s*" + pct + r"% in ([0-9.]+) secs", text, re.M)
        if m: out[key] = float(m.group(1)) * 1e3
    if "Error distribution" in text:
        tail = text.split("Error distribution", 1)[1]
        out["errors"] = sum(int(n) for n in re.findall(r"^\s*\[(\d+)\]", tail, re.M))
    return out

def cmd_elapsed(path):
    print(etcd_summary(path)["total_s"] or 0)

def cmd_rate(path):
    s = etcd_summary(path)
    print(int(s["rps"]) if s["rps"] else 0)

def cmd_status(path):
    """leader endpoint and raft term from `etcdctl endpoint status -w json`."""
    rows = json.load(open(path))
    leader, term = "", 0
    for r in rows:
        st = r["Status"]
        term = max(term, int(st.get("raftTerm", st["header"].get("raft_term", 0))))
        if st["leader"] == st["header"]["member_id"]:
            leader = r["Endpoint"]
    print(leader or "-", term)

def cmd_record_etcd(out, point, raw, cpu_s, term0, term1):
    s = etcd_summary(raw)
    if not s["rps"]:
        raise SystemExit("no Requests/sec in " + raw)
    ops = s["rps"] * s["total_s"]
    cpu = float(cpu_s)
    rec = dict(point=point, system="etcd", seconds=s["total_s"], ops=round(ops),
               ops_per_s=s["rps"], p50_ms=s["p50_ms"], p99_ms=s["p99_ms"],
               errors=s["errors"], cpu_s=cpu, ops_per_cpu_s=ops / cpu if cpu > 0 else None,
               note="" if term0 == term1 else "raft term %s->%s (election)" % (term0, term1),
               raw=raw)
    open(out, "a").write(json.dumps(rec) + "\n")

def cmd_record_kvraft(out, point, raw):
    line = [l for l in open(raw) if l.lstrip().startswith("{")]
    if not line:
        raise SystemExit("no JSON summary in " + raw)
    j = json.loads(line[-1])
    cpu = j.get("server_cpu_seconds")
    rec = dict(point=point, system="kvraft", seconds=j["seconds"], ops=j["ops"],
               ops_per_s=j["ops_per_second"], p50_ms=j["latency_ms"]["p50"],
               p99_ms=j["latency_ms"]["p99"], errors=j["errors"], cpu_s=cpu,
               ops_per_cpu_s=j.get("ops_per_server_cpu_second"), note="", raw=raw)
    open(out, "a").write(json.dumps(rec) + "\n")

def cmd_record_failed(out, point, system, note):
    open(out, "a").write(json.dumps(dict(point=point, system=system, note=note)) + "\n")

def fmt(v, spec):
    return "-" if v is None else format(v, spec)

def ratio(a, b):
    return a / b if a is not None and b not in (None, 0) else None

def cmd_report(points_path, md_path, header_path):
    recs = [json.loads(l) for l in open(points_path) if l.strip()]
    order, by = [], {}
    for r in recs:
        if r["point"] not in by:
            order.append(r["point"]); by[r["point"]] = {}
        by[r["point"]][r["system"]] = r
    cols = ["point", "etcd ops/s", "kvraft ops/s", "**ops/s kvraft/etcd**",
            "etcd p50 ms", "kvraft p50 ms", "etcd p99 ms", "kvraft p99 ms",
            "**p99 etcd/kvraft**", "etcd CPU s", "kvraft CPU s",
            "etcd ops/CPU-s", "kvraft ops/CPU-s", "**ops/CPU-s kvraft/etcd**",
            "measured s etcd/kvraft", "errors etcd/kvraft"]
    rows, notes = [], []
    for p in order:
        e, k = by[p].get("etcd", {}), by[p].get("kvraft", {})
        g = lambda d, f: d.get(f)
        rows.append([p,
            fmt(g(e, "ops_per_s"), ",.0f"), fmt(g(k, "ops_per_s"), ",.0f"),
            fmt(ratio(g(k, "ops_per_s"), g(e, "ops_per_s")), ".2f"),
            fmt(g(e, "p50_ms"), ".2f"), fmt(g(k, "p50_ms"), ".2f"),
            fmt(g(e, "p99_ms"), ".2f"), fmt(g(k, "p99_ms"), ".2f"),
            fmt(ratio(g(e, "p99_ms"), g(k, "p99_ms")), ".2f"),
            fmt(g(e, "cpu_s"), ".1f"), fmt(g(k, "cpu_s"), ".1f"),
            fmt(g(e, "ops_per_cpu_s"), ",.0f"), fmt(g(k, "ops_per_cpu_s"), ",.0f"),
            fmt(ratio(g(k, "ops_per_cpu_s"), g(e, "ops_per_cpu_s")), ".2f"),
            fmt(g(e, "seconds"), ".1f") + " / " + fmt(g(k, "seconds"), ".1f"),
            fmt(g(e, "errors"), "d") + " / " + fmt(g(k, "errors"), "d")])
        for d in (e, k):
            if d.get("note"):
                notes.append("%s %s: %s" % (p, d["system"], d["note"]))
    md = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    md += ["| " + " | ".join(r) + " |" for r in rows]
    header = open(header_path).read()
    body = header + "\n" + "\n".join(md) + "\n"
    if notes:
        body += "\nWarnings:\n" + "".join("- %s\n" % n for n in notes)
    open(md_path, "w").write(body)
    # plain-text table for the terminal
    plain = [[c.replace("**", "") for c in cols]] + rows
    widths = [max(len(r[i]) for r in plain) for i in range(len(cols))]
    print(header)
    for n, r in enumerate(plain):
        print("  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))))
        if n == 0:
            print("  ".join("-" * w for w in widths))
    for n in notes:
        print("WARNING:", n)

def cmd_random_value(n):
    import random
    print("".join(random.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(int(n))))

def cmd_fsync_floor(directory):
    # One node's part of a put: append a log record and fdatasync it. A
    # one-client put waits for at least one of these, so their latency at
    # the hour of the run is the floor under both systems' p50.
    import os, statistics, time
    path = os.path.join(directory, "fsync-probe")
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644)
    times = []
    try:
        for _ in range(500):
            os.write(fd, b"x" * 300)
            t = time.perf_counter()
            os.fdatasync(fd)
            times.append((time.perf_counter() - t) * 1000)
    finally:
        os.close(fd)
        os.unlink(path)
    q = statistics.quantiles(times, n=10)
    print("p50 %.3f ms, p90 %.3f ms" % (statistics.median(times), q[-1]))

def cmd_ports_free(*ports):
    import socket
    busy = []
    for p in ports:
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", int(p)))
        except OSError:
            busy.append(p)
        finally:
            s.close()
    if busy:
        print(" ".join(busy)); sys.exit(1)

cmds = {"rate": cmd_rate, "elapsed": cmd_elapsed, "status": cmd_status, "record-etcd": cmd_record_etcd,
        "record-kvraft": cmd_record_kvraft,
        "record-failed": cmd_record_failed, "report": cmd_report, "ports-free": cmd_ports_free,
        "random-value": cmd_random_value, "fsync-floor": cmd_fsync_floor}
cmds[sys.argv[1]](*sys.argv[2:])
PYEOF
py() { "$PY" -c "$PYHELP" "$@"; }

# ---------------------------------------------------------------------------
# install
PKGS=(etcd-server etcd-client golang-go golang-etcd-server-dev dpkg-dev
      golang-github-spf13-cobra-dev golang-github-dustin-go-humanize-dev
      golang-github-bgentry-speakeasy-dev golang-gopkg-cheggaaa-pb.v1-dev
      golang-golang-x-time-dev golang-google-grpc-dev golang-go.uber-zap-dev
      python3 procps)

have_deb_src() {
  grep -rqsE '^[[:space:]]*(deb-src[[:space:]]|Types:.*deb-src)' \
    /etc/apt/sources.list /etc/apt/sources.list.d/
}

phase_install() {
  local missing=() p
  for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  local need_src=0
  have_deb_src || need_src=1
  if [ ${#missing[@]} -eq 0 ] && [ $need_src -eq 0 ]; then
    say "install: all packages present and a deb-src entry exists; nothing to do"
    return 0
  fi
  [ "$(id -u)" -eq 0 ] || die "install needs root (apt-get)"
  if [ $need_src -eq 1 ]; then
    # tools/benchmark ships only in etcd's source package, so apt needs a
    # source entry for the same Debian archive the machine already uses.
    local src=/etc/apt/sources.list.d/kvraft-deb-src.sources
    if [ -f /etc/apt/sources.list.d/debian.sources ]; then
      sed 's/^Types:[[:space:]]*deb[[:space:]]*$/Types: deb-src/' \
        /etc/apt/sources.list.d/debian.sources > "$src"
    else
      local codename
      codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
      printf 'Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: %s\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
        "$codename" > "$src"
    fi
    say "install: added $src"
  fi
  export DEBIAN_FRONTEND=noninteractive
  say "install: apt-get update"
  apt-get update -q >/dev/null
  say "install: apt-get install ${PKGS[*]}"
  nice apt-get install -y -q --no-install-recommends "${PKGS[@]}" >/dev/null
  say "install: $(etcd --version | head -1); $(go version)"
}

# ---------------------------------------------------------------------------
# build: tools/benchmark from Debian's etcd source package, every import from
# /usr/share/gocode (Debian's golang-*-dev packages).
phase_build() {
  if [ -x "$BENCH_BIN" ] && [ "$FORCE_BUILD" != 1 ]; then
    say "build: $BENCH_BIN exists; nothing to do (FORCE_BUILD=1 rebuilds)"
    return 0
  fi
  command -v go >/dev/null || die "go not found: run '$0 install' first"
  local ver upstream srcroot gopath
  ver=$(dpkg-query -W -f='${Version}' golang-etcd-server-dev) || die "golang-etcd-server-dev missing"
  upstream=${ver#*:}; upstream=${upstream%-*}
  srcroot=$WORK/src
  mkdir -p "$srcroot" "$WORK/bin"
  if [ ! -d "$srcroot/etcd-$upstream/tools/benchmark" ]; then
    say "build: apt-get source etcd=$ver"
    (cd "$srcroot" && apt-get source -q "etcd=$ver" >"$srcroot/apt-source.log" 2>&1) \
      || { tail -20 "$srcroot/apt-source.log" >&2; die "apt-get source failed"; }
  fi
  [ -d "$srcroot/etcd-$upstream/tools/benchmark" ] || die "no tools/benchmark in $srcroot/etcd-$upstream"
  gopath=$WORK/gopath
  rm -rf "$gopath/src/go.etcd.io/etcd/tools"
  mkdir -p "$gopath/src/go.etcd.io/etcd/tools"
  cp -r "$srcroot/etcd-$upstream/tools/benchmark" "$gopath/src/go.etcd.io/etcd/tools/"
  say "build: go build tools/benchmark (GOPATH=$gopath:/usr/share/gocode, GO111MODULE=off)"
  env GO111MODULE=off GOPATH="$gopath:/usr/share/gocode" GOCACHE="$WORK/gocache" \
      GOFLAGS= GOPROXY=off GOTOOLCHAIN=local \
      nice -n 10 go build -o "$BENCH_BIN.tmp" go.etcd.io/etcd/tools/benchmark
  mv "$BENCH_BIN.tmp" "$BENCH_BIN"
  say "build: $BENCH_BIN ready"
}

# ---------------------------------------------------------------------------
# process bookkeeping: everything started here is remembered by PID
MEMBER_PIDS=()
CHILD_PID=""

stop_pid() {   # stop_pid PID: TERM, wait up to 10 s, then KILL
  local pid=$1 i
  kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ -n "$CHILD_PID" ]; then say "stopping load run (pid $CHILD_PID)"; stop_pid "$CHILD_PID"; fi
  etcd_stop
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# run_limited SECONDS STDOUT STDERR CMD...: runs CMD in the background under a
# time limit, remembers its PID for the trap, and returns its exit code.
run_limited() {
  local limit=$1 out=$2 err=$3; shift 3
  timeout -k 20 "$limit" "$@" >"$out" 2>"$err" &
  CHILD_PID=$!
  local rc=0
  wait "$CHILD_PID" || rc=$?
  CHILD_PID=""
  [ $rc -ne 124 ] || say "time limit of $limit s hit: $*"
  return $rc
}

# ---------------------------------------------------------------------------
# etcd cluster
client_port() { echo $((ETCD_PORT_BASE + $1)); }
peer_port() { echo $((ETCD_PORT_BASE + 100 + $1)); }
ALL_EPS=""

etcd_start() {   # etcd_start LOGDIR
  local logdir=$1 i ports=() cluster="" busy
  for i in 1 2 3; do ports+=("$(client_port $i)" "$(peer_port $i)"); done
  if ! busy=$(py ports-free "${ports[@]}"); then
    die "127.0.0.1 port(s) $busy already in use; pick another ETCD_PORT_BASE"
  fi
  for i in 1 2 3; do
    cluster+="${cluster:+,}e$i=http://127.0.0.1:$(peer_port $i)"
  done
  ALL_EPS="127.0.0.1:$(client_port 1),127.0.0.1:$(client_port 2),127.0.0.1:$(client_port 3)"
  rm -rf "$WORK/etcd-data"
  mkdir -p "$WORK/etcd-data" "$logdir"
  MEMBER_PIDS=()
  for i in 1 2 3; do
    etcd --name "e$i" --data-dir "$WORK/etcd-data/e$i" \
      --listen-client-urls "http://127.0.0.1:$(client_port $i)" \
      --advertise-client-urls "http://127.0.0.1:$(client_port $i)" \
      --listen-peer-urls "http://127.0.0.1:$(peer_port $i)" \
      --initial-advertise-peer-urls "http://127.0.0.1:$(peer_port $i)" \
      --initial-cluster "$cluster" --initial-cluster-state new \
      --initial-cluster-token "kvraft-vs-etcd-$$" \
      --logger zap --log-outputs "$logdir/e$i.log" >"$logdir/e$i.out" 2>&1 &
    MEMBER_PIDS+=($!)
  done

  local _; for _ in $(seq 1 120); do
    for i in 0 1 2; do
      kill -0 "${MEMBER_PIDS[$i]}" 2>/dev/null || die "etcd member e$((i + 1)) exited; see $logdir"
    done
    if etcdctl --endpoints="$ALL_EPS" --dial-timeout=1s --command-timeout=2s endpoint health >/dev/null 2>&1; then
      return 0
    fi
    sleep 0.5
  done
  die "etcd cluster not healthy after 60 s; see $logdir"
}

etcd_stop() {
  local pid
  for pid in "${MEMBER_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${MEMBER_PIDS[@]}"; do stop_pid "$pid"; done
  MEMBER_PIDS=()
  rm -rf "$WORK/etcd-data"
}

etcd_status() {   # prints "<leader endpoint> <raft term>"
  local f=$1
  etcdctl --endpoints="$ALL_EPS" --dial-timeout=2s --command-timeout=5s endpoint status -w json >"$f" 2>/dev/null \
    || { echo "- 0"; return 0; }
  py status "$f"
}

members_cpu_ticks() {
  local pid sum=0 t
  for pid in "${MEMBER_PIDS[@]}"; do
    # fields after the ")" that closes the command name: state is 1st, utime 12th, stime 13th
    t=$(sed 's/^.*) //' "/proc/$pid/stat" | awk '{print $12 + $13}')
    sum=$((sum + t))
  done
  echo $sum
}

# etcd_load OUT TOTAL CLIENTS ENDPOINTS ARGS...: one run of the benchmark tool
etcd_load() {
  local out=$1 total=$2 clients=$3 eps=$4; shift 4
  local conns=$((clients < ETCD_CONNS ? clients : ETCD_CONNS))
  run_limited $((DURATION * 5 + WARMUP * 5 + 120)) "$out" "$out.err" \
    "$BENCH_BIN" --endpoints="$eps" --clients="$clients" --conns="$conns" --precise \
    "$@" --total="$total"
}

measure_etcd() {   # measure_etcd KIND CLIENTS NAME
  local kind=$1 clients=$2 name=$3 dir=$RUN_DIR/$3/etcd
  mkdir -p "$dir"
  say "$name etcd: starting a fresh 3-member cluster"
  etcd_start "$dir/logs"
  local st leader term0 term1 eps args=()
  st=$(etcd_status "$dir/status-before.json"); leader=${st% *}; term0=${st#* }
  [ "$leader" != "-" ] || die "$name: no etcd leader found"
  case $kind in
    put)
      eps=$leader
      args=(put --key-size="$KEY_SIZE" --val-size="$VAL_SIZE" --key-space-size="$KEY_SPACE") ;;
    get | stale)
      # one key of KEY_SIZE bytes (kvbench's key 0 has the same name) with a
      # VAL_SIZE-byte value, read from all members
      local key val
      key=$(printf 'k%0*d' $((KEY_SIZE - 1)) 0)
      val=$(py random-value "$VAL_SIZE")
      etcdctl --endpoints="$leader" --command-timeout=5s put "$key" "$val" >/dev/null
      eps=$ALL_EPS
      local mode=l; [ "$kind" = stale ] && mode=s
      args=(range "$key" --consistency="$mode") ;;
  esac
  # 1) calibration: a short fixed count
  local cal=$((clients * 50)) rate
  ((cal < 500)) && cal=500
  ((cal > 5000)) && cal=5000
  etcd_load "$dir/calibrate.out" "$cal" "$clients" "$eps" "${args[@]}" \
    || { tail -5 "$dir/calibrate.out.err" >&2; die "$name: etcd calibration run failed"; }
  rate=$(py rate "$dir/calibrate.out")
  ((rate > 0)) || die "$name: calibration gave no rate; see $dir/calibrate.out"
  # 2) warm-up of about WARMUP s, which also refines the rate
  if ((WARMUP > 0)); then
    local warm=$((rate * WARMUP)); ((warm < clients)) && warm=$clients
    etcd_load "$dir/warmup.out" "$warm" "$clients" "$eps" "${args[@]}" \
      || die "$name: etcd warm-up run failed"
    local r2; r2=$(py rate "$dir/warmup.out"); ((r2 > 0)) && rate=$r2
  fi
  # 3) the measured run: rate x DURATION ops. If it took far from DURATION
  #    (the machine is shared; short warm-ups estimate badly), it counts as
  #    more warm-up and is repeated once, sized by its own rate.
  local total attempt elapsed t0 t1 cpu
  for attempt in $(seq 0 "$ETCD_RETRIES"); do
    total=$((rate * DURATION)); ((total < clients)) && total=$clients
    say "$name etcd: ~$rate ops/s -> measuring $total ops (~${DURATION} s)"
    st=$(etcd_status "$dir/status-before.json"); term0=${st#* }
    t0=$(members_cpu_ticks)
    etcd_load "$dir/measure.out" "$total" "$clients" "$eps" "${args[@]}" \
      || die "$name: etcd measured run failed; see $dir/measure.out.err"
    t1=$(members_cpu_ticks)
    elapsed=$(py elapsed "$dir/measure.out")
    ((attempt < ETCD_RETRIES)) || break
    awk -v e="$elapsed" -v d="$DURATION" 'BEGIN{exit !(e < 0.75 * d || e > 1.33 * d)}' || break
    say "$name etcd: measured run took $elapsed s instead of ~$DURATION s; repeating it"
    mv "$dir/measure.out" "$dir/measure-off-target-$attempt.out"
    rate=$(py rate "$dir/measure-off-target-$attempt.out")
  done
  st=$(etcd_status "$dir/status-after.json"); term1=${st#* }
  cpu=$(awk -v d=$((t1 - t0)) -v h="$CLK_TCK" 'BEGIN{printf "%.2f", d / h}')
  py record-etcd "$POINTS_FILE" "$name" "$dir/measure.out" "$cpu" "$term0" "$term1"
  etcd_stop
  say "$name etcd: $(py rate "$dir/measure.out") ops/s in $elapsed s, server CPU $cpu s"
}

measure_kvraft() {   # measure_kvraft KIND CLIENTS NAME
  local kind=$1 clients=$2 name=$3 dir=$RUN_DIR/$3/kvraft
  mkdir -p "$dir/logs" "$WORK/kvraft-data"
  local args=(--spawn --json --data_root="$WORK/kvraft-data" --log_dir="$dir/logs"
              --clients="$clients" --duration="$DURATION" --warmup="$WARMUP"
              --key_size="$KEY_SIZE" --value_size="$VAL_SIZE")
  case $kind in
    put) args+=(--workload=put --key_space="$KEY_SPACE") ;;
    get) args+=(--workload=get --read_keys="$READ_KEYS") ;;
    stale) args+=(--workload=get --stale --read_keys="$READ_KEYS") ;;
  esac
  # shellcheck disable=SC2206 # KVBENCH_ARGS is a space-separated flag list
  [ -z "$KVBENCH_ARGS" ] || args+=($KVBENCH_ARGS)
  say "$name kvraft: kvbench ${args[*]}"
  echo "$KVBENCH ${args[*]}" >"$dir/command"
  # One retry: a kvd that dies at start-up (e.g. build/bin being rebuilt
  # underneath) should not cost the whole run. A second failure leaves the
  # point empty in the table and the run goes on.
  local attempt rc=0
  for attempt in 1 2; do
    rc=0
    run_limited $((DURATION + WARMUP + 180)) "$dir/kvbench.json" "$dir/kvbench.err" "$KVBENCH" "${args[@]}" \
      || rc=$?
    [ $rc -ne 0 ] || break
    tail -3 "$dir/kvbench.err" >&2
    cp "$dir/kvbench.err" "$dir/kvbench-failed-$attempt.err"
    if [ $attempt -eq 1 ]; then say "$name kvraft: kvbench exited with $rc; retrying in 10 s"; sleep 10; fi
  done
  if [ $rc -ne 0 ]; then
    say "$name kvraft: kvbench failed twice (exit $rc); see $dir"
    py record-failed "$POINTS_FILE" "$name" kvraft "kvbench failed twice (exit $rc), see $dir"
    return 0
  fi
  py record-kvraft "$POINTS_FILE" "$name" "$dir/kvbench.json"
  say "$name kvraft: $(jq -r '"\(.ops_per_second|floor) ops/s in \(.seconds*100|round/100) s, server CPU \(.server_cpu_seconds*100|round/100) s"' "$dir/kvbench.json" 2>/dev/null || true)"
}

binaries_stamp() { stat -c '%n %Y %s' "$KVBENCH" "$(dirname "$KVBENCH")/kvd" 2>/dev/null || true; }

point_list() {
  if [ -n "${POINTS:-}" ]; then echo "$POINTS"; return; fi
  local c out=""
  for c in $PUT_CLIENTS; do out+="put:$c "; done
  for c in $GET_CLIENTS; do out+="get:$c "; done
  for c in $STALE_CLIENTS; do out+="stale:$c "; done
  echo "$out"
}

phase_run() {
  [ -x "$BENCH_BIN" ] || die "$BENCH_BIN missing: run '$0 build' first"
  [ -x "$KVBENCH" ] || die "$KVBENCH missing (the repository's build/ is not built)"
  { command -v etcd && command -v etcdctl; } >/dev/null || die "etcd missing: run '$0 install' first"
  [ -x "$PY" ] || die "$PY missing"
  local p kind clients
  local points; points=$(point_list)
  for p in $points; do   # validate everything before starting anything
    kind=${p%%:*}; clients=${p#*:}
    case $kind in put | get | stale) ;; *) die "bad point '$p' (put:N, get:N or stale:N)" ;; esac
    [[ $clients =~ ^[1-9][0-9]*$ ]] || die "bad client count in '$p'"
  done
  ((KEY_SIZE >= 2)) || die "KEY_SIZE must be at least 2"
  case $ORDER in etcd-first | kvraft-first | alternate) ;; *) die "ORDER: etcd-first, kvraft-first or alternate" ;; esac

  RUN_DIR=$WORK/runs/$(date +%Y%m%d-%H%M%S)
  POINTS_FILE=$RUN_DIR/points.jsonl
  mkdir -p "$RUN_DIR"
  : >"$POINTS_FILE"
  local header=$RUN_DIR/header.md
  {
    echo "## kvraft vs etcd, $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo
    echo "- machine: $(nproc) cores, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r); load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "- disk under $WORK at start: a 300-byte append and fdatasync, 500 times: $(py fsync-floor "$WORK")"
    echo "- etcd: $(etcd --version | awk '/etcd Version/{print $3}') (3 members, default flags), load from tools/benchmark, ETCD_CONNS=$ETCD_CONNS"
    echo "- kvraft: $KVBENCH (kvd built $(date -u -r "$(dirname "$KVBENCH")/kvd" '+%Y-%m-%d %H:%M UTC' 2>/dev/null || echo '?'))"
    echo "- DURATION=$DURATION s measured, WARMUP=$WARMUP s; key $KEY_SIZE B, value $VAL_SIZE B, put key space $KEY_SPACE, read keys $READ_KEYS; order $ORDER${KVBENCH_ARGS:+; kvbench extra flags: $KVBENCH_ARGS}"
    echo "- raw outputs: $RUN_DIR"
    echo "- ratios: ops/s and ops per server CPU-second are kvraft / etcd (above 1: kvraft does more);"
    echo "  p99 is etcd / kvraft (above 1: kvraft's tail latency is shorter). CPU s = the 3 servers'"
    echo "  utime+stime during the measured run; the load generator's own CPU is not in it."
  } >"$header"
  local stamp_before; stamp_before=$(binaries_stamp)
  say "run: points: $points; raw outputs in $RUN_DIR"

  local n=0 first
  for p in $points; do
    kind=${p%%:*}; clients=${p#*:}
    local name="$kind-c$clients"
    first=etcd
    [ "$ORDER" = kvraft-first ] && first=kvraft
    [ "$ORDER" = alternate ] && ((n % 2 == 1)) && first=kvraft
    if [ $first = etcd ]; then
      measure_etcd "$kind" "$clients" "$name"; sleep "$PAUSE"
      measure_kvraft "$kind" "$clients" "$name"; sleep "$PAUSE"
    else
      measure_kvraft "$kind" "$clients" "$name"; sleep "$PAUSE"
      measure_etcd "$kind" "$clients" "$name"; sleep "$PAUSE"
    fi
    n=$((n + 1))
  done
  echo "- load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$header"
  echo "- disk at end: $(py fsync-floor "$WORK")" >>"$header"
  if [ "$(binaries_stamp)" != "$stamp_before" ]; then
    echo "- WARNING: kvbench or kvd in $(dirname "$KVBENCH") changed during the run (rebuilt?)" >>"$header"
  fi
  echo >&2
  py report "$POINTS_FILE" "$RUN_DIR/results.md" "$header"
  cp "$RUN_DIR/results.md" "$WORK/results.md"
  echo
  echo "markdown: $WORK/results.md (and $RUN_DIR/results.md)"
}

case ${1:-all} in
  install) phase_install ;;
  build) phase_build ;;
  run) phase_run ;;
  all) phase_install; phase_build; phase_run ;;
  -h | --help | help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' ;;
  *) echo "usage: $0 [all|install|build|run|help]" >&2; exit 2 ;;
esac
