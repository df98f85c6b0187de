#!/usr/bin/env bash
# The failover demo on the shipped example, on loopback only.
#
#   scripts/demo.sh start            start 9 HTTP backends (127.0.0.1:18011-18033, one per endpoint
#                                    of config.example.toml) and the server (DNS 127.0.0.1:5353)
#   scripts/demo.sh stop-pool NAME   stop a pool's backends (us-east, eu-west, ap-southeast)
#   scripts/demo.sh start-pool NAME  start them again
#   scripts/demo.sh ask              what London, Changchun and Milton WA clients get
#   scripts/demo.sh stop             stop everything this script started
#
# Backends are python3's http.server serving a file named `health`. Health checks run every
# 10 s and an endpoint goes down after 3 failures, so a stopped pool's clients move within
# about 31 s and come back about 20 s after it starts again (rise = 2).
set -euo pipefail
cd "$(dirname "$0")/.."
run=${AYADNS_DEMO_DIR:-/tmp/ayadns-demo}
mkdir -p "$run/www"
echo ok > "$run/www/health"

ports_of() {
    case "$1" in
        us-east) echo 18011 18012 18013 ;;
        eu-west) echo 18021 18022 18023 ;;
        ap-southeast) echo 18031 18032 18033 ;;
        *) echo "unknown pool $1 (us-east, eu-west, ap-southeast)" >&2; exit 1 ;;
    esac
}

start_backend() {
    local port=$1
    [ -f "$run/backend-$port.pid" ] && kill -0 "$(cat "$run/backend-$port.pid")" 2>/dev/null && return
    python3 -m http.server "$port" --bind 127.0.0.1 --directory "$run/www" >"$run/backend-$port.log" 2>&1 &
    echo $! >"$run/backend-$port.pid"
}

stop_backend() {
    local f="$run/backend-$1.pid"
    [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null || true
    rm -f "$f"
}

ask() {
    for c in 81.2.69.0/24:London 175.16.199.0/24:Changchun 216.160.83.56/29:Milton-WA; do
        local subnet=${c%%:*} who=${c##*:}
        printf '%-10s %-18s -> %s\n' "$who" "$subnet" \
            "$(kdig @127.0.0.1 -p 5353 www.gslb.example.com A +subnet="$subnet" +short +time=1 | tr '\n' ' ')"
    done
}

case "${1:-}" in
    start)
        command -v kdig >/dev/null || { apt-get update -qq && apt-get install -y -qq knot-dnsutils; }
        for pool in us-east eu-west ap-southeast; do
            for p in $(ports_of $pool); do start_backend "$p"; done
        done
        cargo build --release --quiet
        target/release/ayadns serve --config config.example.toml >"$run/ayadns.log" 2>&1 &
        echo $! >"$run/ayadns.pid"
        for _ in $(seq 50); do kdig @127.0.0.1 -p 5353 gslb.example.com SOA +short +time=1 >/dev/null 2>&1 && break; sleep 0.2; done
        echo "started: backends on 127.0.0.1:18011-18033, DNS on 127.0.0.1:5353 (log: $run/ayadns.log)"
        ask
        ;;
    stop-pool) for p in $(ports_of "$2"); do stop_backend "$p"; done; echo "stopped $2's backends" ;;
    start-pool) for p in $(ports_of "$2"); do start_backend "$p"; done; echo "started $2's backends" ;;
    ask) ask ;;
    stop)
        for f in "$run"/backend-*.pid; do [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null; rm -f "$f"; done
        [ -f "$run/ayadns.pid" ] && kill "$(cat "$run/ayadns.pid")" 2>/dev/null || true
        rm -f "$run/ayadns.pid"
        echo stopped
        ;;
    *) sed -n '2,14p' "$0"; exit 1 ;;
esac
