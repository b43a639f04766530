#!/usr/bin/env bash
# The live loop's fixed cost per window: what decoding a small window
# costs beyond its trace (opening the binaries, symbols, the separate
# debug file, DWARF lines, site maps), without and with the analysis
# cache (sa_image_cache, docs/image.md), on a large binary with Debian's
# debug symbols: GNU gold (/usr/bin/x86_64-linux-gnu-ld.gold, a C++
# program of 3 MB) with its debug file from binutils-x86-64-linux-gnu-dbg
# (16 MB, compressed DWARF, plus 10 MB of dwz common DWARF).  gold links
# the build's object files meanwhile; the emulated sensor records
# 2 x N + 1 windows of I instructions of gold's own code, back to back.
#
#   scripts/bench-window.sh [BUILD_DIR] [N] [I]    (defaults: build 10 500)
#
# Prints CPU ms per window cold (each window analyses its binaries, as
# before the cache) and warm (one cache), the cache's counters, and the
# first window of a restarted sensor whose cache reads the line lookups
# the warm cache left on disk (sa_image_cache_set_dir).
# Target: <= 1 ms per window warm.  Not a test: run it on an idle machine.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
n=${2:-10}
insns=${3:-500}
gold=/usr/bin/x86_64-linux-gnu-ld.gold
[ -x "$gold" ] || { echo "bench-window: $gold missing: apt-get install binutils-x86-64-linux-gnu" >&2; exit 2; }
id=$(readelf -n "$gold" | sed -n 's/.*Build ID: *//p')
dbg=/usr/lib/debug/.build-id/${id:0:2}/${id:2}.debug
[ -f "$dbg" ] || { echo "bench-window: $dbg missing: apt-get install binutils-x86-64-linux-gnu-dbg" >&2; exit 2; }
ninja -C "$build" tests/bench/bench_window >/dev/null

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mapfile -t objs < <(find "$build/src" "$build/decoders" -name '*.o')
alt=$(readelf --string-dump=.gnu_debugaltlink "$dbg" 2>/dev/null | sed -n 's/.*\] *\(\/.*\)/\1/p' | head -1)
echo "binary: $gold $(stat -c %s "$gold") bytes, build-id $id"
echo "debug:  $dbg $(stat -c %s "$dbg") bytes${alt:+, dwz $alt $(stat -c %s "$alt" 2>/dev/null || echo '?') bytes}"
echo "gold links ${#objs[@]} objects; windows of $insns instructions"
"$build/tests/bench/bench_window" -n "$n" -i "$insns" -f 0 -d "$tmp" \
	"$gold" -r -o "$tmp/out.o" "${objs[@]}"
