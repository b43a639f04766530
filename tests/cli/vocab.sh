#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
#
# cli-vocab: the option vocabulary every command shares (docs/cli.md):
# acceptance, rejection messages (one prefix, naming the bad value),
# K/M/G and time suffixes, -q/-v anywhere, `help COMMAND`, `--pid --help`,
# record's exit status passed on, decode --progress on a pipe, the
# snapshot hint naming the --socket given, and the old spellings kept as
# hidden aliases.
#
# usage: vocab.sh SENSOR_AGENT WORKLOAD
set -u
T=$1
WL=$2
D=$(mktemp -d "${TMPDIR:-/tmp}/sa-vocab.XXXXXX")
fails=0
bg=
cleanup() {
	[ -n "$bg" ] && kill "$bg" 2>/dev/null
	rm -rf "$D"
}
trap cleanup EXIT
cd "$D" || exit 1

fail() {
	echo "FAIL: $*"
	fails=$((fails + 1))
}

# run WANT_STATUS CMD...: runs CMD, stdout in $D/out, stderr in $D/err
run() {
	want=$1
	shift
	"$@" >"$D/out" 2>"$D/err"
	got=$?
	if [ "$got" != "$want" ]; then
		fail "exit $got (want $want): $*"
		sed 's/^/    /' "$D/err" | head -5
		return 1
	fi
	return 0
}

# err_has TEXT: stderr contains TEXT (fixed string)
err_has() {
	grep -qF -- "$1" "$D/err" || {
		fail "stderr lacks '$1':"
		sed 's/^/    /' "$D/err" | head -5
	}
}

# rejected CMD_NAME BAD CMD...: exit 2, one line "sensor-agent CMD_NAME: "
# that names the bad value
rejected() {
	name=$1
	bad=$2
	shift 2
	run 2 "$@" || return
	err_has "sensor-agent $name: "
	err_has "'$bad'"
	# watch (the service) starts its lines with the time and level
	if grep -Ev "^([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z [a-z]+: )?sensor-agent $name: " \
		"$D/err" | grep -q .; then
		fail "a line without the prefix 'sensor-agent $name: ': $*"
		sed 's/^/    /' "$D/err" | head -5
	fi
}

CMDS="decode record capture trigger baseline analyze watch"

# --help and `help COMMAND` print the same text, exit 0
for c in $CMDS; do
	run 0 "$T" "$c" --help && cp out help1
	grep -q "^Usage: sensor-agent $c" help1 ||
		fail "$c --help: no 'Usage: sensor-agent $c'"
	run 0 "$T" help "$c" && cmp -s out help1 ||
		fail "help $c differs from $c --help"
done
run 0 "$T" help && grep -q '^Usage: sensor-agent' out ||
	fail "help: no usage"
rejected help frobnicate "$T" help frobnicate
# the top help says `--pid --help`: it works, in both places
run 0 "$T" --pid --help && grep -q '^Usage: sensor-agent watch' out ||
	fail "--pid --help: no watch usage"
run 0 "$T" -p --help || true
for c in decode record capture trigger analyze watch; do
	run 0 "$T" "$c" --pid --help && grep -q "^Usage: sensor-agent $c" out ||
		fail "$c --pid --help"
done

# unknown options and missing values, with the command's prefix
for c in $CMDS; do
	[ "$c" = baseline ] && continue
	rejected "$c" --frobnicate "$T" "$c" --frobnicate
done
rejected "baseline add" --frobnicate "$T" baseline add --frobnicate
run 2 "$T" analyze --db && err_has "sensor-agent analyze: option '--db' needs a value"

# -p/--pid everywhere: 0, junk and a negative number are rejected
for c in decode record capture trigger analyze watch; do
	for bad in 0 x12 -5; do
		rejected "$c" "$bad" "$T" "$c" --pid="$bad"
	done
	rejected "$c" x "$T" "$c" -p x
done
rejected "baseline add" x "$T" baseline add -p x --db d w

