# SPDX-License-Identifier: MIT
"""IPv4 and IPv6 packets in gw trace's syntax: parse a description, build
bytes the way gw trace does (nat/trace.c), parse bytes back, patch fields,
format.

  PROTO SRC[:PORT] > DST[:PORT] [in IFACE] [flags SAFRPU] [icmp TYPE[/CODE]]
        [len N] [ttl N] [df]
  IPv6: [ADDR]:PORT (a bare ADDR without a port), icmp6 TYPE[/CODE], ttl is
        the hop limit, [mtu N] (Packet Too Big), [ext hop|dst|hop,dst]

"ttl" is this test's own word too (gw trace builds TTL 64 without it)."""

import ipaddress
import struct

TCP, UDP, ICMP, ICMP6 = 6, 17, 1, 58
V4, V6 = 4, 6
PROTO_NAMES = {TCP: "tcp", UDP: "udp", ICMP: "icmp", ICMP6: "icmp6"}
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
# ip6tables' spellings gw trace takes (nat/trace.c parse_icmp6)
ICMP6_NAMES = {
    "destination-unreachable": (1, 0), "no-route": (1, 0),
    "communication-prohibited": (1, 1), "address-unreachable": (1, 3),
    "port-unreachable": (1, 4), "packet-too-big": (2, 0),
    "time-exceeded": (3, 0), "ttl-zero-during-transit": (3, 0),
    "parameter-problem": (4, 0), "echo-request": (128, 0), "echo-reply": (129, 0),
}
ICMP6_QUERIES = (128, 129)  # the ones with an id (gw trace: SRC's port)
# IPv6 extension headers walked to the upper layer: hop-by-hop, routing,
# fragment, destination options
EXT_HEADERS = (0, 43, 44, 60)
EXT_WORDS = {"hop": 1, "dst": 2, "hop,dst": 3}
ICMP6_ERROR_MAX = 1280  # an ICMPv6 error is at most the minimum MTU


def is_error(p):
    """An ICMP/ICMPv6 error (of a Spec or a Pkt)."""
    if p.proto == ICMP and p.icmp:
        return p.icmp[0] in ICMP_ERRORS
    return p.proto == ICMP6 and p.icmp is not None and p.icmp[0] < 128


def is_query(p):
    if p.proto == ICMP and p.icmp:
        return p.icmp[0] in ICMP_QUERIES
    return p.proto == ICMP6 and p.icmp is not None and p.icmp[0] in ICMP6_QUERIES


class Spec:
    """One packet description."""

    def __init__(self, text):
        self.text = text
        w = text.split()
        if len(w) < 4 or w[2] != ">":
            raise ValueError("expected 'PROTO SRC[:PORT] > DST[:PORT] ...': %r" % text)
        names = {v: k for k, v in PROTO_NAMES.items()}
        self.proto = names[w[0]] if w[0] in names else int(w[0])
        (self.src, self.sport), self.family = _endpoint(w[1]), _family(w[1])
        (self.dst, self.dport) = _endpoint(w[3])
        if _family(w[3]) != self.family:
            raise ValueError("%r and %r are of different IP versions" % (w[1], w[3]))
        self.iface = None
        self.flags = None
        self.icmp = (8, 0) if self.proto == ICMP else (128, 0) if self.proto == ICMP6 else None
        self.len = 0
        self.ttl = None
        self.df = False
        self.mtu = None
        self.ext = 0
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
            elif k == "icmp6":
                if v in ICMP6_NAMES:
                    self.icmp = ICMP6_NAMES[v]
                else:
                    t, _, c = v.partition("/")
                    self.icmp = (int(t), int(c or 0))
            elif k == "mtu":
                self.mtu = int(v)
            elif k == "ext":
                self.ext = EXT_WORDS[v]
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


def _family(s):
    return V6 if s.startswith("[") or s.count(":") > 1 else V4


