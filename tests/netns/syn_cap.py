#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Captures one TCP segment off the wire and describes its header.

    syn_cap.py IFACE PORT READYFILE [SECONDS]

On a packet socket bound to IFACE, waits for the first incoming IPv4 TCP
segment with PORT as its source or destination port and prints one line:
    sport=S dport=D flags=SA hlen=24 tot=44 mss=536 csum=ok
(mss=none without an MSS option; csum: the TCP checksum over the pseudo-
header verifies, or bad).  Creates READYFILE once the socket listens, so
the caller can start sending.  Exits 1 after SECONDS (default 20) without
one.
"""
import os
import select
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gw_e2e import csum  # noqa: E402

ETH_P_IP, PACKET_OUTGOING = 0x0800, 4


def describe(pkt):
    ihl = (pkt[0] & 0xF) * 4
    tot = struct.unpack_from("!H", pkt, 2)[0]
    th = pkt[ihl:tot]
    hlen = (th[12] >> 4) * 4
    mss, i = "none", 20
    while i < hlen:
        kind = th[i]
        if kind == 0:
            break
        if kind == 1:
            i += 1
            continue
        if i + 1 >= hlen or th[i + 1] < 2:
            break
        if kind == 2 and th[i + 1] == 4:
            mss = str(struct.unpack_from("!H", th, i + 2)[0])
        i += th[i + 1]
    ph = pkt[12:20] + struct.pack("!BBH", 0, socket.IPPROTO_TCP, len(th))
    ok = csum(ph + th) == 0
    flags = "".join(c for c, b in zip("FSRPAU", (1, 2, 4, 8, 16, 32)) if th[13] & b)
    sp, dp = struct.unpack_from("!HH", th)
    return "sport=%d dport=%d flags=%s hlen=%d tot=%d mss=%s csum=%s" % (
        sp, dp, flags, hlen, tot, mss, "ok" if ok else "bad")


def main():
    iface, port, ready = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    secs = float(sys.argv[4]) if len(sys.argv) > 4 else 20.0
    s = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_IP))
    s.bind((iface, ETH_P_IP))
    open(ready, "w").close()
    end = time.monotonic() + secs
    while time.monotonic() < end:
        if not select.select([s], [], [], max(0.0, end - time.monotonic()))[0]:
            break
        pkt, addr = s.recvfrom(65535)
        if addr[2] == PACKET_OUTGOING or len(pkt) < 40 or pkt[9] != socket.IPPROTO_TCP:
            continue
        ihl = (pkt[0] & 0xF) * 4
        if len(pkt) < ihl + 20:
            continue
        sp, dp = struct.unpack_from("!HH", pkt, ihl)
        if port in (sp, dp):
            print(describe(pkt), flush=True)
            return 0
    return 1


if __name__ == "__main__":
    sys.exit(main())
