#!/usr/bin/env bash
# Side-by-side benchmark: ayadns against Knot DNS (and gdnsd, when its package installs) with
# dnsperf, all on loopback inside a private network namespace (`unshare -n`: nothing else on
# the machine sees or disturbs the traffic). Needs root (for the namespace and apt).
#
# Usage: scripts/bench.sh [SECONDS per run, default 5] [ROUNDS, default 3] [TSV file]
#        AYADNS_BIN=path scripts/bench.sh ...   benchmark that binary (default: a release build)
#        AYADNS_PROFILE=DIR scripts/bench.sh ... also profile ayadns with perf (see below)
#        AYADNS_BENCH_WORKLOADS="hit gslb-ecs" ... only these (names below, plus gslb-down
#                                                and latency); default: all
#
# ayadns runs twice: as configured by default, and as "ayadns-pin" with `[server]
# cpu_affinity = true`.
# Data: a 100,000-record static zone (big.test) served by every server, and gslb.test with a
# GSLB name `www` served by ayadns and gdnsd with the same setup: two data centers (us-east:
# 192.0.2.10/.11, eu-west: 198.51.100.10/.11, both addresses answered), clients in Europe
# and Africa sent to eu-west first, everyone else to us-east, failing over to the other;
# every address health-checked over HTTP (GET /health, every 2 s) against real backends
# listening on those addresses (added to the namespace's loopback). GeoIP: geoip/sample.mmdb
# for both. Workloads (dnsperf, 4 clients, as fast as it goes):
#   hit          A of random existing names
#   nxdomain     random missing names from a 10,000-line file (names repeat)
#   nxdomain-u   200,000 distinct missing names (few repeats: the answer cache rarely helps)
#   nodata       MX of existing names
#   gslb         A of the GSLB name, no ECS (ayadns and gdnsd)
#   gslb-ecs     the same with an ECS option 81.2.69.0/24 (London: eu-west)
#   gslb-down    gslb-ecs while eu-west's backends are stopped (answers fail over to us-east)
#   tcp          hits over TCP
# Figures per (server, workload), the median of ROUNDS interleaved runs: queries/s, server
# CPU seconds (from /proc/PID/stat), queries per server CPU-second, and the ratios to gdnsd
# and to Knot; then latency percentiles (p50/p99, from dnsperf -v's per-query times) at a
# fixed 10,000 q/s for hits and for gslb-ecs, each the median of ROUNDS runs.
# The table goes to stdout, the TSV to the given file (default target/bench-results.tsv).
# Stops only the processes it started.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-5}
rounds=${2:-3}
tsv=${3:-target/bench-results.tsv}

