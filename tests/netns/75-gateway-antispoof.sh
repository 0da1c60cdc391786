#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Anti-spoofing and martians, as a router must.  The world of the gateway
# tests, gw with contrib/examples/gw0-portforward.rules (UDP 5353 -> the
# client; FORWARD DROP) or the same with FORWARD ACCEPT, and fd00:8::1/64 on
# the tunnel too:
#
#   ┌──────────────────────┐ eth0          lan0 ┌───────────────────────┐ eth0            eth0 ┌──────────────────────┐
#   │ client               │ 192.0.2.2  192.0.2.1 │ gateway               │ 198.51.100.1          │ internet             │
#   │  wireguard-go wgc0   ├──────── veth ────────┤  gw run gw0.conf      ├──────── veth ─────────┤  198.51.100.2        │
#   │   10.8.0.2, fd00:8::2│                      │   10.8.0.1 :2222      │  route 169.254.169.254│  169.254.169.254 :80 │
#   │   :81, udp :5353     │                      │   [::]:2223           │  via .2               │  10.8.0.0/24 via .1  │
#   └──────────────────────┘                      └───────────────────────┘                       └──────────────────────┘
#
# (1) link-local is never forwarded: the client cannot reach the "metadata
#     service" 169.254.169.254:80 beyond the uplink even with FORWARD ACCEPT
#     (nf_drop_link_local), while 198.51.100.2:80 works.
# (2) rp_filter on the uplink: a datagram to the DNAT-ed UDP 5353 with the
#     spoofed source 10.8.0.3 never reaches the client (nf_drop_rp_filter);
#     the same from the internet host's own address does.
# (3) the gateway's kernel forwards (ip_forward=1) and the internet host
#     routes 10.8.0.0/24 via it: what the host forwards into the TUN goes
#     through gw's FORWARD: DROP holds the internet host off the client's
#     :81, ACCEPT lets it through; the host's own connection works either
#     way (OUTPUT).
# (4) the tunnel Address from the uplink: 10.8.0.1:2222 (a listener of the
#     gateway's host) is not reachable from the internet host
#     (nf_drop_uplink_tunnel_addr; the filters line names it), from the
#     client it is.
# (6) IPv6 from the client: dropped and counted (dp_drop_ipv6) by default;
#     with IPv6 = pass it reaches the host ([fd00:8::1]:2223).
# (5) plain mode (no Rules, no Uplink), the peer's AllowedIPs covering
#     198.51.100.1 (an address of the gateway's host): a datagram from the
#     client with that source is dropped (dp_drop_martian), one from
#     10.8.0.2 arrives.
# gw trace IFACE shows each drop with the reason gw run counts.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/gateway.sh"

PF=$TOP/contrib/examples/gw0-portforward.rules
HELP=$TOP/tests/netns/antispoof.py
sed 's/^:FORWARD DROP/:FORWARD ACCEPT/' "$PF" > "$TMP/open.rules"
GW_RULES=$PF GW_IFACE_EXTRA="Address = fd00:8::1/64" gateway_world "AllowedIPs = fd00:8::2/128"
wgc set wgc0 peer "$gw_pub" allowed-ips 0.0.0.0/0,::/0
on client ip -6 addr add fd00:8::2/64 dev wgc0 nodad

G() { on gateway "$GW" "$@"; }
stat() { G stats "${STATS:-$ctl}" | sed -n "s/^$1=//p"; }
# conn HOST ADDR PORT: connected, refused or timeout (3 s: for what must
# not connect); conn_ok: the same, waiting up to 20 s (what must connect,
# on a loaded machine)
conn() { on "$1" python3 "$HELP" connect "$2" "$3"; }
conn_ok() { on "$1" python3 "$HELP" connect "$2" "$3" 20; }
# trace PACKET REASON: gw trace of the live rules drops PACKET for REASON
trace() {
	local out
	out=$(G trace "$ctl" "$1") || fail "gw trace '$1': $out"
	grep -q "^=> DROP .*($2)" <<< "$out" || fail "gw trace '$1': want a drop ($2): $out"
}
# dropped NAME BEFORE: the counter NAME went up from BEFORE
dropped() { wait_for 5 eval '[ "$(stat '"$1"')" -gt '"$2"' ]'; }

addr_add internet eth0 169.254.169.254/32
route_add gateway 169.254.169.254/32 via $SRV dev eth0
route_add internet 10.8.0.0/24 via $UPL
bg internet python3 "$HELP" tcp-listen 0.0.0.0 80
bg client python3 "$HELP" tcp-listen 0.0.0.0 81
bg client python3 "$HELP" udp-record 0.0.0.0 5353 "$TMP/dnat.log"
bg gateway python3 "$HELP" tcp-listen 10.8.0.1 2222
bg gateway python3 "$HELP" tcp-listen :: 2223
wait_tcp internet 80; wait_tcp client 81; wait_udp client 5353
wait_tcp gateway 2222; wait_tcp gateway 2223
r=$(icmp_echo client $SRV) || fail "ping $SRV through MASQUERADE: $r"

log "(1) link-local is never forwarded, whatever FORWARD says"
G rules "$ctl" restore < "$TMP/open.rules" || fail "restore FORWARD ACCEPT"
n=$(stat nf_drop_link_local)
r=$(conn client 169.254.169.254 80)
[ "$r" = timeout ] || fail "the client reached 169.254.169.254:80: $r"
dropped nf_drop_link_local "$n"
r=$(conn_ok client $SRV 80)
[ "$r" = connected ] || fail "the client cannot reach $SRV:80: $r"
trace 'tcp 10.8.0.2:40000 > 169.254.169.254:80 flags S' link_local
log "  nf_drop_link_local: $n -> $(stat nf_drop_link_local)"

