#!/bin/sh
# Runs Linux perf on a fake PMU tree to see the perf_event_attr perf itself
# builds from config terms: a private mount namespace shows the fake
# <pmu> directory beside the real PMUs under /sys/bus/event_source/devices.
# perf parses the terms through the fake format/ and caps/ files, prints
# the attr (-vvv) and then fails to open it (no such hardware).
#
# usage: perf_parse.sh FAKE_PMU_DIR PMU_NAME EVENT [perf record args...]
# Exit 77 when perf, unshare or mount privileges are missing.
set -u
fake=$1 name=$2 ev=$3
shift 3
command -v perf >/dev/null 2>&1 || { echo "SKIP: no perf" >&2; exit 77; }
command -v unshare >/dev/null 2>&1 || { echo "SKIP: no unshare" >&2; exit 77; }
unshare -m true 2>/dev/null || { echo "SKIP: unshare -m not permitted" >&2; exit 77; }
exec unshare -m sh -c '
set -e
fake=$1 name=$2 ev=$3
shift 3
mount --make-rprivate /
d=/sys/bus/event_source/devices
t=$(mktemp -d)
mount -t tmpfs none "$t"
for e in "$d"/*; do ln -s "$(readlink -f "$e")" "$t/$(basename "$e")"; done
cp -r "$fake" "$t/$name"
mount --bind "$t" "$d"
perf record -vvv -e "$ev" "$@" -o /dev/null -- true 2>&1 || true
# The namespace takes its mounts along; the directory is on the real /tmp.
umount "$d"
umount "$t"
rmdir "$t"
' sh "$fake" "$name" "$ev" "$@"
