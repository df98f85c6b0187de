#!/usr/bin/env bash
# Side-by-side benchmark: ayadns against Knot DNS (and gdnsd, when its package installs) with
# dnsperf, all on loopback inside a private network namespace (`unshare -n`: nothing else on
# the machine sees or disturbs the traffic). Needs root (for the namespace and apt).
#
# Usage: scripts/bench.sh [SECONDS per run, default 5] [ROUNDS, default 3] [TSV file]
#
# Data: a 100,000-record static zone (big.test) served by every server, and the example's
# gslb.example.com with a GSLB service `www` (two pools, geo + failover, no probing) served
# by ayadns. Workloads (dnsperf, 4 clients, as fast as it goes):
#   hit          A of random existing names
#   nxdomain     random missing names from a 10,000-line file (names repeat)
#   nxdomain-u   200,000 distinct missing names (few repeats: the answer cache rarely helps)
#   nodata       MX of existing names
#   gslb         A of the GSLB name, no ECS (ayadns only)
#   gslb-ecs     the same with an ECS option 81.2.69.0/24 (ayadns only)
#   tcp          hits over TCP
# Figures per (server, workload), the median of ROUNDS interleaved runs: queries/s, server
# CPU seconds (from /proc/PID/stat), queries per server CPU-second, and the ratio to Knot;
# then the average latency at a fixed 10,000 q/s (dnsperf reports no percentiles).
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
    command -v gdnsd >/dev/null || [ -x /usr/sbin/gdnsd ] || need+=(gdnsd)
    if [ ${#need[@]} -gt 0 ]; then
        apt-get update -qq || true
        for p in "${need[@]}"; do
            apt-get install -y -qq "$p" >/dev/null 2>&1 || echo "note: could not install $p" >&2
        done
    fi
    cargo build --release --quiet
    export AYADNS_BENCH_NS=1
    exec unshare -n -- "$0" "$@"
fi

export PATH="$PATH:/usr/sbin"
ip link set lo up
work=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
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
write("gslb", ["www.gslb.example.com A"] * 100)
write("gslb-ecs", ["www.gslb.example.com A"] * 100)
write("tcp", [f"h{random.randrange(100000)}.big.test A" for _ in range(10000)])
PY
cp zones/gslb.example.com.zone "$work/"
cat > "$work/ayadns.toml" <<EOF
[server]
listen = ["127.0.0.1:5301"]
[[zone]]
file = "big.test.zone"
[[zone]]
file = "gslb.example.com.zone"
[geoip]
databases = ["$PWD/geoip/sample.mmdb"]
[health]
probers = []
state_file = "state.db"
[[region]]
name = "us"
location = [39.0, -98.0]
continents = ["NA", "SA"]
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
addresses = ["192.0.2.10"]
[[pool]]
name = "eu-west"
region = "eu"
[[pool.endpoint]]
name = "eu-west-0"
addresses = ["198.51.100.10"]
[[service]]
name = "www.gslb.example.com."
types = ["A"]
ttl = 30
pools = ["us-east", "eu-west"]
chain = ["health", "geo", "failover", "first_n"]
answers = 1
EOF
mkdir -p "$work/knot"
cat > "$work/knot.conf" <<EOF
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
EOF
declare -A port=([ayadns]=5301 [knot]=5302 [gdnsd]=5303)
servers=(ayadns knot)

target/release/ayadns serve --config "$work/ayadns.toml" >"$work/ayadns.log" 2>&1 &
pids+=($!); declare -A pid=([ayadns]=$!)
knotd -c "$work/knot.conf" >"$work/knot.log" 2>&1 &
pids+=($!); pid[knot]=$!
if command -v gdnsd >/dev/null; then
    mkdir -p "$work/gdnsd/config/zones" "$work/gdnsd/run" "$work/gdnsd/state"
    cp "$work/big.test.zone" "$work/gdnsd/config/zones/big.test"
    printf 'options => { listen => [ 127.0.0.1:5303 ], run_dir => %s, state_dir => %s }\n' \
        "$work/gdnsd/run" "$work/gdnsd/state" >"$work/gdnsd/config/config"
    gdnsd -c "$work/gdnsd/config" -f start >"$work/gdnsd.log" 2>&1 &
    pids+=($!); pid[gdnsd]=$!
    servers+=(gdnsd)
fi
for s in "${servers[@]}"; do
    ok=
    for _ in $(seq 100); do
        if dnsperf -s 127.0.0.1 -p "${port[$s]}" -d "$work/hit.txt" -l 1 -Q 10 2>/dev/null \
            | grep -q 'Queries completed: *[1-9]'; then ok=1; break; fi
        sleep 0.2
    done
    [ -n "$ok" ] || { echo "$s did not come up:"; cat "$work/$s.log"; exit 1; }
done

cpu() { awk '{print $14+$15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
# run SERVER WORKLOAD [extra dnsperf args] -> "qps cpu_s q_per_cpu_s avg_latency_ms"
run() {
    local s=$1 w=$2; shift 2
    local args=(-s 127.0.0.1 -p "${port[$s]}" -d "$work/$w.txt" -l "$secs" -c 4)
    case $w in
        tcp) args+=(-m tcp) ;;
        gslb-ecs) args+=(-E 8:00011800510245) ;;
    esac
    local c0 c1 out
    c0=$(cpu "${pid[$s]}")
    out=$(dnsperf "${args[@]}" "$@" 2>&1)
    c1=$(cpu "${pid[$s]}")
    local q qps lat
    q=$(echo "$out" | awk '/Queries completed/ {print $3}')
    qps=$(echo "$out" | awk '/Queries per second/ {printf "%d", $4}')
    lat=$(echo "$out" | awk '/Average Latency/ {printf "%.3f", $4 * 1000}')
    python3 -c "t=($c1-$c0)/$hz; print($qps, round(t,2), int($q/max(t,1e-9)), '$lat')"
}

workloads=(hit nxdomain nxdomain-u nodata gslb gslb-ecs tcp)
declare -A res
for r in $(seq "$rounds"); do
    for w in "${workloads[@]}"; do
        for s in "${servers[@]}"; do
            case $w in gslb|gslb-ecs) [ "$s" = ayadns ] || continue ;; esac
            [ "$s" = gdnsd ] && [ "$w" = tcp ] && continue
            res[$s,$w,$r]=$(run "$s" "$w")
        done
    done