if [ -z "${AYADNS_BENCH_NS:-}" ]; then
    [ "$(id -u)" = 0 ] || { echo "bench.sh needs root (network namespace, apt)" >&2; exit 1; }
    need=()
    command -v dnsperf >/dev/null || need+=(dnsperf)
    command -v knotd >/dev/null || [ -x /usr/sbin/knotd ] || need+=(knot)
    command -v kdig >/dev/null || need+=(knot-dnsutils)
    command -v gdnsd >/dev/null || [ -x /usr/sbin/gdnsd ] || need+=(gdnsd)
    if [ ${#need[@]} -gt 0 ]; then
        apt-get update -qq || true
        for p in "${need[@]}"; do
            apt-get install -y -qq "$p" >/dev/null 2>&1 || echo "note: could not install $p" >&2
        done
    fi
    if [ -z "${AYADNS_BIN:-}" ]; then
        cargo build --release --quiet
        AYADNS_BIN=target/release/ayadns
    fi
    AYADNS_BIN=$(realpath "$AYADNS_BIN")
    export AYADNS_BIN AYADNS_BENCH_NS=1
    exec unshare -n -- "$0" "$@"
fi

export PATH="$PATH:/usr/sbin"
ip link set lo up
# The data centers' addresses, on this namespace's loopback: health checks reach real backends.
us=(192.0.2.10 192.0.2.11)
eu=(198.51.100.10 198.51.100.11)
for a in "${us[@]}" "${eu[@]}"; do ip addr add "$a/32" dev lo; done
work=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -CONT "$p" 2>/dev/null || true; kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

python3 - "$work" <<'PY'
import random, sys
w = sys.argv[1]
with open(f"{w}/big.test.zone", "w") as f:
    f.write("$ORIGIN big.test.\n$TTL 300\n@ SOA ns1 h 1 3600 600 86400 60\n NS ns1\nns1 A 192.0.2.1\n")
    for i in range(100000):
        f.write(f"h{i} A 10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}\n")
random.seed(1)
def write(kind, lines):
    with open(f"{w}/{kind}.txt", "w") as f:
        f.write("".join(l + "\n" for l in lines))
write("hit", [f"h{random.randrange(100000)}.big.test A" for _ in range(10000)])
write("nxdomain", [f"x{random.randrange(10**9)}.big.test A" for _ in range(10000)])
write("nxdomain-u", [f"u{i}.big.test A" for i in range(200000)])
write("nodata", [f"h{random.randrange(100000)}.big.test MX" for _ in range(10000)])
for k in ("gslb", "gslb-ecs", "gslb-down"):
    write(k, ["www.gslb.test A"] * 100)
write("tcp", [f"h{random.randrange(100000)}.big.test A" for _ in range(10000)])
PY
gslb_zone='$ORIGIN gslb.test.
$TTL 300
@ SOA ns1 h 1 3600 600 86400 60
  NS ns1
ns1 A 192.0.2.1'
printf '%s\n' "$gslb_zone" >"$work/gslb.test.zone"

# Backends: GET /health answers 200 on port 8080 of each data-center address.
cat >"$work/backend.py" <<'PY'
import http.server, sys, threading
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.send_header("Content-Length", "2"); self.end_headers()
        self.wfile.write(b"ok")
    def log_message(self, *a): pass
servers = [http.server.ThreadingHTTPServer((a, 8080), H) for a in sys.argv[1:]]
for s in servers[1:]:
    threading.Thread(target=s.serve_forever, daemon=True).start()
servers[0].serve_forever()
PY
python3 "$work/backend.py" "${us[@]}" 2>/dev/null & pids+=($!)
python3 "$work/backend.py" "${eu[@]}" 2>/dev/null & pids+=($!); eu_backend=$!

cat > "$work/ayadns.toml" <<TOML
[server]
listen = ["127.0.0.1:5301"]
[[zone]]
file = "big.test.zone"
[[zone]]
file = "gslb.test.zone"
[geoip]
databases = ["$PWD/geoip/sample.mmdb"]
[health]
probers = ["us"]
interval = "2s"
timeout = "1s"
rise = 1
fall = 1
state_file = "state.db"
[[region]]
name = "us"
location = [39.0, -98.0]
continents = ["NA", "SA", "AS", "OC", "AN"]
default = true
[[region]]
name = "eu"
location = [50.1, 8.7]
continents = ["EU", "AF"]
[[pool]]
name = "us-east"
region = "us"
[[pool.endpoint]]
name = "us-east-0"
addresses = ["${us[0]}"]
check = "http://${us[0]}:8080/health"
[[pool.endpoint]]
name = "us-east-1"
addresses = ["${us[1]}"]
check = "http://${us[1]}:8080/health"
[[pool]]
name = "eu-west"
region = "eu"
[[pool.endpoint]]
name = "eu-west-0"
addresses = ["${eu[0]}"]
check = "http://${eu[0]}:8080/health"
[[pool.endpoint]]
name = "eu-west-1"
addresses = ["${eu[1]}"]
check = "http://${eu[1]}:8080/health"
[[service]]
name = "www.gslb.test."
types = ["A"]
ttl = 30
pools = ["us-east", "eu-west"]
answers = 2
TOML
mkdir -p "$work/knot"
cat > "$work/knot.conf" <<KNOT
server:
    listen: 127.0.0.1@5302
    rundir: "$work/knot"
    background-workers: 1
database:
    storage: "$work/knot"
log:
  - target: stderr
    any: error
template:
  - id: default
    storage: "$work"
    zonefile-sync: -1
    journal-content: none
zone:
  - domain: big.test
    file: "big.test.zone"
KNOT
# ayadns twice: as configured by default, and with `[server] cpu_affinity = true` (each UDP
# worker pinned to its own core) as "ayadns-pin".
sed -e 's/^listen = .*/listen = ["127.0.0.1:5304"]\ncpu_affinity = true/' \
    -e 's/^state_file = .*/state_file = "state-pin.db"/' "$work/ayadns.toml" >"$work/ayadns-pin.toml"
declare -A port=([ayadns]=5301 [knot]=5302 [gdnsd]=5303 [ayadns-pin]=5304)
servers=(ayadns ayadns-pin knot)

declare -A pid
for a in ayadns ayadns-pin; do
    "$AYADNS_BIN" serve --config "$work/$a.toml" >"$work/$a.log" 2>&1 &
    pids+=($!); pid[$a]=$!
done
knotd -c "$work/knot.conf" >"$work/knot.log" 2>&1 &
pids+=($!); pid[knot]=$!
if command -v gdnsd >/dev/null; then
    g="$work/gdnsd"
    mkdir -p "$g/config/zones" "$g/run" "$g/state"
    cp "$work/big.test.zone" "$g/config/zones/big.test"
    { printf '%s\n' "$gslb_zone"; echo 'www 30 DYNA geoip!www'; } >"$g/config/zones/gslb.test"
    cat >"$g/config/config" <<GDNSD
options => { listen => [ 127.0.0.1:5303 ], run_dir => $g/run, state_dir => $g/state }
service_types => {
  web => { plugin => http_status, port => 8080, url_path => /health, interval => 2,
           timeout => 1, up_thresh => 1, ok_thresh => 1, down_thresh => 1 }
}
plugins => { geoip => {
  maps => { m => {
    geoip2_db => $PWD/geoip/sample.mmdb,
    datacenters => [ us-east, eu-west ],
    map => { EU => [ eu-west, us-east ], AF => [ eu-west, us-east ] }
  } }
  resources => { www => {
    map => m, service_types => web,
    dcmap => { us-east => [ ${us[0]}, ${us[1]} ], eu-west => [ ${eu[0]}, ${eu[1]} ] }
  } }
} }
GDNSD
    gdnsd -c "$g/config" -f start >"$work/gdnsd.log" 2>&1 &
    pids+=($!); pid[gdnsd]=$!
    servers+=(gdnsd)
fi
for s in "${servers[@]}"; do
    ok=
    for _ in $(seq 100); do
        kill -0 "${pid[$s]}" 2>/dev/null || break
        if dnsperf -s 127.0.0.1 -p "${port[$s]}" -d "$work/hit.txt" -l 1 -Q 10 2>/dev/null \
            | grep -q 'Queries completed: *[1-9]'; then ok=1; break; fi
        sleep 0.2
    done
    [ -n "$ok" ] || { echo "$s did not come up:"; cat "$work/$s.log"; exit 1; }
done

# first_pool SERVER: the data center a London (ECS) client is answered from now.
first_pool() {
    case $(kdig @127.0.0.1 -p "${port[$1]}" www.gslb.test A +subnet=81.2.69.0/24 +short \
        2>/dev/null | head -1) in
        198.51.100.*) echo eu-west ;; 192.0.2.*) echo us-east ;; *) echo none ;;
    esac
}
# wait_pool POOL: until every GSLB server answers London from POOL.
wait_pool() {
    for s in "${servers[@]}"; do
        [ "$s" = knot ] && continue
        local n=0
        until [ "$(first_pool "$s")" = "$1" ]; do
            n=$((n + 1))
            [ $n -lt 300 ] || { echo "$s never answered from $1:"; cat "$work/$s.log"; exit 1; }
            sleep 0.1
        done
    done
}
wait_pool eu-west

