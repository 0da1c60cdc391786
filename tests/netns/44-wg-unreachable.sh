#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A packet from the host that no peer's allowed IPs hold is answered with
# ICMP host unreachable (IPv4) or ICMPv6 address unreachable (IPv6) from
# gw's Address, as the kernel's WireGuard answers: a connected UDP socket
# with RECVERR (both are soft errors) sees EHOSTUNREACH, on the gateway
# itself and on a LAN host it routes for.  The IPv4 error comes from an
# address of the gateway's own: the kernel takes it only with accept_local,
# which gw sets on its device.
#
#   ┌────────────────────────┐ eth0              eth0 ┌────────────────────────────────────────┐
#   │ lan                    │ 192.0.2.2    192.0.2.1 │ gateway (forwarding)                   │
#   │  probes to 10.8.0.99   ├───────── veth ─────────┤  gw run gw0.conf                       │
#   │  and fd00:8::99        │ 2001:db8:1::2      ::1 │   TUN gw0 10.8.0.1/24, fd00:8::1/64    │
#   └────────────────────────┘                        │   one peer: 10.8.0.2/32, fd00:8::2/128 │
#                                                     │  the same probes                       │
#                                                     └────────────────────────────────────────┘
. "$(dirname "$0")/lib.sh"

host_add lan gateway
link_add lan eth0 gateway eth0
addr_add lan eth0 192.0.2.2/24
addr_add gateway eth0 192.0.2.1/24
on lan ip addr add 2001:db8:1::2/64 dev eth0 nodad
on gateway ip addr add 2001:db8:1::1/64 dev eth0 nodad
route_add lan default via 192.0.2.1
on lan ip -6 route add default via 2001:db8:1::1
on gateway sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1

gw_priv=$("$GW" genkey)
peer_pub=$("$GW" genkey | "$GW" pubkey)
ctl=$TMP/gw0.sock
cat > "$TMP/gw0.conf" <<EOF
[Interface]
Workers = ${GW_TEST_WORKERS:-2}
PrivateKey = $gw_priv
ListenPort = 51820
Address = 10.8.0.1/24, fd00:8::1/64
ControlSocket = $ctl
UapiSocket = $ctl.uapi

[Peer]
PublicKey = $peer_pub
AllowedIPs = 10.8.0.2/32, fd00:8::2/128
EOF

bg gateway "$GW" run "$TMP/gw0.conf" 2> "$TMP/gw.log"
gw_pid=$BG_PID
wait_for 10 test -S "$ctl"
stat() { on gateway "$GW" stats "$ctl" | sed -n "s/^$1=//p"; }

# probe HOST ADDR: from HOST, a UDP datagram to ADDR:9 on a connected
# socket; prints the errno name the ICMP error turned into, or "none" after 3 s
probe() {
	on "$1" python3 - "$2" <<'EOF'
import errno, socket, sys
addr = sys.argv[1]
v6 = ":" in addr
s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_DGRAM)
# unreachable host/address is a soft error: reported only with RECVERR
IP_RECVERR, IPV6_RECVERR = 11, 25  # linux/in.h, linux/in6.h
if v6:
    s.setsockopt(socket.IPPROTO_IPV6, IPV6_RECVERR, 1)
else:
    s.setsockopt(socket.IPPROTO_IP, IP_RECVERR, 1)
s.settimeout(3)
s.connect((addr, 9))
s.send(b"anyone there?")
try:
    s.recv(100)
    print("answer")
except socket.timeout:
    print("none")
except OSError as e:
    print(errno.errorcode.get(e.errno, e.errno))
EOF
}

for h in lan gateway; do
	for a in 10.8.0.99 fd00:8::99; do
		log "$h -> $a: no peer"
		r=$(probe "$h" "$a")
		[ "$r" = EHOSTUNREACH ] || fail "$h -> $a: $r, not EHOSTUNREACH"
	done
done
[ "$(stat drop_no-peer)" -ge 4 ] || fail "gw counted $(stat drop_no-peer) packets without a peer"

kill -TERM "$gw_pid"
wait "$gw_pid" || fail "gw exited with $?"
log "ICMP and ICMPv6 unreachable for packets without a peer"
