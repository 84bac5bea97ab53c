#!/usr/bin/env python3
"""Regenerate the small seed corpus of the libsvhost fuzzers (fuzz/corpus/).

virtq seeds: 4 control bytes (queue size, features, last_avail, region
adjacency) followed by guest memory: descriptor table at 0, avail ring and
used ring right after, buffers and indirect tables at 0x400.
ring seeds: a TO_GUEST ring then a TO_VSWITCH ring (256-byte header + 64
descriptors of 32 bytes each), as svhost.h lays them out.
"""
import os
import struct

here = os.path.dirname(os.path.abspath(__file__))


def virtq_seed(num_log, feats, descs, heads, ind=None, extra=b""):
    num = 1 << num_log
    mem = bytearray(2 * 4096)
    for i, (addr, ln, fl, nx) in enumerate(descs):
        struct.pack_into("<QIHH", mem, 16 * i, addr, ln, fl, nx)
    avail = 16 * num
    struct.pack_into("<HH", mem, avail, 0, len(heads))
    for i, h in enumerate(heads):
        struct.pack_into("<H", mem, avail + 4 + 2 * i, h)
    if ind:
        for i, (addr, ln, fl, nx) in enumerate(ind):
            struct.pack_into("<QIHH", mem, 0x600 + 16 * i, addr, ln, fl, nx)
    mem[0x400:0x400 + len(extra)] = extra
    ctl = bytes([num_log - 1, feats, 0, 1])
    return ctl + bytes(mem[:0x800])


def write(sub, name, data):
    d = os.path.join(here, "corpus", sub)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


NEXT, WRITE, INDIRECT = 1, 2, 4
write("virtq", "tx-two-desc", virtq_seed(3, 3, [(0x400, 12, NEXT, 1), (0x40c, 100, 0, 0)], [0]))
write("virtq", "tx-indirect", virtq_seed(3, 3, [(0x600, 48, INDIRECT, 0)], [0],
                                          ind=[(0x400, 12, NEXT, 1), (0x40c, 50, NEXT, 2),
                                               (0x43e, 50, 0, 0)]))
write("virtq", "rx-mrg", virtq_seed(3, 7, [(0x400, 256, WRITE, 0), (0x500, 256, WRITE, 0)], [0, 1]))
write("virtq", "loop", virtq_seed(2, 1, [(0x400, 10, NEXT, 1), (0x40a, 10, NEXT, 0)], [0]))


def ring(prod, cons, descs):
    r = bytearray(256 + 64 * 32)
    struct.pack_into("<II", r, 0, prod, 0)
    struct.pack_into("<II", r, 64, cons, 0)
    for i, (off, ln, fl) in enumerate(descs):
        struct.pack_into("<QIH", r, 256 + 32 * i, off, ln, fl)
    return bytes(r)


pkt = [(0, 100, 0), (2048, 2048, 1), (4096, 10, 0)]
empties = [(i * 2048, 0, 0) for i in range(8)]
write("ring", "good", ring(3, 0, pkt) + ring(8, 0, empties))
write("ring", "bad-offsets", ring(2, 0, [(7, 100, 0), (1 << 40, 5, 0)]) + ring(2, 0, [(3, 0, 0), (2048, 0, 0)]))
write("ring", "index-jump", ring(1000, 0, pkt) + ring(0xffffffff, 0, empties))
