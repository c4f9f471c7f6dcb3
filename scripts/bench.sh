#!/bin/bash
# Benchmarks, printed as ratios against anchors measured in the same run.
#
#   noop-configure: `confpack configure` of sample-env.xml when nothing
#                   changed (the postinst hot path), against the anchor
#                   `debconf-set-selections </dev/null` in a sandboxed debconf
#                   database. Goal: at least 20x faster.
#   noop-30:        no-op configure of a 30-question document, against a
#                   30-question debconf confmodule postinst run with
#                   DEBIAN_FRONTEND=noninteractive (db_input, db_go, db_get
#                   of each question) in the same sandboxed database.
#   full-configure: the same with --dry-run, which always takes the full
#                   path (reads the stored answers, loads the document,
#                   selects, merges, derives, plans). Goal: at least 10x
#                   faster than the same anchor.
#   large-document: load + validate + merge (configure --dry-run) of a
#                   generated 10,000 machines x 50 questions document
#                   (scripts/gen-env.py, ~35 MB), against libxml2's own
#                   streaming validation `xmllint --stream --noout --schema`
#                   with the schema confpack streams with (the published XSD
#                   minus its identity constraints, which confpack checks
#                   itself). Goals: <= 1.5x the time, peak memory <= 1x the
#                   file size.
#   plan-10000:     `confpack plan --full` of a repository with one package
#                   whose template reads the same generated document: all
#                   10,000 machines (and the 10 no-machine cases) planned,
#                   against `confpack validate` of the document; and the
#                   same against the previous commit (one value changed:
#                   both revisions planned). Goals: <= 5x the time, peak
#                   memory <= 2x the file size.
#
# Ratios are of medians (the mean is printed too): on a shared machine a
# few runs stalled by other processes move a mean far more than a median.
# The small benchmarks run in 5 rounds, each measuring the anchors and
# confpack back to back; a ratio is the median of the rounds' ratios
# (all of them are printed), so a burst of load in one round does not
# decide it.
#
# Usage: scripts/bench.sh [RUNS] [--all]   (needs hyperfine: apt-get install hyperfine)
#   --all also runs scripts/bench-build.sh and scripts/bench-tui.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=200
all=false
for arg in "$@"; do
    case $arg in
        --all) all=true ;;
        *) runs=$arg ;;
    esac
done
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

# 30 questions: a confpack document and the same as debconf templates plus
# a confmodule postinst.
python3 scripts/gen-env.py "$work/thirty.xml" --machines 1 --questions 30 --environments 1
"$confpack" -q --root "$work/thirty-root" configure --frontend noninteractive --env-file "$work/thirty.xml" --machine 10.0.0.0
for i in $(seq 0 29); do
    printf 'Template: bench/q%d\nType: string\nDefault: d%d\nDescription: Question %d\n\n' "$i" "$i" "$i"
done > "$work/templates"
# Load the templates once (as dpkg-preconfigure would), not in every run.
cat > "$work/load-templates" <<SH
#!/bin/sh
. /usr/share/debconf/confmodule
db_x_loadtemplatefile $work/templates bench
SH
chmod +x "$work/load-templates"
DEBIAN_FRONTEND=noninteractive "$work/load-templates"
cat > "$work/postinst" <<'SH'
#!/bin/sh
set -e
. /usr/share/debconf/confmodule
for i in $(seq 0 29); do db_input high bench/q$i || true; done
db_go || true
for i in $(seq 0 29); do db_get bench/q$i; done
SH
chmod +x "$work/postinst"

# In rounds: a burst of load from another process skews one round's
# ratios, not the median of the rounds'.
rounds=5
for round in $(seq "$rounds"); do
hyperfine --style none --warmup 10 --runs "$(( (runs + rounds - 1) / rounds ))" --export-json "$work/result-$round.json" \
    -n debconf-set-selections 'debconf-set-selections </dev/null' \
    -n noop-configure "$confpack -q --root $root configure --frontend noninteractive --env-file sample-env.xml --machine 10.10.0.21" \
    -n debconf-postinst-30 "DEBIAN_FRONTEND=noninteractive $work/postinst configure" \
    -n noop-30 "$confpack -q --root $work/thirty-root configure --frontend noninteractive --env-file $work/thirty.xml --machine 10.0.0.0" \
    -n full-configure "$confpack -q --root $root configure --dry-run --env-file sample-env.xml --machine 10.10.0.21 >/dev/null" \
    >/dev/null 2>&1
