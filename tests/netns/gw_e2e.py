#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Probes for the gateway's end-to-end tests (65-...), run inside a namespace.

    gw_e2e.py udp-echo PORT
        a UDP echo server (IPv4 and IPv6); prints each datagram's source as
        ADDR:PORT
    gw_e2e.py udp-ping DST PORT COUNT [SPORT [SIZE]]
        COUNT request/answer exchanges from one socket (bound to SPORT; DST
        IPv4 or IPv6), each request SIZE bytes (default 70); each is sent
        again up to 5 times; fails if one is never answered
    gw_e2e.py tcp-sink PORT COUNT DIR
        accepts COUNT connections at once, stores each one's bytes in
        DIR/ADDR:PORT, prints each peer as ADDR:PORT when it is accepted
        and "done ADDR:PORT BYTES" at its end; exits after the last one
    gw_e2e.py probe IFACE udp|tcp|icmp DST DPORT TTL [SPORT [SIZE]]
        sends one UDP datagram (connected socket; SIZE bytes of payload), one
        TCP connect, or one ICMP echo (DPORT ignored, SPORT its identifier)
        with TTL, watching IFACE on a packet socket for what it sent (the
        fragments reassembled, when its kernel had to fragment) and what
        answers it: an ICMP error quoting it, a TCP segment or a UDP datagram
        from DST:DPORT, an echo reply from DST.  Checks every checksum of the
        answer (outer IP, ICMP, TCP) and that an ICMP error quotes the packet
        exactly as it was sent but for the TTL and the header checksum
        (addresses, ports, echo identifier, IP id, L4 checksum, as far as
        quoted).  Prints one line of key=value: answer=icmp|rst|synack|udp|
        none, src, dst, type, code, an echo reply's id, a fragmentation
        needed's mtu, the quote's qsrc,
        qdst, qttl, qsport, qlen (bytes quoted), the probe's own lport, and
        the socket's view (err=ECONNREFUSED..., errqueue=TYPE/CODE@OFFENDER,
        ERRNO).  Exits 1 with a message on the first wrong header.
