#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# ping.py DST [TTL] [--all]: one ICMP echo of ours (a raw socket, identifier
# from the PID) to DST, with TTL (default 64).
#   default  resent every second until an answer about it comes, 5 s in
#            all: prints "reply FROM" (the echo reply) or "ttl-exceeded FROM"
#            (a time exceeded quoting it) and exits 0, or "nothing", exit 1
#   --all    sent once; prints the kind of every answer within 2 s
#            ("reply", "ttl-exceeded", space separated; "nothing"), exit 0:
#            for tests that count answers (one reply, not two)
# ping.py DST --stream STOP: an echo every 0.1 s, one identifier (so one
#            conntrack entry) and rising sequence numbers, until the file
#            STOP exists (600 s at most), then 1 s more for the last
#            replies; prints "sent N received M lost L", exit 0
import os
import socket
import struct
import sys
import time


def csum(b):
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xffff)
    s += s >> 16
    return ~s & 0xffff


def kind(d, ident):
    """What an ICMP packet d (with its IP header) says about our echo."""
    h = (d[0] & 15) * 4
    if d[h] == 0 and struct.unpack("!H", d[h + 4:h + 6])[0] == ident:
        return "reply"
    if d[h] == 11:
        q = d[h + 8:]
        qh = (q[0] & 15) * 4
        if q[qh] == 8 and struct.unpack("!H", q[qh + 4:qh + 6])[0] == ident:
            return "ttl-exceeded"
    return None


def echo(ident, seq):
    msg = struct.pack("!BBHHH", 8, 0, 0, ident, seq) + b"gw-ping " * 4
    return msg[:2] + struct.pack("!H", csum(msg)) + msg[4:]


def stream(dst, stop):
    ident = os.getpid() & 0xffff
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    s.settimeout(0.02)
    sent, got, nxt, end, last = 0, set(), 0.0, time.time() + 600, None
    while True:
        now = time.time()
        if last is None and (os.path.exists(stop) or now > end):
            last = now + 1
        if last is not None and now > last:
            break
        if last is None and now >= nxt:
            sent += 1
            s.sendto(echo(ident, sent & 0xffff), (dst, 0))
            nxt = now + 0.1
        try:
            d, _ = s.recvfrom(2048)
        except socket.timeout:
            continue
        h = (d[0] & 15) * 4
        if kind(d, ident) == "reply":
            got.add(struct.unpack("!H", d[h + 6:h + 8])[0])
    print("sent %d received %d lost %d" % (sent, len(got), sent - len(got)))
    return 0


def main():
    if len(sys.argv) == 4 and sys.argv[2] == "--stream":
        return stream(sys.argv[1], sys.argv[3])
    args = [a for a in sys.argv[1:] if a != "--all"]
    every = "--all" in sys.argv[1:]
    dst, ttl = args[0], int(args[1]) if len(args) > 1 else 64
    ident = os.getpid() & 0xffff
    msg = struct.pack("!BBHHH", 8, 0, 0, ident, 1) + b"gw-ping " * 4
    msg = msg[:2] + struct.pack("!H", csum(msg)) + msg[4:]
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, ttl)
    s.settimeout(0.2 if every else 1)
    end, seen = time.time() + (2 if every else 5), []
    s.sendto(msg, (dst, 0))
    while time.time() < end:
        try:
            d, a = s.recvfrom(2048)
        except socket.timeout:
            if not every:
                s.sendto(msg, (dst, 0))
            continue
        k = kind(d, ident)
        if k and every:
            seen.append(k)
        elif k:
            print(k, a[0])
            return 0
    print(" ".join(seen) or "nothing")
    return 0 if every else 1


sys.exit(main())
