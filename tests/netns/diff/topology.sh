# SPDX-License-Identifier: MIT
# The differential tests' topology (30-diff-kernel.sh, 31-diff6-kernel.sh),
# sourced after lib.sh.  diff_topology [6] builds it; with 6, IPv6 too.
#
#                                   ┌─────────── gw ────────────┐
#  ┌──────┐ peer0                  gw0 │ iptables-restore of the   │ eth0              net0 ┌──────┐
#  │ peer ├──────── veth ───────────┤ scenario, conntrack,      ├──────── veth ───────┤ net  │
#  └──────┘ 10.8.0.2/24    10.8.0.1/24 ip_forward=1           192.0.2.1/24  192.0.2.254/24 └──────┘
#           fd00:8::2/64  fd00:8::1/64 (IPv6)         2001:db8:1::1/64  2001:db8:1::fe/64
#   sends what enters gw0,          └───────────────────────────┘             sends what enters eth0,
#   captures what leaves it       default via 192.0.2.254, 2001:db8:1::fe    captures what leaves it
#
# The far ends only send and capture on packet sockets: their own IP stacks
# never answer (IPv4 and IPv6 are dropped at their ingress after the
# capture; IPv6 is off in them, so they send no router solicitations, DAD
# or MLD of their own).  The IPv4 addresses stay in the IPv6 topology: the
# driver's ARP round trip after each packet tells when everything it caused
# has arrived, for both families.

DIFF=$TOP/tests/netns/diff

diff_topology() {
	local v6=${1:-}
	command -v python3 >/dev/null || fail "python3 is needed for the differential test driver"
	local tools="iptables-restore iptables-save nft conntrack"
	[ -z "$v6" ] || tools="$tools ip6tables-restore ip6tables-save"
	for t in $tools; do
		command -v "$t" >/dev/null || fail "$t is needed (make deps)"
	done
	[ "${DIFF_KERNEL_ONLY:-0}" = 1 ] || [ -x "$GW" ] || fail "no gw binary at $GW (make)"

	host_add peer gw net
	for h in peer gw net; do
		# no IPv6 chatter (router solicitations, MLD) in the captures
		[ "$h" = gw ] && [ -n "$v6" ] && continue
		on "$h" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
	done
	if [ -n "$v6" ]; then
		# gw's own IPv6 stack: no duplicate address detection (nothing
		# tentative, no neighbour solicitations), no router solicitations;
		# its MLD reports are dropped at OUTPUT by the driver's probe table
		on gw sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 \
			net.ipv6.conf.all.dad_transmits=0 net.ipv6.conf.default.dad_transmits=0 \
			net.ipv6.conf.all.router_solicitations=0 net.ipv6.conf.default.router_solicitations=0 \
			net.ipv6.conf.all.accept_ra=0 net.ipv6.conf.default.accept_ra=0
	fi
	link_add peer peer0 gw gw0
	link_add gw eth0 net net0
	# the tunnel side takes packets over the uplink's MTU (1500), for the
	# fragmentation-needed / packet-too-big scenarios; gw's own tunnel MTU
	# (1420) is not mirrored: no scenario sends a DF (IPv6) packet over 1420
	# toward the tunnel
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

	# Neighbours are fixed, so nothing waits for ARP (NDP): every peer-side
	# and uplink-side address resolves to the far end's MAC.
	local peer0_mac net0_mac i
	peer0_mac=$(on peer cat /sys/class/net/peer0/address)
	net0_mac=$(on net cat /sys/class/net/net0/address)
	for i in $(seq 2 254); do
		echo "neigh replace 10.8.0.$i lladdr $peer0_mac dev gw0 nud permanent"
		echo "neigh replace 192.0.2.$i lladdr $net0_mac dev eth0 nud permanent"
	done | ip -n "$(ns gw)" -batch -

	if [ -n "$v6" ]; then
		# The kernel reference forwards IPv6 (gw itself never needs it);
		# redirects off as for IPv4, ICMPv6 errors without a rate limit
		on gw sysctl -qw net.ipv6.conf.all.forwarding=1 \
			net.ipv6.icmp.ratelimit=0 net.ipv6.icmp.ratemask=
		# fixed link-local addresses (the kernel's answers to link-local
		# senders come from them)
		for i in gw0 eth0; do
			ip -n "$(ns gw)" -6 addr flush dev $i scope link
			ip -n "$(ns gw)" addr add fe80::1/64 dev $i nodad
		done
		ip -n "$(ns gw)" addr add fd00:8::1/64 dev gw0 nodad
		ip -n "$(ns gw)" addr add 2001:db8:1::1/64 dev eth0 nodad
		ip -n "$(ns gw)" -6 route add default via 2001:db8:1::fe dev eth0
		for i in $(seq 2 32) fe; do
			echo "neigh replace fd00:8::$i lladdr $peer0_mac dev gw0 nud permanent"
			echo "neigh replace 2001:db8:1::$i lladdr $net0_mac dev eth0 nud permanent"
		done | ip -n "$(ns gw)" -batch -
		# link-local senders (answered, never forwarded)
		echo "neigh replace fe80::2 lladdr $peer0_mac dev gw0 nud permanent
neigh replace fe80::fe lladdr $net0_mac dev eth0 nud permanent" | ip -n "$(ns gw)" -batch -
	fi

	# The far ends capture and never answer: IP is dropped at their
	# ingress, after the packet sockets saw it.
	local s
	for s in "peer peer0" "net net0"; do
		set -- $s
		on "$1" nft -f - <<-EOF
		table netdev sink {
			chain in {
				type filter hook ingress device "$2" priority 0; policy accept;
				meta protocol { ip, ip6 } drop
			}
		}
		EOF
	done
}

# diff_run SCENARIO...: the driver over the scenarios, in the gw namespace
diff_run() {
	log "$# scenarios"
	on gw python3 "$DIFF/diffkernel.py" --gw "$GW" --peer-ns "$(ns peer)" --net-ns "$(ns net)" \
		--tmp "$TMP" "$@" || fail "gw and the kernel differ (see above)"
}

# diff_scenarios DEFAULT_DIR ARGS...: the scenario paths (absolute) in
# DIFF_SCENARIOS: the arguments, or every DEFAULT_DIR/*.scn
diff_scenarios() {
	local dir=$1 s
	shift
	DIFF_SCENARIOS=()
	for s in "$@"; do
		case $s in /*) DIFF_SCENARIOS+=("$s") ;; *) DIFF_SCENARIOS+=("$(cd "$(dirname "$s")" && pwd)/${s##*/}") ;; esac
	done
	[ ${#DIFF_SCENARIOS[@]} -gt 0 ] || DIFF_SCENARIOS=("$dir"/*.scn)
}
