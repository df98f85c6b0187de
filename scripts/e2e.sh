#!/usr/bin/env bash
# The real walkthrough, end to end, with independent DNS software: a parent zone delegates
# gslb.example.com to two ayadns nodes that share state through etcd; a real recursive resolver
# with EDNS Client Subnet resolves through the delegation; a data center fails and comes back;
# an operator drill sent to one node moves clients on both.
#
#   scripts/e2e.sh            build (cargo build --release --features cluster) and run
#   AYADNS_BIN=path scripts/e2e.sh   run with that ayadns binary (built with --features cluster)
#   AYADNS_E2E_KEEP=1         keep the temporary folder (configs, logs) after the run
#
# Needs root (or unprivileged user namespaces), and Debian's nsd, unbound, etcd-server,
# knot-dnsutils (kdig), iproute2, python3 (scripts/test-deps.sh installs them).
#
# Everything runs in a network namespace of its own (unshare -n): only `lo` exists there, so
# nothing can reach another machine. Inside, on 127.0.0.0/8:
#
#   127.0.0.2:53       NSD, the parent zone example.com: gslb NS ns1/ns2.gslb + glue
#   127.0.0.11:53      ayadns node ns1 (admin API 127.0.0.11:8053)   config.example.toml with
#   127.0.0.12:53      ayadns node ns2 (admin API 127.0.0.12:8053)   faster checks and a [cluster]
#   127.0.0.20:2379    etcd, one member, the nodes' shared state
#   127.0.0.3:53       unbound: stub zone example.com -> NSD; ECS (subnetcache) to ns1/ns2 only
#   127.0.0.1:180xx    one HTTP backend per endpoint of config.example.toml, failable on command
#
# The scenario is printed as a timeline. At every checkpoint each client (a subnet, sent as ECS
# by kdig) asks ns1, ns2 and the resolver: both nodes must give the same answer and every answer
# must come from the pool expected at that step. Transitions are timed against their bounds:
#   eu-west fails   nodes within interval x fall + 1 s, resolver within that + TTL
#   eu-west returns nodes within interval x rise + 1 s, resolver within that + TTL (halved TTL)
#   drill on ns1    both nodes within 2 s, resolver within that + TTL; reverts by itself:
#                   nodes within its duration + 1 s (expiry tick) + 2 s, resolver + TTL (halved)
#   node skew       the two nodes switch within 1 s of each other
# Any miss fails the run. The last line is a one-line summary with the measured times.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
export PATH="$PATH:/usr/sbin:/sbin"

# ---------------------------------------------------------------------------------------------
# Outside the namespace: build, check tools, enter a fresh network namespace.
if [ "${AYADNS_E2E_NETNS:-}" != "$$" ]; then
    for tool in nsd unbound etcd etcdctl kdig ip python3 unshare curl; do
        command -v "$tool" >/dev/null 2>&1 || {
            echo "e2e: FAIL: $tool is missing (scripts/test-deps.sh installs it)"
            exit 1
        }
    done
    if [ -z "${AYADNS_BIN:-}" ]; then
        (cd "$root" && cargo build --release --features cluster --quiet)
        AYADNS_BIN="$root/target/release/ayadns"
    fi
    AYADNS_BIN=$(realpath "$AYADNS_BIN")
    [ -x "$AYADNS_BIN" ] || { echo "e2e: FAIL: no ayadns binary at $AYADNS_BIN"; exit 1; }
    export AYADNS_BIN
    ns=(unshare -n)
    [ "$(id -u)" -eq 0 ] || ns=(unshare -r -n)
    # `exec` keeps the PID, so the script inside knows it is the one that entered the namespace.
    export AYADNS_E2E_NETNS=$$
    exec "${ns[@]}" -- bash "$0" "$@"
fi