cpu() { awk '{print $14+$15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
args_for() {
    args=(-s 127.0.0.1 -p "${port[$1]}" -d "$work/$2.txt" -c 4)
    case $2 in
        tcp) args+=(-m tcp) ;;
        gslb-ecs|gslb-down) args+=(-E 8:00011800510245) ;;
    esac
}
# run SERVER WORKLOAD -> "qps cpu_s q_per_cpu_s"
run() {
    local s=$1 w=$2 c0 c1 out q qps
    args_for "$s" "$w"
    c0=$(cpu "${pid[$s]}")
    out=$(dnsperf "${args[@]}" -l "$secs" 2>&1)
    c1=$(cpu "${pid[$s]}")
    q=$(echo "$out" | awk '/Queries completed/ {print $3}')
    qps=$(echo "$out" | awk '/Queries per second/ {printf "%d", $4}')
    python3 -c "t=($c1-$c0)/$hz; print($qps, round(t,2), int($q/max(t,1e-9)))"
}
# latency SERVER WORKLOAD -> "p50_ms p99_ms" at a fixed 10,000 q/s
latency() {
    args_for "$1" "$2"
    dnsperf "${args[@]}" -l "$secs" -Q 10000 -v 2>/dev/null | python3 -c '
import sys
t = sorted(float(l.split()[-1]) for l in sys.stdin if l.startswith("> "))
pick = lambda q: t[min(len(t) - 1, int(q * len(t)))] * 1000 if t else float("nan")
print("%.3f %.3f" % (pick(0.50), pick(0.99)))'
}
serves() { # serves SERVER WORKLOAD: does the server take part in the workload?
    case $2 in
        gslb*) [ "$1" != knot ] ;;
        tcp) [ "$1" != gdnsd ] ;;
        *) true ;;
    esac
}

