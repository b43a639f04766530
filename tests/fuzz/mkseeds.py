#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Writes the hand-made seeds of tests/fuzz/corpus (see tests/fuzz/README).

Deterministic: running it again rewrites the same bytes.  The ELF seeds
(fuzz_elf) and fuzz_perfdata/wl_branches.data are not made here: see the
README for the commands.
"""
import os
import struct
import sys

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def put(target, name, data):
    d = os.path.join(root, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# fuzz_ring: byte 0 = sample_type bits (TID 1, TIME 2, ID 4, CPU 8,
# IDENTIFIER 16) | overwrite 32; bytes 1-2 data_tail, 3-4 data_head -
# data_tail, 5-8 aux_head; then the 4 KiB data ring and the AUX area.
def ring_input(bits, recs, tail=0, aux_head=0):
    ring = bytearray(4096)
    for i, b in enumerate(recs):
        ring[(tail + i) % 4096] = b
    return bytes([bits]) + struct.pack("<HHI", tail, len(recs), aux_head) \
        + bytes(ring)


def rec(rtype, misc, body, trailer):
    body = body + b"\0" * (-len(body) % 8)
    return struct.pack("<IHH", rtype, misc, 8 + len(body) + len(trailer)) \
        + body + trailer


tr = struct.pack("<IIQQ", 1234, 1235, 1000, 42)     # TID, TIME, IDENTIFIER
comm = rec(3, 0x2000, struct.pack("<II", 10, 11) + b"worker\0", tr)
mmap2 = rec(10, 2, struct.pack("<IIQQQIIQQII", 10, 11, 0x400000, 0x1000, 0,
                               8, 1, 777, 0, 5, 2) + b"/usr/bin/worker\0", tr)
itrace = rec(12, 0, struct.pack("<II", 10, 11), tr)
aux = rec(11, 0, struct.pack("<QQQ", 0, 256, 1), tr)
lost = rec(2, 0, struct.pack("<QQ", 42, 3), tr)
exit_ = rec(4, 0, struct.pack("<IIIIQ", 10, 1, 10, 1, 5555), tr)
sb = comm + mmap2 + itrace + aux + lost + exit_
put("fuzz_ring", "sideband", ring_input(0x13, sb))
# The same records across the end of the 4 KiB ring.
put("fuzz_ring", "sideband-wrap", ring_input(0x13, sb, tail=4096 - 64))
# An AUX area after the ring: overwrite mode, and normal mode.
put("fuzz_ring", "aux-snapshot", ring_input(0x33, aux + lost, aux_head=300)
    + bytes(range(256)) * 8)
put("fuzz_ring", "aux-normal", ring_input(0x13, aux, aux_head=1000)
    + bytes(range(256)) * 4)
# The UBSan reproducer: tail 2, head 20, a COMM header at ring offset 2
# (misaligned reads in the old reader); tests/capture tc_ring_misaligned.
put("fuzz_ring", "misaligned-tail-30",
    bytes([0]) + struct.pack("<HHI", 2, 18, 0)
    + bytes([0, 0, 3, 0, 0, 0, 0x12, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0x61, 0,
             0, 0, 0]))

# fuzz_ipt: byte 0 = 0x80 (PSB, PSBEND, MODE.Exec 64, TIP.PGE(0x401000)
# prefixed) | number of code bytes at 0x401000; then the PT packets.
loop = bytes([
    0x31, 0xc0,                     # 401000: xor eax, eax
    0xff, 0xc0,                     # 401002: inc eax
    0x83, 0xf8, 0x05,               # 401004: cmp eax, 5
    0x75, 0xf9,                     # 401007: jne 401002
    0xe8, 0x02, 0x00, 0x00, 0x00,   # 401009: call 401010
    0xeb, 0xf0,                     # 40100e: jmp 401000
    0xff, 0xe1,                     # 401010: jmp rcx
])
tnt8 = bytes([0b10111110])          # short TNT: 6 bits 111110 + stop
tip = bytes([0x0d]) + struct.pack("<Q", 0x401000)   # TIP, 64-bit IP
pgd = bytes([0x01])                 # TIP.PGD, IP suppressed
put("fuzz_ipt", "loop-tnt", bytes([0x80 | len(loop)]) + loop + tnt8 + tnt8
    + tip + tnt8 + pgd)
put("fuzz_ipt", "loop-pad-ovf", bytes([0x80 | len(loop)]) + loop + tnt8
    + bytes([0x00] * 4) + bytes([0x02, 0xf3]) + tip + tnt8 + pgd)
psb = bytes([0x02, 0x82] * 8)
put("fuzz_ipt", "resync", bytes([len(loop)]) + loop + psb
    + bytes([0x02, 0x23, 0x99, 0x01, 0x71]) + struct.pack("<IH", 0x401000, 0)
    + tnt8 + b"\xaa" * 8 + psb + bytes([0x02, 0x23]) + pgd)

# fuzz_snapshot: up to four .ini texts separated by "%%" lines.
snap = [
    "[snapshot]\nversion=1.0\n[device_list]\ndevice0=cpu_0.ini\n"
    "device1=etm_0.ini\n[trace]\nmetadata=trace.ini\n",
    "[device]\nname=cpu_0\nclass=core\ntype=Cortex-A53\n[regs]\n"
    "PC(size:64)=0xffffffc000081000\n[dump1]\nfile=kernel.bin\n"
    "address=0xffffffc000081000\nlength=0x1000\n",
    "[device]\nname=ETM_0\nclass=trace_source\ntype=ETM4\n[regs]\n"
    "TRCCONFIGR(0x004)=0xC1\nTRCTRACEIDR(0x010)=0x10\n"
    "TRCIDR0(0x078)=0x28000EA1\nTRCIDR1=0x4100F402\nTRCIDR2=0x488\n"
    "TRCIDR8=0x0\nTRCIDR9=0x0\nTRCIDR10=0x0\nTRCIDR11=0x0\n"
    "TRCIDR12=0x0\nTRCIDR13=0x0\n",
    "[trace_buffers]\nbuffers=buffer0\n[buffer0]\nname=ETB_0\n"
    "file=cstrace.bin\nformat=coresight\n[source_buffers]\n"
    "ETM_0=ETB_0\n[core_trace_sources]\ncpu_0=ETM_0\n",
]
put("fuzz_snapshot", "etm4", "%%\n".join(snap).encode())
put("fuzz_snapshot", "etm3-ptm", "%%\n".join([
    snap[0], snap[1].replace("Cortex-A53", "Cortex-A15"),
    "[device]\nname=ETM_0\nclass=trace_source\ntype=PTM1.1\n[regs]\n"
    "ETMCR(0x000)=0x10001000\nETMTRACEIDR=0x12\nETMIDR=0x411CF301\n"
    "ETMCCER=0x34C01AC2\n",
    snap[3].replace("coresight", "dstream_coresight")]).encode())
put("fuzz_snapshot", "dup-keys", (snap[0] + "version=2\n[trace]\n"
                                  "metadata=x\n").encode())
# cs_etm AUXTRACE_INFO priv words: the whole input is also parsed as one.
put("fuzz_snapshot", "perf-info",
    struct.pack("<8Q", 3, 1, 0x4040404000000000, 0, 0x1000, 0x10,
                0x28000EA1, 0x4100F402))

# fuzz_linecache: DIR/BUILDID.lines files of corpus/fuzz_elf/tiny-static
# (src/image/linecache.c): header (magic, build-id, its length, files,
# entries, names' size, FNV-1a sum; the harness patches build-id and sum),
# entries (ELF address, file index or 0xffffffff for "no line", line),
# NUL-terminated names.  Addresses in tiny-static's .text (0x40010c-).
def lines_file(ents, names):
    strs = b"".join(n.encode() + b"\0" for n in names)
    body = b"".join(struct.pack("<QIi", a, f, l) for a, f, l in ents)
    hdr = b"SALINES1" + bytes(20) + struct.pack(
        "<IIIQQ", 20, len(names), len(ents), len(strs), 0)
    return hdr + body + strs


put("fuzz_linecache", "three", lines_file(
    [(0x40010c, 0, 3), (0x400120, 0, 5), (0x400143, 0xffffffff, 0)],
    ["/src/seed-src/tiny.c"]))
put("fuzz_linecache", "two-files", lines_file(
    [(0x40010c, 0, 3), (0x400110, 1, 7), (0x400143, 0, 12)],
    ["/src/seed-src/tiny.c", "tiny.h"]))
put("fuzz_linecache", "empty", lines_file([], []))
