#!/usr/bin/env bash
# Run one fuzzer (cargo fuzz / libFuzzer) for a while:
#   scripts/fuzz.sh TARGET SECONDS        TARGET: request | zone | config
# - request: query bytes -> response bytes through the UDP path (tests/fuzz/fuzz.toml data);
# - zone:    zone-file text -> zone or diagnostics;
# - config:  config text -> config or diagnostics.
# The seed corpus is tests/fuzz/corpus/TARGET (in the repository); inputs found in a run go to
# tests/fuzz/corpus-run/TARGET (not committed). A crash leaves its input in
# tests/fuzz/artifacts/TARGET and makes this script fail.
# Needs cargo-fuzz (installed here if missing) and a nightly toolchain (rustup's, else the
# stable one with RUSTC_BOOTSTRAP=1). FUZZ_SANITIZER=none skips AddressSanitizer (faster).
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:?usage: scripts/fuzz.sh request|zone|config SECONDS}
secs=${2:-60}
case "$target" in request|zone|config) ;; *) echo "unknown target $target" >&2; exit 2 ;; esac
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    toolchain=(+nightly)
else
    toolchain=()
    export RUSTC_BOOTSTRAP=1
fi
max_len=4096
[ "$target" = request ] && max_len=1500
mkdir -p "tests/fuzz/corpus-run/$target"
exec cargo "${toolchain[@]}" fuzz run --fuzz-dir tests/fuzz \
    --sanitizer "${FUZZ_SANITIZER:-address}" --debug-assertions \
    "$target" "tests/fuzz/corpus-run/$target" "tests/fuzz/corpus/$target" -- \
    -max_total_time="$secs" -max_len="$max_len" -rss_limit_mb=2048 -timeout=10 \
    -print_final_stats=1
