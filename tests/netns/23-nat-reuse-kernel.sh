#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Kernel ground truth for NAT port reuse (nat/nat.c's top comment): a narrow
# SNAT range (4 ports) is filled by four connections that are over, then a
# fifth SYN arrives.  Linux 6.18 (nf_nat_used_tuple_harder) takes over the
# tuple of an entry in CLOSE (after a RST) or TIME_WAIT (after a FIN close)
# when the new SYN's sequence number is after the old connection's last one
# (so a late segment of the old connection cannot be taken for the new one);
# otherwise the SYN is dropped and the old entries stay.  The same
# scenarios, packet for packet, are in tests/unit/test_nat.c (reuse_*).
#
#   ┌───┐ eth0 192.0.2.1/24   192.0.2.254 eth0 ┌───┐ eth1 198.51.100.254   198.51.100.2/24 eth0 ┌───┐
#   │ a ├──────────────────────────────────────┤ r ├──────────────────────────────────────────┤ b │
#   └───┘                                      └───┘ SNAT to .254:2000-2003                    └───┘
#
# a and b drop their own TCP input, so only the crafted segments exist.
. "$(dirname "$0")/lib.sh"

host_add a r b
link_add a eth0 r eth0
link_add r eth1 b eth0
addr_add a eth0 192.0.2.1/24
addr_add r eth0 192.0.2.254/24
addr_add r eth1 198.51.100.254/24
addr_add b eth0 198.51.100.2/24
route_add a default via 192.0.2.254
route_add b default via 198.51.100.254
on r sysctl -qw net.ipv4.ip_forward=1
on r iptables -t nat -A POSTROUTING -o eth1 -p tcp -j SNAT --to-source 198.51.100.254:2000-2003
on a iptables -A INPUT -p tcp -j DROP
on b iptables -A INPUT -p tcp -j DROP
on b iptables -A INPUT -p udp -j DROP
# a fill takes a few seconds, many more on a loaded machine: the first
# connection's CLOSE (10 s by default) must outlast the fourth, so the
# entries wait for the fifth SYN however slow the crafting is
on r sysctl -qw net.netfilter.nf_conntrack_tcp_timeout_close=600 \
	net.netfilter.nf_conntrack_tcp_timeout_time_wait=600

# b's INPUT counters: TCP segments, UDP markers
brecv() { on b iptables -L INPUT -v -n -x | awk -v n="$1" 'NR == n + 2 { print $1 }'; }
# a segment from a waits until r has passed it on (or dropped it): a UDP
# marker behind it on the same path has reached b; one from b to the NAT
# address waits until it has reached a
marker() {
	local before i; before=$(brecv 2)
	on a python3 -c 'import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"m", ("198.51.100.2", 9))'
	for ((i = 0; i < 200; i++)); do
		[ "$(brecv 2)" != "$before" ] && return 0
		sleep 0.02
	done
	fail "the UDP marker never reached b"
}
a_seg() { on a python3 "$TOP/tests/netns/tcpseg.py" 192.0.2.1 198.51.100.2 "$1" 443 "$3" "$4" "$2"; marker; }
arecv() { on a iptables -L INPUT -v -n -x | awk 'NR == 3 { print $1 }'; }
b_seg() {
	local before i; before=$(arecv)
	on b python3 "$TOP/tests/netns/tcpseg.py" 198.51.100.2 198.51.100.254 443 "$1" "$3" "$4" "$2"
	for ((i = 0; i < 200; i++)); do
		[ "$(arecv)" != "$before" ] && return 0
		sleep 0.02
	done
	fail "b's $2 to port $1 never reached a"
}
entries() { on r conntrack -L -p tcp 2>/dev/null | grep -c "dport=443 " || true; }
natport() {
	on r conntrack -L -p tcp 2>/dev/null |
		awk -v s="sport=$1" '$0 ~ s" " { for (i = 1; i <= NF; i++) if ($i ~ /^dport=/) p = $i; sub("dport=", "", p); print p }'
}
state_of() { on r conntrack -L -p tcp 2>/dev/null | awk -v s="sport=$1" '$0 ~ s" " { print $4 }'; }

# fill CLOSE: four connections over the four ports, each closed by CLOSE
# (rst: the server resets) or fin (a normal close: TIME_WAIT); their
# sequence numbers fall, so none takes over another's tuple
fill() {
	local close=$1 i p s
	on r conntrack -F >/dev/null 2>&1 || true
	for i in 1 2 3 4; do
		s=$((1000000 - 100000 * i))
		a_seg 4000$i S $s 0
		p=$(natport 4000$i)
		[ -n "$p" ] || fail "$close: connection $i has no entry"
		b_seg "$p" SA 5000 $((s + 1))
		a_seg 4000$i A $((s + 1)) 5001
		if [ "$close" = rst ]; then
			b_seg "$p" R 5001 0
		else
			a_seg 4000$i FA $((s + 1)) 5001
			b_seg "$p" A 5001 $((s + 2))
			b_seg "$p" FA 5001 $((s + 2))
			a_seg 4000$i A $((s + 2)) 5002
		fi
	done
	[ "$(entries)" = 4 ] || fail "$close: $(entries) entries, want 4: $(on r conntrack -L -p tcp 2>&1)"
	want=$([ "$close" = rst ] && echo CLOSE || echo TIME_WAIT)
	for i in 1 2 3 4; do
		[ "$(state_of 4000$i)" = "$want" ] || fail "$close: connection $i is $(state_of 4000$i)"
	done
}

for close in rst fin; do
	# a fifth SYN whose sequence number is before the old ones': dropped
	fill $close
	before=$(brecv 1)
	a_seg 40005 S 50 0
	[ "$(brecv 1)" = "$before" ] || fail "$close: a SYN with an old sequence number got through"
	[ "$(entries)" = 4 ] && [ -z "$(natport 40005)" ] ||
		fail "$close: old SYN: $(on r conntrack -L -p tcp 2>&1)"
	# after them: forwarded on a port taken over from one closed entry
	fill $close
	before=$(brecv 1)
	a_seg 40005 S 99999999 0
	[ "$(brecv 1)" = $((before + 1)) ] || fail "$close: the new SYN did not get through"
	p=$(natport 40005)
	[ "$(entries)" = 4 ] && [ "$(state_of 40005)" = SYN_SENT ] && [ -n "$p" ] ||
		fail "$close: new SYN: $(on r conntrack -L -p tcp 2>&1)"
	log "$close: a SYN after the old sequence numbers took over port $p; an older one was dropped"
done
