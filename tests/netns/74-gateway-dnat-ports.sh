#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# DNAT-ed ports inside the ephemeral range are reserved like NatPorts.  The
# world of gateway.sh (client -> gw -> internet), the gateway's
# ip_local_port_range narrowed to 50000-50300 and rules restored with
# "-i eth0 -p udp --dport 50000:50100 -j DNAT --to 10.8.0.2":
#
#   client 10.8.0.2 ── wg ── gateway (gw, eth0 198.51.100.1) ── internet 198.51.100.2
#     UDP echo :50020          40 UDP exchanges of its own        UDP echo :7000
#
# In Linux the replies to the host's own queries are ESTABLISHED in
# conntrack and never DNAT-ed; gw's tc filter cannot tell them from new
# flows, so the host must never pick a DNAT-ed port: with them reserved,
# each of the host's 40 exchanges gets its reply (without, a third of them
# would be DNAT-ed to the client).  Then: DNAT from the internet to :50020
# reaches the client; a port reserved by someone else (50010) is never
# taken out; a restore without the rule keeps the port of the live DNAT-ed
# flow (it goes on working) until conntrack -F ends the flow, then the port
# is the host's; one with a DNAT of every UDP port reserves none of them
# (logged); SIGTERM
# leaves the sysctl as it was but for the other's 50010.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/gateway.sh"

PF=$TOP/contrib/examples/gw0-portforward.rules
GW_RULES=$PF gateway_world

G() { on gateway "$GW" "$@"; }
reserved() { on gateway cat /proc/sys/net/ipv4/ip_local_reserved_ports; }
# with_dnat SPEC: the port forward rules with one more DNAT for udp SPEC
with_dnat() {
	sed "s|^-A POSTROUTING|-A PREROUTING -i eth0 -p udp -m udp --dport $1 -j DNAT --to-destination 10.8.0.2\n&|" "$PF"
}

[ "$(reserved)" = 61000-61999 ] || fail "reserved ports at start: $(reserved)"
on gateway sysctl -qw net.ipv4.ip_local_port_range="50000 50300"
on gateway sysctl -qw net.ipv4.ip_local_reserved_ports="50010,61000-61999"

log "a DNAT of udp 50000:50100: reserved, merged with what is there"
with_dnat 50000:50100 > "$TMP/dnat.rules"
G rules "$ctl" restore < "$TMP/dnat.rules" || fail "restore with the DNAT of 50000:50100"
[ "$(reserved)" = "50000-50100,61000-61999" ] || fail "reserved ports: $(reserved)"

log "the host's own UDP exchanges from ephemeral ports all get their replies"
# one echo process (socat's fork per datagram lags on a loaded machine),
# and each exchange resends from its port until answered: a port gw took
# stays unanswered every time
bg internet python3 "$TOP/tests/netns/gw_e2e.py" udp-echo 7000 > /dev/null
wait_udp internet 7000
on gateway python3 - "$SRV" > "$TMP/host.log" <<'EOF'
import socket, sys
bad = []
for i in range(40):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(1)
    s.connect((sys.argv[1], 7000))
    port = s.getsockname()[1]
    ok = False
    for _ in range(5):
        s.send(b"host %d" % i)
        try:
            ok = s.recv(100) == b"host %d" % i
            break
        except socket.timeout:
            pass
    if not ok or 50000 <= port <= 50100:
        bad.append(port)
    s.close()
print("bad", *bad)
EOF
[ "$(cat "$TMP/host.log")" = bad ] || fail "the host's exchanges from these ports failed or used a DNAT-ed port: $(cat "$TMP/host.log")"

log "DNAT from the internet to $UPL:50020 reaches the client"
bg client socat UDP-LISTEN:50020,reuseaddr PIPE
wait_udp client 50020
# the client's endpoint is known once it has sent something
echo "warm $RUN" | on client timeout 10 socat -t 2 -T 3 - UDP:$SRV:7000 > /dev/null
# dnat_echo: a datagram from the internet's port 40123 to :50020 and back
# (resent until it is)
dnat_echo() {
	on internet python3 "$TOP/tests/netns/gw_e2e.py" udp-ping $UPL 50020 1 40123 > /dev/null ||
		fail "UDP through DNAT to :50020 ($1): no echo"
}
dnat_echo first

log "a restore without it: its live connection keeps :50020 (as in Linux), the rest goes"
G rules "$ctl" restore < "$PF" || fail "restore $PF"
[ "$(reserved)" = "50010,50020,61000-61999" ] || fail "reserved ports: $(reserved)"
grep -q "filters: .* udp 5353,50020; kept for live connections only: 1 port(s)" "$TMP/gw.log" ||
	fail "the kept port is not logged: $(grep filters: "$TMP/gw.log" | tail -1)"
dnat_echo "after the restore"
log "conntrack -F: it ends, :50020 is the host's again, the other's 50010 stays"
G conntrack "$ctl" -F > /dev/null 2>&1 || fail "conntrack -F"
[ "$(reserved)" = "50010,61000-61999" ] || fail "reserved ports: $(reserved)"

log "a DNAT of every UDP port: none of them reserved (logged)"
with_dnat 1:65535 > "$TMP/all.rules"
G rules "$ctl" restore < "$TMP/all.rules" || fail "restore with the DNAT of every UDP port"
[ "$(reserved)" = "50010,61000-61999" ] || fail "reserved ports: $(reserved)"
grep -q "DNAT-ed ports cover more than half of net.ipv4.ip_local_port_range 50000-50300" \
	"$TMP/gw.log" || fail "not logged"

no_netfilter
log "SIGTERM: the sysctl as it was but for the other's port"
stop "$gw_pid"
[ "$(reserved)" = 50010 ] || fail "reserved ports after exit: $(reserved)"
log "DNAT-ed ports in the ephemeral range are reserved while the rule lives"
