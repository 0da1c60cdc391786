#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# One peer cannot fill conntrack for everyone: the world of gateway.sh with
# PeerConntrackMax = 8 and a second stock wireguard-go client (client2,
# 10.8.0.3, on its own link lan1).
#
#   client  10.8.0.2 ─ wg ─┐
#                          ├─ gateway (gw, MASQUERADE, PeerConntrackMax 8) ─ internet
#   client2 10.8.0.3 ─ wg ─┘
#
# client sends UDP from 40 source ports: 8 are tracked and answered, the
# rest are dropped and counted (nf_drop_peer_conntrack_limit,
# conntrack_peer_limit); its 8 flows keep working; client2's new flows are
# not affected.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/gateway.sh"

GW_IFACE_EXTRA="PeerConntrackMax = 8"
gateway_world "$(gateway_peer client2 10.8.0.3)"
gateway_client client2 10.8.0.3 1
G() { on gateway "$GW" "$@"; }
stat() { G stats "$ctl" | sed -n "s/^$1=//p"; }

bg internet python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 7001))
while True:
    d, a = s.recvfrom(2048)
    s.sendto(d, a)'
wait_udp internet 7001

# udp_from HOST PORT...: one datagram from each source port; prints how
# many were answered
udp_from() {
	local h=$1; shift
	on "$h" python3 - "$SRV" "$@" <<'PY'
import select, socket, sys
srv, ports = sys.argv[1], [int(p) for p in sys.argv[2:]]
n = len(ports)
socks = []
for p in ports:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", p))
    socks.append(s)
# a few tries each: the first datagram may wait for the handshake
answered = set()
for attempt in range(5):
    for i, s in enumerate(socks):
        if i not in answered:
            s.sendto(b"x%d" % i, (srv, 7001))
    end = 2.0
    while True:
        r, _, _ = select.select([s for i, s in enumerate(socks) if i not in answered], [], [], end)
        if not r:
            break
        for s in r:
            s.recv(64)
            answered.add(socks.index(s))
        end = 0.5
    if len(answered) == n:
        break
print(len(answered))
PY
}

got=$(udp_from client $(seq 40000 40039))
log "client: $got of 40 UDP flows answered; peer limit drops $(stat nf_drop_peer_conntrack_limit)"
[ "$got" = 8 ] || fail "client got $got flows through, want 8 (PeerConntrackMax)"
[ "$(stat conntrack_peer_limit)" -gt 0 ] && [ "$(stat nf_drop_peer_conntrack_limit)" -gt 0 ] ||
	fail "the refusals were not counted: $(G stats "$ctl" | grep -i limit)"
[ "$(G conntrack "$ctl" -L 2>/dev/null | grep -c 'src=10.8.0.2 ')" = 8 ] ||
	fail "client's entries: $(G conntrack "$ctl" -L 2>&1)"
# its tracked flows still work
tracked=$(G conntrack "$ctl" -L 2>/dev/null | sed -n 's/.* src=10\.8\.0\.2 dst=[0-9.]* sport=\([0-9]*\) dport=7001 .*/\1/p')
got=$(udp_from client $tracked)
[ "$got" = 8 ] || fail "client's own 8 flows: $got answered"
got=$(udp_from client2 $(seq 50000 50007))
[ "$got" = 8 ] || fail "client2 got $got of 8 flows through"
log "client's 8 flows keep working; client2's 8 new flows are not affected"
