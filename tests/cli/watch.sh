#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
#
# cli-watch: `sensor-agent watch --comm NAME` (emulated backend) attaches
# to the process of that name, keeps running when it is killed, and
# re-attaches when it is started again: the log says so and comparisons
# of windows decoded from the new pid appear in the JSON lines.  Then
# SIGTERM stops it cleanly (exit 0).  --unit the same through a cgroup
# directory (--cgroup-root: no systemd in the test).  watch -p on a
# target that ended but is not reaped (a zombie) ends with status 0.
#
# usage: watch.sh SENSOR_AGENT WL_SLEEP WL_BRANCHES
set -u
T=$1
WL=$2
WL_BUSY=$3
D=$(mktemp -d "${TMPDIR:-/tmp}/sa-watch.XXXXXX")
# a name no other test's process has (comm keeps 15 bytes)
NAME=saw$$
NAME=$(printf '%.15s' "$NAME")
pids=
cleanup() {
	for p in $pids; do kill -9 "$p" 2>/dev/null; done
	rm -rf "$D"
}
trap cleanup EXIT
cd "$D" || exit 1
cp "$WL" "$D/$NAME" || exit 1
fails=0
fail() {
	echo "FAIL: $*"
	fails=$((fails + 1))
}

# wait_for FILE PATTERN: up to 60 s for an extended regex in FILE
wait_for() {
	i=0
	while [ $i -lt 600 ]; do
		grep -Eq -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

start_target() {
	"$D/$NAME" 1000000 >/dev/null &
	tgt=$!
	pids="$pids $tgt"
}

# summary records of pid $1 with decoded instructions
decoded_from() {
	wait_for out.jsonl "\"record\":\"summary\".*\"process.pid\":$1,.*\"instructions\":[1-9]"
}

run_watch() {
	# shellcheck disable=SC2086
	"$T" watch "$@" --backend emulate --learn 1 --period 100ms \
		--cpu-budget 1000000 -f jsonl -o out.jsonl 2>err &
	sa=$!
	pids="$pids $sa"
}

stop_watch() {
	kill -TERM "$sa"
	wait "$sa"
	st=$?
	[ "$st" = 0 ] || fail "watch exit status $st after SIGTERM"
	grep -q "sensor-agent watch: stopping: detaching" err ||
		fail "no 'stopping' line"
}

# --comm: attach, kill, restart, re-attach
start_target
a=$tgt
run_watch --comm "$NAME"
wait_for err "attached to pid $a \\(named $NAME\\)" ||
	fail "no 'attached to pid $a' line"
decoded_from "$a" || fail "no window of pid $a decoded"
kill -9 "$a"
wait "$a" 2>/dev/null
wait_for err "pid $a ended: watching for the next process named $NAME" ||
	fail "the end of pid $a not logged"
kill -0 "$sa" 2>/dev/null || fail "watch ended with its target"
start_target
b=$tgt
wait_for err "re-attached to pid $b \\(named $NAME\\)" ||
	fail "no 're-attached to pid $b' line"
decoded_from "$b" || fail "no window of pid $b decoded after the restart"
stop_watch
kill -0 "$b" 2>/dev/null || fail "the target died with the sensor"
kill -9 "$b"
wait "$b" 2>/dev/null
if [ $fails -ne 0 ]; then
	sed 's/^/    /' err | tail -n 20
fi

# --unit: the processes listed in the unit's cgroup.procs
mkdir -p cg/system.slice/sa-test.service
start_target
c=$tgt
echo "$c" >cg/system.slice/sa-test.service/cgroup.procs
: >out.jsonl
run_watch --unit sa-test.service --cgroup-root "$D/cg"
wait_for err "attached to pid $c \\(of unit sa-test.service\\)" ||
	fail "--unit: no 'attached to pid $c' line"
decoded_from "$c" || fail "--unit: no window of pid $c decoded"
stop_watch
kill -9 "$c"
wait "$c" 2>/dev/null

# no target at all: it waits (and says so) instead of failing
run_watch --comm "${NAME}x"
wait_for err "no process named ${NAME}x: waiting for one" ||
	fail "no 'waiting' line without a target"
stop_watch
run_watch --unit nosuch.service --cgroup-root "$D/cg"
wait_for err "no process of unit nosuch.service: waiting for one" ||
	fail "--unit: no 'waiting' line"
stop_watch

# a target that has ended but is not reaped yet (a zombie: ptrace
# refuses it with EPERM, as it did when a watched process was killed
# just before a window): its end, exit status 0, not a sensor failure.
# sleep 30 never reaps its child, which ends after 0.2 s.
sh -c 'sleep 0.2 & echo $! >zpid; exec sleep 30' &
zp=$!
pids="$pids $zp"
i=0
while [ $i -lt 300 ]; do
	z=$(cat zpid 2>/dev/null)
	[ -n "$z" ] && [ "$(cut -d' ' -f3 "/proc/$z/stat" 2>/dev/null)" = Z ] &&
		break
	sleep 0.1
	i=$((i + 1))
done
"$T" watch -p "$z" --backend emulate --period 20ms -o /dev/null 2>err
st=$?
[ "$st" = 0 ] || fail "watch -p ZOMBIE: exit status $st, not 0"
grep -q "target $z has exited" err ||
	fail "watch -p ZOMBIE: no 'target $z has exited' line"
kill -9 "$zp"
wait "$zp" 2>/dev/null

# honest defaults: learning progress, and a budget that skips most
# windows said at the default verbosity with the numbers and the options.
# A target busy in its own code: every window has something to learn.
"$WL_BUSY" 4000000000 >/dev/null &
e=$!
pids="$pids $e"
"$T" watch -p "$e" --backend emulate --period 100ms --learn 8 \
	--cpu-budget 1000000 -o /dev/null 2>err &
sa=$!
pids="$pids $sa"
wait_for err "learning: 2/8 windows" || fail "no 'learning: 2/8 windows'"
wait_for err "learning: 6/8 windows" || fail "no 'learning: 6/8 windows'"
wait_for err "baseline learnt from 8 windows" || fail "learning never ended"
kill -INT "$sa"
wait "$sa" || fail "watch -p: exit status $? after SIGINT"
"$T" watch -p "$e" --backend emulate --period 20ms -o /dev/null 2>err &
sa=$!
pids="$pids $sa"
wait_for err "[0-9]+ of [0-9]+ windows skipped over the CPU budget.*the emulate backend needs ~[0-9.]+% of a core.*budget is 1.0% \(--cpu-budget 10\); raise --cpu-budget \(to [0-9]+ or more\) or lengthen --period" ||
	fail "no budget report at the default verbosity"
kill -INT "$sa"
wait "$sa"
kill -9 "$e"
wait "$e" 2>/dev/null

# --cache-dir: the line lookups of one watcher, kept by build-id (0700
# directory), are read by the next one (-v -v says how many, from where)
bid=$(readelf -n "$WL_BUSY" | sed -n 's/.*Build ID: *//p')
"$WL_BUSY" 4000000000 >/dev/null &
e=$!
pids="$pids $e"
for round in 1 2; do
	"$T" watch -p "$e" --backend emulate --period 100ms --learn 2 \
		--cpu-budget 1000000 --cache-dir "$D/lc" -v -v \
		-o /dev/null 2>err &
	sa=$!
	pids="$pids $sa"
	wait_for err "baseline learnt from 2 windows" ||
		fail "--cache-dir: round $round: learning never ended"
	# read when a window first reaches the binary's own code (a window
	# may hold only libc's): waited for, as the windows go on
	[ $round = 2 ] &&
		{ wait_for err "[1-9][0-9]* line lookups from $D/lc/$bid.lines" ||
		  fail "--cache-dir: the second watcher did not read $bid.lines"; }
	kill -INT "$sa"
	wait "$sa" || fail "--cache-dir: exit status $? after SIGINT"
	[ -s "$D/lc/$bid.lines" ] ||
		fail "--cache-dir: no $bid.lines after round $round"
done
[ "$(stat -c %a "$D/lc")" = 700 ] || fail "--cache-dir: not mode 0700"
kill -9 "$e"
wait "$e" 2>/dev/null

# sd_notify: READY=1 once watching, WATCHDOG=1 within the watchdog
# period (WATCHDOG_USEC=1 s: a ping every 0.5 s), STOPPING=1 at the end
if command -v python3 >/dev/null; then
	python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(0.2)
end = time.time() + 30
with open(sys.argv[2], "w") as f:
	while time.time() < end:
		try:
			m = s.recv(4096).decode()
		except socket.timeout:
			continue
		f.write(m + "\n")
		f.flush()
		if "STOPPING=1" in m:
			break
' "$D/notify.sock" notify.log &
	lst=$!
	pids="$pids $lst"
	i=0
	while [ ! -S "$D/notify.sock" ] && [ $i -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	NOTIFY_SOCKET=$D/notify.sock WATCHDOG_USEC=1000000 sh -c \
		'WATCHDOG_PID=$$ exec "$0" "$@"' "$T" watch \
		--comm "${NAME}x" 2>err &
	sa=$!
	pids="$pids $sa"
	wait_for notify.log '^READY=1' || fail "sd_notify: no READY=1"
	wait_for notify.log '^WATCHDOG=1' || fail "sd_notify: no WATCHDOG=1"
	stop_watch
	wait "$lst"
	grep -q '^STOPPING=1' notify.log || fail "sd_notify: no STOPPING=1"
else
	echo "skipped the sd_notify check: no python3"
fi

if [ $fails -ne 0 ]; then
	sed 's/^/    /' err | tail -n 20
	echo "$fails failure(s)"
	exit 1
fi
echo "cli-watch: attached, re-attached after a restart, stopped cleanly"
