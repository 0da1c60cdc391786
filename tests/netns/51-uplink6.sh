#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# gw/uplink for IPv6 (issue 12): on the host's own IPv6 NAT address the tc
# filter keeps the gateway's kernel silent for NatPorts (no RST to a TCPv6
# SYN, no ICMPv6 unreachable to UDP) while the packets reach gw's packet
# socket; the host's own IPv6 goes on (ping6, TCPv6 connections in and
# out; Neighbor Discovery for its address is not touched); NatPorts
# reserved in net.ipv4.ip_local_reserved_ports keep IPv6 and dual-stack
# sockets' ephemeral ports out too; a neighbour resolves a foreign IPv6 NAT
# address to the uplink's MAC (gw answers the Neighbor Solicitation).  Each
# with a control run without gw, where the kernel does answer / nobody does.
#
#   ┌─────────┐ eth0 2001:db8::1/64          2001:db8::2/64 eth0 ┌──────────┐
#   │ gateway ├──────────────────────── veth ──────────────────────┤ internet │
#   └─────────┘ uplink_probe hold6 (NatPorts 61000-61999,          └──────────┘
#               foreign 2001:db8::50)   echo :7000                 echo :7001
. "$(dirname "$0")/lib.sh"

case $GW in
*/build/san/*) PROBE=${UPLINK_PROBE:-$TOP/build/san/tests/netns/uplink_probe} ;;
*) PROBE=${UPLINK_PROBE:-$TOP/build/rel/tests/netns/uplink_probe} ;;
esac
[ -x "$PROBE" ] || fail "no $PROBE (make $(realpath --relative-to="$TOP" "$PROBE"))"
V6="$TOP/tests/netns/uplink6.py"
LO=61000 HI=61999 NAT6=2001:db8::1 SRV6=2001:db8::2 FOREIGN6=2001:db8::50

host_add gateway internet
for h in gateway internet; do # no DAD: addresses usable at once
	on $h sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
done
link_add gateway eth0 internet eth0
on gateway ip addr add $NAT6/64 dev eth0 nodad
on internet ip addr add $SRV6/64 dev eth0 nodad
MAC=$(on gateway cat /sys/class/net/eth0/address)

v6() { local h=$1; shift; on "$h" python3 "$V6" "$@"; }

bg gateway python3 "$V6" serve 7000
wait_tcp gateway 7000
bg internet python3 "$V6" serve 7001
wait_tcp internet 7001
[ "$(v6 gateway ping $SRV6 5)" = reply ] || fail "no IPv6 between the namespaces"

reserved() { on gateway cat /proc/sys/net/ipv4/ip_local_reserved_ports; }
tc_filters() { on gateway tc filter show dev eth0 ingress; }
lladdr() { on internet ip -6 neigh show $FOREIGN6 dev eth0 | sed -n 's/.* lladdr \([0-9a-f:]*\).*/\1/p'; }

# The controls: without gw the kernel answers the NAT ports, and nobody
# answers for the foreign address.
r=$(v6 internet tcp $NAT6 61500 5)
[ "$r" = refused ] || fail "control: TCPv6 SYN to a NatPort without gw: $r (want a RST)"
r=$(v6 internet udp $NAT6 61500 5)
[ "$r" = refused ] || fail "control: UDPv6 to a NatPort without gw: $r (want ICMPv6 unreachable)"
v6 internet ping $FOREIGN6 2 > /dev/null
[ -z "$(lladdr)" ] || fail "control: $FOREIGN6 resolved without gw: $(lladdr)"
# ephemeral ports: 40 in the range, the upper 20 beyond NatPorts
on gateway sh -c 'echo "61980 62019" > /proc/sys/net/ipv4/ip_local_port_range'
on gateway sh -c 'echo 5000 > /proc/sys/net/ipv4/ip_local_reserved_ports'
before=$(reserved)
binds=$(v6 gateway binds)
[ "$binds" = "udp6 40 61980 tcp6 40 61980 dual 40 61980" ] ||
	fail "control: ephemeral ports without gw: $binds"
log "control: the kernel refused TCPv6 and UDPv6 on NatPorts, nobody resolved $FOREIGN6, 40 ephemeral ports"

out="$TMP/hold6.out"
bg gateway "$PROBE" hold6 eth0 $NAT6 $FOREIGN6 $LO $HI > "$out" 2>&1
probe=$BG_PID
wait_for 10 grep -q holding "$out"
tc_filters | grep -q 'protocol all pref 49374 bpf .*handle 0x1 direct-action' ||
	fail "no tc filter for every protocol while gw runs: $(tc_filters)"
[ "$(reserved)" = "5000,61000-61999" ] || fail "reserved ports while gw runs: $(reserved)"

# NatPorts reserved for IPv6 and dual-stack sockets by the IPv4 sysctl
binds=$(v6 gateway binds)
[ "$binds" = "udp6 20 62000 tcp6 20 62000 dual 20 62000" ] ||
	fail "ephemeral IPv6 ports with NatPorts reserved: $binds (want 20 from 62000)"
log "IPv6 and dual-stack sockets' ephemeral ports stay out of NatPorts ($binds)"

# the kernel is silent for NatPorts (the tc filter)
r=$(v6 internet tcp $NAT6 61500 3)
[ "$r" = timeout ] || fail "TCPv6 SYN to a NatPort with gw: $r (the kernel answered)"
r=$(v6 internet udp $NAT6 61501 3)
[ "$r" = timeout ] || fail "UDPv6 to a NatPort with gw: $r (the kernel answered)"

# the host's own IPv6: ping, a connection in, connections out (from the
# narrow range: every one from a port beyond NatPorts)
[ "$(v6 internet ping $NAT6 5)" = reply ] || fail "ping6 to the host's address with gw"
r=$(v6 internet echo $NAT6 7000 5)
[ "${r%%,*}" = "5 ok" ] || fail "TCPv6 to a host port with gw: $r"
r=$(v6 gateway echo $SRV6 7001 15)
[ "${r%%,*}" = "15 ok" ] || fail "the host's own TCPv6 connections with gw: $r"
lo=${r##*ports }
[ "${lo%-*}" -ge 62000 ] || fail "a host connection from a NatPort: $r"
log "the host's own IPv6 unharmed: ping6, TCPv6 in, TCPv6 out ($r)"

# a neighbour resolves the foreign address to the uplink's MAC
on internet ip -6 neigh flush dev eth0
v6 internet ping $FOREIGN6 1 > /dev/null # the echo itself is not answered
wait_for 10 eval '[ "$(lladdr)" = "$MAC" ]'
log "$FOREIGN6 resolved to the uplink's MAC $MAC: $(on internet ip -6 neigh show $FOREIGN6 dev eth0)"

stop "$probe"
cat "$out" | sed 's/^/    /'
n=$(sed -n 's/^ipv6: \([0-9]*\) to NatPorts.*/\1/p' "$out")
[ "${n:-0}" -ge 2 ] || fail "gw's packet socket did not get the IPv6 packets to NatPorts"
grep -Eq 'ndp replies [1-9][0-9]* announced 1$' "$out" || fail "NDP counters: $(grep ^ipv6 "$out")"
[ "$(reserved)" = "$before" ] || fail "reserved ports after exit: '$(reserved)', was '$before'"
[ -z "$(tc_filters)" ] || fail "tc filter left behind: $(tc_filters)"
log "gw got $n IPv6 packets to NatPorts on its packet socket; all removed at exit"