"""
import ctypes
import errno
import os
import select
import socket
import struct
import sys
import threading
import time

ETH_P_ALL, PACKET_OUTGOING = 0x0003, 4
IP_RECVERR, SO_EE_ORIGIN_ICMP = 11, 2
ICMP_ERRORS = (3, 4, 5, 11, 12)


def die(msg):
    print("gw_e2e: " + msg, flush=True)
    sys.exit(1)


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s >> 16) + (s & 0xFFFF)
    return ~s & 0xFFFF


def addr(b):
    return socket.inet_ntoa(b)


class Ip:
    """An IPv4 header and what follows it (possibly cut short: a quote)."""

    def __init__(self, b):
        if len(b) < 20 or b[0] >> 4 != 4:
            raise ValueError("not IPv4")
        self.raw = b
        self.ihl = (b[0] & 15) * 4
        self.tot, self.id, self.frag = struct.unpack_from("!HHH", b, 2)
        self.ttl, self.proto = b[8], b[9]
        self.src, self.dst = addr(b[12:16]), addr(b[16:20])
        self.l4 = b[self.ihl:self.tot] if len(b) >= self.tot else b[self.ihl:]

    def ports(self):
        return struct.unpack_from("!HH", self.l4) if len(self.l4) >= 4 else (None, None)

    def hdr_ok(self):
        return csum(self.raw[:self.ihl]) == 0

    def l4_sum(self):
        """The correct TCP/UDP checksum of the whole segment (it must be here)."""
        seg = bytearray(self.l4)
        off = 16 if self.proto == socket.IPPROTO_TCP else 6
        seg[off:off + 2] = b"\0\0"
        pseudo = self.raw[12:20] + struct.pack("!BBH", 0, self.proto, len(seg))
        s = csum(pseudo + bytes(seg))
        return 0xFFFF if s == 0 and self.proto == socket.IPPROTO_UDP else s


# ---- servers ----

def udp_echo(port):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind(("::", port))
    while True:
        d, a = s.recvfrom(65535)
        host = a[0][7:] if a[0].startswith("::ffff:") else a[0]
        print("%s:%d" % (host, a[1]), flush=True)
        s.sendto(d, a)


def udp_ping(dst, port, count, sport=0, size=0):
    v6 = ":" in dst
    s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("::" if v6 else "0.0.0.0", sport))
    s.settimeout(1)
    for i in range(count):
        msg = b"ping %d %d " % (os.getpid(), i) + os.urandom(32).hex().encode()
        if size > len(msg):
            msg += os.urandom((size - len(msg)) // 2 + 1).hex().encode()[:size - len(msg)]
        for _ in range(6):
            s.sendto(msg, (dst, port))
            try:
                while s.recv(65535) != msg:
                    pass
                break
            except socket.timeout:
                continue
        else:
            die("udp-ping: request %d to %s:%d never answered" % (i, dst, port))
    print("local port %d: %d answered" % (s.getsockname()[1], count), flush=True)


def tcp_sink(port, count, outdir):
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("0.0.0.0", port))
    ls.listen(count)
    lock = threading.Lock()

    def take(c, peer):
        n = 0
        with open(os.path.join(outdir, peer), "wb") as f:
            while True:
                d = c.recv(1 << 16)
                if not d:
                    break
                f.write(d)
                n += len(d)
        c.close()
        with lock:
            print("done %s %d" % (peer, n), flush=True)

    threads = []
    for _ in range(count):
        c, a = ls.accept()
        peer = "%s:%d" % a
        with lock:
            print(peer, flush=True)
        t = threading.Thread(target=take, args=(c, peer))
        t.start()
        threads.append(t)
    for t in threads:
        t.join()


# ---- probe ----

def reassemble(parts):
    """The datagram the fragments parts {offset: Ip} make, as the receiver's
    reassembly hands it on (DF kept, MF and offset gone), or None."""
    data = b""
    for off in sorted(parts):
        if off != len(data):
            return None
        data += parts[off].l4
    if not parts or parts[max(parts)].frag & 0x2000:
        return None
    h = bytearray(parts[0].raw[:parts[0].ihl])
    struct.pack_into("!HHH", h, 2, len(h) + len(data), parts[0].id, parts[0].frag & 0x4000)
    h[10:12] = b"\0\0"
    struct.pack_into("!H", h, 10, csum(bytes(h)))
    return Ip(bytes(h) + data)


def same_but_ttl(q, sent):
    """What differs between the quote q and the packet sent (both Ip), but
    for the TTL and the IP header checksum; L4 checksums compare against
    the correct one (the sender's copy may still await checksum offload)."""
    diff = []
    fields = [("ip header", 0, 8), ("ip proto", 9, 10), ("ip src", 12, 16),
              ("ip dst", 16, 20), ("ip options", 20, sent.ihl)]
    for name, a, b in fields:
        if q.raw[a:b] != sent.raw[a:b]:
            diff.append("%s %s != sent %s" % (name, q.raw[a:b].hex(), sent.raw[a:b].hex()))
    ql, sl = q.l4, bytearray(sent.l4)
    if sent.proto in (socket.IPPROTO_TCP, socket.IPPROTO_UDP):
        off = 16 if sent.proto == socket.IPPROTO_TCP else 6
        sl[off:off + 2] = struct.pack("!H", sent.l4_sum())
    n = min(len(ql), len(sl))
    if ql[:n] != bytes(sl[:n]):
        at = next(i for i in range(n) if ql[i] != sl[i])
        diff.append("l4 byte %d: %s != sent %s" % (at, ql[at:at + 4].hex(), bytes(sl[at:at + 4]).hex()))
    if len(q.raw) < q.ihl + 8:
        diff.append("quote too short (%d bytes)" % len(q.raw))
    return diff


def check_answer(a, sent):
    """The header checks on an answer a (Ip) to sent; returns key=value list."""
    out = ["src=%s" % a.src, "dst=%s" % a.dst]
    if not a.hdr_ok():
        die("answer's IP header checksum is wrong: %s" % a.raw[:a.ihl].hex())
    if len(a.raw) != a.tot:
        die("answer's IP total length %d, %d bytes arrived" % (a.tot, len(a.raw)))
    if a.proto == socket.IPPROTO_ICMP:
        if csum(a.l4) != 0:
            die("ICMP checksum wrong in %s" % a.l4[:8].hex())
        t, c = a.l4[0], a.l4[1]
        out += ["answer=icmp", "type=%d" % t, "code=%d" % c]
        if t == 0:
            out.append("id=%d" % struct.unpack_from("!H", a.l4, 4)[0])
        if (t, c) == (3, 4):
            out.append("mtu=%d" % struct.unpack_from("!H", a.l4, 6)[0])
        if t in ICMP_ERRORS:
            q = Ip(a.l4[8:])
            out += ["qsrc=%s" % q.src, "qdst=%s" % q.dst, "qttl=%d" % q.ttl,
                    "qlen=%d" % len(q.raw)]
            if q.proto in (socket.IPPROTO_TCP, socket.IPPROTO_UDP):
                out.append("qsport=%d" % q.ports()[0])
            if not q.hdr_ok():
                die("quoted IP header checksum is wrong: %s" % q.raw[:q.ihl].hex())
            diff = same_but_ttl(q, sent)
            if diff:
                die("the quote is not the packet sent: " + "; ".join(diff))
    elif a.proto == socket.IPPROTO_TCP:
        if a.l4_sum() != struct.unpack_from("!H", a.l4, 16)[0]:
            die("TCP checksum wrong in the answer")
        seq, ack = struct.unpack_from("!II", a.l4, 4)
        flags = a.l4[13]
        sseq = struct.unpack_from("!I", sent.l4, 4)[0]
        if flags & 0x04:
            out.append("answer=rst")
            # a RST to a SYN: seq 0, ACK of the SYN (RFC 9293 3.10.7.1)
            if flags != 0x14 or seq != 0 or ack != (sseq + 1) & 0xFFFFFFFF:
                die("RST flags %#x seq %d ack %d for SYN seq %d" % (flags, seq, ack, sseq))
        elif flags & 0x12 == 0x12:
            out.append("answer=synack")
        else:
            out.append("answer=tcp-flags-%#x" % flags)
        out.append("sport=%d" % a.ports()[0])
    else:
        out.append("answer=udp")
    return out


SO_ATTACH_FILTER = 26


def errqueue(s):
    try:
        _, anc, _, _ = s.recvmsg(2048, 512, socket.MSG_ERRQUEUE | socket.MSG_DONTWAIT)
    except BlockingIOError:
        return "errqueue=none"
    for lvl, typ, data in anc:
        if lvl == socket.IPPROTO_IP and typ == IP_RECVERR:
            ee_errno, origin, t, c = struct.unpack_from("=IBBB", data)
            off = addr(data[16 + 4:16 + 8]) if len(data) >= 24 else "?"
            if origin == SO_EE_ORIGIN_ICMP:
                return "errqueue=%d/%d@%s,%s" % (t, c, off, errno.errorcode.get(ee_errno, ee_errno))
    return "errqueue=other"


def only_proto(cap, proto):
    """A socket filter (classic BPF on the IP header, which a SOCK_DGRAM
    packet socket sees first): only packets of proto, and ICMP (the errors
    that quote it). On an interface busy with other traffic (test 65's bulk
    TCP and connection load) the capture's buffer would fill with that
    before the probe's own packet arrives."""
    insns = [(0x30, 0, 0, 9),        # ldb [9]: the protocol
             (0x15, 2, 0, proto),    # jeq proto -> accept
             (0x15, 1, 0, 1),        # jeq ICMP -> accept
             (0x06, 0, 0, 0),        # ret 0: not for us
             (0x06, 0, 0, 0x40000)]  # ret: the whole packet
    prog = ctypes.create_string_buffer(b"".join(struct.pack("HBBI", *i) for i in insns))
    cap.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER,
                   struct.pack("HL", len(insns), ctypes.addressof(prog)))


