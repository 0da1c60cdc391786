# SPDX-License-Identifier: MIT
"""The differential test's driver: the same rules and packets through
`gw trace` and through the real kernel, compared.

Runs inside the "gw" namespace that 30-diff-kernel.sh built (so iptables,
nft and conntrack act on it); opens its packet sockets in the "peer" and
"net" namespaces with setns().  For each scenario file:

  1. gw side: gw trace CONFIG --uplink-addr A --json --hex --conntrack P...
     (run again on a prefix when a packet refers to an earlier output, @N.x)
  2. kernel side: flush the ruleset and conntrack, load the probe table and
     the scenario's rules with iptables-restore, then per packet: send gw's
     very bytes (in_hex) from the side it enters, send an ARP request from
     both far ends and wait for the answers (everything the packet caused is
     queued before them: one CPU, FIFO), read what came out on each far end,
     the iptables-save -c counters and the probe's conntrack-state counters.
  3. compare verdict, NAT result, ct state, counters per packet, and the
     final conntrack table; differences the scenario records as known are
     reported as such, any other fails the scenario.

Exit status: 0 when no scenario failed.  DIFF_KERNEL_ONLY=1 skips gw and
prints what Linux did (packets built here the way gw trace builds them),
to write scenarios while gw trace is not available.
"""

import argparse
import ctypes
import fnmatch
import ipaddress
import json
import os
import re
import select
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pkt as P  # noqa: E402

CLONE_NEWNET = 0x40000000
ETH_P_ALL, ETH_P_IP, ETH_P_ARP, ETH_P_IPV6 = 0x0003, 0x0800, 0x0806, 0x86DD
PACKET_OUTGOING = 4
STATES = ("UNTRACKED", "INVALID", "NEW", "ESTABLISHED", "RELATED")

# The probe: the kernel's conntrack state of each packet, read after
# conntrack (-200) and before mangle (-150), and whether it reached the host.
# A table of its own, so the scenario's iptables counters never see it; its
# ct expressions also switch conntrack on, as gw always tracks.
#
# IPv6 (table ip6 gwdiff): gw's own IPv6 stack sends MLD reports when it
# joins a group (and the kernel router joins all-routers); they are dropped
# at OUTPUT before anything counts them (raw is -300), so no scenario's
# counters or captures see that chatter.
PROBE = """table %s gwdiff {
  chain pre { type filter hook prerouting priority -190; policy accept;
%s  }
  chain out { type filter hook output priority -190; policy accept;
%s  }
  chain local { type filter hook input priority 1000; policy accept;
    counter
  }
%s}
"""
PROBE_STATES = "".join("    ct state %s counter\n" % s.lower() for s in STATES)
CHATTER = """  chain chatter { type filter hook output priority -450; policy accept;
    icmpv6 type { mld-listener-query, mld-listener-report, mld-listener-done,
                  mld2-listener-report, nd-router-solicit } drop
  }
"""


def probe_text(family):
    if family == P.V6:
        return PROBE % ("ip6", PROBE_STATES, PROBE_STATES, CHATTER)
    return PROBE % ("ip", PROBE_STATES, PROBE_STATES, "")

CONFIG = """[Interface]
PrivateKey = CH25jUd/VT8gP4Hcs8Pf75lJ8emgSMu05XhKGAuxYls=
ListenPort = 51820
Address = 10.8.0.1/24
Uplink = eth0
Rules = rules
NatPorts = 61000-65535

[Peer]
PublicKey = nhFHLv/Sr3ZREuitP6KA7swA/D0flgG8D+EpBbxgr1Q=
AllowedIPs = 10.8.0.2/32

[Peer]
PublicKey = 3dN8+uzIRzMZ/04W0PSW041xF0qvZ9qFexFTBFHCcRU=
AllowedIPs = 10.8.0.3/32
"""
# IPv6 scenarios: the IPv6 Address too, the rules as Rules6, peers with
# their IPv6 addresses (the topology's fd00:8::/64)
CONFIG6 = """[Interface]
PrivateKey = CH25jUd/VT8gP4Hcs8Pf75lJ8emgSMu05XhKGAuxYls=
ListenPort = 51820
Address = 10.8.0.1/24, fd00:8::1/64
Uplink = eth0
Rules6 = rules
NatPorts = 61000-65535

[Peer]
PublicKey = nhFHLv/Sr3ZREuitP6KA7swA/D0flgG8D+EpBbxgr1Q=
AllowedIPs = 10.8.0.2/32, fd00:8::2/128

[Peer]
PublicKey = 3dN8+uzIRzMZ/04W0PSW041xF0qvZ9qFexFTBFHCcRU=
AllowedIPs = 10.8.0.3/32, fd00:8::3/128
"""
UPLINK4, UPLINK6 = "192.0.2.1", "2001:db8:1::1"  # as diff/topology.sh configured them

libc = ctypes.CDLL(None, use_errno=True)