log "(2) rp_filter: the tunnel's source off the uplink"
n=$(stat nf_drop_rp_filter)
on internet python3 "$HELP" spoof 10.8.0.3 $UPL 5353 "spoofed-$RUN"
on internet python3 "$HELP" spoof $SRV $UPL 5353 "genuine-$RUN"
wait_for 10 grep -q "genuine-$RUN" "$TMP/dnat.log"
grep -q "spoofed-$RUN" "$TMP/dnat.log" && fail "the spoofed datagram from 10.8.0.3 reached the client"
dropped nf_drop_rp_filter "$n"
trace "udp 10.8.0.3:40000 > $UPL:5353 in eth0" rp_filter
log "  nf_drop_rp_filter: $n -> $(stat nf_drop_rp_filter)"

log "(3) what the host forwards into the TUN goes through FORWARD"
on gateway sysctl -qw net.ipv4.ip_forward=1
G rules "$ctl" restore < "$PF" || fail "restore FORWARD DROP"
r=$(conn internet 10.8.0.2 81)
[ "$r" = timeout ] || fail "FORWARD DROP: the internet host, forwarded by the gateway's kernel, reached 10.8.0.2:81: $r"
out=$(G trace "$ctl" 'tcp 198.51.100.2:40000 > 10.8.0.2:81 flags S')
grep -q "filter FORWARD .*policy" <<< "$out" && grep -q "^=> DROP" <<< "$out" ||
	fail "gw trace: the forwarded SYN is not FORWARD's to drop: $out"
r=$(conn_ok gateway 10.8.0.2 81)
[ "$r" = connected ] || fail "the gateway host's own connection to 10.8.0.2:81: $r"
G rules "$ctl" restore < "$TMP/open.rules" || fail "restore FORWARD ACCEPT"
r=$(conn_ok internet 10.8.0.2 81)
[ "$r" = connected ] || fail "FORWARD ACCEPT: the internet host cannot reach 10.8.0.2:81: $r"
on gateway sysctl -qw net.ipv4.ip_forward=0

log "(4) gw's tunnel Address from the uplink"
grep -q "filters: .*tunnel (all IPv4) 10.8.0.1;" "$TMP/gw.log" || fail "no tunnel address in the filters line: $(grep filters: "$TMP/gw.log")"
n=$(stat nf_drop_uplink_tunnel_addr)
r=$(conn internet 10.8.0.1 2222)
[ "$r" = timeout ] || fail "the internet host reached 10.8.0.1:2222: $r"
dropped nf_drop_uplink_tunnel_addr "$n"
r=$(conn_ok client 10.8.0.1 2222)
[ "$r" = connected ] || fail "the client cannot reach 10.8.0.1:2222: $r"
trace 'tcp 198.51.100.2:40000 > 10.8.0.1:2222 in eth0 flags S' uplink_tunnel_addr
log "  nf_drop_uplink_tunnel_addr: $n -> $(stat nf_drop_uplink_tunnel_addr)"

log "(6) IPv6 from peers: dropped unless IPv6 = pass"
tentative() { on gateway ip -6 addr show dev gw0 tentative | grep -q inet6; }
wait_for 10 eval '! tentative'
n=$(stat dp_drop_ipv6)
r=$(conn client fd00:8::1 2223)
[ "$r" = timeout ] || fail "IPv6 = drop: the client reached [fd00:8::1]:2223: $r"
dropped dp_drop_ipv6 "$n"
stop "$gw_pid"
sed -i 's/^ListenPort = 51820$/&\nIPv6 = pass/' "$TMP/gw0.conf"
bg gateway "$GW" run "$TMP/gw0.conf" 2> "$TMP/gw2.log"
gw_pid=$BG_PID
wait_udp gateway 51820
wait_for 10 test -S "$ctl"
wait_for 10 eval '! tentative'
wait_for 20 eval '[ "$(conn client fd00:8::1 2223)" = connected ]'
[ "$(stat dp_drop_ipv6)" = 0 ] || fail "IPv6 = pass still drops: $(stat dp_drop_ipv6)"

log "(5) plain mode: a peer's packet from one of the host's addresses"
stop "$gw_pid"
mkdir "$TMP/plain"
cat > "$TMP/plain/gw0.conf" <<EOC
[Interface]
Workers = ${GW_TEST_WORKERS:-2}
$(grep '^PrivateKey' "$TMP/gw0.conf")
ListenPort = 51820
Address = 10.8.0.1/24
ControlSocket = $TMP/plain.sock
UapiSocket = $TMP/plain.uapi

[Peer]
PublicKey = $cl_pub
AllowedIPs = 10.8.0.2/32, $UPL/32
EOC
bg gateway "$GW" run "$TMP/plain/gw0.conf" 2> "$TMP/gw3.log"
gw_pid=$BG_PID
wait_udp gateway 51820
wait_for 10 test -S "$TMP/plain.sock"
bg gateway python3 "$HELP" udp-record 0.0.0.0 7777 "$TMP/plain.log"
wait_udp gateway 7777
wait_for 20 eval '[ "$(conn client 10.8.0.1 2223)" = connected ]'
STATS=$TMP/plain.sock
n=$(stat dp_drop_martian)
on client python3 "$HELP" spoof $UPL 10.8.0.1 7777 "spoofed-$RUN" wgc0
on client python3 "$HELP" spoof 10.8.0.2 10.8.0.1 7777 "genuine-$RUN" wgc0
wait_for 10 grep -q "genuine-$RUN" "$TMP/plain.log"
grep -q "spoofed-$RUN" "$TMP/plain.log" && fail "plain mode: the datagram from $UPL reached the host"
dropped dp_drop_martian "$n"
log "  dp_drop_martian: $n -> $(stat dp_drop_martian)"

no_netfilter
log "ok"
