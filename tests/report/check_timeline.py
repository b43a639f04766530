#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Checks a `sensor-agent decode --timeline` JSON against perf.

Usage: check_timeline.py PERF_DATA TIMELINE_JSON CLOCK [SYMFS]

- The file is JSON (Python's parser) in Chrome trace-event format:
  "traceEvents", "displayTimeUnit"; every event has ph, pid, tid, name;
  every X event ts and dur >= 0; a process_name and a thread_name
  metadata event for every (pid, tid) used; per thread, the X events are
  nested or disjoint (children inside their parents).
- otherData.clock is CLOCK ("instructions", "perf_time").
- The calls are perf's: `perf script --itrace=cr -F tid,flags,callindent,
  addr` lists every call with its target and its depth in perf's thread
  stack (the indentation); the X events of cat "call", in file order,
  have the same targets and, with the instruction clock (where starts are
  strictly ordered), the same depths relative to the first call (a
  depth counted from containment of the X intervals).

Exit 0 when all holds; 1 with the first difference; 77 (skip) when perf
cannot decode the file here.
"""
import json
import re
import subprocess
import sys


def fail(msg):
    print('FAIL: ' + msg)
    sys.exit(1)


def perf_calls(data, symfs):
    extra = ['--symfs', symfs] if symfs else []
    try:
        p = subprocess.run(['perf', 'script', '-i', data, '--itrace=cr',
                            '-F', 'tid,flags,callindent,addr'] + extra,
                           capture_output=True, text=True, timeout=120)
    except FileNotFoundError:
        print('SKIP: perf is missing')
        sys.exit(77)
    if p.returncode != 0 or not p.stdout.strip():
        print('SKIP: perf script cannot decode %s here: %s' %
              (data, p.stderr.strip()[:500]))
        sys.exit(77)
    flags = re.compile(r'^\s*(\d+)\s+(tr end  call|tr end  return|tr strt|'
                       r'tr end|call|return)')
    calls = []
    for line in p.stdout.splitlines():
        m = flags.match(line)
        if not m or 'call' not in m.group(2):
            continue
        rest = line[m.end():]
        col = m.end() + len(rest) - len(rest.lstrip(' '))
        addr = line.rsplit('=>', 1)[1].split()[0]
        calls.append((int(m.group(1)), col, int(addr, 16)))
    return calls


def main(data, path, clock, symfs=None):
    doc = json.load(open(path))
    if not isinstance(doc, dict) or 'traceEvents' not in doc:
        fail('no traceEvents')
    if doc.get('displayTimeUnit') not in ('ms', 'ns'):
        fail('displayTimeUnit %r' % doc.get('displayTimeUnit'))
    got_clock = doc.get('otherData', {}).get('clock')
    if got_clock != clock:
        fail('clock %r, expected %r' % (got_clock, clock))
    named = {}
    xs = {}
    for ev in doc['traceEvents']:
        for k in ('ph', 'pid', 'tid', 'name'):
            if k not in ev:
                fail('event without %s: %r' % (k, ev))
        key = (ev['pid'], ev['tid'])
        if ev['ph'] == 'M':
            named.setdefault(key, set()).add(ev['name'])
            continue
        if ev['ph'] == 'X':
            if ev['ts'] < 0 or ev['dur'] < 0:
                fail('negative ts or dur: %r' % ev)
            xs.setdefault(key, []).append(ev)
        elif ev['ph'] == 'i':
            if ev['ts'] < 0:
                fail('negative ts: %r' % ev)
        else:
            fail('unexpected ph %r' % ev['ph'])
    for key in xs:
        if named.get(key) != {'process_name', 'thread_name'}:
            fail('thread %r not named: %r' % (key, named.get(key)))
    eps = 1e-6
    for key, evs in xs.items():
        n = len(evs)
        if n > 20000:
            fail('too many events for this check')
        for i in range(n):
            a0, a1 = evs[i]['ts'], evs[i]['ts'] + evs[i]['dur']
            for j in range(i + 1, n):
                b0, b1 = evs[j]['ts'], evs[j]['ts'] + evs[j]['dur']
                inside = a0 <= b0 + eps and b1 <= a1 + eps
                outside = b0 <= a0 + eps and a1 <= b1 + eps
                apart = b0 >= a1 - eps or b1 <= a0 + eps
                if not (inside or outside or apart):
                    fail('overlap without nesting: %r and %r' %
                         (evs[i], evs[j]))

    pc = perf_calls(data, symfs)
    if not pc:
        fail('perf lists no call: nothing to compare with')
    tids = sorted({c[0] for c in pc})
    calls = 0
    for tid in tids:
        want = [(c[1], c[2]) for c in pc if c[0] == tid]
        key = [k for k in xs if k[1] == tid]
        evs = [e for k in key for e in xs[k] if e.get('cat') == 'call']
        have = [int(e['args']['addr'], 16) for e in evs]
        if have != [w[1] for w in want]:
            for i, (h, w) in enumerate(zip(have, want)):
                if h != w[1]:
                    fail('tid %d call %d: target %#x, perf %#x' %
                         (tid, i, h, w[1]))
            fail('tid %d: %d calls, perf %d' % (tid, len(have), len(want)))
        if clock == 'instructions':
            depth = []
            for e in evs:
                e0, e1 = e['ts'], e['ts'] + e['dur']
                depth.append(sum(1 for a in evs if a is not e and
                                 a['ts'] <= e0 and e1 <= a['ts'] + a['dur']
                                 and (a['ts'] < e0 or
                                      e1 < a['ts'] + a['dur'])))
            steps = sorted({w[0] for w in want})
            step = min((b - a for a, b in zip(steps, steps[1:])),
                       default=4)
            for i, (d, w) in enumerate(zip(depth, want)):
                pd = (w[0] - want[0][0]) // step
                if d - depth[0] != pd:
                    fail('tid %d call %d (%s at %#x): depth %+d, perf %+d'
                         % (tid, i, evs[i]['name'], w[1], d - depth[0], pd))
        calls += len(have)
    print('ok: %d calls in %d threads match perf' % (calls, len(tids)))


if __name__ == '__main__':
    main(*sys.argv[1:5])
