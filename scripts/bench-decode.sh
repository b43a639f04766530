#!/usr/bin/env bash
# Decode speed and memory of `sensor-agent decode` beside the peers, run in
# the same session on the same input: perf script (its own Intel PT
# decoder) and, when PTXED is set, libipt's ptxed.  The input is the real
# hase control_flow trace from ../shared/traces with its AUX data repeated
# K times (tests/bench/mkbig.c), so that the run is long enough to time.
#
#   scripts/bench-decode.sh [BUILD_DIR] [K]    (defaults: build, 2000)
#   PTXED=/tmp/libipt/build/bin/ptxed scripts/bench-decode.sh
#
# Prints wall and user seconds, peak RSS, and ratios against the peers.
#
# Then the decoders alone (tests/bench/bench_ipt.c, one fresh process per
# decoder, CPU seconds of the decode only): the fast backend (elements;
# fast-hist: into the history builder, counted), the libipt
# backend, libipt's block decoder with a pt_image_section_cache, and perf
# script --itrace=b, on traces of real runs of gzip, sqlite3 and python3
# made with qemu-user and tests/bench/mkpt.c (BIG_MB, default 50, MB
# each).  Prints MB/s of trace, M instructions/s, ratios to libipt-blk,
# peak RSS.
#
# And libxdc (kAFL/Nyx's decoder, github.com/nyx-fuzz/libxdc), built from
# its public sources under $XDC_DIR (default /tmp/libxdc-bench: cloned
# from the fetch tool's mirror /work/.mirror/nyx-fuzz+libxdc/repo when it
# is there, else from GitHub; skipped, saying why, when neither works)
# with tests/bench/bench_xdc.c compiled against that build.  libxdc
# decodes only Intel PT without return compression, timing packets or
# TNT-64 (as kAFL configures it), so mkpt writes a second trace of each
# run in that form, which libxdc, libipt-blk and the fast backend each
# decode once.  libxdc is checked first on a short gzip run: its edges
# (branch source and destination, in order) against libipt's.
#
# Not a test: timings vary with the machine; run it on an idle one.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
k=${2:-2000}
shared=../shared/traces/intel-pt/hase
[ -d "$shared" ] || { echo "bench-decode: $shared not found" >&2; exit 2; }
ninja -C "$build" src/tool/sensor-agent tests/bench/mkbig tests/bench/bench_ipt tests/bench/mkpt >/dev/null

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
rec=home/joerg/git/angr/hase/tests/bin/control_flow
mkdir -p "$tmp/symfs/$rec"
ln -s "$(realpath "$shared/control_flow/control_flow")" "$tmp/symfs/$rec/control_flow"
"$build/tests/bench/mkbig" "$shared/control_flow/control_flow-20180404T163033.perf" \
	"$tmp/big.perf" "$k"

# measure NAME CMD...: prints a row and leaves the wall seconds in $wall
measure() {
	local name=$1
	shift
	/usr/bin/time -f '%e %U %M' -o "$tmp/time" "$@" >"$tmp/out" 2>/dev/null
	read -r wall user rss <"$tmp/time"
	printf '%-44s %8.2f s wall %8.2f s user %8d KiB RSS\n' "$name" "$wall" "$user" "$rss"
}

insns=$("$build/src/tool/sensor-agent" decode --format json --symfs "$tmp/symfs" "$tmp/big.perf" |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["decode"]["instructions"])')
echo "input: hase control_flow AUX x $k: $(stat -c %s "$tmp/big.perf") bytes, $insns instructions"
echo

measure "sensor-agent decode (histories)" \
	"$build/src/tool/sensor-agent" decode --symfs "$tmp/symfs" "$tmp/big.perf"
ours=$wall
measure "sensor-agent decode --decoder fast" \
	"$build/src/tool/sensor-agent" decode --decoder fast --symfs "$tmp/symfs" "$tmp/big.perf"
measure "sensor-agent decode --branches" \
	"$build/src/tool/sensor-agent" decode --branches --symfs "$tmp/symfs" "$tmp/big.perf"
