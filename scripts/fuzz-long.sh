#!/bin/bash
# Long fuzzing runs (docs/fuzzing.md):
#
#   1. the proptest harnesses of tests/fuzz.rs with many cases and a fresh
#      random seed per round (stable toolchain, always available);
#   2. the coverage-guided cargo-fuzz (libFuzzer) targets of fuzz/, seeded
#      from the repository's documents, YAML files and expressions, when a
#      nightly toolchain and cargo-fuzz are installed (skipped otherwise).
#
# Usage: scripts/fuzz-long.sh [CASES] [SECONDS_PER_TARGET] [ROUNDS]
#   CASES               proptest cases per property and round (default 20000)
#   SECONDS_PER_TARGET  libFuzzer time per target (default 600; 0 skips it)
#   ROUNDS              proptest rounds, each with a new seed (default 1)
#
# A crash that kills the test process (a stack overflow aborts) cannot be
# shrunk or printed by proptest: the input of every property's last case is
# in $CONFPACK_FUZZ_TRACE (target/fuzz-trace). libFuzzer keeps its crashing
# inputs in fuzz/artifacts/<target>/; replay one with
#   cargo +nightly fuzz run <target> fuzz/artifacts/<target>/<file>
set -euo pipefail
cd "$(dirname "$0")/.."
cases=${1:-20000}
seconds=${2:-600}
rounds=${3:-1}

export CONFPACK_FUZZ_TRACE=$PWD/target/fuzz-trace
mkdir -p "$CONFPACK_FUZZ_TRACE"
cargo test --test tests --no-run --quiet

status=0
for round in $(seq 1 "$rounds"); do
    seed=$(od -An -N8 -tu8 /dev/urandom | tr -d ' ')
    echo "== proptest round $round of $rounds: $cases cases per property, seed $seed"
    started=$(date +%s)
    if ! CONFPACK_FUZZ_CASES=$cases CONFPACK_FUZZ_SEED=$seed \
        cargo test --test tests --quiet fuzz:: -- --test-threads 2; then
        echo "!! proptest round $round failed (seed $seed); last inputs in $CONFPACK_FUZZ_TRACE"
        status=1
    fi
    echo "   round $round took $(( $(date +%s) - started )) s"
done

if [ "$seconds" = 0 ]; then
    echo "== libFuzzer: skipped (SECONDS_PER_TARGET=0)"
    exit $status
fi
if ! command -v cargo-fuzz >/dev/null || ! rustup run nightly rustc --version >/dev/null 2>&1; then
    echo "== libFuzzer: skipped: needs a nightly toolchain and \`cargo install cargo-fuzz\`"
    exit $status
fi

# Seeds: what the project itself reads. The document target's first byte
# picks how the rest is read (bit 0: schema or not; bit 1: all
# environments or one).
corpus=fuzz/corpus
mkdir -p "$corpus"/{document,manifest,expression,merge}
seed_document() { # FILE NAME
    for mode in 0 1 2 3; do
        { printf "\\x0$mode"; cat "$1"; } >"$corpus/document/$2-$mode"
    done
}
seed_document sample-env.xml sample
seed_document tests/fixtures/dataone/acme-v1.xml acme
for file in tests/fixtures/*.xml; do
    seed_document "$file" "$(basename "$file" .xml)"
done
find examples tests/fixtures -name '*.yml' | while read -r file; do
    cp "$file" "$corpus/manifest/$(echo "$file" | tr / _)"
done
grep -ho '<expression>[^<]*</expression>' sample-env.xml examples/environments/*.xml |
    sed -e 's/<[^>]*>//g' -e 's/&quot;/"/g' -e 's/&amp;/\&/g' |
    while read -r expression; do
        printf '%s' "$expression" >"$corpus/expression/$(printf '%s' "$expression" | md5sum | cut -c1-12)"
    done
find examples tests/fixtures -name '*.j2' | while read -r file; do
    cp "$file" "$corpus/expression/$(echo "$file" | tr / _)"
done
head -c 256 /dev/urandom >"$corpus/merge/random"

for target in document manifest expression merge; do
    echo "== libFuzzer: $target for $seconds s"
    if ! cargo +nightly fuzz run "$target" "$corpus/$target" -- \
        -max_total_time="$seconds" -rss_limit_mb=4096 -timeout=20 -max_len=65536 \
        -print_final_stats=1 2>&1 | tee "target/fuzz-$target.log" | grep -E '^(#[0-9]+[[:space:]]+DONE|stat::number_of_executed_units|==[0-9]+==|SUMMARY)'; then
        status=1
    fi
    if grep -q 'ERROR: libFuzzer\|deadly signal\|panicked' "target/fuzz-$target.log"; then
        echo "!! $target crashed; see target/fuzz-$target.log and fuzz/artifacts/$target/"
        status=1
    fi
done
exit $status