done

# The large document.
python3 scripts/gen-env.py "$work/large.xml"
"$confpack" --root "$work/large-root" configure --dry-run --env-file "$work/large.xml" --machine 10.0.19.136 >/dev/null 2>&1 || true
python3 - "$work/runtime.xsd" <<'PY'
import re, sys
text = open("schemas/confpack-environment-1.xsd").read()
text = re.sub(r'\s*<xs:(key|keyref|unique) .*?</xs:\1>', '', text, flags=re.S)
open(sys.argv[1], "w").write(text)
PY
command -v xmllint >/dev/null || { echo "bench: xmllint is missing (apt-get install libxml2-utils)" >&2; exit 1; }
hyperfine --style none --warmup 1 --runs 5 --export-json "$work/large.json" \
    -n xmllint-stream "xmllint --stream --noout --schema $work/runtime.xsd $work/large.xml" \
    -n large-document "$confpack -q --root $work/large-root configure --dry-run --env-file $work/large.xml --machine 10.0.19.136 >/dev/null" \
    >/dev/null 2>&1
peak() { /usr/bin/time -f %M "$@" >/dev/null 2>"$work/time.txt" || true; tail -1 "$work/time.txt"; }
xmllint_kb=$(peak xmllint --stream --noout --schema "$work/runtime.xsd" "$work/large.xml")
confpack_kb=$(peak "$confpack" -q --root "$work/large-root" configure --dry-run --env-file "$work/large.xml" --machine 10.0.19.136)
file_kb=$(( $(stat -c %s "$work/large.xml") / 1024 ))

python3 - "$work" "$rounds" "$work/large.json" "$xmllint_kb" "$confpack_kb" "$file_kb" <<'PY'
import json, statistics, sys
work, rounds = sys.argv[1], int(sys.argv[2])
sys.argv = sys.argv[1:]
per_round = [{r["command"]: r for r in json.load(open(f"{work}/result-{i}.json"))["results"]}
             for i in range(1, rounds + 1)]
def merged(name):
    times = [t for rnd in per_round for t in rnd[name]["times"]]
    return {"median": statistics.median(times), "mean": statistics.mean(times),
            "stddev": statistics.pstdev(times), "name": name}
results = {name: merged(name) for name in per_round[0]}
anchor = results["debconf-set-selections"]
print(f"{'benchmark':<28}{'median':>10}{'mean':>10}{'stddev':>10}{'anchor (median)':>26}{'ratio':>8}{'goal':>8}  ratio per round")
def row(name, result, anchor_name, anchor, goal):
    # The ratio is the median of the rounds' ratios (each round measures
    # the anchor and confpack back to back).
    ratios = sorted(rnd[anchor["name"]]["median"] / rnd[result["name"]]["median"] for rnd in per_round)
    ratio = statistics.median(ratios)
    print(f"{name:<28}{result['median']*1000:>8.2f}ms{result['mean']*1000:>8.2f}ms{result['stddev']*1000:>8.2f}ms"
          f"{anchor_name:>18} {anchor['median']*1000:>5.1f}ms{ratio:>7.1f}x{goal:>8}  "
          + " ".join(f"{r:.1f}" for r in ratios))
print(f"{'debconf-set-selections':<28}{anchor['median']*1000:>8.2f}ms{anchor['mean']*1000:>8.2f}ms"
      f"{anchor['stddev']*1000:>8.2f}ms{'(anchor)':>26}")
