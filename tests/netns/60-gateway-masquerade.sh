#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The gateway end to end: a stock WireGuard client sends everything through
# the tunnel; gw MASQUERADEs it out of its uplink with contrib/examples/
# gw0.rules and takes the replies off the uplink itself.  No iptables or
# nftables rule anywhere; the gateway's kernel does not forward.
#
#   ┌───────────────────────┐ eth0            lan0 ┌─────────────────────────┐ eth0              eth0 ┌──────────────────┐
#   │ client                │ 192.0.2.2  192.0.2.1 │ gateway                 │ 198.51.100.1          │ internet         │
#   │  wireguard-go wgc0    ├──────── veth ────────┤  gw run gw0.conf        ├──────── veth ─────────┤  198.51.100.2    │
#   │   10.8.0.2/24         │                      │   TUN gw0 10.8.0.1/24   │   Uplink, MASQUERADE  │  socat listeners │
#   │   default dev wgc0    │                      │   UDP :51820            │   NatPorts 61000-61999│  (one connection)│
#   └───────────────────────┘                      └─────────────────────────┘                       └──────────────────┘
#
# Checks: TCP client -> server and server -> client (3 MB each, compared),
# the server sees 198.51.100.1:NatPorts as the peer; UDP echo; with veth
# offloads on (the default) and off; ICMP echo through the NAT and TTL
# exceeded from gw for a TTL-1 packet; a packet from the internet to the client's
# address never arrives; a peer-to-peer packet is dropped by the FORWARD
# policy and counted; iptables-save and nft list ruleset empty in every
# namespace; SIGTERM removes the tc filter, the reserved ports and the TUN.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/gateway.sh"

