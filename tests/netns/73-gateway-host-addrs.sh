#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The uplink's filters follow every IPv4 address of the host, not only the
# uplink's primary.  The world of gateway.sh with the port forward of
# contrib/examples/gw0-portforward.rules (TCP 8080 -> 10.8.0.2:80) and UDP to
# :7101 SNAT-ed to 198.51.100.50, an address no interface has, and FORWARD
# open from eth0 to eth0 (what gw wrongly forwarded would go back out):
#
#   ┌──────────────┐ eth0       lan0 ┌─────────────────────────────┐ eth0          eth0 ┌──────────┐
#   │ client       │ 192.0.2.2       │ gateway  gw (DNAT :8080)    │ 198.51.100.1       │ internet │
#   │  wgc0        ├────── veth ─────┤  lan0 192.0.2.1 (+ .50 in b)├────── veth ────────┤ .100.2   │
#   │  10.8.0.2    │                 │  eth0 + .4 (a), -> .3 (c)   │                    │          │
#   └──────────────┘                 └─────────────────────────────┘                    └──────────┘
#
# (a) a secondary address 198.51.100.4 added to eth0: the filters take it
#     (DNAT through it reaches the client), and it is local to gw's routing
#     as every address of the host is: an echo with TTL 1 from the client
#     gets the host's reply (no TTL exceeded from gw), one from the internet
#     exactly one reply, the client's TCP to the host's listener on it (and
#     on 203.0.113.9, an address of lan0) connects; deleted: the filters
#     drop it.
# (b) 198.51.100.50 added to lan0 (another interface): it is the host's now,
#     gw stops answering ARP for it; deleted: foreign again, announced.  1000
#     addresses on lan0, the last of them inside an SNAT range: not foreign.
# (c) forwarding turned on behind gw's back, then the uplink's address moves
#     to 198.51.100.3: the live rules' spec is refused (foreign SNAT), the
#     filters fall back to .3 and NatPorts (logged as an ERROR) and
#     MASQUERADE through .3 works.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/gateway.sh"

SEC=198.51.100.4 FOREIGN=198.51.100.50 NEW=198.51.100.3 LOC=203.0.113.9
sed "s|^-A POSTROUTING -s 10.8.0.0/24 -o eth0 -j MASQUERADE|-A POSTROUTING -s 10.8.0.0/24 -o eth0 -p udp --dport 7101 -j SNAT --to-source $FOREIGN\n-A POSTROUTING -s 10.8.0.0/24 -o eth0 -p udp --dport 7102 -j SNAT --to-source 10.77.3.200-10.77.4.10\n&|" \
	"$TOP/contrib/examples/gw0-portforward.rules" |
	sed 's|^-A FORWARD -i eth0 -o gw0.*|&\n-A FORWARD -i eth0 -o eth0 -j ACCEPT|' > "$TMP/pf.rules"
GW_RULES=$TMP/pf.rules gateway_world

G() { on gateway "$GW" "$@"; }
stat() { G stats "$ctl" | sed -n "s/^$1=//p"; }
filters() { grep "filters: " "$TMP/gw.log" | tail -n 1; }
# filters_now TEXT: the last filters line logged says TEXT
filters_now() { [[ $(filters) == *"$1"* ]]; }
udp_echo() { # udp_echo PORT: a datagram from the client to the server's echo, resent until it is back
	on client python3 "$TOP/tests/netns/gw_e2e.py" udp-ping $SRV $1 1 > /dev/null
}

wait_for 15 filters_now "not the host's (gw answers ARP) 10.77.3.200-10.77.4.10,$FOREIGN"
bg internet python3 -u -c '
import socket, sys, select
ss = []
for p in (7000, 7101):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", p)); ss.append(s)
while True:
    for s in select.select(ss, [], [])[0]:
        d, a = s.recvfrom(2048)
        print("%d %s:%d" % (s.getsockname()[1], a[0], a[1]), flush=True)
        s.sendto(d, a)
' > "$TMP/udp.log"
wait_udp internet 7101
udp_echo 7000 || fail "UDP echo through MASQUERADE"
udp_echo 7101 || fail "UDP echo via $FOREIGN"
grep -q "^7101 $FOREIGN:" "$TMP/udp.log" || fail "the server saw: $(cat "$TMP/udp.log")"