# ---------------------------------------------------------------------------------------------
# Settings. Health checks are faster than the example's (10 s) so the run stays short; the
# bounds below are computed from these numbers.
INTERVAL_MS=1000   # between checks
TIMEOUT_MS=500
RISE=2
FALL=3
TTL=10             # service TTL (s); halved while a client is failed over
DRILL_FOR=20       # s
SKEW_MS=1000       # most time between the two nodes switching one client's answer
DRILL_MS=2000      # a drill reaches both nodes' answers within this after `ctl drill start`

PARENT=127.0.0.2
RESOLVER=127.0.0.3
NS1=127.0.0.11
NS2=127.0.0.12
ETCD=127.0.0.20
TOKEN="e2e-admin-token-$RANDOM$RANDOM$RANDOM"
NAME=www.gslb.example.com
BIN=$AYADNS_BIN

# Clients: label, subnet (sent as ECS), home pool. Their regions come from geoip/sample.csv.
CLIENTS=(
    "London       81.2.69.0/24     eu-west"
    "Johannesburg 196.25.1.0/24    eu-west"
    "Sao-Paulo    200.160.1.0/24   us-east"
    "Changchun    175.16.199.0/24  ap-southeast"
)

# ---------------------------------------------------------------------------------------------
# Time, output, the end.
ms() { local t=${EPOCHREALTIME/./}; NOW=$((10#$t / 1000)); }
secs() { printf '%d.%02ds' $(($1 / 1000)) $(($1 % 1000 / 10)); }
ms; START=$NOW
say() { ms; printf '[%7s] %s\n' "+$(secs $((NOW - START)))" "$*"; }

tmp=$(mktemp -d /tmp/ayadns-e2e.XXXXXX)
pids=()
names=()
RESULT=""
MEASURED=()
CHECKPOINTS=0
MAX_SKEW=0

fail() {
    RESULT="FAIL: $*"
    say "FAIL: $*"
    exit 1
}

on_exit() {
    local rc=$? i pid
    trap - EXIT INT TERM
    [ -n "$RESULT" ] || { [ "$rc" -eq 0 ] && RESULT=PASS || RESULT="FAIL: exit $rc"; }
    if [ "$RESULT" != PASS ]; then
        for i in "${!names[@]}"; do
            echo "----- last lines of ${names[$i]}.log -----"
            tail -n 15 "$tmp/${names[$i]}.log" 2>/dev/null || true
        done
    fi
    # Stop what this script started, by PID: TERM, a bounded wait, then KILL.
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for _ in $(seq 50); do
        local alive=0
        for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
        [ "$alive" -eq 0 ] && break
        sleep 0.1
    done
    for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    if [ "${AYADNS_E2E_KEEP:-}" = 1 ]; then echo "kept $tmp"; else rm -rf "$tmp"; fi
    ms
    local summary
    summary=$(printf '%s; ' "${MEASURED[@]}")
    summary=${summary%; }
    echo "e2e: $RESULT in $(secs $((NOW - START))) | ${summary:-nothing measured} | $CHECKPOINTS checkpoints, node skew max $(secs "$MAX_SKEW")"
    [ "$RESULT" = PASS ] && exit 0 || exit 1
}
trap on_exit EXIT
trap 'fail "interrupted"' INT TERM

# start NAME CMD...: run CMD in the background with its output in NAME.log, remembered by PID.
start() {
    local name=$1
    shift
    "$@" >"$tmp/$name.log" 2>&1 &
    pids+=("$!")
    names+=("$name")
}

alive() { # NAME: fail when the process started as NAME has exited
    local i
    for i in "${!names[@]}"; do
        [ "${names[$i]}" = "$1" ] || continue
        kill -0 "${pids[$i]}" 2>/dev/null || fail "$1 exited (see its log above)"
    done
}

# until_ok NAME TRIES CMD...: run CMD every 0.1 s until it succeeds, at most TRIES times.
until_ok() {
    local name=$1 tries=$2
    shift 2
    for _ in $(seq "$tries"); do
        "$@" >/dev/null 2>&1 && return 0
        alive "$name"
        sleep 0.1
    done
    fail "$name not ready after $tries tries ($(secs $((tries * 100))) and more): $*"
}

# ---------------------------------------------------------------------------------------------
# DNS questions. ask SERVER SUBNET [rd]: sets ANS (the A addresses, sorted, space-separated),
# ATTL (lowest TTL), SCOPE (ECS scope prefix, - when absent) and RCODE.
ask() {
    local rd=+norecurse out
    [ "${3:-}" = rd ] && rd=+recurse
    out=$(kdig @"$1" "$NAME" A +subnet="$2" "$rd" +timeout=1 +retry=1 +noall +header +opt \
        +answer 2>&1) || true
    RCODE=$(sed -n 's/.*status: \([A-Z]*\).*/\1/p' <<<"$out" | head -n 1)
    SCOPE=$(sed -n 's|.*CLIENT-SUBNET: [^ ]*/[0-9]*/\([0-9]*\).*|\1|p' <<<"$out" | head -n 1)
    ANS=$(awk '$4 == "A" { print $5 }' <<<"$out" | sort | tr '\n' ' ')
    ANS=${ANS% }
    ATTL=$(awk '$4 == "A" { print $2 }' <<<"$out" | sort -n | head -n 1)
    RCODE=${RCODE:-no answer} SCOPE=${SCOPE:--} ATTL=${ATTL:--}
}

declare -A POOL_OF
pool_of() { # ADDRESSES...: the pool all of them belong to, or a description
    local a p=""
    [ $# -gt 0 ] || { echo "(none)"; return; }
    for a in "$@"; do
        [ -n "${POOL_OF[$a]:-}" ] || { echo "(unknown $a)"; return; }
        [ -z "$p" ] || [ "$p" = "${POOL_OF[$a]}" ] || { echo "(mixed $*)"; return; }
        p=${POOL_OF[$a]}
    done
    echo "$p"
}

# checkpoint LABEL POOL...: every client asks ns1, ns2 and the resolver; POOL i is what client
# i must get. The nodes must agree exactly (same addresses), every answer must be from the pool.
LAST_TTL=()
checkpoint() {
    local label=$1 i client subnet want a1 a2 p1 p2 pr line
    shift
    CHECKPOINTS=$((CHECKPOINTS + 1))
    say "checkpoint $CHECKPOINTS: $label"
    for i in "${!CLIENTS[@]}"; do
        read -r client subnet _ <<<"${CLIENTS[$i]}"
        want=${1:?}
        shift
        ask "$NS1" "$subnet"
        a1=$ANS
        # shellcheck disable=SC2086
        p1=$(pool_of $ANS)
        line=$(printf '  %-12s %-16s ns1: %-12s (%s; ttl %s, scope /%s)' \
            "$client" "$subnet" "$p1" "$ANS" "$ATTL" "$SCOPE")
        [ "$RCODE" = NOERROR ] || fail "$client: ns1 answered $RCODE"
        [[ "$SCOPE" =~ ^[0-9]+$ && "$SCOPE" -gt 0 ]] ||
            fail "$client: ns1's ECS scope is /$SCOPE; a resolver would give this answer to everyone"
        LAST_TTL[i]=$ATTL
        ask "$NS2" "$subnet"
        a2=$ANS
        # shellcheck disable=SC2086
        p2=$(pool_of $ANS)
        ask "$RESOLVER" "$subnet" rd
        # shellcheck disable=SC2086
        pr=$(pool_of $ANS)
        printf '%s  ns2: %s  resolver: %s (ttl %s)\n' "$line" \
            "$([ "$a1" = "$a2" ] && echo same || echo "$p2 ($a2)")" "$pr" "$ATTL"
        [ "$a1" = "$a2" ] || fail "$label: ns1 and ns2 disagree for $client: '$a1' vs '$a2'"
        [ "$p1" = "$want" ] || fail "$label: $client got $p1 from the nodes, expected $want"
        [ "$pr" = "$want" ] || fail "$label: $client got $pr through the resolver, expected $want"
    done
}

# transition LABEL T0 AUTH_BOUND_MS RES_BOUND_MS "CLIENT_INDEX:POOL"...: poll ns1, ns2 and the
# resolver (about every 0.1 s, for at most RES_BOUND + 10 s) until each listed client gets POOL
# from each of them; time each from T0. Fails when a time exceeds its bound, or when the two
# nodes switch a client more than SKEW_MS apart. Sets AUTH_MS and RES_MS (the slowest).
transition() {
    local label=$1 t0=$2 auth_bound=$3 res_bound=$4 spec i k pool client subnet srv key t1 t2 skew
    shift 4
    local -A got=()
    local -a want_i=() want_p=()
    for spec in "$@"; do
        want_i+=("${spec%%:*}")
        want_p+=("${spec#*:}")
    done
    local deadline=$((t0 + res_bound + 10000)) n=0 left
    while :; do
        left=0
        for k in "${!want_i[@]}"; do
            i=${want_i[$k]} pool=${want_p[$k]}
            read -r _ subnet _ <<<"${CLIENTS[$i]}"
            for srv in ns1 ns2 res; do
                key="$i.$srv"
                [ -z "${got[$key]:-}" ] || continue
                case $srv in
                    ns1) ask "$NS1" "$subnet" ;;
                    ns2) ask "$NS2" "$subnet" ;;
                    res) ask "$RESOLVER" "$subnet" rd ;;
                esac
                # shellcheck disable=SC2086
                if [ "$(pool_of $ANS)" = "$pool" ]; then
                    ms
                    got[$key]=$((NOW - t0))
                else
                    left=$((left + 1))
                fi
            done
        done
        [ "$left" -gt 0 ] || break
        ms
        # One node switched a client and the other still has not, past the skew bound: they
        # disagree; no need to wait for the deadline.
        for k in "${!want_i[@]}"; do
            i=${want_i[$k]}
            t1=${got[$i.ns1]:-} t2=${got[$i.ns2]:-}
            [[ -n "$t1" && -z "$t2" ]] || [[ -z "$t1" && -n "$t2" ]] || continue
            read -r client subnet _ <<<"${CLIENTS[$i]}"
            [ $((NOW - t0 - ${t1:-$t2})) -gt "$SKEW_MS" ] || continue
            MEASURED+=("$label: $([ -n "$t1" ] && echo "ns1 $(secs "$t1"), ns2 never" || echo "ns2 $(secs "$t2"), ns1 never")")
            fail "$label: $([ -n "$t1" ] && echo ns1 || echo ns2) switched $client to ${want_p[$k]} after $(secs "${t1:-$t2}"), $([ -n "$t1" ] && echo ns2 || echo ns1) had not $(secs $((NOW - t0 - ${t1:-$t2}))) later: the nodes disagree (bound $(secs "$SKEW_MS"))"
        done
        n=$((n + 1))
        [[ "$NOW" -lt "$deadline" && "$n" -lt 2000 ]] || break
        sleep 0.1
    done
    AUTH_MS=0 RES_MS=0
    local missing="" desc t srvname
    for k in "${!want_i[@]}"; do
        i=${want_i[$k]} pool=${want_p[$k]}
        read -r client subnet _ <<<"${CLIENTS[$i]}"
        desc=""
        for srv in ns1 ns2 res; do
            srvname=${srv/res/resolver}
            t=${got[$i.$srv]:-}
            if [ -n "$t" ]; then
                desc+=", $srvname after $(secs "$t")"
                if [ "$srv" = res ]; then
                    [ "$t" -le "$RES_MS" ] || RES_MS=$t
                else
                    [ "$t" -le "$AUTH_MS" ] || AUTH_MS=$t
                fi
            else
                case $srv in
                    ns1) ask "$NS1" "$subnet" ;;
                    ns2) ask "$NS2" "$subnet" ;;
                    res) ask "$RESOLVER" "$subnet" rd ;;
                esac
                # shellcheck disable=SC2086
                desc+=", $srvname NEVER (still $(pool_of $ANS))"
                missing+=" $client@$srvname"
            fi
        done
        say "  $client -> $pool: ${desc#, }"
        [[ -n "${got[$i.ns1]:-}" && -n "${got[$i.ns2]:-}" ]] || continue
        t1=${got[$i.ns1]} t2=${got[$i.ns2]}
        skew=$((t1 > t2 ? t1 - t2 : t2 - t1))
        [ "$skew" -le "$MAX_SKEW" ] || MAX_SKEW=$skew
        [ "$skew" -le "$SKEW_MS" ] ||
            fail "$label: ns1 and ns2 disagreed on $client for $(secs "$skew") (bound $(secs "$SKEW_MS"))"
    done
    if [ -n "$missing" ]; then
        MEASURED+=("$label: not reached by${missing} within $(secs $((res_bound + 10000)))")
        fail "$label: not reached by${missing} within $(secs $((res_bound + 10000)))"
    fi
    MEASURED+=("$label: nodes $(secs "$AUTH_MS")/$(secs "$auth_bound"), resolver $(secs "$RES_MS")/$(secs "$res_bound")")
    [ "$AUTH_MS" -le "$auth_bound" ] ||
        fail "$label: the nodes took $(secs "$AUTH_MS"), bound $(secs "$auth_bound")"
    [ "$RES_MS" -le "$res_bound" ] ||
        fail "$label: the resolver took $(secs "$RES_MS"), bound $(secs "$res_bound")"
    say "  $label: nodes $(secs "$AUTH_MS") (bound $(secs "$auth_bound")), resolver $(secs "$RES_MS") (bound $(secs "$res_bound"))"
}