done
# Latency at a fixed 10,000 q/s (hits).
declare -A lat
for s in "${servers[@]}"; do
    lat[$s]=$(run "$s" hit -Q 10000 | awk '{print $4}')
done

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
printf 'server\tworkload\tqps\tcpu_s\tq_per_cpu_s\tvs_knot\n' >"$tsv"
printf '%-8s %-11s %10s %8s %12s %8s\n' server workload q/s cpu-s q/CPU-s vs-knot
for w in "${workloads[@]}"; do
    for s in "${servers[@]}"; do
        [ -n "${res[$s,$w,1]:-}" ] || continue
        qps=$(for r in $(seq "$rounds"); do echo "${res[$s,$w,$r]}" | awk '{print $1}'; done | median)
        cs=$(for r in $(seq "$rounds"); do echo "${res[$s,$w,$r]}" | awk '{print $2}'; done | median)
        per=$(for r in $(seq "$rounds"); do echo "${res[$s,$w,$r]}" | awk '{print $3}'; done | median)
        kn=-
        if [ -n "${res[knot,$w,1]:-}" ]; then
            kper=$(for r in $(seq "$rounds"); do echo "${res[knot,$w,$r]}" | awk '{print $3}'; done | median)
            kn=$(python3 -c "print(round($per/$kper, 2))")
        fi
        printf '%-8s %-11s %10s %8s %12s %8s\n' "$s" "$w" "$qps" "$cs" "$per" "$kn"
        printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$s" "$w" "$qps" "$cs" "$per" "$kn" >>"$tsv"
    done
done
for s in "${servers[@]}"; do
    printf 'average latency at 10k q/s (hits), %s: %s ms\n' "$s" "${lat[$s]}"
    printf '%s\tlatency_avg_ms_at_10k\t%s\t\t\t\n' "$s" "${lat[$s]}" >>"$tsv"
done
echo "TSV: $tsv ($secs s per run, $rounds rounds, $(date -u +%FT%TZ))"
