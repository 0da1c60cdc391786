#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The config file and the running peers: SIGHUP takes the file's peers as
# `wg syncconf` would, and `gw show IFACE conf` prints a config gw run takes
# back to the same state.
#
#   ┌───────────────────────────┐ eth0            eth0 ┌───────────────────────────┐
#   │ client                    │ 192.0.2.2  192.0.2.1 │ gateway                   │
#   │  wireguard-go wgc0        ├──────── veth ────────┤  gw run gw0.conf (plain)  │
#   │   10.8.0.2/24             │                      │   TUN gw0 10.8.0.1/24     │
#   └───────────────────────────┘                      └───────────────────────────┘
#
# While the client pings gw's address: the file loses peer B, gains peer C
# and gives the client one more AllowedIPs; SIGHUP; the running peers
# follow, the client's session stays (same handshake, <= 2 echoes lost).
# A file with an error: SIGHUP changes nothing.  A peer added with wg set,
# then gw show gw0 conf; gw restarted from that text shows the same config
# and the same peers (a fixed point).
. "$(dirname "$0")/lib.sh"

host_add client gateway
link_add client eth0 gateway eth0
addr_add client eth0 192.0.2.2/24
addr_add gateway eth0 192.0.2.1/24
key() { "$GW" genkey; }
pub() { printf '%s\n' "$1" | "$GW" pubkey; }
gw_priv=$(key); gw_pub=$(pub "$gw_priv")
cl_priv=$(key); cl_pub=$(pub "$cl_priv")
b_pub=$(pub "$(key)") c_pub=$(pub "$(key)") d_pub=$(pub "$(key)")
psk=$("$GW" genpsk)
printf '%s\n' "$cl_priv" > "$TMP/client.key"
ctl=$TMP/gw0.ctl
conf() { # conf CLIENT-ALLOWED-IPS [MORE PEER SECTIONS]
	cat <<EOC
[Interface]
Workers = ${GW_TEST_WORKERS:-2}
PrivateKey = $gw_priv
ListenPort = 51820
Address = 10.8.0.1/24
ControlSocket = $ctl

[Peer]
PublicKey = $cl_pub
AllowedIPs = $1
$2
EOC
}
conf 10.8.0.2/32 "$(printf '[Peer]\nPublicKey = %s\nAllowedIPs = 10.8.0.3/32\n' "$b_pub")" \
	> "$TMP/gw0.conf"
gw_ns gateway "$TMP/gw0.conf"
gw_pid=$GW_PID
gwg() { wg_in "$gw_pid" "$@"; }

wg_go client wgc0
client_pid=$WG_PID
wg_in "$client_pid" set wgc0 private-key "$TMP/client.key" peer "$gw_pub" \
	endpoint 192.0.2.1:51820 allowed-ips 10.8.0.0/24
on client ip addr add 10.8.0.2/24 dev wgc0
on client ip link set wgc0 up
icmp_echo client 10.8.0.1 > /dev/null || fail "client: no echo reply through the tunnel"
hs() { gwg show gw0 latest-handshakes | awk -v k="$cl_pub" '$1 == k { print $2 }'; }
hs0=$(hs)
[ "${hs0:-0}" -gt 0 ] || fail "no handshake"

log "SIGHUP with peers removed, added and changed in the file, while the client pings"
bg client python3 "$TOP/tests/netns/ping.py" 10.8.0.1 --stream "$TMP/stop" > "$TMP/stream"
stream=$BG_PID
# pings_on: what gw received from the client grew by 10 echoes' worth since
# the mark (polled, not slept for)
rx() { gwg show gw0 transfer | awk -v k="$cl_pub" '$1 == k { print $2 }'; }
grew() { [ "$(rx)" -ge $((mark + 10 * 128)) ]; }
pings_on() { mark=$(rx); wait_for 20 grew; }
pings_on
conf "10.8.0.2/32, 10.8.0.22/32" "$(printf '[Peer]\nPublicKey = %s\nPresharedKey = %s\nAllowedIPs = 10.8.0.4/32\nEndpoint = 192.0.2.44:51820\n' "$c_pub" "$psk")" \
	> "$TMP/gw0.conf"