workloads=(hit nxdomain nxdomain-u nodata gslb gslb-ecs tcp)
all=(${AYADNS_BENCH_WORKLOADS:-"${workloads[@]}" gslb-down latency})
chosen() { [[ " ${all[*]} " == *" $1 "* ]]; }
workloads=($(for w in "${workloads[@]}"; do if chosen "$w"; then echo "$w"; fi; done))
declare -A res
for r in $(seq "$rounds"); do
    for w in "${workloads[@]}"; do
        for s in "${servers[@]}"; do
            if serves "$s" "$w"; then res[$s,$w,$r]=$(run "$s" "$w"); fi
        done
    done
done
declare -A lat
for r in $(seq "$rounds"); do
    for w in $(if chosen latency; then echo hit gslb-ecs; fi); do
        for s in "${servers[@]}"; do
            if serves "$s" "$w"; then lat[$s,$w,$r]=$(latency "$s" "$w"); fi
        done
    done
done
# AYADNS_PROFILE=DIR: one more run of some workloads with `perf record` on ayadns (call
# graphs into DIR/WORKLOAD.data; read with `perf report -i`). Not counted in the table.
if [ -n "${AYADNS_PROFILE:-}" ]; then
    mkdir -p "$AYADNS_PROFILE"
    for w in $(for x in hit nxdomain-u gslb gslb-ecs; do if chosen "$x"; then echo "$x"; fi; done); do
        args_for ayadns "$w"
        perf record -q -F 1999 -g -p "${pid[ayadns]}" -o "$AYADNS_PROFILE/$w.data" -- \
            dnsperf "${args[@]}" -l "$secs" >/dev/null 2>&1 || echo "perf record failed for $w" >&2
    done
fi
# A data center down: stop eu-west's backends, wait for both servers to fail over.
if chosen gslb-down; then
    kill -STOP "$eu_backend"
    wait_pool us-east
    for r in $(seq "$rounds"); do
        for s in "${servers[@]}"; do
            if serves "$s" gslb-down; then res[$s,gslb-down,$r]=$(run "$s" gslb-down); fi
        done
    done
    kill -CONT "$eu_backend"
    workloads+=(gslb-down)
fi

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
field() { for r in $(seq "$rounds"); do echo "${res[$1,$2,$r]}" | awk "{print \$$3}"; done | median; }
ratio() { # ratio SERVER WORKLOAD PEER
    [ -n "${res[$3,$2,1]:-}" ] || { echo -; return; }
    python3 -c "print(round($(field "$1" "$2" 3)/$(field "$3" "$2" 3), 2))"
}
printf 'server\tworkload\tqps\tcpu_s\tq_per_cpu_s\tvs_gdnsd\tvs_knot\n' >"$tsv"
printf '%-10s %-11s %10s %8s %12s %9s %8s\n' server workload q/s cpu-s q/CPU-s vs-gdnsd vs-knot
for w in "${workloads[@]}"; do
    for s in "${servers[@]}"; do
        [ -n "${res[$s,$w,1]:-}" ] || continue
        row=("$s" "$w" "$(field "$s" "$w" 1)" "$(field "$s" "$w" 2)" "$(field "$s" "$w" 3)"
            "$(ratio "$s" "$w" gdnsd)" "$(ratio "$s" "$w" knot)")
        printf '%-10s %-11s %10s %8s %12s %9s %8s\n' "${row[@]}"
        (IFS=$'\t'; echo "${row[*]}") >>"$tsv"
    done
done
printf '\nlatency at a fixed 10,000 q/s (ms):\n%-10s %-11s %8s %8s\n' server workload p50 p99
for w in hit gslb-ecs; do
    for s in "${servers[@]}"; do
        [ -n "${lat[$s,$w,1]:-}" ] || continue
        # The median of the rounds' percentiles (p99 at 10k q/s is noisy on a shared machine).
        p50=$(for r in $(seq "$rounds"); do echo "${lat[$s,$w,$r]}" | awk '{print $1}'; done | median)
        p99=$(for r in $(seq "$rounds"); do echo "${lat[$s,$w,$r]}" | awk '{print $2}'; done | median)
        printf '%-10s %-11s %8s %8s\n' "$s" "$w" "$p50" "$p99"
        printf '%s\t%s-latency-ms\t%s\t%s\t\t\t\n' "$s" "$w" "$p50" "$p99" >>"$tsv"
    done
done
if chosen hit && chosen gslb-ecs; then
    echo
    for a in ayadns ayadns-pin; do
        printf '%s: a GSLB answer with ECS costs %s× a static hit\n' "$a" \
            "$(python3 -c "print(round($(field $a hit 3)/$(field $a gslb-ecs 3), 2))")"
    done
fi
echo "TSV: $tsv ($secs s per run, $rounds rounds, $(date -u +%FT%TZ))"
