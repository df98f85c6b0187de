#!/usr/bin/env bash
# Several nodes through etcd: how fast an operator's change reaches every node's DNS answers,
# and how many probes one backend sees as nodes join its region.
#
# Starts 3 etcd members (Debian's etcd-server) and 3 ayadns nodes (release build, feature
# `cluster`) on loopback addresses, sends CHANGES (default 200) overrides — drains and removals,
# each to one node in turn — and times until each node's answers change (p50/p99/max per
# node); then starts 1, 2, 3 nodes in one region and counts the probes one backend gets.
# Stops everything it started. Usage: scripts/bench-cluster.sh [CHANGES]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/test-deps.sh >/dev/null
export PATH="$PATH:/usr/sbin"
export CHANGES="${1:-200}"
echo "bench-cluster: $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $CHANGES changes"
cargo test --release --features cluster --test bench_cluster -- --ignored --nocapture bench_cluster 2>&1 \
    | grep -v '^\s*Running\|^running\|^test \|^$\|Finished\|Compiling'
