#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
#
# cli-units: `systemd-analyze verify` passes on the shipped units, without
# a single warning, with their man pages (Documentation=) found.  The
# units are verified as built, only ExecStart pointed at the build's
# binary (verify checks that it is executable).
#
# usage: units.sh BUILD_DIR
set -u
B=$1
if ! command -v systemd-analyze >/dev/null; then
	echo "SKIP: systemd-analyze is not installed (Debian: systemd)"
	exit 77
fi
D=$(mktemp -d "${TMPDIR:-/tmp}/sa-units.XXXXXX")
trap 'rm -rf "$D"' EXIT
fails=0
fail() {
	echo "FAIL: $*"
	fails=$((fails + 1))
}

# can it run here at all?
printf '[Unit]\nDescription=probe\n[Service]\nExecStart=/bin/true\n' \
	>"$D/sa-probe.service"
if ! systemd-analyze verify --man=no "$D/sa-probe.service" >"$D/probe" 2>&1; then
	echo "SKIP: systemd-analyze verify cannot run in this container:"
	cat "$D/probe"
	exit 77
fi

# the man pages, where man(1) finds them
mkdir -p "$D/man/man1" "$D/man/man5"
for p in "$B"/docs/man/*.1; do ln -s "$p" "$D/man/man1/"; done
for p in "$B"/docs/man/*.5; do ln -s "$p" "$D/man/man5/"; done
[ -e "$D/man/man1/sensor-agent-watch.1" ] || fail "no built man pages"

mkdir "$D/units"
for u in sensor-agent.service sensor-agent@.service; do
	[ -f "$B/src/tool/$u" ] || { fail "$u not built"; continue; }
	sed "s|^ExecStart=[^ ]*/sensor-agent |ExecStart=$B/src/tool/sensor-agent |" \
		"$B/src/tool/$u" >"$D/units/$u"
	grep -q "^ExecStart=$B/src/tool/sensor-agent watch" "$D/units/$u" ||
		fail "$u: ExecStart is not 'sensor-agent watch ...'"
done
# a template is verified through an instance
cp "$D/units/sensor-agent@.service" "$D/units/sensor-agent@nginx.service"
cd "$D/units" || exit 1
MANPATH="$D/man" systemd-analyze verify --man=yes ./sensor-agent.service \
	./sensor-agent@nginx.service >"$D/out" 2>&1 ||
	fail "systemd-analyze verify failed"
if [ -s "$D/out" ]; then
	fail "systemd-analyze verify: warnings:"
	cat "$D/out"
fi
# least privilege, as promised in the units' comments
for u in sensor-agent.service sensor-agent@nginx.service; do
	for want in 'Type=notify' 'KillMode=mixed' 'TimeoutStopSec=' \
		'CapabilityBoundingSet=CAP_PERFMON CAP_SYS_PTRACE' \
		'ProtectSystem=strict' 'PrivateTmp=yes' \
		'StateDirectory=sensor-agent' 'NoNewPrivileges=yes'; do
		grep -q "^$want" "$u" || fail "$u: no $want"
	done
done

if [ $fails -ne 0 ]; then
	echo "$fails failure(s)"
	exit 1
fi
echo "cli-units: systemd-analyze verify passes, no warning"
