#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
#
# cli-install: `meson install --destdir` puts the binary, the man pages,
# the bash completion, the systemd units and the example config in
# place, and `man -l` renders every page without a warning.
#
# usage: install.sh BUILD_DIR
set -u
B=$1
if ! command -v meson >/dev/null; then
	echo "SKIP: meson is not in PATH"
	exit 77
fi
if ! command -v man >/dev/null; then
	echo "SKIP: man (man-db) is not installed"
	exit 77
fi
D=$(mktemp -d "${TMPDIR:-/tmp}/sa-install.XXXXXX")
trap 'rm -rf "$D"' EXIT
fails=0
fail() {
	echo "FAIL: $*"
	fails=$((fails + 1))
}

meson install -C "$B" --destdir "$D" --no-rebuild --quiet >"$D.log" 2>&1 || {
	cat "$D.log"
	rm -f "$D.log"
	echo "FAIL: meson install"
	exit 1
}
rm -f "$D.log"

# one of each, wherever the prefix put it
has() {
	found=$(find "$D" -path "*$1" | head -n 1)
	[ -n "$found" ] || fail "not installed: */$1"
}
has /bin/sensor-agent
has /share/bash-completion/completions/sensor-agent
has /sensor-agent/sensor-agent.conf
has /systemd/system/sensor-agent.service
has /systemd/system/sensor-agent@.service
pages="sensor-agent.1 sensor-agent-decode.1 sensor-agent-record.1
	sensor-agent-capture.1 sensor-agent-trigger.1 sensor-agent-baseline.1
	sensor-agent-analyze.1 sensor-agent-watch.1 sensor-agent.conf.5
	sensor-agent-report.1 sensor-agent-fleet.1"
for p in $pages; do
	sec=${p##*.}
	f=$(find "$D" -path "*/man/man$sec/$p" | head -n 1)
	if [ -z "$f" ]; then
		fail "man page $p not installed"
		continue
	fi
	# groff's warnings (and man's) go to stderr: there must be none
	MANWIDTH=80 LC_ALL=C.UTF-8 man --warnings=all -l "$f" \
		>"$D/out" 2>"$D/err" || fail "man -l $p failed"
	if [ -s "$D/err" ]; then
		fail "man -l $p: warnings:"
		cat "$D/err"
	fi
	grep -q NAME "$D/out" || fail "man -l $p: no NAME section"
done
# the installed binary runs and names its version
bin=$(find "$D" -path '*/bin/sensor-agent' | head -n 1)
[ -n "$bin" ] && "$bin" --version >"$D/v" 2>&1 &&
	grep -q '^sensor-agent .* (git ' "$D/v" && grep -q 'libipt ' "$D/v" &&
	grep -q 'capstone ' "$D/v" && grep -q 'OpenCSD ' "$D/v" ||
	fail "--version: $(cat "$D/v")"

if [ $fails -ne 0 ]; then
	echo "$fails failure(s)"
	exit 1
fi
echo "cli-install: all installed, every man page renders without warnings"