# ---------------------------------------------------------------------------------------------
# The namespace.
ip link set lo up
others=$(ip -o link show | awk -F': ' '$2 != "lo" { print $2 }')
[ -z "$others" ] || fail "the namespace has interfaces besides lo: $others"
say "network namespace with only lo up; working in $tmp"

# Files: zone with the nodes' addresses, node configs, parent zone, resolver config.
python3 "$root/scripts/e2e/setup.py" zone "$root/zones/gslb.example.com.zone" "$tmp/gslb.zone" \
    "$NS1" "$NS2"
for n in 1 2; do
    addr_var=NS$n
    python3 "$root/scripts/e2e/setup.py" node-config "$root/config.example.toml" "$tmp/ns$n.toml" \
        --zone "$tmp/gslb.zone" --node "ns$n" --dns "${!addr_var}:53" --admin "${!addr_var}:8053" \
        --state "$tmp/ns$n.db" --etcd "http://$ETCD:2379" --prefix /ayadns/e2e/ \
        --region "$([ "$n" = 1 ] && echo us || echo eu)" \
        --interval "${INTERVAL_MS}ms" --timeout "${TIMEOUT_MS}ms" --rise "$RISE" --fall "$FALL" --ttl "$TTL"
    out=$("$BIN" check --config "$tmp/ns$n.toml" 2>&1) || fail "ayadns check ns$n.toml: $out"
