#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# gw/uplink_tx for IPv6 (issue 12): IPv6 packets handed to the send queue
# arrive at the far end.  With no neighbour entry the first leaves by the
# AF_INET6 IPPROTO_RAW socket bound to the uplink (the kernel resolves the
# next hop by NDP); once the kernel's entry is learned the next ones leave
# as Ethernet frames (0x86dd) to the next hop's MAC -- a neighbour on the
# link, then a server behind the router the gateway's only IPv6 default
# route points to by its link-local address (fe80::2).  A TCPv6 upload
# whose segments are flushed at once leaves joined into GSO TCPv6
# super-packets through the device's queue and arrives whole.  Every echo
# comes back on gw's packet socket (a frame to a wrong MAC would be dropped
# by the far end's kernel: the echo is the proof of the MAC too).
#
#   ┌─────────┐ eth0 2001:db8:1::1/64   2001:db8:1::2/64 eth0 ┌────────┐ eth1 2001:db8:2::1/64
#   │ gateway ├──────────── veth ─────────── fe80::2/64       │ router ├────────── veth ──┐
#   └─────────┘ default via fe80::2 dev eth0  UDP echo :7001  └────────┘ forwarding=1     │
#     uplink_probe send6 (NatPorts 61000-61999)                          2001:db8:2::2/64 eth0
#                                                                       ┌────────┐
#                                                                       │ server │ UDP echo :7001
#                                                                       └────────┘ TCP sink :7003
. "$(dirname "$0")/lib.sh"

case $GW in
*/build/san/*) PROBE=${UPLINK_PROBE:-$TOP/build/san/tests/netns/uplink_probe} ;;
*) PROBE=${UPLINK_PROBE:-$TOP/build/rel/tests/netns/uplink_probe} ;;
esac
[ -x "$PROBE" ] || fail "no $PROBE (make $(realpath --relative-to="$TOP" "$PROBE"))"
LO=61000 HI=61999 NAT6=2001:db8:1::1 ROUTER6=2001:db8:1::2 SRV6=2001:db8:2::2

host_add gateway router server
for h in gateway router server; do # no DAD: addresses usable at once
	on $h sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
done
on router sysctl -qw net.ipv6.conf.all.forwarding=1
link_add gateway eth0 router eth0
link_add router eth1 server eth0
on gateway ip addr add $NAT6/64 dev eth0 nodad
on router ip addr add $ROUTER6/64 dev eth0 nodad
on router ip addr add fe80::2/64 dev eth0 nodad
on router ip addr add 2001:db8:2::1/64 dev eth1 nodad
on server ip addr add $SRV6/64 dev eth0 nodad
on gateway ip -6 route add default via fe80::2 dev eth0
on server ip -6 route add default via 2001:db8:2::1 dev eth0
RMAC=$(on router cat /sys/class/net/eth0/address)

bg router "$PROBE" udp-echo6 7001
bg server "$PROBE" udp-echo6 7001
bg server socat -u TCP6-LISTEN:7003,reuseaddr OPEN:"$TMP/up6.got",creat,trunc
wait_udp router 7001
wait_udp server 7001
wait_tcp server 7003

# send6 NAME STEP: the probe's run, with the gateway's neighbours flushed
send6() {
	on gateway ip -6 neigh flush dev eth0
	on gateway "$PROBE" send6 eth0 $NAT6 $LO $HI "$2" > "$TMP/$1.out" 2>&1 ||
		fail "$1: $(cat "$TMP/$1.out")"
	log "$(grep -E '^(neigh6|up6)' "$TMP/$1.out")"
}

# a neighbour on the link: the next hop is the destination
send6 onlink "neigh6,$ROUTER6,7001,$RMAC"
# the server behind the link-local default gateway: the next hop is fe80::2
on gateway ip -6 route show default | grep -q 'via fe80::2 dev eth0' ||
	fail "the gateway's default route: $(on gateway ip -6 route show default)"
send6 via-ll "neigh6,$SRV6,7001,$RMAC"
on gateway ip -6 neigh show fe80::2 dev eth0 | grep -q "lladdr $RMAC" ||
	fail "the kernel did not resolve the link-local gateway: $(on gateway ip -6 neigh show dev eth0)"

# TCPv6 through the queue: 40 segments in one flush, joined
send6 up6 "up6,$SRV6,7003,61010,40,$TMP/up6.sent"
wait_for 10 cmp -s "$TMP/up6.sent" "$TMP/up6.got"
log "the server got the $(stat -c %s "$TMP/up6.got") bytes sent, in order"
