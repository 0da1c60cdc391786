# SPDX-License-Identifier: MIT
"""IPv4 packets in gw trace's syntax: parse a description, build bytes the
way gw trace does (nat/trace.c), parse bytes back, patch fields, format.

  PROTO SRC[:PORT] > DST[:PORT] [in IFACE] [flags SAFRPU] [icmp TYPE[/CODE]]
        [len N] [ttl N] [df]

"ttl" is this test's own word (gw trace builds TTL 64)."""

import ipaddress
import struct

TCP, UDP, ICMP = 6, 17, 1
PROTO_NAMES = {TCP: "tcp", UDP: "udp", ICMP: "icmp"}
FLAG_BITS = {"F": 0x01, "S": 0x02, "R": 0x04, "P": 0x08, "A": 0x10, "U": 0x20}
FLAG_ORDER = "SAFRPU"  # gw trace prints flags in this order
ICMP_NAMES = {
    "echo-reply": (0, 0), "destination-unreachable": (3, 0),
    "network-unreachable": (3, 0), "host-unreachable": (3, 1),
    "protocol-unreachable": (3, 2), "port-unreachable": (3, 3),
    "fragmentation-needed": (3, 4), "source-quench": (4, 0), "redirect": (5, 0),
    "echo-request": (8, 0), "time-exceeded": (11, 0),
    "ttl-zero-during-transit": (11, 0), "parameter-problem": (12, 0),
    "timestamp-request": (13, 0), "timestamp-reply": (14, 0),
}
ICMP_ERRORS = (3, 4, 5, 11, 12)
ICMP_QUERIES = (0, 8, 13, 14, 15, 16, 17, 18)


class Spec:
    """One packet description."""

    def __init__(self, text):
        self.text = text
        w = text.split()
        if len(w) < 4 or w[2] != ">":
            raise ValueError("expected 'PROTO SRC[:PORT] > DST[:PORT] ...': %r" % text)
        names = {v: k for k, v in PROTO_NAMES.items()}
        self.proto = names[w[0]] if w[0] in names else int(w[0])
        self.src, self.sport = _endpoint(w[1])
        self.dst, self.dport = _endpoint(w[3])
        self.iface = None
        self.flags = None
        self.icmp = (8, 0) if self.proto == ICMP else None
        self.len = 0
        self.ttl = None
        self.df = False
        i = 4
        while i < len(w):
            if w[i] == "df":  # a word without a value
                self.df = True
                i += 1
                continue
            if i + 1 >= len(w):
                raise ValueError("%r needs a value: %r" % (w[i], text))
            k, v = w[i], w[i + 1]
            if k == "in":
                self.iface = v
            elif k == "flags":
                self.flags = 0
                for c in v:
                    self.flags |= FLAG_BITS[c]
            elif k == "icmp":
                if v in ICMP_NAMES:
                    self.icmp = ICMP_NAMES[v]
                else:
                    t, _, c = v.partition("/")
                    self.icmp = (int(t), int(c or 0))
            elif k == "len":
                self.len = int(v)
            elif k == "ttl":
                self.ttl = int(v)
            else:
                raise ValueError("unknown word %r in %r" % (k, text))
            i += 2
        if self.proto == TCP and self.flags is None:
            self.flags = FLAG_BITS["A"]

    def without_ttl(self):
        w = self.text.split()
        out, i = [], 0
        while i < len(w):
            if w[i] == "ttl":
                i += 2
                continue
            out.append(w[i])
            i += 1
        return " ".join(out)


def _endpoint(s):
    a, _, p = s.partition(":")
    return str(ipaddress.IPv4Address(a)), (int(p) if p else 0)


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def _pseudo(src, dst, proto, l4):
    return (ipaddress.IPv4Address(src).packed + ipaddress.IPv4Address(dst).packed +
            struct.pack("!BBH", 0, proto, len(l4)))


def fix_checksums(b):
    """Recompute the IP header and the L4 checksum of an unfragmented packet."""
    b = bytearray(b)
    ihl = (b[0] & 15) * 4
    struct.pack_into("!H", b, 2, len(b))
    struct.pack_into("!H", b, 10, 0)
    struct.pack_into("!H", b, 10, csum(bytes(b[:ihl])))
    proto, l4 = b[9], bytes(b[ihl:])
    src, dst = str(ipaddress.IPv4Address(bytes(b[12:16]))), str(ipaddress.IPv4Address(bytes(b[16:20])))
    if proto == TCP and len(l4) >= 20:
        l4 = l4[:16] + b"\0\0" + l4[18:]
        struct.pack_into("!H", b, ihl + 16, csum(_pseudo(src, dst, TCP, l4) + l4))
    elif proto == UDP and len(l4) >= 8:
        l4 = l4[:6] + b"\0\0" + l4[8:]
        c = csum(_pseudo(src, dst, UDP, l4) + l4)
        struct.pack_into("!H", b, ihl + 6, c or 0xFFFF)
    elif proto == ICMP and len(l4) >= 8:
        l4 = l4[:2] + b"\0\0" + l4[4:]
        struct.pack_into("!H", b, ihl + 2, csum(l4))
    return bytes(b)


