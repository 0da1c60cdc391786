#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A stock WireGuard client (wireguard-go + wg) connects to `gw run`.
#
#   ┌──────────────────────────┐ eth0            eth0 ┌──────────────────────────┐
#   │ client                   │ 192.0.2.2  192.0.2.1 │ gateway                  │
#   │  wireguard-go wgc0       ├──────── veth ────────┤  gw run gw0.conf         │
#   │   10.8.0.2/24 (good key) │                      │   TUN gw0 10.8.0.1/24    │
#   │  wireguard-go wgbad0     │                      │   UDP :51820             │
#   │   10.9.0.2/24 (unknown)  │                      │   TCP echo 10.8.0.1:7000 │
#   │  TCP echo 10.8.0.2:7001  │                      │   UDP echo 10.8.0.1:7002 │
#   └──────────────────────────┘                      └──────────────────────────┘
#
# Checks: handshake; 1 MB over TCP both ways through the tunnel, compared
# (the gateway's host TCP reaches gw as TSO super-packets gw cuts);
# UDP echo; `gw show` reports the handshake and byte counts; a client with a
# key gw does not know never completes a handshake and gw counts it;
# garbage, truncated, oversized and wrong-type datagrams are dropped and
# counted while gw keeps serving.
. "$(dirname "$0")/lib.sh"

host_add client gateway
link_add client eth0 gateway eth0
addr_add client eth0 192.0.2.2/24
addr_add gateway eth0 192.0.2.1/24

bad_priv=$("$GW" genkey)
psk=$("$GW" genpsk)
printf '%s\n' "$bad_priv" > "$TMP/bad.key"
printf '%s\n' "$psk" > "$TMP/psk"
tunnel_gw gateway "PresharedKey = $psk"
on gateway ip -br addr show gw0 | grep -q 10.8.0.1/24 || fail "TUN gw0 has no 10.8.0.1/24"
[ "$(on gateway cat /sys/class/net/gw0/mtu)" = 1420 ] || fail "TUN mtu is not 1420"

# wireguard-go keeps its sockets in /run/wireguard: a private /run for it
wg_go client wgc0
client_pid=$WG_PID
wgc() { wg_in "$client_pid" "$@"; }
# a second instance in the same private /run, for the unknown key
WG_PROCESS_FOREGROUND=1 nsenter -t "$client_pid" -m -n wireguard-go -f wgbad0 \
	>> "$TMP/wggo.log" 2>&1 &
_pids+=("$!")
wait_for 10 nsenter -t "$client_pid" -m test -S /var/run/wireguard/wgc0.sock
wgc set wgc0 private-key "$TMP/client.key" peer "$gw_pub" preshared-key "$TMP/psk" \
	endpoint 192.0.2.1:51820 allowed-ips 10.8.0.0/24
on client ip addr add 10.8.0.2/24 dev wgc0
on client ip link set wgc0 up

log "TCP client -> gateway through the tunnel"
head -c 1000000 /dev/urandom > "$TMP/data"
tcp_xfer client gateway 10.8.0.1 7000
wgc show wgc0 latest-handshakes | awk '{ exit !($2 > 0) }' || fail "client saw no handshake"

log "TCP gateway -> client through the tunnel"
tcp_xfer gateway client 10.8.0.2 7001

log "UDP through the tunnel"
bg gateway python3 "$TOP/tests/netns/gw_e2e.py" udp-echo 7002 > /dev/null
wait_udp gateway 7002
on client python3 "$TOP/tests/netns/gw_e2e.py" udp-ping 10.8.0.1 7002 3 > /dev/null || fail "UDP echo through the tunnel"

log "gw show"
on gateway "$GW" show "$ctl" > "$TMP/show"
sed 's/^/    /' "$TMP/show"
grep -q "^interface: gw0" "$TMP/show" || fail "gw show: no interface line"
grep -q "public key: $gw_pub" "$TMP/show" || fail "gw show: wrong public key"
grep -q "listening port: 51820" "$TMP/show" || fail "gw show: no listening port"
grep -q "^peer: $cl_pub" "$TMP/show" || fail "gw show: no peer"
grep -q "endpoint: 192.0.2.2:" "$TMP/show" || fail "gw show: no endpoint"
grep -q "allowed ips: 10.8.0.2/32" "$TMP/show" || fail "gw show: no allowed ips"
grep -Eq "latest handshake: (Now|[0-9]+ seconds? ago)" "$TMP/show" || fail "gw show: no handshake"
grep -Eq "transfer: [0-9.]+ MiB received, [0-9.]+ MiB sent" "$TMP/show" ||
	fail "gw show: transfer not counted in MiB both ways"