done
while read -r pool addr; do POOL_OF[$addr]=$pool; done \
    < <(python3 "$root/scripts/e2e/setup.py" pools "$root/config.example.toml")
[ "${#POOL_OF[@]}" -gt 0 ] || fail "no pool addresses in config.example.toml"

cat >"$tmp/example.com.zone" <<EOF
\$ORIGIN example.com.
\$TTL 300
@         IN SOA ns.example.com. hostmaster.example.com. 1 3600 600 604800 60
          IN NS  ns
ns        IN A   $PARENT
; the delegation: gslb.example.com is served by the two ayadns nodes, with glue
gslb      IN NS  ns1.gslb
gslb      IN NS  ns2.gslb
ns1.gslb  IN A   $NS1
ns2.gslb  IN A   $NS2
EOF
mkdir -p "$tmp/nsd"
cat >"$tmp/nsd.conf" <<EOF
server:
    ip-address: $PARENT@53
    username: ""
    chroot: ""
    zonesdir: "$tmp"
    database: ""
    pidfile: "$tmp/nsd/nsd.pid"
    xfrdfile: "$tmp/nsd/xfrd.state"
    zonelistfile: "$tmp/nsd/zone.list"
    server-count: 1
    verbosity: 1
remote-control:
    control-enable: no
zone:
    name: "example.com."
    zonefile: "$tmp/example.com.zone"