def _endpoint(s):
    """ADDR[:PORT], [ADDR6][:PORT] or a bare ADDR6 -> (address text, port);
    IPv6 addresses in RFC 5952 form, as gw trace prints them."""
    if s.startswith("["):
        a, _, p = s[1:].partition("]")
        return str(ipaddress.IPv6Address(a)), (int(p[1:]) if p.startswith(":") else 0)
    if s.count(":") > 1:
        return str(ipaddress.IPv6Address(s)), 0
    a, _, p = s.partition(":")
    return str(ipaddress.IPv4Address(a)), (int(p) if p else 0)


def _packed(a):
    return ipaddress.ip_address(a).packed


def walk6(b):
    """(upper-layer protocol, its offset, [extension header numbers]) of the
    IPv6 packet b; the offset is None when a header does not fit, or past a
    fragment header that is not the first fragment."""
    nh, off, exts = b[6], 40, []
    while nh in EXT_HEADERS:
        if off + 8 > len(b):
            return nh, None, exts
        exts.append(nh)
        if nh == 44:
            frag = struct.unpack("!H", b[off + 2:off + 4])[0] & 0xFFF8
            nh, off = b[off], off + 8
            if frag:
                return nh, None, exts
            continue
        nh, off = b[off], off + (b[off + 1] + 1) * 8
    return nh, off, exts

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


def _fix6(b):
    b = bytearray(b)
    struct.pack_into("!H", b, 4, len(b) - 40)
    proto, off, _ = walk6(b)
    if off is None:
        return bytes(b)
    l4 = bytes(b[off:])
    pseudo = bytes(b[8:40]) + struct.pack("!IxxxB", len(l4), proto)
    at = {TCP: 16, UDP: 6, ICMP6: 2}.get(proto)
    if at is not None and len(l4) >= at + 2:
        l4 = l4[:at] + b"\0\0" + l4[at + 2:]
        c = csum(pseudo + l4)
        struct.pack_into("!H", b, off + at, c or (0xFFFF if proto == UDP else 0))
    return bytes(b)


def fix_checksums(b):
    """Recompute the IP header and the L4 checksum of an unfragmented packet."""
    if b[0] >> 4 == 6:
        return _fix6(b)
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


def build6(spec, seq=0, ack=0, quote=b""):
    """build6 in nat/trace.c: no flow label, 8-byte option headers (PadN)."""
    exts = [h for bit, h in ((1, 0), (2, 60)) if spec.ext & bit]
    if spec.proto == TCP:
        l4 = struct.pack("!HHIIBBHHH", spec.sport, spec.dport, seq,
                         ack if spec.flags & FLAG_BITS["A"] else 0, 5 << 4, spec.flags, 65535, 0, 0)
    elif spec.proto == UDP:
        l4 = struct.pack("!HHHH", spec.sport, spec.dport, 0, 0)
    elif spec.proto == ICMP6:
        t, c = spec.icmp
        if t < 128:
            l4 = struct.pack("!BBHI", t, c, 0, (spec.mtu or 1280) if t == 2 else 0) + quote
        else:
            l4 = struct.pack("!BBHHH", t, c, 0, spec.sport, 1)
    else:
        l4 = b""
    hdrs = b""
    chain = exts + [spec.proto]
    for n, h in enumerate(exts):
        hdrs += struct.pack("!BBBB4x", chain[n + 1], 0, 1, 4)
    total = max(40 + len(hdrs) + len(l4), spec.len)
    l4 += b"\0" * (total - 40 - len(hdrs) - len(l4))
    if spec.proto == UDP:
        l4 = l4[:4] + struct.pack("!H", len(l4)) + l4[6:]
    ip = struct.pack("!IHBB16s16s", 6 << 28, 0, chain[0], spec.ttl or 64,
                     _packed(spec.src), _packed(spec.dst))
    return fix_checksums(ip + hdrs + l4)