def probe(iface, kind, dst, dport, ttl, sport, size):
    proto = {"udp": socket.IPPROTO_UDP, "tcp": socket.IPPROTO_TCP, "icmp": socket.IPPROTO_ICMP}[kind]
    cap = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_ALL))
    only_proto(cap, proto)
    cap.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
    cap.bind((iface, ETH_P_ALL))
    ident = sport or os.getpid() & 0xFFFF
    if kind == "icmp":
        s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    else:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM if kind == "udp" else socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", sport))
    s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, ttl)
    s.setsockopt(socket.IPPROTO_IP, IP_RECVERR, 1)
    s.setblocking(False)
    if kind == "udp":
        s.connect((dst, dport))
        s.send((b"gw e2e probe %d " % ident).ljust(size, b"."))
    elif kind == "tcp":
        s.connect_ex((dst, dport))
    else:
        m = struct.pack("!BBHHH", 8, 0, 0, ident, 1) + b"gw e2e probe...."
        s.sendto(m[:2] + struct.pack("!H", csum(m)) + m[4:], (dst, 0))
    sent = answer = None
    frags = {}  # IP id -> {offset: Ip}: what the client's kernel fragmented
    end = time.monotonic() + 2.5
    while answer is None and time.monotonic() < end:
        if not select.select([cap], [], [], max(0.0, end - time.monotonic()))[0]:
            break
        pkt, sa = cap.recvfrom(65535)
        try:
            p = Ip(pkt)
        except ValueError:
            continue
        if sa[2] == PACKET_OUTGOING:
            if sent is not None or p.proto != proto or p.dst != dst:
                continue
            if p.frag & 0x3FFF:
                frags.setdefault(p.id, {})[(p.frag & 0x1FFF) * 8] = p
                p = reassemble(frags[p.id])
                if p is None:
                    continue
            if kind == "icmp" or p.ports()[1] == dport:
                sent = p
            continue
        if sent is None:
            continue
        if p.proto == socket.IPPROTO_ICMP and len(p.l4) >= 8 + 20 and p.l4[0] in ICMP_ERRORS:
            q = Ip(p.l4[8:])
            if q.proto == proto and q.dst == dst and (kind == "icmp" or q.ports()[1] == dport):
                answer = p
        elif p.proto == proto and kind != "icmp" and p.src == dst and p.ports()[0] == dport:
            answer = p
        elif kind == "icmp" and p.proto == proto and p.src == dst and p.l4[:1] == b"\0":
            answer = p
    if sent is None:
        die("%s to %s:%d never left through %s" % (kind, dst, dport, iface))
    if kind == "icmp" and struct.unpack_from("!H", sent.l4, 4)[0] != ident:
        die("the echo sent has another identifier")
    out = check_answer(answer, sent) if answer else ["answer=none"]
    if kind != "icmp":
        out.append("lport=%d" % sent.ports()[0])
    # the socket's own view: did the client's kernel match the answer to it?
    if kind == "tcp":
        if select.select([], [s], [], 1.0)[1]:
            e = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            out.append("err=%s" % (errno.errorcode.get(e, e) if e else "0"))
        else:
            out.append("err=pending")
    elif kind == "udp":
        time.sleep(0.05)
        out.append(errqueue(s))
    print(" ".join(x for x in out if x), flush=True)


def main():
    a = sys.argv[1:]
    if a[:1] == ["udp-echo"] and len(a) == 2:
        udp_echo(int(a[1]))
    elif a[:1] == ["udp-ping"] and len(a) in (4, 5, 6):
        udp_ping(a[1], int(a[2]), int(a[3]), int(a[4]) if len(a) >= 5 else 0,
                 int(a[5]) if len(a) == 6 else 0)
    elif a[:1] == ["tcp-sink"] and len(a) == 4:
        tcp_sink(int(a[1]), int(a[2]), a[3])
    elif a[:1] == ["probe"] and len(a) in (6, 7, 8):
        probe(a[1], a[2], a[3], int(a[4]), int(a[5]), int(a[6]) if len(a) >= 7 else 0,
              int(a[7]) if len(a) == 8 else 0)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