EOF

mkdir -p "$tmp/unbound"
cat >"$tmp/unbound.conf" <<EOF
server:
    interface: $RESOLVER@53
    access-control: 127.0.0.0/8 allow
    do-ip6: no
    username: ""
    chroot: ""
    directory: "$tmp/unbound"
    pidfile: "$tmp/unbound/unbound.pid"
    use-syslog: no
    logfile: ""
    verbosity: 1
    num-threads: 1
    # the stub zone's servers are on 127.0.0.0/8
    do-not-query-localhost: no
    # ECS: the subnetcache module, and the client subnet sent to the ayadns nodes only (a
    # client's own ECS option is used as sent, shortened to 24 bits for IPv4)
    module-config: "subnetcache iterator"
    send-client-subnet: $NS1
    send-client-subnet: $NS2
    max-client-subnet-ipv4: 24
    # No internet: no root priming, no DNSSEC trust anchors; everything but example.com refused.
    local-zone: "." refuse
    local-zone: "example.com." transparent
    prefetch: no
    serve-expired: no
stub-zone:
    name: "example.com."
    stub-addr: $PARENT@53
remote-control:
    control-enable: no
EOF
unbound-checkconf "$tmp/unbound.conf" >/dev/null || fail "unbound-checkconf rejected the config"

