#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""live-watchdog: `sensor-agent watch -p PID` and `watch --pid PID` under
systemd's notify protocol, with a NOTIFY_SOCKET this test listens on (a
unix datagram socket) and WATCHDOG_USEC=2 s: READY=1 once attached, then
WATCHDOG=1 pings while the loop runs (a ping every third of the period),
STATUS= lines that name the target and say what the loop does (learning,
then the comparisons), and STOPPING=1 after SIGTERM, which ends it with
status 0.  The bounds are generous (2 minutes for five pings): the CI
machine is slow and loaded.

usage: watchdog.py SENSOR_AGENT WL_BRANCHES
"""
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

WATCHDOG_USEC = 2000000
PINGS = 5
BOUND_S = 120


def watch(tool, wl, d, flag, fails):
    path = os.path.join(d, "notify%s.sock" % flag)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(0.5)
    # a target busy in its own code: every window decodes something
    tgt = subprocess.Popen([wl, "4000000000"], stdout=subprocess.DEVNULL)
    env = dict(os.environ)
    env["NOTIFY_SOCKET"] = path
    env["WATCHDOG_USEC"] = str(WATCHDOG_USEC)
    env.pop("WATCHDOG_PID", None)
    errpath = os.path.join(d, "err%s" % flag)
    with open(errpath, "w") as err:
        sa = subprocess.Popen([tool, "watch", flag, str(tgt.pid),
                               "--backend", "emulate", "--period", "100ms",
                               "--learn", "3", "--cpu-budget", "1000000",
                               "-o", "/dev/null"], env=env, stderr=err)
    ready = None
    pings = []
    status = []
    stopping = False
    end = time.monotonic() + BOUND_S
    compared = False
    while time.monotonic() < end:
        try:
            msg = sock.recv(4096).decode()
        except socket.timeout:
            if sa.poll() is not None:
                break
            continue
        now = time.monotonic()
        for line in msg.split("\n"):
            if line == "READY=1" and ready is None:
                ready = now
            elif line == "WATCHDOG=1" and ready is not None:
                pings.append(now)
            elif line.startswith("STATUS="):
                status.append(line)
                compared |= "comparison" in line
        if ready is not None and len(pings) >= PINGS and compared:
            break
    alive = sa.poll() is None
    if alive:
        sa.send_signal(signal.SIGTERM)
    try:
        rc = sa.wait(60)
    except subprocess.TimeoutExpired:
        sa.kill()
        rc = "hung after SIGTERM"
    # what it sent on the way out
    end = time.monotonic() + 10
    while time.monotonic() < end and not stopping:
        try:
            stopping |= "STOPPING=1" in sock.recv(4096).decode()
        except socket.timeout:
            pass
    tgt.kill()
    tgt.wait()
    sock.close()

    def fail(what):
        fails.append("watch %s: %s" % (flag, what))

    if not alive:
        fail("ended before the test stopped it (status %s)" % rc)
    if rc != 0:
        fail("exit status %s after SIGTERM" % rc)
    if ready is None:
        fail("no READY=1")
    if len(pings) < PINGS:
        fail("%d WATCHDOG=1 after READY=1 in %d s, expected %d or more"
             % (len(pings), BOUND_S, PINGS))
    want = "pid %d (%s)" % (tgt.pid, os.path.basename(wl))
    if not any(want in s for s in status):
        fail("no STATUS= naming %s: %s" % (want, status))
    if not compared:
        fail("no STATUS= with a comparison: %s" % status)
    if not stopping:
        fail("no STOPPING=1 after SIGTERM")
    gaps = [b - a for a, b in zip(pings, pings[1:])]
    print("watch %s: READY=1, %d pings (largest gap %.2f s, WATCHDOG_USEC "
          "%.1f s), %d STATUS= lines, last: %s" % (
              flag, len(pings), max(gaps) if gaps else 0,
              WATCHDOG_USEC / 1e6, len(status),
              status[-1] if status else "-"))
    if fails:
        with open(errpath) as f:
            print("".join("    " + x for x in f.readlines()[-15:]))


def main():
    tool, wl = sys.argv[1], sys.argv[2]
    d = tempfile.mkdtemp(prefix="sa-watchdog.",
                         dir=os.environ.get("TMPDIR", "/tmp"))
    fails = []
    try:
        for flag in ("-p", "--pid"):
            watch(tool, wl, d, flag, fails)
    finally:
        shutil.rmtree(d, ignore_errors=True)
    for f in fails:
        print("FAIL: " + f)
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
