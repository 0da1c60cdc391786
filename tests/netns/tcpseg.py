#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Crafted TCP segments, sent from a raw socket (the kernel adds the IP
# header): tcpseg.py SRC DST SPORT DPORT SEQ ACK FLAGS, FLAGS letters of SAFR
# (and X: a wrong checksum);
# DPORT may be a range LO-HI: one segment to each port.  For the kernel
# ground-truth tests (21, 23: their hosts drop their own TCP input, so only
# these segments exist) and for unsolicited segments (76).
import socket
import struct
import sys


def csum(b):
    if len(b) % 2:
        b += b'\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xffff)
    s += s >> 16
    return ~s & 0xffff


src, dst, sp, dp, seq, ack, flags = sys.argv[1:8]
fl = sum({'S': 2, 'A': 16, 'F': 1, 'R': 4}[c] for c in flags if c != 'X')
lo, _, hi = dp.partition('-')
raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)
for port in range(int(lo), int(hi or lo) + 1):
    h = struct.pack('!HHIIBBHHH', int(sp), port, int(seq), int(ack), 5 << 4, fl, 64000, 0, 0)
    ph = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack('!BBH', 0, 6, len(h))
    h = h[:16] + struct.pack('!H', csum(ph + h) ^ (0x5555 if 'X' in flags else 0)) + h[18:]
    raw.sendto(h, (dst, 0))
