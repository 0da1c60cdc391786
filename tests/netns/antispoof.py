#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Helpers of 75-gateway-antispoof.sh (and 78), one process each, nothing forked:
#   tcp-listen ADDR PORT       accept and close, forever (IPv4 or IPv6)
#   udp-record ADDR PORT FILE  append each datagram's payload as a line
#   connect ADDR PORT [SECS]   prints connected, refused or timeout (3 s)
#   spoof SRC DST DPORT TEXT [DEV]  one UDP datagram from SRC (raw socket,
#                              our own IPv4 header), out of DEV if given
import socket, struct, sys


def fam(a):
    return socket.AF_INET6 if ":" in a else socket.AF_INET


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xffff)
    s += s >> 16
    return ~s & 0xffff


def main(a):
    if a[0] == "tcp-listen":
        s = socket.socket(fam(a[1]), socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((a[1], int(a[2])))
        s.listen(16)
        while True:
            c, _ = s.accept()
            c.close()
    if a[0] == "udp-record":
        s = socket.socket(fam(a[1]), socket.SOCK_DGRAM)
        s.bind((a[1], int(a[2])))
        with open(a[3], "ab", buffering=0) as f:
            while True:
                d, _ = s.recvfrom(2048)
                f.write(d + b"\n")
    if a[0] == "connect":
        s = socket.socket(fam(a[1]), socket.SOCK_STREAM)
        s.settimeout(float(a[3]) if len(a) > 3 else 3)
        try:
            s.connect((a[1], int(a[2])))
            print("connected")
        except ConnectionRefusedError:
            print("refused")
        except OSError:
            print("timeout")
        return
    if a[0] == "spoof":
        src, dst, dport, text = a[1], a[2], int(a[3]), a[4].encode()
        sb, db = socket.inet_aton(src), socket.inet_aton(dst)
        udp = struct.pack("!HHHH", 40000, dport, 8 + len(text), 0) + text
        ps = sb + db + struct.pack("!BBH", 0, 17, len(udp))
        udp = udp[:6] + struct.pack("!H", csum(ps + udp) or 0xffff) + udp[8:]
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0, 64, 17, 0, sb, db)
        ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
        s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
        if len(a) > 5:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, a[5].encode())
        s.sendto(ip + udp, (dst, 0))
        return
    sys.exit("unknown mode " + a[0])


main(sys.argv[1:])
