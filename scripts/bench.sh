#!/bin/bash
# Benchmarks, printed as ratios against anchors measured in the same run.
#
#   noop-configure: `confpack configure` of sample-env.xml when nothing
#                   changed (the postinst hot path), against the anchor
#                   `debconf-set-selections </dev/null` in a sandboxed debconf
#                   database. Goal: at least 10x faster.
#   full-merge:     the same with --dry-run, which always takes the full
#                   path (opens the database, merges, derives); for reference.
#
# Usage: scripts/bench.sh [RUNS]   (needs hyperfine: apt-get install hyperfine)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-200}
command -v hyperfine >/dev/null || { echo "bench: hyperfine is missing (apt-get install hyperfine)" >&2; exit 1; }
command -v debconf-set-selections >/dev/null || { echo "bench: debconf is missing (apt-get install debconf)" >&2; exit 1; }
if [ -z "${CONFPACK:-}" ]; then cargo build --release --quiet; fi
confpack=${CONFPACK:-$PWD/target/release/confpack}
work=$(mktemp -d /tmp/confpack-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT

# A configured root: the no-op run has nothing to change.
root=$work/root
echo bench | "$confpack" --root "$root" set --secret webshop/db.password -
"$confpack" -q --root "$root" configure --frontend noninteractive --env-file sample-env.xml --machine 10.10.0.21

# A sandboxed debconf database, so the anchor never touches the system's.
mkdir -p "$work/debconf"
cat > "$work/debconf.conf" <<CONF
Config: configdb
Templates: templatedb

Name: configdb
Driver: File
Filename: $work/debconf/config.dat

Name: templatedb
Driver: File
Filename: $work/debconf/templates.dat
CONF
export DEBCONF_SYSTEMRC=$work/debconf.conf

hyperfine --style none --warmup 10 --runs "$runs" --export-json "$work/result.json" \
    -n debconf-set-selections 'debconf-set-selections </dev/null' \
    -n noop-configure "$confpack -q --root $root configure --frontend noninteractive --env-file sample-env.xml --machine 10.10.0.21" \
    -n full-merge "$confpack -q --root $root configure --dry-run --env-file sample-env.xml --machine 10.10.0.21 >/dev/null" \
    >/dev/null 2>&1

python3 - "$work/result.json" <<'PY'
import json, sys
results = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
anchor = results["debconf-set-selections"]
print(f"{'benchmark':<28}{'mean':>10}{'stddev':>10}{'anchor':>26}{'ratio':>10}{'goal':>10}")
def row(name, result, anchor_name, anchor, goal):
    ratio = anchor["mean"] / result["mean"]
    print(f"{name:<28}{result['mean']*1000:>8.2f}ms{result['stddev']*1000:>8.2f}ms"
          f"{anchor_name:>18} {anchor['mean']*1000:>5.1f}ms{ratio:>9.1f}x{goal:>10}")
print(f"{'debconf-set-selections':<28}{anchor['mean']*1000:>8.2f}ms{anchor['stddev']*1000:>8.2f}ms{'(anchor)':>26}")
row("noop-configure", results["noop-configure"], "debconf-set-sel.", anchor, ">=10x")
row("full-merge (reference)", results["full-merge"], "debconf-set-sel.", anchor, "-")
PY