ours_br=$wall
measure "perf script --itrace=be (taken branches)" \
	perf script -i "$tmp/big.perf" --symfs "$tmp/symfs" --itrace=be -F ip,addr,flags
perf_be=$wall
measure "perf script --itrace=i0nse (instructions)" \
	perf script -i "$tmp/big.perf" --symfs "$tmp/symfs" --itrace=i0nse -F ip
perf_i=$wall
if [ -n "${PTXED:-}" ] && [ -x "$PTXED" ]; then
	# ptxed wants the raw stream and the code as a flat image
	python3 - "$tmp/big.perf" "$tmp/big.pt" <<'PY'
import struct, sys
d = open(sys.argv[1], "rb").read()
data_off, data_size = struct.unpack_from("<QQ", d, 40)
pos = data_off
while pos < data_off + data_size:
    typ, misc, size = struct.unpack_from("<IHH", d, pos)
    if typ == 71:  # PERF_RECORD_AUXTRACE
        n = struct.unpack_from("<Q", d, pos + 8)[0]
        open(sys.argv[2], "wb").write(d[pos + size:pos + size + n])
        break
    pos += size
PY
	measure "ptxed --block-decoder --quiet" "$PTXED" --block-decoder --quiet \
		--cpu 6/94/3 --pt "$tmp/big.pt" --elf "$shared/control_flow/control_flow"
	ptxed=$wall
fi
echo
python3 - "$ours" "$ours_br" "$perf_be" "$perf_i" "$insns" "${ptxed:-}" <<'PY'
import sys
ours, ours_br, perf_be, perf_i, insns = map(float, sys.argv[1:6])
def r(a, b):
    return "%.1fx" % (b / a) if a > 0 else "n/a"
print("decode rate: %.1f M instructions/s (histories)" % (insns / ours / 1e6 if ours else 0))
print("speed-up of sensor-agent decode over perf script --itrace=be:    %s" % r(ours, perf_be))
print("speed-up of sensor-agent decode over perf script --itrace=i0nse: %s" % r(ours, perf_i))
print("speed-up of --branches over perf script --itrace=be:             %s" % r(ours_br, perf_be))
if sys.argv[6]:
    print("speed-up of sensor-agent decode over ptxed --block-decoder:      %s" % r(ours, float(sys.argv[6])))
PY

# ---- the decoders alone, on large traces of real programs ----
# Each trace is a real run of a Debian program under qemu-user, turned
# into Intel PT by tests/bench/mkpt.c (capped at BIG_MB MB: OVF there),
# and decoded once per decoder, each in a fresh process.
echo
echo "decoders alone ($(date -u +%F), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'))"
big_mb=${BIG_MB:-50}
command -v qemu-x86_64 >/dev/null || { echo "bench-decode: qemu-x86_64 (Debian qemu-user) is needed for the large traces" >&2; exit 2; }
head -c 4000000 "$build/src/tool/sensor-agent" >"$tmp/input.bin"

# libxdc, built under /tmp from its public sources (never committed)
xdc_dir=${XDC_DIR:-/tmp/libxdc-bench}
xdc_mirror=/work/.mirror/nyx-fuzz+libxdc/repo
xdc=
if [ ! -e "$xdc_dir" ]; then
	if [ -d "$xdc_mirror" ]; then
		git clone -q "$xdc_mirror" "$xdc_dir" 2>/dev/null || true
	fi
	[ -f "$xdc_dir/libxdc.h" ] ||
		git clone -q https://github.com/nyx-fuzz/libxdc "$xdc_dir" 2>/dev/null || true
fi
if [ ! -f "$xdc_dir/libxdc.h" ]; then
	echo "libxdc: skipped: $xdc_dir is no libxdc checkout (not at $xdc_mirror and github.com unreachable)"
elif [ ! -f /usr/include/capstone/capstone.h ]; then
	echo "libxdc: skipped: capstone headers missing (apt-get install libcapstone-dev)"
elif ! make -C "$xdc_dir" -j2 libxdc.a >"$tmp/xdc-build.log" 2>&1; then
	echo "libxdc: skipped: its build failed (see make -C $xdc_dir libxdc.a)"
