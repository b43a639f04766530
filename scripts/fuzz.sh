#!/usr/bin/env bash
# Runs the libFuzzer targets for a number of executions each, from their
# seed corpora (tests/fuzz/corpus/<target>, read-only), and reports per
# target the executions, the throughput and the findings.
#
#   scripts/fuzz.sh [-runs=N] [-j=N] [-time=S] [target...]
#
#   -runs=N   executions per target (default 10000000)
#   -time=S   also stop each target after S seconds (default: none)
#   -j=N      targets run in parallel (default: nproc)
#   target    fuzz_perfdata fuzz_elf fuzz_ipt fuzz_snapshot fuzz_ring
#             fuzz_linecache (default: all)
#
# Builds ./build-fuzz (clang, ASan, UBSan; FUZZ_BUILD= to use another)
# if it is not there.  New inputs go to $FUZZ_OUT (default
# build-fuzz/fuzz-out/<target>/corpus), crash, leak, timeout and OOM
# files to .../<target>/ with the libFuzzer log.  Exits 1 when any target
# found something or did not end cleanly, 0 otherwise.
set -uo pipefail
cd "$(dirname "$0")/.."

runs=10000000
secs=0
jobs=$(nproc)
targets=()
all=(fuzz_perfdata fuzz_elf fuzz_ipt fuzz_snapshot fuzz_ring fuzz_linecache)

usage() {
	sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'
	exit "$1"
}

for a in "$@"; do
	case $a in
	-runs=*) runs=${a#-runs=} ;;
	-time=*) secs=${a#-time=} ;;
	-j=*) jobs=${a#-j=} ;;
	-h | --help) usage 0 ;;
	fuzz_*) targets+=("$a") ;;
	*)
		echo "fuzz.sh: unknown argument '$a'" >&2
		usage 2 >&2
		;;
	esac
done
for v in "$runs" "$secs" "$jobs"; do
	if ! [[ $v =~ ^[0-9]+$ ]]; then
		echo "fuzz.sh: '$v' is not a number" >&2
		exit 2
	fi
done
[ "$jobs" -ge 1 ] || jobs=1
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")

# -max_len per target, as in tests/fuzz/meson.build.
max_len() {
	case $1 in
	fuzz_ipt) echo 512 ;;
	fuzz_snapshot) echo 2048 ;;
	fuzz_ring) echo 12297 ;;
	*) echo 4096 ;;
	esac
}

build=${FUZZ_BUILD:-build-fuzz}
if [ ! -f "$build/build.ninja" ]; then
	CC=clang meson setup "$build" -Dfuzz=true \
		-Db_sanitize=address,undefined -Db_lundef=false >/dev/null ||
		exit 1
fi
ninja -C "$build" >/dev/null || exit 1
out=${FUZZ_OUT:-$build/fuzz-out}

for t in "${targets[@]}"; do
	if [ ! -x "$build/tests/fuzz/$t" ]; then
		echo "fuzz.sh: no target $t in $build/tests/fuzz" >&2
		exit 2
	fi
done

export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:abort_on_error=1:print_stacktrace=1}

run_one() {
	local t=$1 dir=$out/$1
	local args=(-runs="$runs" -max_len="$(max_len "$t")"
		-rss_limit_mb=2048 -print_final_stats=1
		-artifact_prefix="$dir/")
	[ "$secs" -gt 0 ] && args+=(-max_total_time="$secs")
	mkdir -p "$dir/corpus"
	rm -f "$dir"/crash-* "$dir"/leak-* "$dir"/timeout-* "$dir"/oom-* \
		"$dir"/slow-unit-*
	date +%s.%N >"$dir/start"
	"$build/tests/fuzz/$t" "${args[@]}" "$dir/corpus" \
		"tests/fuzz/corpus/$t" >"$dir/log" 2>&1
	echo $? >"$dir/rc"
	date +%s.%N >"$dir/end"
}

# At most $jobs at once.
for t in "${targets[@]}"; do
	while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do
		wait -n
	done
	run_one "$t" &
done
wait

status=0
# exec/s: libFuzzer's executions over the target's wall time (start-up
# and seed loading included; libFuzzer's own figure is 0 under a second).
printf '%-14s %12s %10s %8s %4s  %s\n' target executions exec/s seconds rc \
	findings
for t in "${targets[@]}"; do
	dir=$out/$t
	n=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log")
	el=$(awk -v a="$(cat "$dir/start")" -v b="$(cat "$dir/end")" \
		'BEGIN { printf "%.1f", b - a }')
	s=?
	[ -n "$n" ] && s=$(awk -v n="$n" -v e="$el" \
		'BEGIN { printf "%.0f", (e > 0 ? n / e : 0) }')
	rc=$(cat "$dir/rc")
	found=$(find "$dir" -maxdepth 1 -type f \( -name 'crash-*' -o \
		-name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) |
		sort)
	nf=0
	[ -n "$found" ] && nf=$(wc -l <<<"$found")
	printf '%-14s %12s %10s %8s %4s  %s\n' "$t" "${n:-?}" "$s" "$el" \
		"$rc" "$nf"
	if [ -n "$found" ]; then
		sed 's/^/    /' <<<"$found"
		status=1
	fi
	if [ "$rc" -ne 0 ] || [ -z "$n" ]; then
		# A sanitizer or libFuzzer error without an artifact (or a
		# run that died early) is a finding too: show its report.
		[ -z "$found" ] && grep -m 3 -E 'ERROR|runtime error' \
			"$dir/log" | sed 's/^/    /'
		echo "    log: $dir/log"
		status=1
	fi
done
exit $status
