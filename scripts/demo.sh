#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
#
# The sensor-agent demo, end to end, in well under a minute on any x86-64
# Linux (no Intel PT needed: the emulated backend single-steps the target
# with ptrace and writes genuine Intel PT).
#
#  1. a small request-handling service (tests/scenarios/demo_service.c)
#     starts;
#  2. sensor-agent watches it in sampled trace windows and learns a
#     baseline of its branch decisions;
#  3. the service's input mix shifts (SIGUSR1): malformed requests drive
#     its error path, and a key range far beyond its cache drives the
#     cache-miss path;
#  4. the sensor prints the ranked anomalies, naming the function, the
#     source line and the decision that changed;
#  5. the windows since the shift become one HTML report (sensor-agent
#     report, docs/report.md), whose path is printed.
#
# Usage: scripts/demo.sh [BUILD_DIR]   (default: build; built if missing)
# Environment: SA_DEMO_LEARN (windows to learn, 12), SA_DEMO_GROUP
# (windows per comparison, 4), SA_DEMO_AFTER (comparisons after the
# shift, 2), SA_DEMO_REPORT (the HTML report's path,
# $TMPDIR/sensor-agent-demo-report.html).
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
learn=${SA_DEMO_LEARN:-12}
group=${SA_DEMO_GROUP:-4}
after=${SA_DEMO_AFTER:-2}
report=${SA_DEMO_REPORT:-${TMPDIR:-/tmp}/sensor-agent-demo-report.html}

say() { printf '\n[demo] %s\n' "$*"; }
die() { printf 'demo: %s\n' "$*" >&2; exit 1; }

[ "$(uname -m)" = x86_64 ] || die "needs x86-64 (the emulated backend writes Intel PT)"

sensor=$build/src/tool/sensor-agent
if [ ! -f "$build/build.ninja" ]; then
	say "configuring a build in $build"
	meson setup "$build" "$root" >/dev/null || die "meson setup failed"
fi
# Cheap when up to date.
ninja -C "$build" src/tool/sensor-agent >/dev/null ||
	die "building sensor-agent failed (see ninja -C $build)"

work=$(mktemp -d "${TMPDIR:-/tmp}/sa-demo-XXXXXX")
svc_pid=
sensor_pid=
cleanup() {
	[ -n "$sensor_pid" ] && kill -INT "$sensor_pid" 2>/dev/null || true
	[ -n "$svc_pid" ] && kill -TERM "$svc_pid" 2>/dev/null || true
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

cc -O2 -g -o "$work/demo_service" "$root/tests/scenarios/demo_service.c" ||
	die "cannot compile the demo service (is a C compiler installed?)"

say "starting the service"
"$work/demo_service" >"$work/service.out" &
svc_pid=$!
sleep 0.2

say "sensor-agent watches pid $svc_pid through the emulated backend:"
say "windows of 4000 instructions every 150 ms; it learns from $learn windows"
echo "    (the emulated sensor single-steps with ptrace and costs far more"
echo "     CPU than hardware tracing: the demo lifts the 1% budget)"
"$sensor" watch -p "$svc_pid" --backend emulate --window 4000insn \
	--period 150ms --cpu-budget 1000 \
	--learn "$learn" --group "$group" \
	--db "$work/base.db" --keep-windows "$work/windows" \
	>"$work/anomalies.txt" 2>"$work/sensor.log" &
sensor_pid=$!

i=0
until grep -q "baseline learnt" "$work/sensor.log" 2>/dev/null; do
	i=$((i + 1))
	if [ $i -gt 300 ] || ! kill -0 "$sensor_pid" 2>/dev/null; then
		cat "$work/sensor.log" >&2
		die "the sensor did not learn a baseline"
	fi
	sleep 0.1
done
sed 's/^/    /' "$work/sensor.log"

say "normal traffic for two more seconds (nothing should be reported)..."
sleep 2
# Every comparison prints a "== comparison N, windows A-B at TIME: ..."
# line; those with anomalies say "K anomal(y|ies)".
flagged() { grep -c '^== .*: [0-9]* anomal' "$work/anomalies.txt" || true; }
n0=$(flagged)
say "comparisons of normal traffic so far:"
grep '^== ' "$work/anomalies.txt" | sed 's/^/    /'
l0=$(wc -l <"$work/anomalies.txt")

say "shifting the input mix: 40% malformed requests, keys beyond the cache"
kill -USR1 "$svc_pid"
# Wait for $after comparisons with anomalies (at most 20 s).
i=0
while [ "$(flagged)" -lt $((n0 + after)) ] && [ $i -lt 200 ]; do
	i=$((i + 1))
	sleep 0.1
done

kill -INT "$sensor_pid"
wait "$sensor_pid" || true
sensor_pid=

[ "$n0" -eq 0 ] || say "note: $n0 comparison(s) of normal traffic reported anomalies"
say "the comparisons since the shift (new anomalies in full, ongoing ones in a line):"
tail -n +$((l0 + 1)) "$work/anomalies.txt" | sed 's/^/    /'

say "sensor counters:"
tail -n 1 "$work/sensor.log" | sed 's/^/    /'

kill -TERM "$svc_pid"
wait "$svc_pid" 2>/dev/null || true
svc_pid=
say "service: $(cat "$work/service.out" | tail -n 1)"

# The windows of the comparisons since the shift: the last ones kept.
shifted=$(ls "$work/windows" | sort -t- -k2 -n | tail -n $((group * after)) |
	sed "s|^|$work/windows/|")
# shellcheck disable=SC2086 # one argument per window file
"$sensor" report --db "$work/base.db" -o "$report" \
	--title "sensor-agent demo: the service after the shift" $shifted \
	>/dev/null || die "writing the report failed"
say "the HTML report of those windows: $report"