log "(a) a secondary address $SEC on eth0: the filters take it"
on gateway ip addr add $SEC/24 dev eth0
wait_for 15 filters_now "addresses $UPL,$SEC;"
log "  $(filters)"
head -c 200000 /dev/urandom > "$TMP/data"
bg client socat -u OPEN:"$TMP/data" TCP-LISTEN:80,reuseaddr
tx=$BG_PID
wait_tcp client 80
on internet timeout 20 socat -u TCP:$SEC:8080 - > "$TMP/down" || fail "$SEC:8080 (DNAT): socat"
wait "$tx" || true
cmp -s "$TMP/data" "$TMP/down" || fail "DNAT through $SEC: $(wc -c < "$TMP/down") bytes"
log "(a) $SEC is local to gw's routing: an echo with TTL 1 from the client is the host's to answer"
# (icmp_echo --all: one echo, every answer within 2 s)
r=$(icmp_echo client $SEC 1 --all)
[ "$r" = reply ] || fail "echo to $SEC with TTL 1 from the client: $r (the host's reply only)"
r=$(icmp_echo internet $SEC 64 --all)
[ "$r" = reply ] || fail "echo to $SEC from the internet: $r (one reply, the kernel's)"
log "(a) the client's TCP to the host's own listener on $SEC and on $LOC (lan0)"
on gateway ip addr add $LOC/32 dev lan0
tcp_echo_server gateway 2222 > /dev/null
for dst in $SEC $LOC; do
	echo "host $dst $RUN" > "$TMP/line"
	tcp_echo client $dst 2222 "$TMP/line"
done
# gw trace against the live gateway routes as it does: the host's addresses are local
on gateway "$GW" trace "$ctl" "tcp 10.8.0.2:40000 > $LOC:2222 flags S" > "$TMP/trace" ||
	fail "gw trace to $LOC"
grep -q "INPUT" "$TMP/trace" || fail "gw trace: $LOC is not local: $(cat "$TMP/trace")"
grep -q "FORWARD" "$TMP/trace" && fail "gw trace: to $LOC through FORWARD: $(cat "$TMP/trace")"
log "(a) deleted: the filters drop it"
on gateway ip addr del $SEC/24 dev eth0
wait_for 15 filters_now "addresses $UPL;"

log "(b) $FOREIGN on lan0: the host's now, gw leaves its ARP to the kernel"
on gateway ip addr add $FOREIGN/32 dev lan0
wait_for 15 eval '! filters_now "$FOREIGN"'
log "  $(filters)"
replies=$(stat uplink_arp_replies)
on internet ip neigh flush dev eth0
# a datagram to it makes the internet host ask for its MAC: the kernel answers
resolved() {
	on internet python3 -c 'import socket, sys; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"x", (sys.argv[1], 9))' $FOREIGN
	on internet ip -4 neigh show $FOREIGN dev eth0 | grep -q lladdr
}
wait_for 15 resolved
[ "$(stat uplink_arp_replies)" = "$replies" ] ||
	fail "gw answered ARP for $FOREIGN, an address of the host ($(stat uplink_arp_replies) replies)"
log "(b) deleted: foreign again, announced"
announced=$(stat uplink_arp_announced)
on gateway ip addr del $FOREIGN/32 dev lan0
wait_for 15 filters_now "10.77.4.10,$FOREIGN"
[ "$(stat uplink_arp_announced)" -gt "$announced" ] || fail "$FOREIGN not announced again"
on internet ip neigh flush dev eth0
udp_echo 7101 || fail "UDP echo via $FOREIGN once it is foreign again"

log "(b) 1000 addresses on lan0 (10.77.0.1-10.77.3.232): the SNAT range 10.77.3.200-10.77.4.10 is foreign beyond them only"
for i in $(seq 1 1000); do
	echo "addr add 10.77.$((i / 256)).$((i % 256))/32 dev lan0"
done > "$TMP/addrs"
on gateway ip -batch "$TMP/addrs"
wait_for 15 filters_now "(gw answers ARP) 10.77.3.233-10.77.4.10,$FOREIGN"
log "  $(filters)"

log "(c) forwarding on behind gw's back, then the uplink's address moves to $NEW"
on gateway sysctl -qw net.ipv4.conf.eth0.forwarding=1
on gateway sysctl -qw net.ipv4.conf.eth0.promote_secondaries=1
on gateway ip addr add $NEW/24 dev eth0
on gateway ip addr del $UPL/24 dev eth0
wait_for 15 filters_now "addresses $NEW; tunnel (all IPv4) 10.8.0.1; DNAT-ed tcp none udp none"
grep -q "ERROR: the live rules cannot be followed.*forwarding=0.*fall back" "$TMP/gw.log" ||
	fail "no error logged for the refused spec"
log "  $(grep -o "ERROR: .*" "$TMP/gw.log" | tail -n 1 | cut -c 1-120)..."
udp_echo 7000 || fail "UDP echo through MASQUERADE after the move to $NEW"
tail -n 1 "$TMP/udp.log" | grep -Eq "^7000 $NEW:61[0-9]{3}$" || fail "the server saw: $(tail -n 1 "$TMP/udp.log")"
on gateway sysctl -qw net.ipv4.conf.eth0.forwarding=0

no_netfilter
stop "$gw_pid"
[ -z "$(on gateway tc filter show dev eth0 ingress)" ] || fail "tc filter left behind"
log "the uplink's filters follow the host's addresses; a refused spec falls back to MASQUERADE's"
