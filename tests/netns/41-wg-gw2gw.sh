#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# gw as the initiating side (client role): gw ↔ gw, and gw ↔ wireguard-go;
# then roaming: the client's source address changes mid-transfer; then a
# path MTU below gw's datagrams (the kernel refuses GSO trains to it).
# The hosts' TCP over IPv4 and IPv6 reaches gw through the TUN as 64 KB
# super-packets (TSO, the kernel's default with gw's TUN offloads): gw stats
# shows them read and cut.
#
#                     192.0.2.1 ┌───────────────────────────┐
#                   ┌───────────┤ server: gw run srv0       │ 10.8.0.1/24, TCP echo :7000
#   ┌────────────┐  │  veth     └───────────────────────────┘
#   │ client     ├──┤ (bridge-less: two links from the client)
#   │ gw run cl0 │  │ 198.51.100.1 ┌────────────────────────┐
#   └────────────┘  └──────────────┤ wgsrv: wireguard-go    │ 10.7.0.1/24, TCP echo :7000
#   eth0 192.0.2.2 (+192.0.2.3)    └────────────────────────┘
#   eth1 198.51.100.2
#   cl0: 10.8.0.2/24 → server, 10.7.0.2/24 → wgsrv (one gw, two peers)
. "$(dirname "$0")/lib.sh"

host_add client server wgsrv
link_add client eth0 server eth0
link_add client eth1 wgsrv eth0
addr_add client eth0 192.0.2.2/24
addr_add server eth0 192.0.2.1/24
addr_add client eth1 198.51.100.2/24
addr_add wgsrv eth0 198.51.100.1/24

srv_priv=$("$GW" genkey); srv_pub=$(printf '%s\n' "$srv_priv" | "$GW" pubkey)
cl_priv=$("$GW" genkey); cl_pub=$(printf '%s\n' "$cl_priv" | "$GW" pubkey)
wgs_priv=$("$GW" genkey); wgs_pub=$(printf '%s\n' "$wgs_priv" | "$GW" pubkey)
printf '%s\n' "$wgs_priv" > "$TMP/wgs.key"

cat > "$TMP/srv0.conf" <<EOF
[Interface]
Workers = ${GW_TEST_WORKERS:-2}
PrivateKey = $srv_priv
ListenPort = 51820
Address = 10.8.0.1/24, fd00:8::1/64
ControlSocket = $TMP/srv0.sock
UapiSocket = $TMP/srv0.uapi

[Peer]
PublicKey = $cl_pub
AllowedIPs = 10.8.0.2/32, fd00:8::2/128
EOF
cat > "$TMP/cl0.conf" <<EOF
[Interface]
Workers = ${GW_TEST_WORKERS:-2}
PrivateKey = $cl_priv
ListenPort = 40000
Address = 10.8.0.2/24, 10.7.0.2/24, fd00:8::2/64
ControlSocket = $TMP/cl0.sock
UapiSocket = $TMP/cl0.uapi

[Peer]
PublicKey = $srv_pub
AllowedIPs = 10.8.0.0/24, fd00:8::/64
Endpoint = 192.0.2.1:51820
PersistentKeepalive = 25

[Peer]
PublicKey = $wgs_pub
AllowedIPs = 10.7.0.0/24
Endpoint = 198.51.100.1:51820
EOF

bg server "$GW" run "$TMP/srv0.conf" 2> "$TMP/srv.log"
srv_pid=$BG_PID
bg client "$GW" run "$TMP/cl0.conf" 2> "$TMP/cl.log"
cl_pid=$BG_PID
wait_udp server 51820
wait_udp client 40000

wg_go wgsrv wgs0
wgs_pid=$WG_PID
wg_in "$wgs_pid" set wgs0 private-key "$TMP/wgs.key" listen-port 51820 \
	peer "$cl_pub" allowed-ips 10.7.0.2/32
on wgsrv ip addr add 10.7.0.1/24 dev wgs0
on wgsrv ip link set wgs0 up

head -c 1000000 /dev/urandom > "$TMP/data"

log "gw client -> gw server (persistent keepalive brought the tunnel up)"
hs_done() { on server "$GW" show "$TMP/srv0.sock" | grep -q "latest handshake"; }
wait_for 10 hs_done
tcp_xfer client server 10.8.0.1 7000
log "gw server -> gw client"
tcp_xfer server client 10.8.0.2 7001

# stat HOST SOCK NAME: one counter of gw stats
stat() { on "$1" "$GW" stats "$2" | sed -n "s/^$3=//p"; }
# tso_seen HOST SOCK BEFORE: super-packets read from the TUN since BEFORE, all
# cut, none refused
tso_seen() {
	local gso segs
	gso=$(stat "$1" "$2" tun_rx_gso); segs=$(stat "$1" "$2" tun_rx_segments)
	[ "$(stat "$1" "$2" tun_offload)" = 1 ] || fail "$1: no TUN offloads"
	[ "$(stat "$1" "$2" tun_rx_bad)" = 0 ] || fail "$1: TUN reads refused"
	[ "$gso" -gt "$3" ] && [ "$segs" -gt "$gso" ] ||
		fail "$1: no TCP super-packets read from the TUN ($gso, $segs segments)"
	log "  $1: $gso TUN super-packets cut into $segs segments"
}
tso_seen client "$TMP/cl0.sock" 0
tso_seen server "$TMP/srv0.sock" 0
log "the same over IPv6 through the tunnel (TSO6)"
cl_gso=$(stat client "$TMP/cl0.sock" tun_rx_gso)
srv_gso=$(stat server "$TMP/srv0.sock" tun_rx_gso)
tcp_xfer client server fd00:8::1 7003
tcp_xfer server client fd00:8::2 7004
tso_seen client "$TMP/cl0.sock" "$cl_gso"
tso_seen server "$TMP/srv0.sock" "$srv_gso"

log "gw client <-> wireguard-go server"
tcp_xfer client wgsrv 10.7.0.1 7000
tcp_xfer wgsrv client 10.7.0.2 7002
wg_in "$wgs_pid" show wgs0 latest-handshakes | awk '{ exit !($2 > 0) }' ||
	fail "wireguard-go saw no handshake"

log "roaming: the client's source address changes mid-transfer"
on client sysctl -qw net.ipv4.conf.eth0.promote_secondaries=1
addr_add client eth0 192.0.2.3/24
(sleep 0.4; on client ip route replace 192.0.2.0/24 dev eth0 src 192.0.2.3
 sleep 0.1; on client ip addr del 192.0.2.2/24 dev eth0) &
mover=$!
tcp_xfer client server 10.8.0.1 7000 slow
wait "$mover"
on server "$GW" show "$TMP/srv0.sock" | grep -q "endpoint: 192.0.2.3:40000" ||
	fail "the server did not follow the client to 192.0.2.3"
tcp_xfer client server 10.8.0.1 7000

log "a path MTU below the datagrams: GSO trains refused (EMSGSIZE) go one by one, fragmented"
on client ip route replace 192.0.2.0/24 dev eth0 src 192.0.2.3 mtu 1280
tcp_xfer client server 10.8.0.1 7000
on client ip route replace 192.0.2.0/24 dev eth0 src 192.0.2.3
grep -q "GSO" "$TMP/cl.log" "$TMP/srv.log" && fail "GSO turned off: $(grep GSO "$TMP/cl.log")"
tcp_xfer client server 10.8.0.1 7000

for p in "$cl_pid" "$srv_pid"; do
	kill -TERM "$p"
	wait "$p" || fail "gw exited with $?"
done
log "gw ↔ gw, gw → wireguard-go, roaming mid-transfer, a small path MTU"
