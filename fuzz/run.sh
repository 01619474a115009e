#!/bin/sh
# Runs one fuzz target for a while with the already built libFuzzer binary (see README.md).
# Usage: fuzz/run.sh <target> [seconds]   (after `RUSTC_BOOTSTRAP=1 cargo fuzz build -s address`)
set -eu
cd "$(dirname "$0")"
t="$1"
secs="${2:-120}"
bin="target/x86_64-unknown-linux-gnu/release/$t"
[ -x "$bin" ] || { echo "no $bin: run RUSTC_BOOTSTRAP=1 cargo fuzz build -s address $t first" >&2; exit 2; }
case "$t" in checkpoint|patch|proofs|witness_request) dict="" ;; *) dict="-dict=json.dict" ;; esac
mkdir -p "target/corpus/$t" "artifacts/$t"
exec "$bin" -artifact_prefix="artifacts/$t/" -max_total_time="$secs" -max_len=8192 \
    -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 $dict "target/corpus/$t" "corpus/$t"
