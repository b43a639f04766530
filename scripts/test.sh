#!/usr/bin/env bash
# Sets everything up (scripts/setup.sh) and runs every test suite.
# Real-hardware traces are read from ../shared/traces beside the checkout;
# the suites that need them skip (exit 77) when they are absent.
#
#   scripts/test.sh                  default build in ./build
#   BUILD=dir MESON_ARGS=-Db_sanitize=address,undefined scripts/test.sh
set -uo pipefail
cd "$(dirname "$0")/.."
build=${BUILD:-build}
scripts/setup.sh || exit 1
meson test -C "$build" --print-errorlogs --num-processes 2 \
	${MESON_TEST_ARGS:-}
status=$?
# One line with the tally, from meson's machine-readable log.
python3 - "$build/meson-logs/testlog.json" <<'PY'
import json, sys
n = {"OK": 0, "FAIL": 0, "SKIP": 0}
for line in open(sys.argv[1]):
    r = json.loads(line).get("result", "")
    if r in ("OK", "EXPECTEDFAIL"):
        n["OK"] += 1
    elif r == "SKIP":
        n["SKIP"] += 1
    else:
        n["FAIL"] += 1
print("tests: %d passed, %d failed, %d skipped" % (n["OK"], n["FAIL"], n["SKIP"]))
PY
exit $status