def build(spec, seq=0, ack=0, ip_id=0, quote=b""):
    """The bytes gw trace builds for spec (trace_build in nat/trace.c)."""
    if spec.proto == TCP:
        l4 = struct.pack("!HHIIBBHHH", spec.sport, spec.dport, seq,
                         ack if spec.flags & FLAG_BITS["A"] else 0, 5 << 4, spec.flags, 65535, 0, 0)
    elif spec.proto == UDP:
        l4 = struct.pack("!HHHH", spec.sport, spec.dport, 0, 0)
    elif spec.proto == ICMP:
        t, c = spec.icmp
        if t in ICMP_ERRORS:
            l4 = struct.pack("!BBHI", t, c, 0, 0) + quote
        else:
            l4 = struct.pack("!BBHHH", t, c, 0, spec.sport, 1)
    else:
        l4 = b""
    total = max(20 + len(l4), spec.len)
    l4 += b"\0" * (total - 20 - len(l4))
    if spec.proto == UDP:
        l4 = l4[:4] + struct.pack("!H", len(l4)) + l4[6:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, ip_id, 0x4000 if spec.df else 0,
                     spec.ttl or 64, spec.proto, 0,
                     ipaddress.IPv4Address(spec.src).packed, ipaddress.IPv4Address(spec.dst).packed)
    return fix_checksums(ip + l4)


class Pkt:
    """A parsed IPv4 packet (fields as in Spec) plus, for ICMP errors, the
    packet it quotes."""

    def __init__(self, b):
        self.raw = bytes(b)
        if len(b) < 20 or b[0] >> 4 != 4:
            raise ValueError("not IPv4")
        ihl = (b[0] & 15) * 4
        self.len = struct.unpack("!H", b[2:4])[0]
        self.ttl = b[8]
        self.proto = b[9]
        self.src = str(ipaddress.IPv4Address(bytes(b[12:16])))
        self.dst = str(ipaddress.IPv4Address(bytes(b[16:20])))
        self.sport = self.dport = 0
        self.flags = None
        self.icmp = None
        self.inner = None
        self.seq = self.ack = 0
        l4 = b[ihl:]
        if self.proto in (TCP, UDP) and len(l4) >= 4:
            self.sport, self.dport = struct.unpack("!HH", l4[:4])
        if self.proto == TCP and len(l4) >= 14:
            self.seq, self.ack = struct.unpack("!II", l4[4:12])
            self.flags = l4[13] & 0x3F
        if self.proto == ICMP and len(l4) >= 8:
            self.icmp = (l4[0], l4[1])
            if l4[0] in ICMP_QUERIES:
                self.sport = struct.unpack("!H", l4[4:6])[0]
            elif l4[0] in ICMP_ERRORS and len(l4) >= 28:
                try:
                    self.inner = Pkt(l4[8:])
                except ValueError:
                    pass

    def tuple(self):
        return (self.proto, self.src, self.sport, self.dst, self.dport)

    def fmt(self, inner=True):
        return fmt(self, inner)


def fmt(p, inner=True):
    """gw trace's spelling (trace_format), ICMP errors with what they quote."""
    s = "%s %s" % (PROTO_NAMES.get(p.proto, str(p.proto)), p.src)
    if p.proto in (TCP, UDP) or (p.proto == ICMP and p.icmp and p.icmp[0] in ICMP_QUERIES):
        s += ":%d" % p.sport
    s += " > " + p.dst
    if p.proto in (TCP, UDP):
        s += ":%d" % p.dport
    if p.proto == TCP and p.flags is not None:
        s += " flags " + "".join(c for c in FLAG_ORDER if p.flags & FLAG_BITS[c])
    if p.proto == ICMP and p.icmp:
        s += " icmp %d/%d" % p.icmp
    if inner and getattr(p, "inner", None) is not None:
        s += " [quoting %s]" % fmt(p.inner, False)
    return s


def fields(p):
    """What is compared between gw's and the kernel's packet."""
    return {"proto": p.proto, "src": p.src, "dst": p.dst, "sport": p.sport,
            "dport": p.dport if p.proto in (TCP, UDP) else 0,
            "flags": p.flags if p.proto == TCP else None,
            "icmp": tuple(p.icmp) if p.proto == ICMP and p.icmp else None}


def patch(b, src=None, dst=None, sport=None, dport=None, ttl=None):
    """b with the given fields replaced (ICMP queries: sport is the id)."""
    b = bytearray(b)
    ihl = (b[0] & 15) * 4
    if src is not None:
        b[12:16] = ipaddress.IPv4Address(src).packed
    if dst is not None:
        b[16:20] = ipaddress.IPv4Address(dst).packed
    if ttl is not None:
        b[8] = ttl
    if b[9] in (TCP, UDP):
        if sport is not None:
            struct.pack_into("!H", b, ihl, sport)
        if dport is not None:
            struct.pack_into("!H", b, ihl + 2, dport)
    elif b[9] == ICMP and b[ihl] in ICMP_QUERIES and sport is not None:
        struct.pack_into("!H", b, ihl + 4, sport)
    return fix_checksums(bytes(b))


def icmp_error(outer, quote, limit=540):
    """outer (an ICMP error's bytes) quoting `quote` instead, as gw trace
    quotes: the packet up to `limit` bytes."""
    ihl = (outer[0] & 15) * 4
    return fix_checksums(outer[:ihl + 8] + quote[:limit])
