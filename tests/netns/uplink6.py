#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""IPv6 probes for 51-uplink6.sh, one line of output each.

  uplink6.py tcp ADDR PORT SECS    connected | refused (a RST) | timeout
  uplink6.py udp ADDR PORT SECS    answered | refused (ICMPv6 unreachable) | timeout
  uplink6.py ping ADDR SECS        an ICMPv6 echo (raw socket; the kernel sums it), resent
                                   every second: reply | nothing
  uplink6.py serve PORT            a TCP echo server on [::]:PORT (one reader per connection)
  uplink6.py echo ADDR PORT N      N connections to the echo server, each 1000 bytes there and
                                   back; prints "N ok, local ports MIN-MAX"
  uplink6.py binds                 how many ephemeral ports IPv6 (::1), dual-stack (::) TCP and
                                   UDP sockets get with bind(0), and the lowest:
                                   "udp6 N MIN tcp6 N MIN dual N MIN"
"""
import os
import socket
import struct
import sys
import threading
import time


def tcp(addr, port, secs):
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.settimeout(secs)
    try:
        s.connect((addr, port))
        return "connected"
    except ConnectionRefusedError:
        return "refused"
    except (socket.timeout, TimeoutError):
        return "timeout"


def udp(addr, port, secs):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.settimeout(secs)
    s.connect((addr, port))
    try:
        s.send(b"x")
        s.recv(100)
        return "answered"
    except ConnectionRefusedError:
        return "refused"
    except (socket.timeout, TimeoutError):
        return "timeout"


def ping(addr, secs):
    s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
    ident = os.getpid() & 0xffff
    end = time.monotonic() + secs
    seq = 0
    while time.monotonic() < end:
        seq += 1
        s.sendto(struct.pack("!BBHHH", 128, 0, 0, ident, seq) + b"uplink6", (addr, 0))
        until = min(end, time.monotonic() + 1)
        while True:
            left = until - time.monotonic()
            if left <= 0:
                break
            s.settimeout(left)
            try:
                d, src = s.recvfrom(2000)
            except (socket.timeout, TimeoutError):
                break
            if d[0] == 129 and struct.unpack("!H", d[4:6])[0] == ident and src[0] == addr:
                return "reply"
    return "nothing"


def serve(port):
    ls = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("::", port))
    ls.listen(64)

    def one(c):
        with c:
            while True:
                b = c.recv(65536)
                if not b:
                    return
                c.sendall(b)

    while True:
        c, _ = ls.accept()
        threading.Thread(target=one, args=(c,), daemon=True).start()


def echo(addr, port, n):
    ok, ports = 0, []
    for i in range(n):
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        s.settimeout(10)
        try:
            s.connect((addr, port))
            ports.append(s.getsockname()[1])
            data = bytes([i % 256]) * 1000
            s.sendall(data)  # 1000 bytes fit every buffer: no deadlock
            got = b""
            while len(got) < len(data):
                b = s.recv(65536)
                if not b:
                    break
                got += b
            ok += got == data
        except OSError as e:
            print("connection %d: %s" % (i, e), file=sys.stderr)
        s.close()
    return "%d ok, local ports %d-%d" % (ok, min(ports or [0]), max(ports or [0]))


def grab(typ, addr, v6only):
    socks, ports = [], []
    while len(socks) < 70000:
        s = socket.socket(socket.AF_INET6, typ)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, v6only)
        try:
            s.bind((addr, 0))
        except OSError:
            s.close()
            break
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return "%d %d" % (len(ports), min(ports or [0]))


def main():
    a = sys.argv[1:]
    if a[0] == "tcp":
        print(tcp(a[1], int(a[2]), float(a[3])))
    elif a[0] == "udp":
        print(udp(a[1], int(a[2]), float(a[3])))
    elif a[0] == "ping":
        print(ping(a[1], float(a[2])))
    elif a[0] == "serve":
        serve(int(a[1]))
    elif a[0] == "echo":
        print(echo(a[1], int(a[2]), int(a[3])))
    elif a[0] == "binds":
        print("udp6 %s tcp6 %s dual %s" % (grab(socket.SOCK_DGRAM, "::1", 1),
                                           grab(socket.SOCK_STREAM, "::1", 1),
                                           grab(socket.SOCK_STREAM, "::", 0)))


main()