# ---------------------------------------------------------------------------------------------
# Start everything.
mkdir -p "$tmp/backends"
start backends python3 "$root/scripts/e2e/backends.py" "$root/config.example.toml" "$tmp/backends"
until_ok backends 100 grep -q '^ready$' "$tmp/backends.log"
say "backends: $(grep -c '^listening' "$tmp/backends.log") HTTP servers (one per endpoint of config.example.toml) on 127.0.0.1:$(awk -F'[: ]' '/^listening/ { print $3 }' "$tmp/backends.log" | paste -sd, -)"

start etcd env GOMAXPROCS=1 etcd --name e2e --data-dir "$tmp/etcd" \
    --listen-client-urls "http://$ETCD:2379" --advertise-client-urls "http://$ETCD:2379" \
    --listen-peer-urls "http://$ETCD:2380" --initial-advertise-peer-urls "http://$ETCD:2380" \
    --initial-cluster "e2e=http://$ETCD:2380"
until_ok etcd 150 curl -sf "http://$ETCD:2379/health"
say "etcd $(etcd --version | head -n 1 | awk '{ print $3 }') on $ETCD:2379 (data in $tmp/etcd)"

start nsd nsd -d -c "$tmp/nsd.conf"
until_ok nsd 100 kdig @"$PARENT" example.com SOA +timeout=1 +retry=0
say "NSD serves example.com on $PARENT:53 with gslb NS ns1.gslb ($NS1), ns2.gslb ($NS2) and glue"

for n in 1 2; do
    addr_var=NS$n
    start "ns$n" env AYADNS_ADMIN_TOKEN="$TOKEN" "$BIN" serve --config "$tmp/ns$n.toml"
    until_ok "ns$n" 150 kdig @"${!addr_var}" gslb.example.com SOA +norecurse +timeout=1 +retry=0
done
say "ayadns ns1 on $NS1:53, ns2 on $NS2:53 ($BIN)"
# Started means: answering DNS, admin API up, registered in etcd (a node answers DNS as soon
# as its sockets are bound, before it has joined the cluster).
ctl() { AYADNS_ADMIN_TOKEN="$TOKEN" "$BIN" ctl --server "http://$1:8053" "${@:2}"; }
registered() {
    ETCDCTL_API=3 etcdctl --endpoints "http://$ETCD:2379" get --prefix /ayadns/e2e/nodes/ \
        --keys-only 2>/dev/null | grep -qx "/ayadns/e2e/nodes/$1"
}
for n in 1 2; do
    addr_var=NS$n
    # (a node stuck between joining the cluster and starting its admin API fails here)
    until_ok "ns$n" 150 ctl "${!addr_var}" status
    until_ok "ns$n" 150 registered "ns$n"
