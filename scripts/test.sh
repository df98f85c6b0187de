#!/usr/bin/env bash
# The whole test suite, on a fresh machine or an old one:
#   1. installs what the tests need when it is missing (scripts/test-deps.sh: Debian packages
#      knot, knot-dnsutils, nsd, bind9-utils, chromium, nodejs/npm, protobuf-compiler and
#      libprotobuf-dev for the etcd client, etcd-server, unbound, curl, iproute2; playwright-core
#      from npm; needs root or sudo when something is missing);
#   2. checks formatting and lints (a warning fails the run), with and without the `cluster`
#      feature;
#   3. runs every unit and black-box test with `--features cluster` (the real binary over real
#      sockets on 127.0.0.x, real etcd members on loopback), and the build without the feature
#      refusing a [cluster] section;
#   4. runs scripts/e2e.sh, the end-to-end walkthrough (NSD, unbound with ECS, two nodes on
#      etcd, a failover and a drill, in a network namespace of its own), with the binary the
#      tests just built (`AYADNS_E2E=0` skips it).
# Usage: scripts/test.sh [extra cargo test arguments]
set -euo pipefail
cd "$(dirname "$0")/.."

# step NAME: print how long the suite has run so far (the CI log shows where time goes).
step() { echo "== test.sh: $1 (at ${SECONDS}s)"; }

scripts/test-deps.sh
export PATH="$PATH:/usr/sbin"

step "format and lints"
cargo fmt --all -- --check
cargo clippy --all-targets --quiet --features cluster -- -D warnings
# Without the feature: the library and the binary (the tests are linted above).
cargo clippy --lib --bins --quiet -- -D warnings
step "the build without the cluster feature"
cargo test --lib --quiet config::cluster
step "the tests"
cargo test --all-targets --features cluster "$@"

if [ "${AYADNS_E2E:-1}" != 0 ]; then
    step "the end-to-end walkthrough"
    cargo build --features cluster --quiet   # the binary the tests used; nothing to rebuild
    AYADNS_BIN=target/debug/ayadns scripts/e2e.sh
fi
step "done"

