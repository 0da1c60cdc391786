#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Fragments through the gateway (the world of gateway.sh: stock wireguard-go
# client -> gw MASQUERADE -> internet), both ways, as Linux forwards them:
#   internet -> client  a 4000-byte UDP reply leaves the server in 1500-byte
#                       fragments; gw reassembles it (conntrack needs the
#                       ports), de-NATs it and, the tunnel's MTU being 1420,
#                       cuts it again to fit: the client's socket gets it whole
#   client -> internet  the client's kernel fragments at wgc0's MTU; gw
#                       reassembles, NATs and sends it out of the uplink in
#                       fragments no larger than those it came in (Linux's
#                       frag_max_size), not in 1500-byte ones
#   DF                  a datagram over the tunnel MTU with DF set is not cut:
#                       the server gets fragmentation needed (mtu 1420)
# gw stats counts what it fragmented; a capture on the server shows the sizes.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/gateway.sh"

gateway_world

# the server: answers every datagram with 4000 bytes derived from it
cat > "$TMP/srv.py" <<'PY'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 9000))
while True:
    d, a = s.recvfrom(65535)
    open(sys.argv[1], "ab").write(b"%d %s\n" % (len(d), a[0].encode()))
    if d == b"df":
        # 1500 bytes with DF (IP_MTU_DISCOVER = IP_PMTUDISC_PROBE): over the tunnel's MTU
        s.setsockopt(socket.IPPROTO_IP, 10, 3)
        s.sendto(b"x" * 1472, a)
        s.setsockopt(socket.IPPROTO_IP, 10, 0)
    else:
        s.sendto((d[:16] * 250)[:4000], a)
PY
bg internet python3 "$TMP/srv.py" "$TMP/srv.log"
wait_udp internet 9000
bg internet tcpdump -Z root -i eth0 -nn -s 128 -U -w "$TMP/srv.pcap" \
	'ip and (udp or icmp or ip[6:2] & 0x1fff != 0)' 2> "$TMP/tcpdump.log"
tcpdump_pid=$BG_PID
wait_for 5 grep -q listening "$TMP/tcpdump.log"

log "a 4000-byte datagram each way, fragmented on both links"
on client python3 - "$SRV" <<'PY' || fail "UDP 4000 bytes through the tunnel and NAT"
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(5)
# IP_PMTUDISC_DONT: the kernel fragments (no DF), as an old stack would
s.setsockopt(socket.IPPROTO_IP, 10, 0)
msg = bytes(range(16)) * 250
s.sendto(msg, (sys.argv[1], 9000))
d, a = s.recvfrom(65535)
assert len(d) == 4000 and d == (msg[:16] * 250)[:4000], len(d)
PY
wait_for 5 grep -q "^4000 $UPL\$" "$TMP/srv.log" ||
	fail "the server did not get 4000 bytes from $UPL: $(cat "$TMP/srv.log")"

log "a datagram over the tunnel MTU with DF set: fragmentation needed, mtu 1420"
on client python3 - "$SRV" <<'PY' || fail "a DF datagram over the tunnel MTU reached the client"
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
s.sendto(b"df", (sys.argv[1], 9000))
try:
    d, a = s.recvfrom(65535)
    sys.exit("got %d bytes" % len(d))
except socket.timeout:
    pass
PY
stats=$(on gateway "$GW" stats "$ctl")
frags=$(sed -n 's/^frag_fragmented=//p' <<< "$stats")
made=$(sed -n 's/^frag_created=//p' <<< "$stats")
[ "${frags:-0}" -ge 2 ] && [ "${made:-0}" -ge 6 ] ||
	fail "gw stats: frag_fragmented=$frags frag_created=$made"
log "  gw stats: frag_fragmented=$frags frag_created=$made"

stop "$tcpdump_pid"
python3 - "$TMP/srv.pcap" "$UPL" <<'PY' || fail "fragments from the gateway"
import struct, sys
f = open(sys.argv[1], "rb")
hdr = f.read(24)
link = struct.unpack("<I", hdr[20:24])[0]
assert link == 1, link
upl = bytes(map(int, sys.argv[2].split(".")))
sizes, mtus = [], []
while True:
    h = f.read(16)
    if len(h) < 16:
        break
    incl, orig = struct.unpack("<II", h[8:16])
    pkt = f.read(incl)
    ip = pkt[14:]
    if ip[12:16] != upl:
        continue
    ihl = (ip[0] & 15) * 4
    ip = ip[:20] + ip[ihl:] if ihl > 20 else ip
    tot, frag = struct.unpack(">H2xH", ip[2:8])
    if frag & 0x3fff:
        sizes.append(tot)
    if ip[9] == 1 and ip[20] == 3 and ip[21] == 4:
        mtus.append(struct.unpack(">H", ip[26:28])[0])
# from the gateway: the client's datagram in pieces of at most 1420 bytes
assert sizes and max(sizes) <= 1420, sizes
print("  fragments from the gateway:", sizes)
assert mtus == [1420], "fragmentation needed from the gateway: %r" % mtus
print("  fragmentation needed from the gateway, mtu", mtus[0])
PY
no_netfilter
log "fragments both ways: reassembled, NAT-ed, cut again to the path (frag_max_size)"