# --format: the values each command has, the others named in the message
rejected decode jsonl "$T" decode -f jsonl w
err_has "text or json"
rejected analyze xml "$T" analyze --db d -f xml w
err_has "text, json or jsonl"
rejected watch json "$T" watch -p 1 --format json
rejected "baseline diff" xml "$T" baseline diff --db d -f xml a b
rejected "baseline add" jsonl "$T" baseline add --db d -f jsonl w

# durations and sizes: units named, bad ones rejected
rejected capture 10xs "$T" capture -p 1 --window 10xs
rejected capture 500us "$T" capture -p 1 --window 500us
err_has "whole milliseconds"
rejected capture 5s5 "$T" capture -p 1 --period 5s5
rejected capture 4000insn "$T" capture -p 1 --period 4000insn
rejected capture 4Q "$T" capture -p 1 --aux-size 4Q
rejected record 4X "$T" record --backend emulate --aux-size 4X -- true
rejected watch 1T "$T" watch -p 1 --window 1T
rejected record 0 "$T" record --backend emulate --count 0 -- true
rejected capture 99999999999 "$T" capture -p 1 --count 99999999999
rejected watch bogus "$T" watch -p 1 --backend bogus
# instructions only where the backend counts them
run 2 "$T" capture -p 1 --backend intel_pt --window 4000insn &&
	err_has "only the emulated backend counts instructions"
run 2 "$T" watch -p 1 --backend cs_etm --window 4000insn &&
	err_has "only the emulated backend counts instructions"
# record records only with the emulated backend, and says so
run 2 "$T" record --backend intel_pt -- true && err_has "--backend emulate"

# record: the command's exit status passes through, signals as 128+N
run 3 "$T" record --backend emulate -o r.data -- sh -c 'exit 3'
run 143 "$T" record --backend emulate -o r.data -- sh -c 'kill -TERM $$'
run 0 "$T" record --backend emulate -o r.data -- true
# suffixes where they are accepted, and the count of windows kept
run 0 "$T" record --backend emulate --aux-size 1M --psb-period 4K \
	--window 1ms --period 2ms --count 2 -o s.data -- "$WL" 50000000
[ -s s.data.000 ] && [ -s s.data.001 ] && [ ! -e s.data.002 ] ||
	fail "record --window 1ms --count 2: not two windows"
run 0 "$T" record --backend emulate --window 300insn --count 1 \
	-o i.data -- "$WL" 2000 && err_has "window 0: i.data.000: 300 instructions"
# the old spellings: --emulate, --window N (instructions), --windows N
run 0 "$T" record --emulate --window 200 --windows 1 -o o.data -- "$WL" 2000 &&
	err_has "window 0: o.data.000: 200 instructions"
# --window-insns and --window-ms each set their own part: N instructions,
# at most M ms (in either order), as before the shared vocabulary
run 0 "$T" record --backend emulate --window-insns 250 --window-ms 5000 \
	--count 1 -o m.data -- "$WL" 2000 &&
	err_has "window 0: m.data.000: 250 instructions"
run 0 "$T" record --backend emulate --window-ms 5000 --window-insns 260 \
	--count 1 -o n.data -- "$WL" 2000 &&
	err_has "window 0: n.data.000: 260 instructions"

# -q and -v anywhere on the line
run 0 "$T" record -q --backend emulate -o q.data -- true
[ -s err ] && fail "record -q: stderr not empty: $(cat err)"
run 0 "$T" -q record --backend emulate -o q.data -- true
[ -s err ] && fail "-q record: stderr not empty"
run 0 "$T" decode r.data -v && err_has "sensor-agent decode: r.data: decoded in"
run 0 "$T" -v decode r.data && err_has "sensor-agent decode: r.data: decoded in"
run 0 "$T" decode r.data
[ -s err ] && fail "decode without -v: stderr not empty: $(cat err)"

