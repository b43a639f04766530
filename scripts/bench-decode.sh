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
# Not a test: timings vary with the machine; run it on an idle one.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
k=${2:-2000}
shared=../shared/traces/intel-pt/hase
[ -d "$shared" ] || { echo "bench-decode: $shared not found" >&2; exit 2; }
ninja -C "$build" src/tool/sensor-agent tests/bench/mkbig >/dev/null

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