row("noop-configure", results["noop-configure"], "debconf-set-sel.", anchor, ">=20x")
row("full-configure (--dry-run)", results["full-configure"], "debconf-set-sel.", anchor, ">=10x")
row("noop-30 (30 questions)", results["noop-30"], "debconf-set-sel.", anchor, "-")
row("noop-30 (30 questions)", results["noop-30"], "confmodule-30", results["debconf-postinst-30"], "-")
large = {r["command"]: r for r in json.load(open(sys.argv[2]))["results"]}
stream = large["xmllint-stream"]
doc = large["large-document"]
print(f"{'xmllint --stream --schema':<28}{stream['mean']*1000:>8.0f}ms{stream['stddev']*1000:>8.0f}ms{'(anchor)':>26}")
print(f"{'large-document':<28}{doc['mean']*1000:>8.0f}ms{doc['stddev']*1000:>8.0f}ms"
      f"{'xmllint --stream':>18} {stream['mean']*1000:>5.0f}ms{doc['mean']/stream['mean']:>9.2f}x{'<=1.5x':>10}")
xmllint_kb, confpack_kb, file_kb = (int(v) for v in sys.argv[3:6])
print(f"{'large-document peak memory':<28}{confpack_kb/1024:>8.1f}MB{'':>10}{'file size':>18} {file_kb/1024:>4.1f}MB"
      f"{confpack_kb/file_kb:>9.2f}x{'<=1x':>10}   (xmllint --stream: {xmllint_kb/1024:.1f} MB)")
PY

# confpack plan over the 10,000 machines, against one validation.
plan_repo=$work/plan-repo
mkdir -p "$plan_repo/packages/bench/control" "$plan_repo/packages/bench/etc/bench" "$plan_repo/environments"
cp "$work/large.xml" "$plan_repo/environments/large.xml"
cat > "$plan_repo/packages/bench/control/control.yml" <<'YML'
version: "1.0"
maintainer: Bench <bench@example.org>
description: |
  Benchmark package
  Renders a few answers of the generated document.
environment:
  file: ../../../environments/large.xml
YML
cat > "$plan_repo/packages/bench/etc/bench/bench.conf.j2" <<'J2'
# {{ machine.hostname | default("no machine") }} ({{ environment.context }})
first = {{ answers["bench/q0"] }}
last = {{ answers["bench/q49"] }}
J2
# Two commits, the second changing one machine's value: `plan` (against
# the previous commit) plans both revisions.
git -C "$plan_repo" init -q
git -C "$plan_repo" add -A
git -C "$plan_repo" -c user.name=bench -c user.email=bench@example.org commit -qm one
sed -i '0,/value-0-0-abcdefghij/s//changed-value/' "$plan_repo/environments/large.xml"
git -C "$plan_repo" -c user.name=bench -c user.email=bench@example.org commit -qam two
jobs=$(nproc)
hyperfine --style none --warmup 1 --runs 5 --export-json "$work/plan.json" \
    -n validate "$confpack validate $work/large.xml" \
    -n plan "$confpack plan $plan_repo --full --jobs $jobs >/dev/null" \
    -n plan-since "$confpack plan $plan_repo --jobs $jobs >/dev/null" \
    >/dev/null 2>&1
plan_kb=$(peak "$confpack" plan "$plan_repo" --full --jobs "$jobs")
since_kb=$(peak "$confpack" plan "$plan_repo" --jobs "$jobs")
python3 - "$work/plan.json" "$plan_kb" "$since_kb" "$file_kb" "$jobs" <<'PY'
import json, sys
results = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
validate = results["validate"]
plan_kb, since_kb, file_kb, jobs = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
print(f"{'confpack validate (large)':<28}{validate['median']*1000:>8.0f}ms{validate['stddev']*1000:>8.0f}ms{'(anchor)':>26}")
for name, label, kb in [("plan", "plan-10000 --full", plan_kb), ("plan-since", "plan-10000 vs HEAD~1", since_kb)]:
    plan = results[name]
    print(f"{label + ' (-j' + jobs + ')':<28}{plan['median']*1000:>8.0f}ms{plan['stddev']*1000:>8.0f}ms"
          f"{'validate':>18} {validate['median']*1000:>5.0f}ms{plan['median']/validate['median']:>9.2f}x{'<=5x':>10}")
    print(f"{label + ' memory':<28}{kb/1024:>8.1f}MB{'':>10}{'file size':>18} {file_kb/1024:>4.1f}MB"
          f"{kb/file_kb:>9.2f}x{'<=2x':>10}")
PY

if $all; then
    echo
    CONFPACK=$confpack scripts/bench-build.sh
    echo
    scripts/bench-tui.sh
fi
