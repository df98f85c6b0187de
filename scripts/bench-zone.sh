#!/usr/bin/env bash
# What a hit, an NXDOMAIN and a NODATA cost on a 100,000-record zone, measured with dnsperf
# against the release binary on loopback (127.0.0.77). The three rates should be about equal:
# a miss is one hash lookup, never a scan of the zone.
# Usage: scripts/bench-zone.sh [seconds per run, default 5]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-5}
command -v dnsperf >/dev/null || { apt-get update -qq && apt-get install -y -qq dnsperf; }
cargo build --release --quiet
work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir "$work/z"
python3 - "$work" <<'PY'
import random, sys
w = sys.argv[1]
with open(f"{w}/z/big.test.zone", "w") as f:
    f.write("$ORIGIN big.test.\n$TTL 300\n@ SOA ns1 h 1 3600 600 86400 60\n NS ns1\nns1 A 192.0.2.1\n")
    for i in range(100000):
        f.write(f"h{i} A 10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}\n")
random.seed(1)
queries = {
    "hit": lambda: f"h{random.randrange(100000)}.big.test A",
    "nxdomain": lambda: f"x{random.randrange(10**9)}.big.test A",
    "nodata": lambda: f"h{random.randrange(100000)}.big.test MX",
}
for kind, make in queries.items():
    with open(f"{w}/{kind}.txt", "w") as f:
        f.write("".join(make() + "\n" for _ in range(10000)))
PY
target/release/ayadns serve --zones "$work/z" --listen 127.0.0.77:5399 2>"$work/log" &
pid=$!
for _ in $(seq 100); do dnsperf -s 127.0.0.77 -p 5399 -d "$work/hit.txt" -l 1 -Q 10 >/dev/null 2>&1 && break; sleep 0.1; done
for kind in hit nxdomain nodata; do
    cpu0=$(awk '{print $14+$15}' /proc/$pid/stat)
    out=$(dnsperf -s 127.0.0.77 -p 5399 -d "$work/$kind.txt" -l "$secs" -c 4 2>&1)
    cpu1=$(awk '{print $14+$15}' /proc/$pid/stat)
    q=$(echo "$out" | awk '/Queries completed/ {print $3}')
    qps=$(echo "$out" | awk '/Queries per second/ {printf "%d", $4}')
    ticks=$((cpu1 - cpu0)); hz=$(getconf CLK_TCK)
    per=$(python3 -c "print(int($q / max($ticks / $hz, 1e-9)))")
    printf '%-9s %8s q/s   %8s queries per server CPU-second\n' "$kind" "$qps" "$per"
done