kill -HUP "$gw_pid"
has_c() { gwg show gw0 peers | grep -qx "$c_pub"; }
wait_for 10 has_c
gwg show gw0 peers | grep -qx "$b_pub" && fail "B is still a peer after SIGHUP"
[ "$(gwg show gw0 allowed-ips | awk -v k="$cl_pub" '$1 == k { $1 = ""; print }')" = \
	" 10.8.0.2/32 10.8.0.22/32" ] || fail "client's AllowedIPs: $(gwg show gw0 allowed-ips)"
[ "$(gwg show gw0 endpoints | awk -v k="$c_pub" '$1 == k { print $2 }')" = 192.0.2.44:51820 ] ||
	fail "C's endpoint: $(gwg show gw0 endpoints)"
gwg show gw0 preshared-keys | grep -q "^$c_pub	$psk$" || fail "C's preshared key"
pings_on
# traffic from the new address passes now (it did not before: not the client's)
on client ip addr add 10.8.0.22/24 dev wgc0
icmp_echo client 10.8.0.1 > /dev/null || fail "client: no echo after SIGHUP"

log "a file with an error: SIGHUP leaves the peers alone"
before=$(gwg show gw0 dump | cut -f1-4,8)
cp "$TMP/gw0.conf" "$TMP/good.conf"
printf '\n[Peer]\nPublicKey = nonsense\n' >> "$TMP/gw0.conf"
kill -HUP "$gw_pid"
wait_for 10 grep -q "SIGHUP: .*gw0.conf:.*PublicKey" "$TMP/gw.log"
[ "$(gwg show gw0 dump | cut -f1-4,8)" = "$before" ] || fail "a bad file changed the peers"
cp "$TMP/good.conf" "$TMP/gw0.conf"
pings_on

touch "$TMP/stop"
wait "$stream" || fail "the echo stream failed"
read -r _ sent _ received _ lost < "$TMP/stream"
log "  client: $sent echoes sent, $received answered"
[ "$lost" -le 2 ] || fail "client lost $lost echoes across SIGHUP"
[ "$(hs)" = "$hs0" ] || fail "the client handshook again: $hs0 -> $(hs)"

log "gw show gw0 conf, and gw run from it"
gwg set gw0 peer "$d_pub" allowed-ips 10.8.0.5/32,10.77.0.0/16 endpoint 192.0.2.55:4000 \
	persistent-keepalive 0
gwg set gw0 fwmark 0x77
"$GW" show "$ctl" conf > "$TMP/shown.conf" || fail "gw show conf failed"
grep -q "^PrivateKey = $gw_priv$" "$TMP/shown.conf" || fail "conf: no PrivateKey"
grep -q "^PublicKey = $d_pub$" "$TMP/shown.conf" || fail "conf: no peer D"
grep -q "^PublicKey = $b_pub$" "$TMP/shown.conf" && fail "conf: B is back"
grep -q "^FwMark = 0x77$" "$TMP/shown.conf" || fail "conf: no FwMark"
showconf0=$(gwg showconf gw0 | grep -v '^Endpoint')
kill -TERM "$gw_pid"
wait "$gw_pid" || fail "gw exited with $?"
mkdir "$TMP/rt"
cp "$TMP/shown.conf" "$TMP/rt/gw0.conf"
gw_ns gateway "$TMP/rt/gw0.conf"
gw_pid=$GW_PID
"$GW" show "$ctl" conf > "$TMP/shown2.conf"
cmp -s "$TMP/shown.conf" "$TMP/shown2.conf" ||
	fail "gw show conf is no fixed point: $(diff "$TMP/shown.conf" "$TMP/shown2.conf")"
# the client's roamed endpoint is not in the file (gw show conf keeps the
# configured ones): everything else as before
[ "$(gwg showconf gw0 | grep -v '^Endpoint')" = "$showconf0" ] ||
	fail "wg showconf after gw run of gw show conf differs"
# the restarted gw has no session: the client starts one at once
wg_in "$client_pid" set wgc0 peer "$gw_pub" remove
wg_in "$client_pid" set wgc0 peer "$gw_pub" endpoint 192.0.2.1:51820 allowed-ips 10.8.0.0/24
icmp_echo client 10.8.0.1 > /dev/null || fail "client: no echo through the restarted gw"
log "SIGHUP followed the file's peers; gw show conf round-trips"
