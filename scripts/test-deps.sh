#!/usr/bin/env bash
# Installs the external programs the test suite needs (idempotent; safe to run twice).
#
#   knotd, knotc (package knot)      reference authoritative server for tests/differential.rs
#   kdig         (package knot-dnsutils)  handy for checking Knot's behaviour by hand
#   nsd          (package nsd)        oracle where Knot and NSD differ (tests/differential.rs)
#   named-compilezone (package bind9-utils) BIND's $GENERATE expansion for the reference servers
#   chromium     (package chromium)   the headless browser of tests/dashboard.rs
#   node, npm    (packages nodejs, npm, only when node is missing)
#   playwright-core (npm, pinned in tests/dashboard/package-lock.json) into
#                tests/dashboard/node_modules: drives chromium; downloads no browser
#   protoc       (package protobuf-compiler)  the etcd client's build (feature `cluster`)
#   google/protobuf/*.proto (package libprotobuf-dev)  well-known types that build imports;
#                Debian's protobuf-compiler does not ship them
#   etcd         (package etcd-server)  the real etcd members of tests/cluster*.rs
#   etcdctl      (package etcd-client)  scripts/e2e.sh reads the cluster's members with it
#   openssl      (package openssl)  test certificates for etcd over TLS (tests/cluster.rs)
#   unbound, unbound-checkconf (package unbound)  the recursive resolver of scripts/e2e.sh
#   curl         (package curl)     etcd's health endpoint in scripts/e2e.sh
#   ip           (package iproute2) brings lo up in scripts/e2e.sh's network namespace
#   python3      (package python3)  scripts/e2e.sh's backends and config files (tomllib: 3.11+)
#
# Needs root (or sudo) and Debian/Ubuntu's apt-get. Does nothing when everything is present.
set -euo pipefail

# knotd/knotc live in /usr/sbin, which is not always on a non-root PATH.
export PATH="$PATH:/usr/sbin:/usr/local/sbin"

missing=()
command -v knotd >/dev/null 2>&1 || missing+=(knot)
command -v knotc >/dev/null 2>&1 || missing+=(knot)
command -v kdig  >/dev/null 2>&1 || missing+=(knot-dnsutils)
command -v nsd   >/dev/null 2>&1 || missing+=(nsd)           # differential: 2nd oracle
command -v named-compilezone >/dev/null 2>&1 || missing+=(bind9-utils)  # expands $GENERATE
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v node  >/dev/null 2>&1 || missing+=(nodejs npm)
command -v protoc >/dev/null 2>&1 || missing+=(protobuf-compiler)
[ -f /usr/include/google/protobuf/descriptor.proto ] || missing+=(libprotobuf-dev)
command -v etcd  >/dev/null 2>&1 || missing+=(etcd-server)
command -v etcdctl >/dev/null 2>&1 || missing+=(etcd-client)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
[ -x /usr/sbin/unbound ] || command -v unbound >/dev/null 2>&1 || missing+=(unbound)
command -v curl  >/dev/null 2>&1 || missing+=(curl)
command -v ip    >/dev/null 2>&1 || missing+=(iproute2)
command -v unshare >/dev/null 2>&1 || missing+=(util-linux)
python3 -c 'import tomllib' >/dev/null 2>&1 || missing+=(python3)

if [ ${#missing[@]} -eq 0 ]; then
    echo "test-deps: knotd, knotc, kdig, nsd, named-compilezone, chromium, node, protoc, etcd, etcdctl, openssl, unbound, curl, ip and python3 are present"
else
    # de-duplicate the package list
    mapfile -t pkgs < <(printf '%s\n' "${missing[@]}" | sort -u)

    sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
            echo "test-deps: need root to install: ${pkgs[*]}" >&2; exit 1
        fi
    fi

    echo "test-deps: installing ${pkgs[*]}"
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq --no-install-recommends "${pkgs[@]}"

    # The knot package enables a system knotd service on some systems; the tests start their own
    # knotd on a loopback address and do not need it (and it would hold port 53). Stop it if running.
    if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet knot 2>/dev/null; then
        $sudo systemctl stop knot || true
    fi
    # Likewise etcd-server may start a system etcd on 2379; the tests run their own members.
    if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet etcd 2>/dev/null; then
        $sudo systemctl stop etcd || true
    fi
    # A freshly installed unbound may start as the system resolver on 127.0.0.1:53; scripts/e2e.sh
    # runs its own in a network namespace. Stop it only when this script installed it.
    if printf '%s\n' "${pkgs[@]}" | grep -qx unbound && command -v systemctl >/dev/null 2>&1 &&
        systemctl is-active --quiet unbound 2>/dev/null; then
        $sudo systemctl disable --now unbound || true
    fi
fi

# playwright-core for tests/dashboard.rs, at the version package-lock.json pins (no browser
# download: the test drives Debian's chromium).
dash="$(cd "$(dirname "$0")/../tests/dashboard" && pwd)"
want=$(node -p "require('$dash/package-lock.json').packages['node_modules/playwright-core'].version")
have=$(node -p "try { require('$dash/node_modules/playwright-core/package.json').version } catch (e) { '' }")
if [ "$want" != "$have" ]; then
    echo "test-deps: installing playwright-core $want into tests/dashboard/node_modules"
    (cd "$dash" && npm ci --no-audit --no-fund --loglevel=error)
else
    echo "test-deps: playwright-core $have is present"
fi

command -v knotd >/dev/null && command -v kdig >/dev/null && [ -x /usr/bin/chromium ] && command -v node >/dev/null
command -v protoc >/dev/null && [ -f /usr/include/google/protobuf/descriptor.proto ] && command -v etcd >/dev/null
command -v openssl >/dev/null
[ -x /usr/sbin/unbound ] && command -v curl >/dev/null && command -v ip >/dev/null
python3 -c 'import tomllib'
echo "test-deps: done"
