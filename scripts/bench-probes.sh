#!/usr/bin/env bash
# What health checking costs: N endpoints (default 10,000), each with its own HTTP check, probed
# from 3 regions every 10 s (3,000 probes a second), against one loopback backend. Reports the
# server's CPU use while probing and the most probes in flight (bounded by max_concurrent).
# Usage: scripts/bench-probes.sh [endpoints, default 10000] [seconds, default 60]
# (AYADNS_BIN=path: measure that binary instead of building target/release/ayadns)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-10000}
secs=${2:-60}
if [ -z "${AYADNS_BIN:-}" ]; then
    cargo build --release --quiet
    AYADNS_BIN=target/release/ayadns
fi
work=$(mktemp -d)
trap 'kill "$srv" "$backend" 2>/dev/null || true; rm -rf "$work"' EXIT

# A small asyncio HTTP backend on 127.0.0.1:18900 answering every request with 200 "ok".
# It writes how many requests it answered to $work/hits every second.
python3 - "$work" <<'PY' &
import asyncio, sys
hits = 0
async def count():
    while True:
        await asyncio.sleep(1)
        with open(sys.argv[1] + "/hits.tmp", "w") as f:
            f.write(str(hits))
        import os; os.replace(sys.argv[1] + "/hits.tmp", sys.argv[1] + "/hits")
async def handle(r, w):
    global hits
    try:
        while True:
            line = await r.readline()
            if not line or line in (b"\r\n", b"\n"):
                break
        hits += 1
        w.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
        await w.drain()
    finally:
        w.close()
async def main():
    s = await asyncio.start_server(handle, "127.0.0.1", 18900, backlog=4096)
    asyncio.get_running_loop().create_task(count())
    async with s:
        await s.serve_forever()
asyncio.run(main())
PY
backend=$!

python3 - "$work" "$n" <<'PY'
import sys
w, n = sys.argv[1], int(sys.argv[2])
with open(f"{w}/b.test.zone", "w") as f:
    f.write("$ORIGIN b.test.\n$TTL 60\n@ SOA ns h 1 2 3 4 5\n NS ns\nns A 192.0.2.1\n")
c = [f'''[server]
listen = ["127.0.0.78:5398"]
[[zone]]
file = "b.test.zone"
[health]
probers = ["r1", "r2", "r3"]
interval = "10s"
timeout = "2s"
state_file = "state.db"
max_concurrent = 200
''']
for r in ("r1", "r2", "r3"):
    c.append(f'[[region]]\nname = "{r}"\nlocation = [0.0, 0.0]\n' + ('default = true\n' if r == "r1" else ""))
c.append('[[pool]]\nname = "p"\nregion = "r1"\n')
for i in range(n):
    c.append(f'[[pool.endpoint]]\nname = "e{i}"\naddresses = ["10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}"]\n'
             f'check = "http://127.0.0.1:18900/health/{i}"\n')
c.append('[[service]]\nname = "www.b.test."\npools = ["p"]\n')
open(f"{w}/ayadns.toml", "w").write("".join(c))
PY
"$AYADNS_BIN" serve --config "$work/ayadns.toml" 2>"$work/log" &
srv=$!
sleep 15   # let the first probe round spread out (random first delay within the interval)
hz=$(getconf CLK_TCK)
cpu0=$(awk '{print $14+$15}' /proc/$srv/stat)
hits0=$(cat "$work/hits")
max_sockets=0
for _ in $(seq "$secs"); do
    s=$(ls /proc/$srv/fd 2>/dev/null | wc -l)
    [ "$s" -gt "$max_sockets" ] && max_sockets=$s
    sleep 1
done
cpu1=$(awk '{print $14+$15}' /proc/$srv/stat)
hits1=$(cat "$work/hits")
rss=$(awk '/VmRSS/ {print $2}' /proc/$srv/status)
python3 -c "
cpu = ($cpu1 - $cpu0) / $hz
print(f'endpoints: $n x 3 regions every 10 s = {$n * 3 / 10:.0f} probes/s')
print(f'server CPU: {cpu:.1f} s over $secs s = {100 * cpu / $secs:.1f} % of one core')
print(f'probes answered by the backend: {($hits1 - $hits0) / $secs:.0f}/s, '
      f'{1000 * cpu / max($hits1 - $hits0, 1):.3f} ms of server CPU each')
print(f'max open file descriptors: $max_sockets (max_concurrent = 200)')
print(f'resident memory: {$rss / 1024:.0f} MiB')
"
