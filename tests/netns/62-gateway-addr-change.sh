#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# MASQUERADE follows the uplink's address: the topology of
# 60-gateway-masquerade.sh (wireguard-go client -> gw MASQUERADE -> internet),
# a UDP flow NAT-ed to 198.51.100.1, then the gateway's uplink address
# changes to 198.51.100.3 (added, the old one deleted, promote_secondaries so
# the new one takes over):
#   gw conntrack gw0 -L      no entry NAT-ed to the old address any more
#   new UDP and TCP flows    the server sees 198.51.100.3:NatPorts, echo works
#   the uplink filters       still there (tc + reserved ports), for the new one
#   the uplink's MTU         lowered to 1300: a DF datagram of 1350 bytes
#                            gets fragmentation needed (mtu 1300) from gw;
#                            back to 1500: it passes
#   no iptables/nftables rule; SIGTERM removes the tc filter
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/gateway.sh"

NEW=198.51.100.3
gateway_world

G() { on gateway "$GW" "$@"; }

# a UDP echo server that logs each datagram's source
bg internet python3 -u -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 7000))
while True:
    d, a = s.recvfrom(2048)
    print("%s:%d" % a, flush=True)
    s.sendto(d, a)
' > "$TMP/udp.log"
wait_udp internet 7000

udp_echo() {
	on client python3 "$TOP/tests/netns/gw_e2e.py" udp-ping $SRV 7000 1 > /dev/null
}

log "a UDP flow through MASQUERADE to $UPL"
udp_echo old || fail "UDP echo through the NAT (old address)"
grep -Eq "^$UPL:61[0-9]{3}$" "$TMP/udp.log" || fail "the server saw: $(cat "$TMP/udp.log")"
G conntrack "$ctl" -L > "$TMP/ct0" 2> /dev/null || fail "gw conntrack -L"
sed 's/^/    /' "$TMP/ct0"
grep -Eq "^udp .* dport=7000 src=$SRV dst=$UPL sport=7000 dport=61[0-9]{3} " "$TMP/ct0" ||
	fail "no conntrack entry NAT-ed to $UPL"

log "the uplink address changes: $UPL -> $NEW"
on gateway sysctl -qw net.ipv4.conf.eth0.promote_secondaries=1
on gateway ip addr add $NEW/24 dev eth0
on gateway ip addr del $UPL/24 dev eth0
[ "$(on gateway ip -4 -o addr show dev eth0 | awk '{print $4}')" = "$NEW/24" ] ||
	fail "gateway eth0: $(on gateway ip -4 -o addr show dev eth0)"
# (a listing that fails is not an empty one)
flushed() { G conntrack "$ctl" -L > "$TMP/ct.list" 2> /dev/null && ! grep -qF "dst=$UPL " "$TMP/ct.list"; }
wait_for 5 flushed || fail "entries NAT-ed to $UPL still listed"
grep -q "address $UPL -> $NEW: [1-9][0-9]* conntrack entries NAT-ed to $UPL flushed" "$TMP/gw.log" ||
	fail "no flush logged: $(tail -3 "$TMP/gw.log")"
log "  $(grep -o "address $UPL -> .*" "$TMP/gw.log")"
[[ $(on gateway tc filter show dev eth0 ingress) == *bpf* ]] || fail "no tc filter after the change"
[[ $(on gateway cat /proc/sys/net/ipv4/ip_local_reserved_ports) == *61000-61999* ]] ||
	fail "NatPorts no longer reserved"

log "new connections use $NEW"
udp_echo new || fail "UDP echo through the NAT (new address)"
saw=$(tail -n 1 "$TMP/udp.log")
[[ $saw =~ ^$NEW:61[0-9]{3}$ ]] || fail "the server saw: $saw"
log "  server saw: $saw"
G conntrack "$ctl" -L 2> /dev/null |
	grep -Eq "^udp .* dport=7000 src=$SRV dst=$NEW sport=7000 dport=61[0-9]{3} " ||
	fail "no conntrack entry NAT-ed to $NEW"

head -c 1000000 /dev/urandom > "$TMP/data"
bg internet socat -d -d -u TCP-LISTEN:7001,reuseaddr - > "$TMP/recv" 2> "$TMP/srv.log"
rx=$BG_PID
wait_tcp internet 7001
on client timeout 30 socat -u - TCP:$SRV:7001 < "$TMP/data" || fail "client -> server: socat"
wait "$rx" || true
cmp -s "$TMP/data" "$TMP/recv" || fail "TCP client -> server after the change"
grep -Eq "accepting connection from AF=2 $NEW:61[0-9]{3}( |$)" "$TMP/srv.log" ||
	fail "the server did not see $NEW:NatPorts: $(grep accepting "$TMP/srv.log")"

log "the uplink's MTU is followed: 1500 -> 1300 -> 1500"
mtu_to() {
	on gateway ip link set eth0 mtu "$1"
	on internet ip link set eth0 mtu "$1"
	wait_for 10 grep -q "uplink eth0: MTU [0-9]* -> $1\$" "$TMP/gw.log"
}
probe() { on client python3 "$TOP/tests/netns/gw_e2e.py" probe wgc0 "$@"; }
mtu_to 1300
# a DF datagram of 1350 bytes: too big for the uplink now (before, gw sent
# it as before and the uplink's driver dropped it without a word)
r=$(probe udp $SRV 7000 64 40100 1322) || fail "$r"
[[ " $r " == *" answer=icmp type=3 code=4 "* && " $r " == *" mtu=1300 "* ]] ||
	fail "1350 bytes over an uplink of MTU 1300: $r"
log "  $r"
r=$(probe udp $SRV 7000 64 40101 1272) || fail "$r"
[[ " $r " == *" answer=udp "* ]] || fail "1300 bytes over an uplink of MTU 1300: $r"
mtu_to 1500
r=$(probe udp $SRV 7000 64 40102 1322) || fail "$r"
[[ " $r " == *" answer=udp "* ]] || fail "1350 bytes over an uplink of MTU 1500 again: $r"

log "no iptables or nftables rule in any namespace"
no_netfilter

log "SIGTERM: tc filter and reserved ports removed"
kill -TERM "$gw_pid"
wait "$gw_pid" || fail "gw exited with $?"
[ -z "$(on gateway tc filter show dev eth0 ingress)" ] || fail "tc filter left behind"
[[ $(on gateway cat /proc/sys/net/ipv4/ip_local_reserved_ports) == *61000* ]] &&
	fail "reserved ports left behind"
log "MASQUERADE follows the uplink address: old mappings flushed, new flows on $NEW"
