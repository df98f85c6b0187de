#!/usr/bin/env bash
# Start-up at scale: a zone of N static records (default 100,000) plus S GSLB services
# (default 1,000) of 10 endpoints each (two pools of 5 in different regions, every endpoint
# its own HTTP check, 3 prober regions). Generates the zone and config in a temp folder,
# starts the release binary and prints: the time to the first answer on its DNS port (a static
# name and a GSLB name), the time to /readyz = 200, and the peak resident memory (VmHWM) —
# for a cold start (empty state file) and a warm restart (health restored from it).
# The checks point at a closed loopback port, so they fail fast; `initial = "up"` keeps the
# endpoints in the answers meanwhile. /readyz waits until every check target has a result:
# on a cold start that is one probe round (first probes are spread over the 10 s interval, so
# a restart does not probe everything at once). The warm run restarts on the cold run's state
# file.
# It stops only the server it started.
# Usage: scripts/bench-startup.sh [records, default 100000] [services, default 1000]
set -euo pipefail
cd "$(dirname "$0")/.."
records=${1:-100000}
services=${2:-1000}
if [ -z "${AYADNS_BIN:-}" ]; then
    cargo build --release --quiet
    AYADNS_BIN=target/release/ayadns
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 - "$AYADNS_BIN" "$work" "$records" "$services" <<'PY'
import os, socket, struct, subprocess, sys, time, urllib.request

binary, w, records, services = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
dns = ("127.0.0.79", 5397)
admin = "127.0.0.79:8097"

with open(f"{w}/big.test.zone", "w") as f:
    f.write("$ORIGIN big.test.\n$TTL 300\n@ SOA ns1 h 1 3600 600 86400 60\n NS ns1\nns1 A 192.0.2.1\n")
    for i in range(records):
        f.write(f"h{i} A 10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}\n")
c = [f'''[server]
listen = ["{dns[0]}:{dns[1]}"]
[[zone]]
file = "big.test.zone"
[health]
probers = ["r1", "r2", "r3"]
interval = "10s"
timeout = "2s"
initial = "up"
state_file = "state.db"
[admin]
listen = "{admin}"
''']
for k, loc in (("r1", "[40.0, -75.0]"), ("r2", "[50.0, 8.0]"), ("r3", "[1.0, 104.0]")):
    c.append(f'[[region]]\nname = "{k}"\nlocation = {loc}\n' + ("default = true\n" if k == "r1" else ""))
n = 0
for s in range(services):
    pools = []
    for p in range(2):
        pools.append(f"s{s}p{p}")
        c.append(f'[[pool]]\nname = "s{s}p{p}"\nregion = "r{(s + p) % 3 + 1}"\n')
        for e in range(5):
            c.append(f'[[pool.endpoint]]\nname = "s{s}p{p}e{e}"\n'
                     f'addresses = ["100.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"]\n'
                     f'check = "http://127.0.0.1:9/health/{n}"\n')
            n += 1
    c.append(f'[[service]]\nname = "svc{s}.big.test."\npools = ["{pools[0]}", "{pools[1]}"]\n')
open(f"{w}/ayadns.toml", "w").write("".join(c))
size = os.path.getsize(f"{w}/big.test.zone") + os.path.getsize(f"{w}/ayadns.toml")
print(f"{records} static records, {services} services, {n} endpoints with checks "
      f"({size / 1e6:.1f} MB of zone and config)")

def query(name):
    q = struct.pack(">HHHHHH", 0xA7A7, 0x0100, 1, 0, 0, 0)
    q += b"".join(bytes([len(l)]) + l.encode() for l in name.rstrip(".").split(".")) + b"\0"
    return q + struct.pack(">HH", 1, 1)

def answered(sock, q):
    try:
        sock.sendto(q, dns)
        r, _ = sock.recvfrom(4096)
        return len(r) >= 12 and r[3] & 15 == 0 and struct.unpack(">H", r[6:8])[0] > 0
    except OSError:
        return False

def ready():
    try:
        with urllib.request.urlopen(f"http://{admin}/readyz", timeout=1) as r:
            return r.status == 200
    except Exception:
        return False

def hwm(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmHWM"):
            return int(line.split()[1]) / 1024
    return 0.0

def run(label):
    t0 = time.monotonic()
    proc = subprocess.Popen([binary, "serve", "--config", f"{w}/ayadns.toml"],
                            stderr=open(f"{w}/log-{label}", "w"))
    try:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.settimeout(0.01)
        static, gslb = query("h12345.big.test."), query(f"svc{services - 1}.big.test.")
        first = {}
        while len(first) < 2:
            if proc.poll() is not None:
                sys.exit(f"the server exited: see {w}/log-{label}:\n" + open(f"{w}/log-{label}").read()[-2000:])
            if time.monotonic() - t0 > 120:
                sys.exit("no answer within 120 s")
            for k, q in (("static", static), ("gslb", gslb)):
                if k not in first and answered(sock, q):
                    first[k] = time.monotonic() - t0
        rss_first = hwm(proc.pid)
        while not ready():
            if time.monotonic() - t0 > 120:
                sys.exit("not ready within 120 s")
            time.sleep(0.02)
        t_ready = time.monotonic() - t0
        time.sleep(3)   # a few seconds of probing
        rss = hwm(proc.pid)
        print(f"{label:5}: first answer {first['static']:.2f} s (static), {first['gslb']:.2f} s (GSLB); "
              f"/readyz {t_ready:.2f} s; peak RSS {rss_first:.0f} MiB at first answer, "
              f"{rss:.0f} MiB 3 s after ready")
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

run("cold")
run("warm")
PY