done
members=$(ETCDCTL_API=3 etcdctl --endpoints "http://$ETCD:2379" get --prefix /ayadns/e2e/nodes/ \
    --keys-only 2>/dev/null | sed '/^$/d' | paste -sd' ' -)
say "admin APIs up on $NS1:8053 and $NS2:8053; nodes registered in etcd: $members"

start unbound unbound -d -c "$tmp/unbound.conf"
until_ok unbound 100 kdig @"$RESOLVER" example.com SOA +timeout=1 +retry=0
say "unbound on $RESOLVER:53: stub example.com -> $PARENT, ECS to $NS1 and $NS2"

# The delegation, as the resolver sees it.
for ns in ns1 ns2; do
    a=$(kdig @"$RESOLVER" "$ns.gslb.example.com" A +short +timeout=1 +retry=1 | paste -sd' ' -)
    say "resolver: $ns.gslb.example.com A $a"
    want_var=${ns^^}
    [ "$a" = "${!want_var}" ] || fail "$ns.gslb.example.com resolves to '$a', expected ${!want_var}"
done

# ---------------------------------------------------------------------------------------------
# The scenario.
checkpoint "everything up: each client gets its region's pool" eu-west eu-west us-east ap-southeast

BOUND_FAIL=$((INTERVAL_MS * FALL + 1000))
say "eu-west's backends fail (their health checks get 503)"
ms
T0=$NOW
for p in 18021 18022 18023; do touch "$tmp/backends/down/$p"; done
transition "eu-west down" "$T0" "$BOUND_FAIL" $((BOUND_FAIL + TTL * 1000)) 0:us-east 1:us-east
checkpoint "eu-west down: EU clients on us-east, the others stay" us-east us-east us-east ap-southeast
FAILED_TTL=${LAST_TTL[0]}

BOUND_BACK=$((INTERVAL_MS * RISE + 1000))
say "eu-west's backends return"
ms
T0=$NOW
for p in 18021 18022 18023; do rm -f "$tmp/backends/down/$p"; done
transition "eu-west back" "$T0" "$BOUND_BACK" $((BOUND_BACK + FAILED_TTL * 1000)) \
    0:eu-west 1:eu-west
checkpoint "eu-west back: EU clients home again" eu-west eu-west us-east ap-southeast

say "operator: ayadns ctl --server http://$NS1:8053 drill start --fail pool:us-east --for ${DRILL_FOR}s (to ns1 only)"
ms
T0=$NOW
out=$(ctl "$NS1" drill start --fail pool:us-east --for "${DRILL_FOR}s" --reason "e2e: DR drill" 2>&1) ||
    fail "ctl drill start: $out"
say "  ns1: $out"
st=$(ctl "$NS2" status 2>&1 | grep -i '^drill' || true)
say "  ns2 status: ${st:-no drill line}"
transition "drill" "$T0" "$DRILL_MS" $((DRILL_MS + TTL * 1000)) 2:eu-west
checkpoint "drill running: US clients on eu-west on both nodes" eu-west eu-west eu-west ap-southeast
DRILL_TTL=${LAST_TTL[2]}

BOUND_REVERT=$((DRILL_FOR * 1000 + 1000 + DRILL_MS))   # its end, the 1 s expiry tick, propagation
say "waiting for the drill to revert by itself (${DRILL_FOR}s after it started)"
transition "drill revert" "$T0" "$BOUND_REVERT" $((BOUND_REVERT + DRILL_TTL * 1000)) 2:us-east
checkpoint "drill over: every client home again" eu-west eu-west us-east ap-southeast

RESULT=PASS
