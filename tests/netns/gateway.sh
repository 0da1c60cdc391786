#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The world of the gateway tests (60-62), sourced after lib.sh:
#
#   ┌────────────────────┐ eth0          lan0 ┌──────────────────────┐ eth0            eth0 ┌──────────┐
#   │ client             │ 192.0.2.2  192.0.2.1 │ gateway              │ 198.51.100.1          │ internet │
#   │  wireguard-go wgc0 ├──────── veth ────────┤  gw run gw0.conf     ├──────── veth ─────────┤ .100.2   │
#   │   10.8.0.2, default│                      │   Uplink eth0, Rules │                       │          │
#   └────────────────────┘                      └──────────────────────┘                       └──────────┘
#
# gateway_world [EXTRA]: builds it with contrib/examples/gw0.rules, or the
# file GW_RULES names (copied to $TMP/gw0.rules), EXTRA appended to gw0.conf
# (more [Peer] sections), starts gw (gw_pid, control socket ctl) and the
# client (client_pid, wgc) with its default route through the tunnel.  Sets
# SRV, UPL, gw_pub, cl_pub.

gateway_world() {
	local gw_priv cl_priv
	SRV=198.51.100.2 UPL=198.51.100.1
	host_add client gateway internet
	link_add client eth0 gateway lan0
	link_add gateway eth0 internet eth0
	addr_add client eth0 192.0.2.2/24
	addr_add gateway lan0 192.0.2.1/24
	addr_add gateway eth0 $UPL/24
	addr_add internet eth0 $SRV/24

	gw_priv=$("$GW" genkey); gw_pub=$(printf '%s\n' "$gw_priv" | "$GW" pubkey)
	cl_priv=$("$GW" genkey); cl_pub=$(printf '%s\n' "$cl_priv" | "$GW" pubkey)
	printf '%s\n' "$cl_priv" > "$TMP/client.key"
	ctl=$TMP/gw0.sock
	cp "${GW_RULES:-$TOP/contrib/examples/gw0.rules}" "$TMP/gw0.rules"
	cat > "$TMP/gw0.conf" <<EOC
[Interface]
PrivateKey = $gw_priv
ListenPort = 51820
Address = 10.8.0.1/24
Uplink = eth0
Rules = $TMP/gw0.rules
NatPorts = 61000-61999
ControlSocket = $ctl

[Peer]
PublicKey = $cl_pub
AllowedIPs = 10.8.0.2/32
${1:-}
EOC

	bg gateway "$GW" run "$TMP/gw0.conf" 2> "$TMP/gw.log"
	gw_pid=$BG_PID
	wait_udp gateway 51820
	wait_for 10 test -S "$ctl"

	wg_go client wgc0
	client_pid=$WG_PID
	wgc set wgc0 private-key "$TMP/client.key" peer "$gw_pub" endpoint 192.0.2.1:51820 \
		allowed-ips 0.0.0.0/0
	on client ip addr add 10.8.0.2/24 dev wgc0
	on client ip link set wgc0 up
	on client ip route add default dev wgc0
}
wgc() { wg_in "$client_pid" "$@"; }
