#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
#
# live-boundaries: the module boundaries of docs/architecture.md around
# the live loop, on the sources and on the built libraries:
#  - src/anomaly (baseline store, detector) sees only histories: it
#    includes no capture, decode or live header, and libsa_anomaly.a
#    calls no function of src/capture, src/session, src/emu or src/live;
#  - src/live (the loop) knows nothing of the fleet store, OTLP or
#    systemd: no such header, no such call in libsa_live.a.
#
# usage: boundaries.sh SOURCE_DIR LIBSA_ANOMALY LIBSA_LIVE
set -u
SRC=$1
ANOM=$2
LIVE=$3
fails=0
fail() {
	echo "FAIL: $*"
	fails=$((fails + 1))
}

# includes: "sensor/X.h" or "X.h" of another module's private headers
bad=$(grep -nE '#include [<"](sensor/(backend|capture|session|emu|live|coresight|perfdata|fleet|otlp)\.h|decoder\.h|intel-pt\.h|opencsd)' \
	"$SRC"/src/anomaly/*.[ch])
[ -z "$bad" ] || fail "src/anomaly includes capture/decode/live headers:
$bad"
bad=$(grep -nE '#include [<"](sensor/(fleet|otlp)\.h|systemd/|curl/)' \
	"$SRC"/src/live/*.[ch])
[ -z "$bad" ] || fail "src/live includes fleet, OTLP or systemd headers:
$bad"

# the libraries' undefined symbols: what they call
command -v nm >/dev/null || { echo "SKIP: no nm"; exit 77; }
bad=$(nm -u "$ANOM" | awk '{ print $2 }' |
	grep -E '^sa_(backend|cap|capture|decode|session|emu|live|pd|fleet|otlp)_' |
	sort -u)
[ -z "$bad" ] || fail "libsa_anomaly.a calls outside histories:
$bad"
bad=$(nm -u "$LIVE" | awk '{ print $2 }' |
	grep -E '^(sa_(fleet|otlp)_|sd_|curl_)' | sort -u)
[ -z "$bad" ] || fail "libsa_live.a calls the fleet, OTLP or systemd:
$bad"
# and the loop does join them: a test that cannot fail proves nothing
nm -u "$LIVE" | grep -q ' sa_backend_capture$' ||
	fail "libsa_live.a does not call sa_backend_capture (wrong library?)"
nm -u "$LIVE" | grep -q ' sa_decode_file$' ||
	fail "libsa_live.a does not call sa_decode_file"
nm -u "$LIVE" | grep -q ' sa_anomaly_detect$' ||
	fail "libsa_live.a does not call sa_anomaly_detect"

[ $fails -eq 0 ] || exit 1
echo "live-boundaries: src/anomaly sees only histories; src/live joins capture, decode and detection and knows no fleet, OTLP or systemd"
