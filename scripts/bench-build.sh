#!/bin/bash
# Benchmark of `confpack build` against a `dpkg-deb --build` loop.
#
# Generates a configuration repository of N packages (default 500; each
# with three plain files, a template, a shared environment document and a
# postinst part), commits it, then times:
#   confpack: `confpack build REPO --out DIR` (all packages, all its work:
#             reading, checks, versions from git, archives, md5sums);
#   anchor:   a loop of `dpkg-deb --root-owner-group -Zgzip --build` over
#             the same trees, staged beforehand (the staging is not timed,
#             and the anchor writes no md5sums).
# Prints both times and the ratio (goal: ≤ 0.5).
#
# Usage: scripts/bench-build.sh [N]   (CONFPACK=path uses that binary)
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-500}
command -v dpkg-deb >/dev/null || { echo "bench-build: dpkg-deb is missing (apt-get install dpkg)" >&2; exit 1; }
if [ -z "${CONFPACK:-}" ]; then cargo build --release --quiet; fi
confpack=${CONFPACK:-$PWD/target/release/confpack}
work=$(mktemp -d /tmp/confpack-bench-build.XXXXXX)
trap 'rm -rf "$work"' EXIT
repo=$work/repo
mkdir -p "$repo/packages" "$repo/environments"
cp sample-env.xml "$repo/environments/webshop.xml"
printf 'maintainer: Bench <bench@example.com>\n' > "$repo/confpack.yml"

for i in $(seq -w 1 "$count"); do
    p=$repo/packages/conf-$i
    mkdir -p "$p/control" "$p/etc/conf-$i/conf.d"
    cat > "$p/control/control.yml" <<YML
version: "1.$i"
description: |
  generated package $i
  One of the benchmark's packages.
depends: [conf-001]
environment:
  file: ../../../environments/webshop.xml
YML
    printf '#!/bin/sh\nset -e\n[ "$1" = configure ] || exit 0\n' > "$p/control/postinst"
    printf 'setting = %s\n' "$i" > "$p/etc/conf-$i/main.conf"
    head -c 4096 /dev/urandom | base64 > "$p/etc/conf-$i/conf.d/data.conf"
    printf '#!/bin/sh\necho %s\n' "$i" > "$p/etc/conf-$i/run.sh"
    chmod 755 "$p/etc/conf-$i/run.sh"
    printf 'url = {{ answers["webshop/site.url"] }}\nid = %s\n' "$i" > "$p/etc/conf-$i/site.conf.j2"
done
sed -i 's/^depends: \[conf-001\]$//' "$repo/packages/conf-$(seq -w 1 "$count" | head -1)/control/control.yml"
git -C "$repo" init -q
git -C "$repo" add -A
git -C "$repo" -c user.name=bench -c user.email=bench@example.com commit -qm bench

# The same trees staged for dpkg-deb: DEBIAN/control + the files, the
# templates and the document where confpack puts them.
stage=$work/stage
for i in $(seq -w 1 "$count"); do
    src=$repo/packages/conf-$i
    dst=$stage/conf-$i
    mkdir -p "$dst/DEBIAN" "$dst/usr/share/confpack/conf-$i/templates/etc/conf-$i"
    cp -a "$src/etc" "$dst/"
    mv "$dst/etc/conf-$i/site.conf.j2" "$dst/usr/share/confpack/conf-$i/templates/etc/conf-$i/"
    cp "$repo/environments/webshop.xml" "$dst/usr/share/confpack/conf-$i/environment.xml"
    cp "$src/control/postinst" "$dst/DEBIAN/postinst"
    chmod 755 "$dst/DEBIAN/postinst"
    printf 'Package: conf-%s\nVersion: 1.%s\nArchitecture: all\nMaintainer: Bench <bench@example.com>\nDepends: confpack-runtime\nDescription: generated package %s\n One of the benchmark'"'"'s packages.\n' "$i" "$i" "$i" > "$dst/DEBIAN/control"
done

seconds() { date +%s.%N; }
mkdir -p "$work/out-confpack" "$work/out-dpkg"
# Warm the page cache for both.
find "$repo/packages" -type f -exec cat {} + >/dev/null

start=$(seconds)
"$confpack" build "$repo" --out "$work/out-confpack" --quiet --no-dependency-check >/dev/null
mid=$(seconds)
"$confpack" build "$repo" --out "$work/out-confpack-1" --quiet --no-dependency-check --jobs 1 >/dev/null
mid1=$(seconds)
for tree in "$stage"/*; do
    dpkg-deb --root-owner-group -Zgzip --build "$tree" "$work/out-dpkg" >/dev/null
done
end=$(seconds)

built=$(ls "$work/out-confpack" | wc -l)
awk -v start="$start" -v mid="$mid" -v mid1="$mid1" -v end="$end" \
    -v n="$count" -v built="$built" -v jobs="$(nproc)" 'BEGIN {
    c = mid - start; c1 = mid1 - mid; d = end - mid1
    printf "packages:                      %d (confpack built %d)\n", n, built
    printf "confpack build (%d jobs):       %.2f s\n", jobs, c
    printf "confpack build (1 job):        %.2f s\n", c1
    printf "dpkg-deb --build loop:         %.2f s\n", d
    printf "ratio confpack/dpkg-deb:       %.3f (1 job: %.3f; goal <= 0.5)\n", c / d, c1 / d
}'
