#!/usr/bin/env bash
# Benchmarks the TUI through a real pseudo-terminal: time from start to the
# first frame (goal <= 50 ms) and from a keystroke to the redrawn frame.
# Prints numbers; asserts nothing (timings belong here, not in tests).
#
#   scripts/bench-tui.sh            release build (what ships)
#   scripts/bench-tui.sh --debug    the debug build, no release compile
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
if [ "${1:-}" = "--debug" ]; then
    cargo build --quiet --manifest-path "$repo/Cargo.toml"
    bin="$repo/target/debug/confpack"
else
    cargo build --quiet --release --manifest-path "$repo/Cargo.toml"
    bin="$repo/target/release/confpack"
fi
python3 "$repo/scripts/bench_tui.py" "$bin" "$repo/sample-env.xml" --starts 20 --keys 200
