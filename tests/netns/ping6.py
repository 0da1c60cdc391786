#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# ping6.py DST [SIZE]: one ICMPv6 echo of ours (a raw socket, identifier
# from the PID) of SIZE bytes of ICMPv6 (default 64) to DST, resent every
# second until an answer about it comes, 5 s in all.  Prints "reply FROM",
# "too-big FROM mtu=N" (a Packet Too Big quoting it) or "unreachable FROM
# CODE", and exits 0; "nothing" and 1 when no answer came.  The kernel
# computes ICMPv6 checksums on raw ICMPv6 sockets; IPV6_DONTFRAG keeps a
# big echo whole, so a router on the way answers Packet Too Big.
import os
import socket
import struct
import sys
import time

IPV6_DONTFRAG = 62


def main():
    dst = sys.argv[1]
    size = int(sys.argv[2]) if len(sys.argv) > 2 else 64
    ident = os.getpid() & 0xffff
    s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
    s.setsockopt(socket.IPPROTO_IPV6, IPV6_DONTFRAG, 1)
    s.settimeout(0.2)
    msg = struct.pack("!BBHHH", 128, 0, 0, ident, 1)
    msg += b"gw-ping6" * ((size - len(msg)) // 8 + 1)
    msg = msg[:size]
    end, nxt = time.time() + 5, 0.0
    while time.time() < end:
        if time.time() >= nxt:
            try:
                s.sendto(msg, (dst, 0))
            except OSError:
                pass  # EMSGSIZE once the kernel learned the path MTU
            nxt = time.time() + 1
        try:
            d, a = s.recvfrom(65535)
        except socket.timeout:
            continue
        if d[0] == 129 and struct.unpack("!H", d[4:6])[0] == ident:
            print("reply", a[0])
            return 0
        # an error quotes our echo: IPv6 header (40) then our ICMPv6 header
        if d[0] in (1, 2, 3) and len(d) >= 8 + 40 + 6 and d[8 + 6] == 58 and \
                d[48] == 128 and struct.unpack("!H", d[52:54])[0] == ident:
            if d[0] == 2:
                print("too-big", a[0], "mtu=%d" % struct.unpack("!I", d[4:8])[0])
            else:
                print("unreachable" if d[0] == 1 else "time-exceeded", a[0], d[1])
            return 0
    print("nothing")
    return 1


sys.exit(main())
