#!/usr/bin/env bash
# Peak memory (RSS) of the live sensor against issue 13's target of 64 MB:
# `sensor-agent watch -p PID` (emulated backend: ptrace windows) on real
# workloads for a while, its analysis cache warm after the first window,
# then `decode` of one of its windows and `baseline add` of all of them.
#
#   scripts/bench-rss.sh [BUILD_DIR] [SECONDS]    (defaults: build, 60)
#
# Workloads:
#   gzip    Debian's gzip compressing a stream for SECONDS (one
#           process, the analysis cache warm after the first window);
#           watch samples a window of 4000 instructions every 50 ms,
#           learns from 10 windows and compares every 5;
#   gold    GNU gold (/usr/bin/x86_64-linux-gnu-ld.gold) linking five
#           static libraries (libstdc++, libcrypto, libicui18n,
#           liblapack_pic, libcapstone) whole into one relocatable
#           object, with its Debian debug file (16 MB of compressed DWARF
#           plus 10 MB of dwz DWARF: bench-window.sh);
#           windows of 20000 instructions every 10 ms, learns from 10;
#           a link lasts seconds, so it links again for SECONDS, one
#           watcher each (a fresh sensor: the DWARF analysed again).
# Both without the CPU budget's stretching (--cpu-budget 1000000).
#
# Peak RSS: VmHWM of /proc/PID/status of the watch process, read every
# 0.2 s while it runs (the last value before it exits; VmRSS then too:
# the resident size with the cache warm), and, for the one-shot
# commands, /usr/bin/time's maximum RSS.  Not a test.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
secs=${2:-60}
sa=$build/src/tool/sensor-agent
target_kib=$((64 * 1024))
ninja -C "$build" src/tool/sensor-agent >/dev/null

tmp=$(mktemp -d)
pids=
cleanup() {
	for p in $pids; do kill -9 "$p" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT

verdict() {	# NAME KIB
	printf '%-44s %8d KiB peak RSS  (%5.1f MB)  target <= 64 MB: %s\n' \
		"$1" "$2" "$(echo "$2 / 1024" | bc -l)" \
		"$([ "$2" -le $target_kib ] && echo met || echo 'NOT met')"
}

# watch_rss NAME PID OUTDIR: runs watch on PID until PID ends; prints
# the watcher's VmHWM and leaves its windows in OUTDIR
watch_rss() {
	local name=$1 pid=$2 out=$3 w hwm=0 rss_now=0 h
	mkdir -p "$out"
	"$sa" watch -p "$pid" --backend emulate --cpu-budget 1000000 \
		"${watch_opts[@]}" -f jsonl -o "$out/watch.jsonl" --keep-windows "$out" \
		2>"$out/watch.err" &
	w=$!
	pids="$pids $w"
	while kill -0 "$w" 2>/dev/null; do
		h=$(awk '/^VmHWM:/ { h = $2 } /^VmRSS:/ { r = $2 }
			END { if (h) print h, r }' "/proc/$w/status" 2>/dev/null || true)
		[ -n "$h" ] && read -r hwm rss_now <<<"$h"
		sleep 0.2
	done
	wait "$w" || echo "bench-rss: watch ($name) exited with $?" >&2
	local nw
	nw=$(find "$out" -name '*.data' | wc -l)
	printf '%s: %d windows kept, %d comparisons\n' "$name" "$nw" \
		"$(grep -c '"record":"summary"' "$out/watch.jsonl" || true)"
	verdict "watch -p ($name, $nw windows)" "$hwm"
	printf '%-44s %8d KiB RSS at the last look (warm cache)\n' "" "$rss_now"
	rss_watch=$hwm
}

oneshot() {	# NAME CMD...
	local name=$1
	shift
	/usr/bin/time -f '%M' -o "$tmp/time" "$@" >/dev/null 2>"$tmp/err" ||
		{ echo "bench-rss: $name failed:" >&2; cat "$tmp/err" >&2; }
	verdict "$name" "$(tail -1 "$tmp/time")"
}

many() {	# NAME DIR: decode of the largest window, baseline add of all
	local name=$1 dir=$2 big
	mapfile -t wins < <(find "$dir" -name '*.data' | sort)
	[ ${#wins[@]} -gt 0 ] || { echo "bench-rss: $name: no windows" >&2; return; }
	big=$(ls -S "${wins[@]}" | sed -n 1p)
	oneshot "decode (one $name window, $(stat -c %s "$big") bytes)" \
		"$sa" decode "$big"
	rm -f "$tmp/$name.db"
	oneshot "baseline add (${#wins[@]} $name windows)" \
		"$sa" baseline add --db "$tmp/$name.db" "${wins[@]}"
}

echo "bench-rss ($(date -u +%FT%TZ), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg))"

# ---- gzip: one long-running process, the warm cache for many windows ----
# gzip -6 compresses a stream fed for SECONDS (the build's sensor-agent
# binary, again and again); deflate runs in gzip's own code.
(
	end=$((SECONDS + secs))
	while [ $SECONDS -lt $end ]; do cat "$sa"; done
) | gzip -6 -c >/dev/null &
sleep 0.3
gz=$(pgrep -n -x gzip -P $$ || true)
[ -n "$gz" ] || { echo "bench-rss: the gzip workload did not start" >&2; exit 1; }
watch_opts=(--window 4000insn --period 50ms --learn 10 --group 5)
watch_rss gzip "$gz" "$tmp/gzip"
many gzip "$tmp/gzip"

# ---- gold: large DWARF, windows back to back ----
# gold links static libraries whole into one relocatable object (a few
# seconds alone, longer with windows of 20000 single-stepped
# instructions every 10 ms); every window is analysed with gold's debug
# file.
gold=/usr/bin/x86_64-linux-gnu-ld.gold
lib=$(g++ -print-file-name=libstdc++.a 2>/dev/null || true)
L=/usr/lib/x86_64-linux-gnu
if [ -x "$gold" ] && [ -f "$lib" ]; then
	mapfile -t libs < <(ls "$lib" $L/libcrypto.a $L/libicui18n.a \
		$L/liblapack_pic.a $L/libcapstone.a 2>/dev/null)
	watch_opts=(--window 20000insn --period 10ms --learn 10 --group 5)
	end=$((SECONDS + secs))
	worst=0
	runs=0
	while [ $SECONDS -lt $end ]; do
		"$gold" -r -z muldefs -o "$tmp/out.o" --whole-archive "${libs[@]}" &
		gp=$!
		pids="$pids $gp"
		watch_rss "gold link $runs" "$gp" "$tmp/gold/$runs" >>"$tmp/gold.rows"
		wait "$gp" 2>/dev/null || true
		[ "$rss_watch" -gt "$worst" ] && worst=$rss_watch
		runs=$((runs + 1))
	done
	sed -n '/windows kept/p' "$tmp/gold.rows" | sed -n 1,3p
	verdict "watch -p (gold, worst of $runs links)" "$worst"
	many gold "$tmp/gold"
else
	echo "bench-rss: $gold or libstdc++.a not installed: gold workload skipped"
fi