elif ! gcc -O2 -flto -I"$xdc_dir" -o "$tmp/bench_xdc" tests/bench/bench_xdc.c \
	"$xdc_dir/libxdc.a" -l:libcapstone.so.4 -lipt 2>"$tmp/xdc-cc.log"; then
	echo "libxdc: skipped: bench_xdc does not compile:"
	cat "$tmp/xdc-cc.log"
else
	xdc=$tmp/bench_xdc
	echo "libxdc: $(git -C "$xdc_dir" log -1 --format='%h %cs' 2>/dev/null) built in $xdc_dir"
fi
cat >"$tmp/loop.py" <<'PYL'
import json, re
d = {}
for i in range(400000):
    k = "k%d" % (i % 977)
    d[k] = d.get(k, 0) + len(re.findall(r"[0-9]", str(i * 7919)))
print(json.dumps(sorted(d.items())[:3]))
PYL
cat >"$tmp/db.sql" <<'SQL'
create table t(a integer, b text);
with recursive c(x) as (select 1 union all select x + 1 from c where x < 300000)
insert into t select x, hex(randomblob(8)) from c;
create index ta on t(b);
select count(*), sum(a) from t where b like '%AB%';
SQL
run_qemu() {	# NAME MB PROG ARGS...: qemu's log through a FIFO into mkpt
	local name=$1 mb=$2 prog=$3
	shift 3
	rm -f "$tmp/q.fifo"
	mkfifo "$tmp/q.fifo"
	qemu-x86_64 -d in_asm,exec,nochain -strace -D "$tmp/q.fifo" "$prog" "$@" \
		>/dev/null 2>&1 </dev/null &
	local qpid=$!
	"$build/tests/bench/mkpt" "$tmp/q.fifo" "$prog" "$tmp/$name.perf" "$mb" \
		${xdc:+"$tmp/$name-xdc.perf"} 2>&1 | sed "s/^/  $name: /"
	# at the size cap mkpt stops reading; the program need not finish
	kill "$qpid" 2>/dev/null || true
	wait "$qpid" 2>/dev/null || true
}
if [ -n "$xdc" ]; then
	# libxdc against libipt on a short run: the same edges in the same
	# order (bench_xdc.c: which ones), counted here
	head -c 100000 "$build/src/tool/sensor-agent" >"$tmp/small.bin"
	run_qemu check 5 /usr/bin/gzip -c "$tmp/small.bin"
	"$xdc" -e "$tmp/check-xdc.perf" >"$tmp/xdc.edges" || true
	"$xdc" -i "$tmp/check-xdc.perf" >"$tmp/ipt.edges" || true
	diff "$tmp/xdc.edges" "$tmp/ipt.edges" >"$tmp/edges.diff" || true
	echo "libxdc check (gzip, $(stat -c %s "$tmp/check-xdc.perf") bytes, $(grep -c . "$tmp/xdc.edges") edges from libxdc, $(grep -c . "$tmp/ipt.edges") from libipt):"
	echo "  $(grep -c '^[0-9]' "$tmp/edges.diff" || true) places differ: $(grep -c '^<' "$tmp/edges.diff" || true) libxdc edges against $(grep -c '^>' "$tmp/edges.diff" || true) of libipt's;" \
		"PSB+ in the trace: $(python3 -c 'import sys; print(open(sys.argv[1], "rb").read().count(bytes([2, 0x82]) * 8))' "$tmp/check-xdc.perf")"
	rm -f "$tmp"/check*.perf "$tmp"/*.edges
fi
# bench_row NAME DEC FILE BLK_SECS: one decoder, once, fresh process
bench_row() {
	local name=$1 dec=$2 file=$3
	if [ $dec = libxdc ]; then
		# a trace cut by the size cap may end with TNT bits libxdc
		# cannot place: decoder_error (3) after the whole trace
		/usr/bin/time -f '%M' -o "$tmp/time" "$xdc" "$file" >"$tmp/out" ||
			echo "  libxdc: $(cat "$tmp/out")"
		read -r _ bytes secs _ <"$tmp/out"
		insns=$ref_insns
	else
		/usr/bin/time -f '%M' -o "$tmp/time" \
			"$build/tests/bench/bench_ipt" $dec "$file" >"$tmp/out"
		read -r _ bytes secs insns _ <"$tmp/out"
	fi
	# time(1) puts "Command exited with non-zero status N" first
	rss=$(tail -n 1 "$tmp/time")
}
printf '%-8s %-14s %8s %8s %9s %9s %8s %9s\n' trace decoder MB "CPU s" "MB/s" "M insn/s" "x blk" "RSS KiB"
for name in gzip sqlite3 python3; do
	case $name in
	gzip) run_qemu gzip "$big_mb" /usr/bin/gzip -c "$tmp/input.bin" ;;
	sqlite3) run_qemu sqlite3 "$big_mb" /usr/bin/sqlite3 -init "$tmp/db.sql" :memory: ;;
	python3) run_qemu python3 "$big_mb" /usr/bin/python3 "$tmp/loop.py" ;;
	esac
	blk=
	for dec in libipt-blk fast fast-hist libipt perf; do
		if [ $dec = perf ]; then
			# perf's own decoder, printing every taken branch
			/usr/bin/time -f '%U %S %M' -o "$tmp/time" perf script \
				-i "$tmp/$name.perf" --itrace=b -F ip,addr >/dev/null 2>&1 || true
			read -r u sy rss <"$tmp/time"
			secs=$(python3 -c "print($u + $sy)")
			insns=$ref_insns
		else
			/usr/bin/time -f '%M' -o "$tmp/time" \
				"$build/tests/bench/bench_ipt" $dec "$tmp/$name.perf" >"$tmp/out"
			read -r _ bytes secs insns _ <"$tmp/out"
			read -r rss <"$tmp/time"
			[ $dec = libipt-blk ] && ref_insns=$insns
		fi
		python3 - "$name" "$dec" "$bytes" "$secs" "$insns" "$rss" "${blk:-$secs}" <<'PY'
import sys
n, dec, b, s, i, rss, blk = sys.argv[1:]
b, s, i, blk = float(b), float(s), float(i), float(blk)
print("%-8s %-14s %8.1f %8.2f %9.1f %9.1f %8.2f %9s" % (n, dec, b / 1e6, s,
      b / 1e6 / s if s else 0, i / 1e6 / s if s else 0, blk / s if s else 0, rss))
PY
		[ $dec = libipt-blk ] && blk=$secs
	done
	rm -f "$tmp/$name.perf"
	[ -n "$xdc" ] || continue
	# the same run in libxdc's form: the three decoders on the same bytes
	blk=
	for dec in libipt-blk fast libxdc; do
		bench_row "$name" $dec "$tmp/$name-xdc.perf"
		[ $dec = libipt-blk ] && ref_insns=$insns
		[ $dec = fast ] && fast_secs=$secs
		python3 - "$name" "xdc:$dec" "$bytes" "$secs" "$insns" "$rss" "${blk:-$secs}" <<'PY'
import sys
n, dec, b, s, i, rss, blk = sys.argv[1:]
b, s, i, blk = float(b), float(s), float(i), float(blk)
print("%-8s %-14s %8.1f %8.2f %9.1f %9.1f %8.2f %9s" % (n, dec, b / 1e6, s,
      b / 1e6 / s if s else 0, i / 1e6 / s if s else 0, blk / s if s else 0, rss))
PY
		[ $dec = libipt-blk ] && blk=$secs
	done
	python3 -c 'import sys; f, x = map(float, sys.argv[1:3]); print("%-8s speed of fast over libxdc (same trace): %.2fx" % (sys.argv[3], x / f if f else 0))' \
		"$fast_secs" "$secs" "$name"
	rm -f "$tmp/$name-xdc.perf"
done
echo "(CPU seconds of the decode alone; perf: user+system of perf script --itrace=b,"
echo " M insn/s for perf and libxdc with libipt-blk's instruction count on the same"
echo " trace; x blk: speed over libipt-blk on the same trace; xdc:*: the run's"
echo " trace in libxdc's form, no return compression or timing, TNT-8 only)"
