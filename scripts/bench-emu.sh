#!/bin/sh
# The emulated Intel PT sensor's costs: recorder single-steps per second,
# encoder MB/s (the encoder replayed alone on recorded events), trace bytes
# per million instructions beside hardware's ~0.5 bits per instruction,
# the slowdown of a whole run, and wall-time shares at a few duty cycles.
#
#   scripts/bench-emu.sh [BUILD_DIR]     (default: build)
#
# Timings: run on an idle machine; this is not a unit test.
set -eu

build=${1:-build}
[ -f "$build/build.ninja" ] || {
	echo "bench-emu: $build is not a meson build dir (meson setup $build)" >&2
	exit 2
}
ninja -C "$build" tests/emu/bench_emu >/dev/null
bench=$build/tests/emu/bench_emu
wl=$build/tests/workloads
for w in wl_branches-pie wl_qsort-pie wl_signals-pie; do
	[ -x "$wl/$w" ] || ninja -C "$build" "tests/workloads/$w" >/dev/null
done

echo "== machine: $(nproc) cpus, $(uname -r), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)"
echo
echo "== whole run, every instruction of the main binary traced"
echo "-- wl_branches-pie 5000 (loops, jump table, function pointers)"
"$bench" whole "$wl/wl_branches-pie" 5000
echo "-- wl_qsort-pie (callbacks from libc: filter entries and exits)"
"$bench" whole "$wl/wl_qsort-pie"
echo "-- wl_signals-pie 50 (signals, setjmp/longjmp, rep movs)"
"$bench" whole "$wl/wl_signals-pie" 50
echo "-- wl_branches-pie 5000 with MTC (period 3) and CYC: timing's cost"
"$bench" whole-timed "$wl/wl_branches-pie" 5000
echo
echo "== sampled windows on a CPU-bound run (wl_branches-pie 200000000)"
for d in "10 1000" "10 100" "50 100"; do
	# shellcheck disable=SC2086
	"$bench" duty $d "$wl/wl_branches-pie" 200000000
done