def setns(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            e = ctypes.get_errno()
            raise OSError(e, "setns %s: %s" % (path, os.strerror(e)))
    finally:
        os.close(fd)


def sh(*args, stdin=None, check=True):
    r = subprocess.run(args, input=stdin, capture_output=True, text=True)
    if check and r.returncode:
        raise RuntimeError("%s: exit %d: %s" % (" ".join(args), r.returncode, r.stderr.strip()))
    return r


class Side:
    """A far end: the namespace on the other side of gw0 ("peer") or eth0
    ("net"), with one packet socket to send and capture on its veth."""

    def __init__(self, name, nspath, ifname, my_ip, gw_ip, gw_ifname):
        self.name, self.ifname, self.my_ip, self.gw_ip = name, ifname, my_ip, gw_ip
        self.gw_ifname = gw_ifname
        home = "/proc/self/ns/net"
        homefd = os.open(home, os.O_RDONLY)
        try:
            setns(nspath)
            self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_ALL))
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
            self.sock.bind((ifname, ETH_P_ALL))
            self.sock.setblocking(False)
            self.my_mac = _mac(self.sock, ifname)
        finally:
            if libc.setns(homefd, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns back")
            os.close(homefd)
        self.gw_mac = _ip_link_mac(gw_ifname)
        self.seen = []  # IP packets that arrived here, in order

    def send(self, b):
        self.sock.sendto(b, (self.ifname, ETH_P_IPV6 if b[0] >> 4 == 6 else ETH_P_IP, 0, 0,
                             self.gw_mac))

    def _read(self, want_arp_reply):
        got = False
        while True:
            try:
                data, addr = self.sock.recvfrom(65535)
            except BlockingIOError:
                return got
            proto, pkttype = addr[1], addr[2]
            if pkttype == PACKET_OUTGOING:
                continue
            if proto in (ETH_P_IP, ETH_P_IPV6):
                try:
                    p = P.Pkt(data)
                except ValueError:
                    continue
                if not chatter(p):
                    self.seen.append(p)
            elif proto == ETH_P_ARP and want_arp_reply and len(data) >= 28:
                op = struct.unpack("!H", data[6:8])[0]
                spa, tpa = socket.inet_ntoa(data[14:18]), socket.inet_ntoa(data[24:28])
                if op == 2 and spa == self.gw_ip and tpa == self.my_ip:
                    got = True

    def sync(self, timeout=3.0):
        """An ARP request to gw and its answer: what gw sent this way before
        answering has arrived."""
        arp = struct.pack("!HHBBH6s4s6s4s", 1, ETH_P_IP, 6, 4, 1, self.my_mac,
                          socket.inet_aton(self.my_ip), b"\0" * 6, socket.inet_aton(self.gw_ip))
        self.sock.sendto(arp, (self.ifname, ETH_P_ARP, 0, 0, b"\xff" * 6))
        end = time.monotonic() + timeout
        while True:
            if self._read(True):
                return
            left = end - time.monotonic()
            if left <= 0:
                raise RuntimeError("no ARP answer from %s on the %s side in %gs" %
                                   (self.gw_ip, self.name, timeout))
            select.select([self.sock], [], [], left)

    def take(self):
        self._read(False)
        out, self.seen = self.seen, []
        return out


def chatter(p):
    """gw's IPv6 stack talking by itself (MLD reports, router
    solicitations, from a link-local or unspecified source): never a
    scenario's result.  The probe table drops it at OUTPUT; this is the
    safety net for what left before the table was loaded."""
    return p.family == P.V6 and p.proto == P.ICMP6 and p.icmp is not None and \
        p.icmp[0] in (130, 131, 132, 133, 143) and (p.src == "::" or p.src.startswith("fe80:"))


def _mac(sock, ifname):
    import fcntl
    r = fcntl.ioctl(sock.fileno(), 0x8927, struct.pack("256s", ifname.encode()))  # SIOCGIFHWADDR
    return r[18:24]


def _ip_link_mac(ifname):
    j = json.loads(sh("ip", "-j", "link", "show", "dev", ifname).stdout)
    return bytes.fromhex(j[0]["address"].replace(":", ""))


# ---------------------------------------------------------------- scenarios

class Scenario:
    def __init__(self, path):
        self.path = path
        self.name = os.path.basename(path).rsplit(".", 1)[0]
        self.title = ""
        self.rules = []
        self.packets = []   # (line number, text, is_host)
        self.uplink = UPLINK4
        self.uplink6 = UPLINK6
        self.natport = None  # (gw range, kernel range or None)
        self.known = []      # (pattern, reason, line)
        section = None
        for n, line in enumerate(open(path), 1):
            s = line.strip()
            if s in ("[rules]", "[packets]", "[options]"):
                section = s[1:-1]
                continue
            if section is None:
                if s.startswith("#") and not self.title:
                    self.title = s.lstrip("# ").strip()
                continue
            if section == "rules":
                self.rules.append(line)
                continue
            if not s or s.startswith("#"):
                continue
            if section == "packets":
                host = s.startswith("host ")
                self.packets.append((n, s[5:].strip() if host else s, host))
            else:
                w = s.split(None, 2)
                if w[0] == "uplink" and ":" in w[1]:
                    self.uplink6 = str(ipaddress.IPv6Address(w[1]))
                elif w[0] == "uplink":
                    self.uplink = str(ipaddress.IPv4Address(w[1]))
                elif w[0] == "natport":
                    rng = [tuple(map(int, r.split("-"))) for r in s.split()[1:3]]
                    self.natport = (rng[0], rng[1] if len(rng) > 1 else None)
                elif w[0] == "known":
                    if len(w) < 3:
                        raise ValueError("%s:%d: known KEY REASON" % (path, n))
                    self.known.append((w[1].split(","), w[2], n))
                else:
                    raise ValueError("%s:%d: unknown option %r" % (path, n, w[0]))
        if not self.packets:
            raise ValueError("%s: no [packets]" % path)
        # the family: of the packets' addresses ([rules] are ip6tables-restore
        # text for IPv6, iptables-restore text for IPv4)
        fams = set()
        for n, text, _ in self.packets:
            w = text.split()
            if len(w) < 4:
                raise ValueError("%s:%d: expected 'PROTO SRC[:PORT] > DST[:PORT] ...'" % (path, n))
            fams.add(P._family(w[1]))
        if len(fams) != 1:
            raise ValueError("%s: IPv4 and IPv6 packets in one scenario" % path)
        self.family = fams.pop()


REF = re.compile(r"@(\d+)\.(src|dst|sport|dport|id)")


def resolve(text, outs):
    """Replace @N.field by the field of the output packet of step N."""
    def sub(m):
        n, f = int(m.group(1)), m.group(2)
        p = outs.get(n)
        if p is None:
            raise LookupError("@%d.%s: packet %d has no output" % (n, f, n))
        return str(getattr(p, "sport" if f == "id" else f))
    return REF.sub(sub, text)


# ---------------------------------------------------------------- gw side

class GwRun:
    def __init__(self, gw, confdir, uplinks):
        self.gw, self.conf, self.uplinks = gw, os.path.join(confdir, "gw0.conf"), uplinks
        self.ttl_unsupported = False

    def run(self, texts):
        args = [self.gw, "trace", self.conf]
        for u in self.uplinks:
            args += ["--uplink-addr", u]
        args += ["--json", "--hex", "--conntrack"]
        if self.ttl_unsupported:
            texts = [P.Spec(t).without_ttl() for t in texts]
        r = subprocess.run(args + texts, capture_output=True, text=True)
        if r.returncode and not self.ttl_unsupported and "ttl" in r.stderr and \
                any(" ttl " in " %s " % t for t in texts):
            self.ttl_unsupported = True
            return self.run(texts)
        res, ct = [], []
        for line in r.stdout.splitlines():
            if line.startswith("{"):
                res.append(json.loads(line))
            elif line.strip():
                ct.append(line)
        if r.returncode or len(res) != len(texts):
            raise GwError("gw trace exited %d after %d of %d packets: %s" %
                          (r.returncode, len(res), len(texts), r.stderr.strip() or r.stdout.strip()))
        return res, ct


class GwError(Exception):
    pass


def gw_side(sc, gwrun):
    """Resolve @N references against gw's own outputs; returns the packets as
    gw saw them, its results and its conntrack table."""
    texts, res = [], []
    for i, (_, text, _) in enumerate(sc.packets):
        if REF.search(text):
            if len(res) < i:
                res, _ = gwrun.run(texts)
            outs = {n + 1: P.Spec(r["packet"]) for n, r in enumerate(res)}
            text = resolve(text, outs)
        texts.append(text)
    final, ct = gwrun.run(texts)
    for n, (a, b) in enumerate(zip(res, final)):
        if a != b:
            raise GwError("gw trace is not deterministic: packet %d gave %s, then %s" % (n + 1, a, b))
    return texts, final, ct


# ---------------------------------------------------------------- kernel side

class Kernel:
    def __init__(self, peer, net):
        self.peer, self.net = peer, net
        self.uplink, self.uplink6 = UPLINK4, UPLINK6
        self.family = P.V4

    def reset(self, sc):
        self.family = sc.family
        sh("nft", "flush", "ruleset")
        sh("conntrack", "-F", check=False)
        sh("nft", "-f", "-", stdin=probe_text(sc.family))
        if sc.uplink != self.uplink:
            # add before deleting: removing an interface's last address
            # flushes its neighbours, permanent ones too
            sh("ip", "addr", "add", sc.uplink + "/24", "dev", "eth0")
            sh("ip", "addr", "del", self.uplink + "/24", "dev", "eth0")
            sh("ip", "route", "replace", "default", "via", "192.0.2.254", "dev", "eth0")
            self.uplink = sc.uplink
        if sc.family == P.V6 and sc.uplink6 != self.uplink6:
            sh("ip", "addr", "add", sc.uplink6 + "/64", "dev", "eth0", "nodad")
            sh("ip", "addr", "del", self.uplink6 + "/64", "dev", "eth0")
            sh("ip", "-6", "route", "replace", "default", "via", "2001:db8:1::fe", "dev", "eth0")
            self.uplink6 = sc.uplink6
        restore = "ip6tables-restore" if sc.family == P.V6 else "iptables-restore"
        r = sh(restore, stdin="".join(sc.rules), check=False)
        if r.returncode:
            raise RuntimeError("%s refused the rules: %s" % (restore, r.stderr.strip()))
        if conntrack_list(sc.family):
            sh("conntrack", "-F", check=False)
        for s in (self.peer, self.net):
            s.take()

    def side(self, iface):
        return self.net if iface == "eth0" else self.peer

    def send(self, iface, b):
        s = self.side(iface)
        s.take()
        s.send(b)
        # what the packet caused is queued before the ARP answers
        self.peer.sync()
        self.net.sync()
        return [("peer", p) for p in self.peer.take()] + [("uplink", p) for p in self.net.take()]


def counters(family):
    """iptables-save -c (ip6tables-save -c) as {"table/CHAIN/N" or
    "table/CHAIN/policy": (pkts, bytes)}."""
    out, table, idx = {}, None, {}
    for line in sh("ip6tables-save" if family == P.V6 else "iptables-save", "-c").stdout.splitlines():
        if line.startswith("*"):
            table, idx = line[1:], {}
        elif line.startswith(":"):
            m = re.match(r":(\S+) (\S+) \[(\d+):(\d+)\]", line)
            if m and m.group(2) != "-":
                out["%s/%s/policy" % (table, m.group(1))] = (int(m.group(3)), int(m.group(4)))
        elif line.startswith("["):
            m = re.match(r"\[(\d+):(\d+)\] -A (\S+)", line)
            if m:
                c = m.group(3)
                idx[c] = idx.get(c, 0) + 1
                out["%s/%s/%d" % (table, c, idx[c])] = (int(m.group(1)), int(m.group(2)))
    return out


def probe(family):
    """{("pre"|"out", STATE): packets, ("local", None): packets}"""
    out, chain = {}, None
    for line in sh("nft", "list", "table", "ip6" if family == P.V6 else "ip",
                   "gwdiff").stdout.splitlines():
        m = re.match(r"\s*chain (\S+)", line)
        if m:
            chain = m.group(1)
            continue
        m = re.match(r"\s*(?:ct state (\S+) )?counter packets (\d+)", line)
        if m and chain in ("pre", "out", "local"):
            out[(chain, m.group(1).upper() if m.group(1) else None)] = int(m.group(2))
    return out


def delta(new, old):
    d = {}
    for k, v in new.items():
        o = old.get(k, (0, 0) if isinstance(v, tuple) else 0)
        if isinstance(v, tuple):
            if v != o:
                d[k] = (v[0] - o[0], v[1] - o[1])
        elif v != o:
            d[k] = v - o
    return d


def conntrack_list(family=P.V4):
    r = sh("conntrack", "-L", "-f", "ipv6" if family == P.V6 else "ipv4", check=False)
    return [l for l in r.stdout.splitlines() if l.strip()]


def ct_norm(line, portmap=None):
    """A conntrack -L line without its timeout and use count; portmap maps
    the kernel's (reply dst, dport or id) to gw's (by-design NAT ports)."""
    w = line.split()
    proto = w[0]
    rest = w[3:]
    rest = [t for t in rest if not t.startswith("use=")]
    if portmap:
        nsrc, dst = 0, None
        for i, t in enumerate(rest):
            if t.startswith("src="):
                nsrc += 1
            if nsrc == 2 and t.startswith("dst="):
                dst = t[4:]
            if nsrc == 2 and dst and (t.startswith("dport=") or t.startswith("id=")):
                k, v = t.split("=")
                m = portmap.get((dst, int(v)))
                if m is not None:
                    rest[i] = "%s=%d" % (k, m)
    return " ".join([proto] + rest)


# ---------------------------------------------------------------- one scenario

class Diff:
    def __init__(self, key, text):
        self.key, self.text = key, text


def in_range(v, r):
    return r is None or r[0] <= v <= r[1]


def same_packet(sc, gwp, kp, portmap, orig_sport=None):
    """gw's packet (Spec) equals the kernel's (Pkt), allowing the scenario's
    NAT source port difference (natport GWRANGE [KRANGE]): gw's port in
    GWRANGE, the kernel's in KRANGE.  With a KRANGE both sides choose, so
    when the kernel kept the original port, gw must keep it too.  Records
    the pair in portmap."""
    g, k = P.fields(gwp), P.fields(kp)
    if g == k:
        return True
    if sc.natport and g["proto"] in (P.TCP, P.UDP, P.ICMP, P.ICMP6):
        g2, k2 = dict(g), dict(k)
        g2["sport"] = k2["sport"] = 0
        if g2 == k2 and in_range(g["sport"], sc.natport[0]) and in_range(k["sport"], sc.natport[1]) \
                and not (sc.natport[1] is not None and k["sport"] == orig_sport):
            portmap[(k["src"], k["sport"])] = g["sport"]
            return True
    return False


def is_reply_to(p, spec):
    """An answer the kernel sent back to the packet's sender itself: an ICMP
    error or a TCP RST."""
    if p.dst != spec.src:
        return False
    if P.is_error(p):
        return True
    return p.proto == P.TCP and p.flags is not None and p.flags & P.FLAG_BITS["R"] and \
        spec.proto == P.TCP and p.dport == spec.sport


def dropped_answer(p):
    """The kernel's answer to a packet it dropped, not REJECT-ed: time
    exceeded and fragmentation needed; for IPv6 time exceeded, packet too
    big and destination unreachable "beyond scope of source address" (a
    link-local source leaving its link)."""
    if p.proto == P.ICMP:
        return p.icmp[0] == 11 or tuple(p.icmp[:2]) == (3, 4)
    return p.proto == P.ICMP6 and (p.icmp[0] in (2, 3) or tuple(p.icmp[:2]) == (1, 2))


def ct_one(d, chain):
    states = [s for s in STATES if d.get((chain, s))]
    n = sum(d.get((chain, s), 0) for s in STATES)
    if n == 0:
        return None
    if n == 1:
        return states[0]
    return "+".join("%s*%d" % (s, d[(chain, s)]) for s in states)


class Run:
    """One scenario through gw trace and the kernel."""

    def __init__(self, sc, kernel, gwbin, tmp, kernel_only, verbose):
        self.sc, self.kernel, self.kernel_only, self.verbose = sc, kernel, kernel_only, verbose
        self.confdir = os.path.join(tmp, sc.name)
        os.makedirs(self.confdir, exist_ok=True)
        with open(os.path.join(self.confdir, "gw0.conf"), "w") as f:
            f.write(CONFIG6 if sc.family == P.V6 else CONFIG)
        with open(os.path.join(self.confdir, "rules"), "w") as f:
            f.write("".join(sc.rules))
        self.gwrun = GwRun(gwbin, self.confdir,
                           [sc.uplink, sc.uplink6] if sc.family == P.V6 else [sc.uplink])
        self.diffs, self.notes, self.lines = [], [], []
        self.gw_texts, self.gw_res, self.gw_ct = None, None, []
        self.k_out = {}      # step -> what it became in the kernel (Pkt)
        self.sent_all = []   # every packet the kernel let out, for ICMP error quotes
        self.portmap = {}    # (kernel NAT address, port) -> gw's port (natport)
        self.flows = Flows()  # kernel-only: TCP numbers as gw trace makes them

    def run(self):
        """Returns "gw" when gw trace failed, "kernel-only", or None."""
        if not self.kernel_only:
            try:
                self.gw_texts, self.gw_res, self.gw_ct = gw_side(self.sc, self.gwrun)
            except (GwError, LookupError, ValueError) as e:
                self.diffs.append(Diff("gw", str(e)))
                return "gw"
            if self.gwrun.ttl_unsupported:
                self.notes.append("gw trace has no 'ttl' word: gw traced those packets with TTL 64")
        self.kernel.reset(self.sc)
        fam = self.sc.family
        c0, p0 = counters(fam), probe(fam)
        steps = self.sc.packets
        i = 0
        while i < len(steps):
            # a group: one packet sent, then the host's own answers to it
            if steps[i][2]:
                raise ValueError("%s:%d: a 'host' packet must follow a packet it answers" %
                                 (self.sc.path, steps[i][0]))
            j = i + 1
            while j < len(steps) and steps[j][2]:
                j += 1
            kspec = P.Spec(resolve(steps[i][1], self.k_out))
            b, note = self.kernel_bytes(i, kspec)
            got = self.kernel.send(kspec.iface or "gw0", b)
            c1, p1 = counters(fam), probe(fam)
            dc, dp = delta(c1, c0), delta(p1, p0)
            c0, p0 = c1, p1
            self.sent_all.extend(p for _, p in got)
            if self.kernel_only:
                self.show_kernel(i, list(range(i + 1, j)), kspec, b, note, got, dc, dp)
            else:
                self.compare(i, list(range(i + 1, j)), kspec, note, got, dc, dp)
            i = j
        self.compare_conntrack()
        return "kernel-only" if self.kernel_only else None

    def kernel_bytes(self, i, kspec):
        """The bytes the kernel gets for step i: gw's, with the fields that
        resolve differently on the kernel side (@N.x, ttl) patched, and an
        ICMP error quoting the kernel's own packet when gw's quote differs."""
        if self.kernel_only:
            seq, ack = self.flows.numbers(kspec)
            b = P.build(kspec, seq, ack, ip_id=i)
            if P.is_error(kspec):
                q = latest_to(self.sent_all, kspec.dst)
                if q is None:
                    raise ValueError("%s:%d: an ICMP error quotes a packet that left towards %s, "
                                     "and none has" % (self.sc.path, self.sc.packets[i][0], kspec.dst))
                b = P.icmp_error(b, q.raw)
            return b, ""
        b = bytes.fromhex(self.gw_res[i]["in_hex"])
        gspec = P.Spec(self.gw_texts[i])
        ch = {f: getattr(kspec, f) for f in ("src", "dst", "sport", "dport")
              if getattr(gspec, f) != getattr(kspec, f)}
        if kspec.ttl is not None and P.Pkt(b).ttl != kspec.ttl:
            ch["ttl"] = kspec.ttl
        note = ""
        if ch:
            b = P.patch(b, **ch)
            note = " (kernel: %s)" % ", ".join("%s %s" % kv for kv in ch.items())
        if P.is_error(kspec):
            q = latest_to(self.sent_all, kspec.dst)
            inner = P.Pkt(b).inner
            if q is not None and (inner is None or inner.tuple() != q.tuple()):
                b = P.icmp_error(b, q.raw)
                note += " (kernel: quotes its own %s)" % q.fmt(False)
        return b, note

    def show_kernel(self, i, hosts, kspec, b, note, got, dc, dp):
        local = dp.get(("local", None), 0) > 0
        outp = next((p for side, p in got if not is_reply_to(p, kspec)), None)
        if outp is not None:
            self.k_out[i + 1] = outp
        self.flows.update(kspec, P.Pkt(b), outp, local)
        self.lines.append("%2d  %s%s" % (i + 1, kspec.text, note))
        self.lines.append("    kernel: %s" % kernel_summary(got, local, ct_one(dp, "pre"), dc, kspec))
        for h in hosts:
            self.lines.append("%2d  host %s  (the kernel's own answer)" % (h + 1, self.sc.packets[h][1]))

    def take(self, left, pred):
        for x in left:
            if pred(*x):
                left.remove(x)
                return x
        return None, None

    def compare(self, i, hosts, kspec, note, got, dc, dp):
        """Step i and its host answers: gw's results against what the kernel
        let out, sent back, counted and classified."""
        sc, portmap, n = self.sc, self.portmap, i + 1
        g = self.gw_res[i]
        gto = g.get("to") if g["verdict"] == "ACCEPT" else None
        gpkt = P.Spec(g["packet"])
        k_ct = ct_one(dp, "pre")
        local = dp.get(("local", None), 0) > 0
        left = list(got)
        # what the kernel let through: gw's packet on gw's side, else anything
        # that is not an answer to the sender
        kto, kpkt = None, None
        if gto in ("peer", "uplink"):
            kto, kpkt = self.take(left, lambda s, p: s == gto and
                                  same_packet(sc, gpkt, p, portmap, kspec.sport))
            if kpkt is None:
                kto, kpkt = self.take(left, lambda s, p: not is_reply_to(p, kspec))
        host_match = {}
        for h in hosts:
            hg = self.gw_res[h]
            if hg["verdict"] == "ACCEPT":
                hs, orig = P.Spec(hg["packet"]), P.Spec(self.gw_texts[h]).sport
                m = self.take(left, lambda s, p: s == hg.get("to") and
                              same_packet(sc, hs, p, portmap, orig))
                if m[1] is not None:
                    host_match[h] = m
                    self.k_out[h + 1] = m[1]
        if kpkt is None and gto not in ("peer", "uplink"):
            kto, kpkt = self.take(left, lambda s, p: not is_reply_to(p, kspec))
        kreply = self.take(left, lambda s, p: is_reply_to(p, kspec))[1]
        if kpkt is not None:
            self.k_out[n] = kpkt
            kverdict = "ACCEPT"
        elif local:
            kto, kverdict = "host", "ACCEPT"
        elif kreply is not None and not dropped_answer(kreply):
            kverdict = "REJECT"
        else:
            kverdict = "DROP"

        bad = []
        if (g["verdict"], gto) != (kverdict, kto):
            bad.append(Diff("%d.verdict" % n, "verdict: gw %s, kernel %s" %
                            (g["verdict"] + (" to " + gto if gto else ""),
                             kverdict + (" to " + kto if kto else ""))))
        elif kpkt is not None and not same_packet(sc, gpkt, kpkt, portmap, kspec.sport):
            bad.append(Diff("%d.packet" % n, "packet: gw %s, kernel %s" % (g["packet"], kpkt.fmt())))
        if g.get("ct") != k_ct:
            bad.append(Diff("%d.ct" % n, "ct: gw %s, kernel %s" % (g.get("ct"), k_ct)))
        if kreply is not None and g.get("reply"):
            if not same_packet(sc, P.Spec(g["reply"]), kreply, portmap):
                bad.append(Diff("%d.reply" % n, "sent back: gw %s, kernel %s" % (g["reply"], kreply.fmt())))
        elif kreply is not None and kverdict != "REJECT":
            bad.append(Diff("%d.reply" % n, "the kernel sent back %s, gw nothing" % kreply.fmt()))
        for h in hosts:
            hg = self.gw_res[h]
            if h not in host_match:
                bad.append(Diff("%d.verdict" % (h + 1), "the host's answer: gw %s; the kernel sent "
                                "nothing like it" % gw_desc(hg)))
        for s, p in left:
            bad.append(Diff("%d.extra" % n, "the kernel also sent to the %s: %s" % (s, p.fmt())))
        # the host's answers' conntrack state (the OUTPUT probe), when no
        # REJECT reply went through OUTPUT as well
        if hosts and kverdict != "REJECT":
            gs = sorted(str(self.gw_res[h].get("ct")) for h in hosts)
            ks = sorted(sum(([s] * dp.get(("out", s), 0) for s in STATES), []))
            if gs != ks:
                bad.append(Diff("%d.ct" % (hosts[0] + 1), "the host's answers' ct: gw %s, kernel %s" %
                                (gs, ks)))
        # counters: gw's hits in the group (one packet per hit, the IP total
        # length it had there: TCPMSS grows a SYN) against what
        # iptables-save -c moved
        gc = {}
        for h in [i] + hosts:
            hits = self.gw_res[h].get("hits", [])
            for hit, b in zip(hits, self.gw_res[h]["hit_bytes"]):
                p_, b_ = gc.get(hit, (0, 0))
                gc[hit] = (p_ + 1, b_ + b)
            # the answer gw sent (REJECT, time exceeded) crossed OUTPUT
            for hit in self.gw_res[h].get("reply_hits", []):
                p_, b_ = gc.get(hit, (0, 0))
                gc[hit] = (p_ + 1, b_ + self.gw_res[h].get("reply_len", 0))
        for k in sorted(set(gc) | set(dc), key=hit_order):
            gv, kv = gc.get(k, (0, 0)), dc.get(k, (0, 0))
            if gv != kv:
                bad.append(Diff("%d.counters:%s" % (n, k), "counter %s: gw %d packets %d bytes, "
                                "kernel %d packets %d bytes" % (k, gv[0], gv[1], kv[0], kv[1])))
        self.diffs.extend(bad)

        kd = "%s%s%s ct %s" % (kverdict, " to " + kto if kto else "",
                               " " + kpkt.fmt() if kpkt is not None else "", k_ct)
        if kreply is not None:
            kd += " (sent back: %s)" % kreply.fmt()
        self.lines.append("%2d  %s%s" % (n, self.gw_texts[i], note))
        self.lines.append("    gw:     %s" % gw_desc(g))
        self.lines.append("    kernel: %s   hits %s" % (kd, fmt_hits(dc)))
        for h in hosts:
            self.lines.append("%2d  host %s" % (h + 1, self.gw_texts[h]))
            self.lines.append("    gw:     %s" % gw_desc(self.gw_res[h]))
            hm = host_match.get(h)
            self.lines.append("    kernel: %s" % ("sent %s to the %s" % (hm[1].fmt(), hm[0]) if hm
                                                  else "nothing like it"))
        for d in bad:
            self.lines.append("    DIFF %s: %s" % (d.key, d.text))

    def compare_conntrack(self):
        kct = conntrack_list(self.sc.family)
        if self.kernel_only:
            self.lines.append("    conntrack (kernel):")
            self.lines.extend("      " + ct_norm(l) for l in sorted(kct))
            return
        ka = sorted(ct_norm(l, self.portmap) for l in kct)
        ga = sorted(ct_norm(l) for l in self.gw_ct)
        if ka == ga:
            if self.verbose:
                self.lines.append("    conntrack:")
                self.lines.extend("      " + l for l in ga)
            return
        self.lines.append("    conntrack tables differ (timeouts left out):")
        for who, mine, theirs in (("gw", ga, ka), ("kernel", ka, ga)):
            for l in mine:
                if l not in theirs:
                    d = Diff("conntrack.%s:%s" % (who, l.replace(" ", "_")), "only %s has: %s" % (who, l))
                    self.diffs.append(d)
                    self.lines.append("    DIFF %s" % d.text)


def short(key):
    return key if len(key) <= 60 else key[:57] + "..."


def known_match(key, known):
    return any(fnmatch.fnmatchcase(key, g) for g in known[0])


def latest_to(sent, addr):
    for p in reversed(sent):
        if p.src == addr:
            return p
    return None


def hit_order(k):
    t, c, n = k.split("/")
    return (["raw", "mangle", "nat", "filter"].index(t) if t in ("raw", "mangle", "nat", "filter")
            else 9, c, int(n) if n.isdigit() else 1 << 30)


def fmt_hits(dc):
    return "[" + ", ".join("%s%s" % (k, "*%d" % v[0] if v[0] != 1 else "")
                           for k, v in sorted(dc.items(), key=lambda kv: hit_order(kv[0]))) + "]"


def gw_desc(g):
    s = g["verdict"]
    if g["verdict"] == "ACCEPT":
        s += " to %s" % g.get("to")
    s += " %s ct %s" % (g.get("packet"), g.get("ct"))
    if g.get("drop"):
        s += " (drop: %s)" % g["drop"]
    if g.get("reply"):
        s += " (reply %s)" % g["reply"]
    return s + "   hits [%s]" % ", ".join(g.get("hits", []))


def kernel_summary(got, local, ct, dc, spec):
    parts = []
    for side, p in got:
        parts.append("%s to the %s: %s" % ("answered" if is_reply_to(p, spec) else "sent", side, p.fmt()))
    if local:
        parts.append("delivered to the host")
    if not parts:
        parts.append("nothing came out")
    return "; ".join(parts) + "  ct %s  hits %s" % (ct, fmt_hits(dc))


class Flows:
    """Kernel-only mode: TCP seq/ack per connection and direction, the way
    gw trace makes them (1000000 original, 5000000 reply)."""

    def __init__(self):
        self.conns = []  # [orig tuple, reply tuple, next seq orig, next seq reply]

    def _find(self, spec):
        t = (spec.src, spec.sport, spec.dst, spec.dport)
        for c in self.conns:
            if c[0] == t:
                return c, 0
            if c[1] == t:
                return c, 1
        return None, 0

    def numbers(self, spec):
        if spec.proto != P.TCP:
            return 0, 0
        c, d = self._find(spec)
        if c is None:
            return 1000000, 0
        seq = c[2 + d] if c[2 + d] is not None else (1000000 if d == 0 else 5000000)
        return seq, c[3 - d] or 0

    def update(self, spec, xin, out, accepted_local):
        if spec.proto != P.TCP or (out is None and not accepted_local):
            return
        c, d = self._find(spec)
        if c is None:
            t = (spec.src, spec.sport, spec.dst, spec.dport)
            r = (out.dst, out.dport, out.src, out.sport) if out is not None else \
                (spec.dst, spec.dport, spec.src, spec.sport)
            c = [t, r, None, None]
            self.conns.append(c)
        payload = xin.len - xin.l4off - 20
        c[2 + d] = xin.seq + payload + bool(spec.flags & 2) + bool(spec.flags & 1)


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gw", required=True)
    ap.add_argument("--peer-ns", required=True)
    ap.add_argument("--net-ns", required=True)
    ap.add_argument("--tmp", required=True)
    ap.add_argument("scenarios", nargs="+")
    a = ap.parse_args()
    kernel_only = os.environ.get("DIFF_KERNEL_ONLY") == "1"
    verbose = os.environ.get("DIFF_VERBOSE") == "1"

    # one CPU: the packets, the ARP probes and everything they cause are
    # processed in order on it
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    peer = Side("peer", "/run/netns/" + a.peer_ns, "peer0", "10.8.0.2", "10.8.0.1", "gw0")
    net = Side("net", "/run/netns/" + a.net_ns, "net0", "192.0.2.254", "192.0.2.1", "eth0")
    kernel = Kernel(peer, net)

    counts = {"ok": 0, "known": 0, "FAIL": 0}
    failed, knowns = [], []
    for path in a.scenarios:
        try:
            sc = Scenario(path)
        except (ValueError, OSError) as e:
            print("FAIL  %s: %s" % (os.path.basename(path), e))
            counts["FAIL"] += 1
            failed.append(path)
            continue
        start = time.monotonic()
        try:
            r = Run(sc, kernel, a.gw, a.tmp, kernel_only, verbose)
            err = r.run()
            diffs, notes, lines = r.diffs, r.notes, r.lines
        except (RuntimeError, ValueError, LookupError) as e:
            print("FAIL  %-28s %s" % (sc.name, e))
            counts["FAIL"] += 1
            failed.append(sc.name)
            continue
        took = time.monotonic() - start
        if err == "kernel-only":
            print("----  %-28s %s (%.1fs)" % (sc.name, sc.title, took))
            print("\n".join(lines))
            continue
        unknown = [d for d in diffs if not any(known_match(d.key, k) for k in sc.known)]
        stale = [(g, k) for k in sc.known for g in k[0]
                 if not any(fnmatch.fnmatchcase(d.key, g) for d in diffs)]
        if unknown:
            status = "FAIL"
        elif diffs:
            status = "known"
        else:
            status = "ok"
        counts[status] += 1
        print("%-5s %-28s %s (%.1fs)" % (status, sc.name, sc.title, took))
        for n in notes:
            print("      note: " + n)
        if (status == "FAIL" or verbose) and lines:
            print("\n".join("      " + l for l in lines))
        for d in diffs:
            if d.key == "gw":
                print("      gw trace: " + d.text)
        for k in sc.known:
            hit = [d.key for d in diffs if known_match(d.key, k)]
            if hit:
                print("      known (%s:%d): %s\n        %s" %
                      (os.path.basename(path), k[2], k[1], " ".join(short(h) for h in hit)))
        if unknown:
            print("      UNRECORDED DIFFERENCES: " + " ".join(short(d.key) for d in unknown))
        for g, k in stale:
            print("      recorded difference %s (%s:%d) is no longer seen: fixed? remove it" %
                  (g, os.path.basename(path), k[2]))
        if status == "FAIL":
            failed.append(sc.name)
        elif status == "known":
            knowns.append(sc.name)
    if kernel_only:
        return 0
    print("diff-kernel: %d ok, %d known-difference, %d FAIL%s" %
          (counts["ok"], counts["known"], counts["FAIL"],
           (" (" + " ".join(failed) + ")") if failed else ""))
    return 1 if counts["FAIL"] else 0


if __name__ == "__main__":
    sys.exit(main())