# decode: -i as perf's, -o, json; --progress draws no \r on a pipe and
# ends at 100%
run 0 "$T" decode r.data && cp out d1
run 0 "$T" decode -i r.data && cmp -s out d1 || fail "decode -i differs"
run 0 "$T" decode -f json -o d.json r.data && grep -q '"functions"' d.json ||
	fail "decode -f json -o: no JSON"
run 0 "$T" decode --progress r.data
if tr -d '\n' <err | grep -q "$(printf '\r')"; then
	fail "decode --progress: \\r written to a pipe"
fi
tail -n 1 err | grep -q 'decoding r.data: 100%$' ||
	fail "decode --progress: does not end at 100%: $(tail -n 1 err)"

# baseline --db, analyze --db (and the old --baseline), -o, jsonl
run 0 "$T" record --backend emulate -o a.data -- "$WL" 300
run 0 "$T" record --backend emulate -o b.data -- "$WL" 300
run 0 "$T" baseline add --db b.db a.data b.data
run 0 "$T" analyze --db b.db -o a.txt b.data && [ -s a.txt ] ||
	fail "analyze -o: no output"
run 0 "$T" analyze --baseline b.db b.data && cmp -s out a.txt ||
	fail "analyze --baseline (old spelling) differs from --db"
run 0 "$T" analyze --db b.db -f jsonl --all b.data && cp out a.jsonl
# json: the same records as one document, checked by python's parser
run 0 "$T" analyze --db b.db -f json --all -o a.json b.data
if command -v python3 >/dev/null; then
	python3 -c '
import json, sys
doc = json.load(open(sys.argv[1]))
lines = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
assert isinstance(doc, list), "not an array"
assert doc == lines, "the array differs from the JSON lines"
assert len(doc) > 0, "no record"
' a.json a.jsonl || fail "analyze -f json: not the JSON-lines records as one array"
fi
run 0 "$T" baseline list --db b.db && grep -q "2 windows added" out ||
	fail "baseline list: not 2 windows"

# library messages carry the command's prefix too
run 1 "$T" decode /nonexistent/x.data && err_has "sensor-agent decode: " &&
	err_has "/nonexistent/x.data"

# capture and the snapshot hint with the --socket given
sleep 30 &
bg=$!
run 0 "$T" capture -p "$bg" --backend emulate --window 2ms --aux-size 1M \
	--count 1 -o c.data && [ -s c.data ] || fail "capture: no c.data"
"$T" capture -p "$bg" --backend emulate --snapshot \
	--socket "$D/ctl.sock" >snap.out 2>snap.err &
cap=$!
i=0
while [ $i -lt 100 ] && ! grep -q '^ready' snap.out; do
	sleep 0.1
	i=$((i + 1))
done
kill -TERM "$cap" 2>/dev/null
wait "$cap"
grep -qF "trigger --socket $D/ctl.sock" snap.err ||
	fail "snapshot hint does not name --socket: $(cat snap.err)"
kill "$bg" 2>/dev/null
wait "$bg" 2>/dev/null
bg=

# the config file: keys are the long option names, the command line wins,
# errors name the file and the line
printf '# shared\nformat = json\n\n[decode]\noutput = cfg.json\n' >c.conf
run 0 "$T" decode --config c.conf r.data && grep -q '"functions"' cfg.json ||
	fail "config: format/output from the file not used"
rm -f cfg.json
run 0 "$T" --config c.conf decode -f text -o cfg.txt r.data &&
	grep -q '"functions"' cfg.txt && fail "config: the command line does not win"