def build(spec, seq=0, ack=0, ip_id=0, quote=b""):
    """The bytes gw trace builds for spec (trace_build in nat/trace.c)."""
    if spec.family == V6:
        return build6(spec, seq, ack, quote)
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
        if len(b) >= 40 and b[0] >> 4 == 6:
            self._parse6(b)
            return
        if len(b) < 20 or b[0] >> 4 != 4:
            raise ValueError("not IPv4")
        self.family = V4
        self.flowlabel = 0
        self.exts = []
        self.l4off = (b[0] & 15) * 4
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

    def _parse6(self, b):
        self.family = V6
        self.flowlabel = struct.unpack("!I", b[0:4])[0] & 0xFFFFF
        self.len = 40 + struct.unpack("!H", b[4:6])[0]
        self.ttl = b[7]
        self.src = str(ipaddress.IPv6Address(bytes(b[8:24])))
        self.dst = str(ipaddress.IPv6Address(bytes(b[24:40])))
        self.proto, off, self.exts = walk6(b)
        self.l4off = off
        self.sport = self.dport = 0
        self.flags = None
        self.icmp = None
        self.inner = None
        self.seq = self.ack = 0
        if off is None:
            return
        l4 = b[off:]
        if self.proto in (TCP, UDP) and len(l4) >= 4:
            self.sport, self.dport = struct.unpack("!HH", l4[:4])
        if self.proto == TCP and len(l4) >= 14:
            self.seq, self.ack = struct.unpack("!II", l4[4:12])
            self.flags = l4[13] & 0x3F
        if self.proto == ICMP6 and len(l4) >= 8:
            self.icmp = (l4[0], l4[1])
            if l4[0] in ICMP6_QUERIES:
                self.sport = struct.unpack("!H", l4[4:6])[0]
            elif l4[0] < 128 and len(l4) >= 48:
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
    v6 = getattr(p, "family", V4) == V6
    ports = p.proto in (TCP, UDP)
    query = is_query(p)
    br = "[%s]" if v6 else "%s"
    s = "%s %s" % (PROTO_NAMES.get(p.proto, str(p.proto)), (br if ports or query else "%s") % p.src)
    if ports or query:
        s += ":%d" % p.sport
    s += " > " + ((br if ports else "%s") % p.dst)
    if ports:
        s += ":%d" % p.dport
    if p.proto == TCP and p.flags is not None:
        s += " flags " + "".join(c for c in FLAG_ORDER if p.flags & FLAG_BITS[c])
    if p.proto == ICMP and p.icmp:
        s += " icmp %d/%d" % p.icmp
    if p.proto == ICMP6 and p.icmp:
        s += " icmp6 %d/%d" % p.icmp
    if inner and getattr(p, "inner", None) is not None:
        s += " [quoting %s]" % fmt(p.inner, False)
    return s


def fields(p):
    """What is compared between gw's and the kernel's packet."""
    return {"proto": p.proto, "src": p.src, "dst": p.dst, "sport": p.sport,
            "dport": p.dport if p.proto in (TCP, UDP) else 0,
            "flags": p.flags if p.proto == TCP else None,
            "icmp": tuple(p.icmp) if p.proto in (ICMP, ICMP6) and p.icmp else None}


def patch(b, src=None, dst=None, sport=None, dport=None, ttl=None):
    """b with the given fields replaced (ICMP queries: sport is the id)."""
    if b[0] >> 4 == 6:
        return _patch6(b, src, dst, sport, dport, ttl)
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


def _patch6(b, src, dst, sport, dport, ttl):
    b = bytearray(b)
    if src is not None:
        b[8:24] = _packed(src)
    if dst is not None:
        b[24:40] = _packed(dst)
    if ttl is not None:
        b[7] = ttl
    proto, off, _ = walk6(b)
    if off is not None and proto in (TCP, UDP):
        if sport is not None:
            struct.pack_into("!H", b, off, sport)
        if dport is not None:
            struct.pack_into("!H", b, off + 2, dport)
    elif off is not None and proto == ICMP6 and b[off] in ICMP6_QUERIES and sport is not None:
        struct.pack_into("!H", b, off + 4, sport)
    return fix_checksums(bytes(b))


def icmp_error(outer, quote, limit=540):
    """outer (an ICMP error's bytes) quoting `quote` instead, as gw trace
    quotes: the packet up to `limit` bytes (IPv6: the error up to 1280)."""
    if outer[0] >> 4 == 6:
        _, off, _ = walk6(outer)
        return fix_checksums(outer[:off + 8] + quote[:ICMP6_ERROR_MAX - off - 8])
    ihl = (outer[0] & 15) * 4
    return fix_checksums(outer[:ihl + 8] + quote[:limit])