stat() { on gateway "$GW" stats "$ctl" | sed -n "s/^$1=//p"; }

# the host's 1 MB went through the TUN as TSO super-packets, cut by gw
[ "$(stat tun_offload)" = 1 ] || fail "no TUN offloads"
[ "$(stat tun_rx_gso)" -gt 0 ] && [ "$(stat tun_rx_bad)" = 0 ] ||
	fail "TUN: $(stat tun_rx_gso) super-packets read, $(stat tun_rx_bad) refused"
log "  TUN: $(stat tun_rx_gso) super-packets cut into $(stat tun_rx_segments) segments"
# and the client's 1 MB reached the host as segments gw joined again
[ "$(stat tun_tx_gso)" -gt 0 ] && [ "$(stat tun_tx_segments)" -gt "$(stat tun_tx_gso)" ] ||
	fail "TUN: $(stat tun_tx_gso) super-packets written of $(stat tun_tx_segments) segments"
log "  TUN: $(stat tun_tx_segments) segments written as $(stat tun_tx_gso) super-packets"

log "a client with a key gw does not know"
wait_for 10 nsenter -t "$client_pid" -m test -S /var/run/wireguard/wgbad0.sock
wgc set wgbad0 private-key "$TMP/bad.key" peer "$gw_pub" endpoint 192.0.2.1:51820 \
	allowed-ips 10.9.0.1/32
on client ip addr add 10.9.0.2/24 dev wgbad0
on client ip link set wgbad0 up
on client socat -u - UDP:10.9.0.1:9 <<< "knock" || true
unknown_seen() { [ "$(stat drop_unknown-peer)" -ge 1 ]; }
wait_for 10 unknown_seen
[ "$(wgc show wgbad0 latest-handshakes | awk '{print $2}')" = 0 ] ||
	fail "the unknown client completed a handshake"

log "garbage to gw's port"
before_type=$(stat drop_bad-type); before_len=$(stat drop_bad-length)
before_mac1=$(stat drop_mac1)
on client python3 - <<'EOF'
import os, socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
dst = ("192.0.2.1", 51820)
s.sendto(os.urandom(100).replace(b"\x01", b"\x09", 1), dst)       # garbage
s.sendto(b"\x07\0\0\0" + os.urandom(144), dst)                    # wrong type
s.sendto(b"\x01\0\0\0" + os.urandom(143), dst)                    # truncated initiation
s.sendto(b"\x01\0\0\0" + os.urandom(200), dst)                    # oversized initiation
s.sendto(b"\x04\0\0\0" + os.urandom(5000), dst)                   # oversized data
s.sendto(b"\x01\0\0\0" + os.urandom(144), dst)                    # bad mac1
s.sendto(b"\x02\0\0\0" + os.urandom(88), dst)                     # bad mac1
s.sendto(b"", dst)                                                # empty
EOF
counted() {
	[ "$(stat drop_bad-type)" -ge $((before_type + 2)) ] &&
	[ "$(stat drop_bad-length)" -ge $((before_len + 3)) ] &&
	[ "$(stat drop_mac1)" -ge $((before_mac1 + 2)) ]
}
wait_for 5 counted
kill -0 "$gw_pid" || fail "gw died"
tcp_xfer client gateway 10.8.0.1 7000

log "clean exit on SIGTERM: TUN removed, control socket gone"
kill -TERM "$gw_pid"
wait "$gw_pid" || fail "gw exited with $?"
on gateway ip link show gw0 2>/dev/null && fail "TUN gw0 still there"
[ -e "$ctl" ] && fail "control socket left behind"
grep -q "$gw_priv" "$TMP/gw.log" && fail "the private key was logged"
log "wireguard-go <-> gw: handshake, TCP both ways, UDP, show, unknown key, garbage"