printf 'window = 10ms\nwindw = 3\n' >bad.conf
rejected capture windw "$T" capture --config bad.conf -p 1
err_has "bad.conf:2: unknown key 'windw'"
printf '[capture]\nwindow = 10xs\n' >bad.conf
rejected capture 10xs "$T" capture --config bad.conf -p 1
err_has "bad.conf:2: bad --window '10xs'"
printf '[capture]\nfrobnicate = 1\n' >bad.conf
rejected capture frobnicate "$T" capture --config bad.conf -p 1
printf '[decode]\nprogress = maybe\n' >bad.conf
rejected decode maybe "$T" decode --config bad.conf r.data
printf '[nosuch]\n' >bad.conf
run 2 "$T" decode --config bad.conf r.data && err_has "bad.conf:1: unknown section [nosuch]"
# another command's section is not checked against this one
printf '[capture]\nsnapshot = true\n' >other.conf
run 0 "$T" decode --config other.conf r.data
run 2 "$T" decode --config /nonexistent/sa.conf r.data &&
	err_has "/nonexistent/sa.conf"

# log lines: time and level from watch; <N> prefixes, no time, when
# standard error is the journal's stream (JOURNAL_STREAM names it)
run 1 "$T" watch -p 2147483646
grep -Eq '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z error: sensor-agent watch: ' err ||
	fail "watch: no 'TIME error: ' log line: $(cat err)"
: >j.err
JOURNAL_STREAM=$(stat -c '%d:%i' j.err) "$T" watch -p 2147483646 2>>j.err
grep -q '^<3>sensor-agent watch: ' j.err || fail "journal: no <3> line: $(cat j.err)"
grep -Eq '[0-9]{2}:[0-9]{2}:[0-9]{2}Z' j.err && fail "journal: a timestamp"
# a JOURNAL_STREAM that is not our stderr (a redirected child) is ignored
JOURNAL_STREAM=1:1 "$T" watch -p 2147483646 2>j2.err
grep -q '^<' j2.err && fail "JOURNAL_STREAM of another file used"

# report and fleet take the same vocabulary: -p/--pid, --db (and the old
# --baseline), -o, -f text|json|jsonl, sizes and durations (2h, 1d; the
# fleet's old 30m stays an alias for 30min), one prefix per subcommand
for c in report fleet; do
	run 0 "$T" "$c" --help && cp out help1
	run 0 "$T" help "$c" && cmp -s out help1 ||
		fail "help $c differs from $c --help"
done
run 0 "$T" report --pid --help && grep -q '^Usage: sensor-agent report' out ||
	fail "report --pid --help"
rejected report --frobnicate "$T" report --frobnicate
for bad in 0 x12 -5; do
	rejected report "$bad" "$T" report --db b.db -o r.html --pid="$bad" b.data
done
rejected "fleet push" x "$T" fleet push --clickhouse u -p x w
rejected "fleet analyze" xml "$T" fleet analyze --clickhouse u --host h -f xml
err_has "text, json or jsonl"
rejected "fleet init" --format "$T" fleet init --clickhouse u --format json
rejected "fleet push" 4Q "$T" fleet push --clickhouse u --spool-max 4Q w
rejected "fleet push" 2x "$T" fleet push --clickhouse u --timeout 2x w
rejected "fleet analyze" 2x "$T" fleet analyze --clickhouse u --host h --since 2x
rejected fleet frobnicate "$T" fleet frobnicate
# accepted durations get as far as the (absent) server: exit 1, not 2
dead=http://127.0.0.1:1
for since in 2h 1d 30min 30m 3600 1700000000; do
	run 1 "$T" fleet analyze --clickhouse $dead --host h --since "$since" &&
		err_has "sensor-agent fleet analyze: "
done
run 1 "$T" fleet analyze --clickhouse $dead --host h --timeout 1min -f json
# -p reaches the decoder: pid 1 has nothing in b.data
run 1 "$T" report --db b.db -o r1.html -p 1 b.data &&
	err_has "sensor-agent report: b.data: no instruction could be decoded"
run 0 "$T" report --baseline b.db --output r2.html b.data && [ -s r2.html ] ||
	fail "report --baseline (old spelling): no report"
run 2 "$T" report --db b.db b.data && err_has "sensor-agent report: "

if [ $fails -ne 0 ]; then
	echo "$fails failure(s)"
	exit 1
fi
echo "cli-vocab: all checks passed"