case $GW in
*/build/san/*) PROBE=${UPLINK_PROBE:-$TOP/build/san/tests/netns/uplink_probe} ;;
*) PROBE=${UPLINK_PROBE:-$TOP/build/rel/tests/netns/uplink_probe} ;;
esac
[ -x "$PROBE" ] || fail "no $PROBE (make $(realpath --relative-to="$TOP" "$PROBE"))"

other_pub=$("$GW" genkey | "$GW" pubkey)
gateway_world "[Peer]
PublicKey = $other_pub
AllowedIPs = 10.8.0.3/32"
[ "$(on gateway sysctl -n net.ipv4.ip_forward)" = 0 ] || fail "the gateway's kernel forwards"
# (grep -q would end the pipe early: with pipefail that fails the writer)
[[ $(on gateway tc filter show dev eth0 ingress) == *bpf* ]] || fail "no tc filter on the uplink"
[[ $(on gateway cat /proc/sys/net/ipv4/ip_local_reserved_ports) == *61000-61999* ]] ||
	fail "NatPorts not reserved"

stat() { on gateway "$GW" stats "$ctl" | sed -n "s/^$1=//p"; }

head -c 3000000 /dev/urandom > "$TMP/data"

# ping DST TTL: one ICMP echo from the client; prints "reply FROM" or
# "ttl-exceeded FROM" (the error quoting our echo)
ping() { icmp_echo client "$@"; }

port=7000
for mode in on off; do
	log "veth offloads $mode"
	on gateway "$PROBE" offload eth0 $mode || fail "offloads $mode (gateway)"
	on internet "$PROBE" offload eth0 $mode || fail "offloads $mode (internet)"
	log "TCP client -> internet through the tunnel and NAT"
	bg internet socat -d -d -u TCP-LISTEN:$port,reuseaddr - > "$TMP/recv" 2> "$TMP/srv0.log"
	rx=$BG_PID
	wait_tcp internet $port
	on client timeout 60 socat -u - TCP:$SRV:$port < "$TMP/data" || fail "client -> server: socat"
	wait "$rx" || true
	cmp -s "$TMP/data" "$TMP/recv" ||
		fail "TCP client -> server: $(wc -c < "$TMP/recv") of 3000000 bytes arrived intact"
	grep -Eq "accepting connection from AF=2 $UPL:61[0-9]{3}( |$)" "$TMP/srv0.log" ||
		fail "the server did not see $UPL:NatPorts: $(grep accepting "$TMP/srv0.log")"
	log "  server saw: $(grep -o "from AF=2 [0-9.:]*" "$TMP/srv0.log")"

	log "TCP internet -> client (download)"
	bg internet socat -d -d -u OPEN:"$TMP/data" TCP-LISTEN:$((port + 1)),reuseaddr 2> "$TMP/srv1.log"
	tx=$BG_PID
	wait_tcp internet $((port + 1))
	on client timeout 60 socat -u TCP:$SRV:$((port + 1)) - > "$TMP/recv2" || fail "server -> client: socat"
	wait "$tx" || true
	cmp -s "$TMP/data" "$TMP/recv2" ||
		fail "TCP server -> client: $(wc -c < "$TMP/recv2") of 3000000 bytes arrived intact"
	grep -Eq "accepting connection from AF=2 $UPL:61[0-9]{3}( |$)" "$TMP/srv1.log" ||
		fail "the server did not see $UPL:NatPorts (download)"

	log "UDP echo"
	bg internet python3 "$TOP/tests/netns/gw_e2e.py" udp-echo $((port + 2)) > /dev/null
	wait_udp internet $((port + 2))
	on client python3 "$TOP/tests/netns/gw_e2e.py" udp-ping $SRV $((port + 2)) 3 > /dev/null ||
		fail "UDP echo through the tunnel and NAT"
	port=$((port + 10))
done

log "ICMP echo through the NAT; TTL exceeded from gw"
r=$(ping $SRV 64) || fail "ping $SRV: $r"
[ "$r" = "reply $SRV" ] || fail "ping $SRV: $r"
r=$(ping $SRV 1) || fail "TTL 1 to $SRV: $r"
[ "$r" = "ttl-exceeded 10.8.0.1" ] || fail "TTL 1 to $SRV: $r"

[ "$(stat path_peer_uplink_packets)" -gt 0 ] || fail "gw stats: nothing counted peer -> uplink"
[ "$(stat path_uplink_peer_packets)" -gt 0 ] || fail "gw stats: nothing counted uplink -> peer"
log "  uplink: $(stat uplink_rx_gso) GSO super-packets cut into $(stat uplink_rx_segments) segments"
[ "$(stat uplink_tx_packet)" -gt "$(stat uplink_tx_raw)" ] ||
	fail "gw stats: the uplink's packets did not leave by the packet socket: $(stat uplink_tx_packet) frames, $(stat uplink_tx_raw) raw"

log "uplink send: no neighbour entry -> the raw socket, then frames"
on gateway ip neigh flush dev eth0
raw0=$(stat uplink_tx_raw) miss0=$(stat uplink_tx_no_neigh)
r=$(ping $SRV 64) || fail "ping $SRV without a neighbour entry: $r"
[ "$r" = "reply $SRV" ] || fail "ping $SRV without a neighbour entry: $r"
[ "$(stat uplink_tx_no_neigh)" -gt "$miss0" ] && [ "$(stat uplink_tx_raw)" -gt "$raw0" ] ||
	fail "gw stats: no packet went by the raw socket for want of a neighbour entry"
learned() { on gateway ip neigh show dev eth0 | grep -q "^$SRV .*lladdr"; }
wait_for 10 learned
pkt0=$(stat uplink_tx_packet) raw0=$(stat uplink_tx_raw)
r=$(ping $SRV 64) || fail "ping $SRV with the entry learned: $r"
[ "$(stat uplink_tx_packet)" -gt "$pkt0" ] && [ "$(stat uplink_tx_raw)" = "$raw0" ] ||
	fail "gw stats: with the entry learned the echo did not leave as a frame"
log "  $(stat uplink_tx_packet) frames on the packet socket, $(stat uplink_tx_raw) by the raw socket ($(stat uplink_tx_no_neigh) for want of a neighbour entry)"
# the uploads' segments joined into super-packets (with offloads off too:
# the kernel's GSO cut them, and the streams compared intact)
[ "$(stat uplink_tx_gso)" -gt 0 ] || fail "gw stats: no TCP super-packet sent to the uplink"
log "  $(stat uplink_tx_gso) TCP super-packets to the uplink carried $(stat uplink_tx_gso_segments) segments"

log "the internet cannot reach the client"
route_add internet 10.8.0.0/24 via $UPL
bg client socat -u UDP-RECV:7003 OPEN:"$TMP/unsolicited",creat
wait_udp client 7003
for _ in 1 2 3; do
	on internet socat -u - UDP:10.8.0.2:7003 <<< "unsolicited" || true
done
sleep 0.5
[ -s "$TMP/unsolicited" ] && fail "a packet from the internet reached the client"

log "peer to peer: FORWARD policy DROP"
before=$(stat nf_drop_rule)
on client socat -u - UDP:10.8.0.3:7004 <<< "to the other peer" || true
dropped() { [ "$(stat nf_drop_rule)" -gt "$before" ]; }
wait_for 10 dropped

log "no iptables or nftables rule in any namespace"
no_netfilter

log "gw show / gw stats"
on gateway "$GW" show "$ctl" | sed 's/^/    /'
on gateway "$GW" stats "$ctl" | grep -E '^(path_|nf_drop_rule|conntrack_count|uplink_rx_gso|uplink_tx_)' |
	grep -v '=0$' | sed 's/^/    /'

log "SIGTERM: tc filter, reserved ports and TUN removed"
kill -TERM "$gw_pid"
wait "$gw_pid" || fail "gw exited with $?"
[ -z "$(on gateway tc filter show dev eth0 ingress)" ] || fail "tc filter left behind"
[[ $(on gateway cat /proc/sys/net/ipv4/ip_local_reserved_ports) == *61000* ]] &&
	fail "reserved ports left behind"
on gateway ip link show gw0 2> /dev/null && fail "TUN gw0 still there"
log "wireguard-go -> gw -> MASQUERADE -> internet: TCP both ways, UDP, FORWARD policy, no netfilter"
