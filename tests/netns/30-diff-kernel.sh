#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The differential test: for the same rules and packets, gw's verdicts, NAT
# results, counters and conntrack states equal the kernel's.
#
#                                   ┌─────────── gw ────────────┐
#  ┌──────┐ peer0                  gw0 │ iptables-restore of the   │ eth0              net0 ┌──────┐
#  │ peer ├──────── veth ───────────┤ scenario, conntrack,      ├──────── veth ───────┤ net  │
#  └──────┘ 10.8.0.2/24    10.8.0.1/24 ip_forward=1           192.0.2.1/24  192.0.2.254/24 └──────┘
#   sends what enters gw0,          └───────────────────────────┘             sends what enters eth0,
#   captures what leaves it          default via 192.0.2.254                  captures what leaves it
#
# Every scenario in diff/*.scn is a rules file and a packet sequence.  gw
# traces it offline (gw trace --json --hex --conntrack); the driver
# (diff/diffkernel.py) sends gw's very bytes through the gw namespace from
# the side they enter, captures what comes out on both far ends (packet
# sockets; an ARP round trip on each side after every packet tells when
# everything it caused has arrived), reads iptables-save -c and conntrack -L
# there, and compares.  The far ends never answer: IPv4 is dropped at their
# ingress, after the capture.
#
#   tests/netns/run.sh 30-diff-kernel.sh            all scenarios
#   bash tests/netns/30-diff-kernel.sh diff/x.scn   some (DIFF_VERBOSE=1: every step)
#   DIFF_KERNEL_ONLY=1 bash tests/netns/30-diff-kernel.sh   only what Linux does
. "$(dirname "$0")/lib.sh"

DIFF=$TOP/tests/netns/diff
command -v python3 >/dev/null || fail "python3 is needed for the differential test driver"
for t in iptables-restore iptables-save nft conntrack; do
	command -v "$t" >/dev/null || fail "$t is needed (make deps)"
done
[ "${DIFF_KERNEL_ONLY:-0}" = 1 ] || [ -x "$GW" ] || fail "no gw binary at $GW (make)"

scenarios=()
for s in "$@"; do
	case $s in /*) scenarios+=("$s") ;; *) scenarios+=("$(cd "$(dirname "$s")" && pwd)/${s##*/}") ;; esac
done
[ ${#scenarios[@]} -gt 0 ] || scenarios=("$DIFF"/*.scn)

host_add peer gw net
for h in peer gw net; do
	# no IPv6 chatter (router solicitations, MLD) in the captures
	on "$h" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
done
link_add peer peer0 gw gw0
link_add gw eth0 net net0
# the tunnel side takes packets over the uplink's MTU (1500), for the
# fragmentation-needed scenarios; gw's own tunnel MTU (1420) is not
# mirrored: no scenario sends a DF packet over 1420 toward the tunnel
on peer ip link set peer0 mtu 9000
on gw ip link set gw0 mtu 9000
addr_add peer peer0 10.8.0.2/24
addr_add peer peer0 10.8.0.3/24
addr_add gw gw0 10.8.0.1/24
addr_add gw eth0 192.0.2.1/24
addr_add net net0 192.0.2.254/24
route_add gw default via 192.0.2.254 dev eth0

on gw sysctl -qw net.ipv4.ip_forward=1 \
	net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 \
	net.ipv4.conf.gw0.rp_filter=0 net.ipv4.conf.eth0.rp_filter=0 \
	net.ipv4.conf.all.send_redirects=0 net.ipv4.conf.default.send_redirects=0 \
	net.ipv4.conf.gw0.send_redirects=0 net.ipv4.conf.eth0.send_redirects=0 \
	net.ipv4.icmp_ratelimit=0 net.ipv4.icmp_msgs_per_sec=100000 net.ipv4.icmp_msgs_burst=100000

# Neighbours are fixed, so nothing waits for ARP: every peer-side and
# uplink-side address resolves to the far end's MAC.
mac() { on "$1" cat "/sys/class/net/$2/address"; }
peer0_mac=$(mac peer peer0) net0_mac=$(mac net net0)
for i in $(seq 2 254); do
	echo "neigh replace 10.8.0.$i lladdr $peer0_mac dev gw0 nud permanent"
	echo "neigh replace 192.0.2.$i lladdr $net0_mac dev eth0 nud permanent"
done | ip -n "$(ns gw)" -batch -

# The far ends capture and never answer: IPv4 is dropped at their ingress,
# after the packet sockets saw it.
sink() {
	on "$1" nft -f - <<-EOF
	table netdev sink {
		chain in {
			type filter hook ingress device "$2" priority 0; policy accept;
			meta protocol ip drop
		}
	}
	EOF
}
sink peer peer0
sink net net0

log "${#scenarios[@]} scenarios"
on gw python3 "$DIFF/diffkernel.py" --gw "$GW" --peer-ns "$(ns peer)" --net-ns "$(ns net)" \
	--tmp "$TMP" "${scenarios[@]}" || fail "gw and the kernel differ (see above)"
