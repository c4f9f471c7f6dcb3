#!/bin/bash
# Benchmark of `confpack status` (the per-minute monitoring check) against
# dpkg's own check of the same packages.
#
# Builds N packages (default 50; each a plain file, a template and an
# environment document), installs them with the real dpkg into a sandbox
# root (`dpkg --root`, the postinst runs this confpack), then times, RUNS
# times each (default 20):
#   confpack: `confpack --root ROOT status` (store, versions, conflicts,
#             rendered files' sha256, packaged files' md5sums, diversions,
#             unanswered questions: everything it checks);
#   anchor:   `dpkg --root=ROOT --verify PKGS…` (packaged files only), and
#             `debsums -s` over the same packages when debsums is installed.
# Prints the times and the ratios; asserts nothing. Needs root (dpkg).
#
# Usage: scripts/bench-status.sh [N] [RUNS]   (CONFPACK=path uses that binary;
#        KEEP=1 keeps the sandbox and prints where it is)
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-50}
runs=${2:-20}
command -v dpkg >/dev/null || { echo "bench-status: dpkg is missing" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "bench-status: needs root (dpkg --root)" >&2; exit 1; }
if [ -z "${CONFPACK:-}" ]; then cargo build --release --quiet; fi
confpack=${CONFPACK:-$PWD/target/release/confpack}
work=$(mktemp -d /tmp/confpack-bench-status.XXXXXX)
if [ -n "${KEEP:-}" ]; then echo "sandbox root: $work/root"; else trap 'rm -rf "$work"' EXIT; fi
repo=$work/repo
mkdir -p "$repo/packages" "$repo/environments"
cat > "$repo/environments/bench.xml" <<'XML'
<?xml version="1.0" encoding="UTF-8"?>
<environments xmlns="urn:confpack:environment:1" version="1">
  <templates>
    <template key="bench/greeting" type="string" priority="high" source="configured">
      <description>Greeting</description>
      <default>hello</default>
    </template>
  </templates>
  <environment context="master">
    <question key="bench/greeting">hello from master</question>
  </environment>
</environments>
XML
printf 'maintainer: Bench <bench@example.com>\n' > "$repo/confpack.yml"
packages=()
for i in $(seq -w 1 "$count"); do
    p=$repo/packages/conf-$i
    packages+=("conf-$i")
    mkdir -p "$p/control" "$p/etc/conf-$i"
    printf 'version: "1.%s"\ndescription: |\n  generated package %s\n  One of the benchmark'"'"'s packages.\nenvironment:\n  file: ../../../environments/bench.xml\n' "$i" "$i" > "$p/control/control.yml"
    head -c 4096 /dev/urandom | base64 > "$p/etc/conf-$i/data.conf"
    printf 'greeting = {{ answers["bench/greeting"] }}\nid = %s\n' "$i" > "$p/etc/conf-$i/site.conf.j2"
done
git -C "$repo" init -q
git -C "$repo" add -A
git -C "$repo" -c user.name=bench -c user.email=bench@example.com commit -qm bench
"$confpack" build "$repo" --out "$work/debs" --quiet --no-dependency-check >/dev/null

root=$work/root
mkdir -p "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates"
touch "$root/var/lib/dpkg/status"
"$confpack" --root "$root" set-environment master >/dev/null 2>&1 || true
PATH="$(dirname "$confpack"):$PATH" DEBIAN_FRONTEND=noninteractive \
    dpkg --root="$root" --force-script-chrootless --force-depends -i "$work"/debs/*.deb >"$work/dpkg.log" 2>&1 \
    || { cat "$work/dpkg.log" >&2; exit 1; }

seconds() { date +%s.%N; }
"$confpack" --root "$root" status >/dev/null || { echo "bench-status: the sandbox does not match:" >&2; "$confpack" --root "$root" status >&2 || true; }
start=$(seconds)
for _ in $(seq "$runs"); do "$confpack" --root "$root" status >/dev/null || true; done
mid=$(seconds)
for _ in $(seq "$runs"); do dpkg --root="$root" --verify "${packages[@]}" >/dev/null || true; done
end=$(seconds)
debsums=none
if command -v debsums >/dev/null; then
    d0=$(seconds)
    for _ in $(seq "$runs"); do debsums --root="$root" -s "${packages[@]}" >/dev/null 2>&1 || true; done
    d1=$(seconds)
    debsums=$(awk -v a="$d0" -v b="$d1" -v r="$runs" 'BEGIN { printf "%.4f", (b - a) / r }')
fi
awk -v start="$start" -v mid="$mid" -v end="$end" -v runs="$runs" -v n="$count" -v debsums="$debsums" 'BEGIN {
    c = (mid - start) / runs; d = (end - mid) / runs
    printf "packages:                        %d, %d runs each\n", n, runs
    printf "confpack status:                 %.1f ms\n", c * 1000
    printf "dpkg --verify:                   %.1f ms\n", d * 1000
    printf "ratio status/dpkg --verify:      %.2f\n", c / d
    if (debsums != "none") {
        printf "debsums -s:                      %.1f ms\n", debsums * 1000
        printf "ratio status/debsums:            %.2f\n", c / debsums
    } else {
        printf "debsums:                         not installed\n"
    }
}'
