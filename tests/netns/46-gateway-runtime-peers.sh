#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Peers changed at runtime with stock wg(8) lose nothing: the world of
# gateway.sh (MASQUERADE, conntrack) with client2 (10.8.0.3) in the config
# and client3 (10.8.0.4) added later, gw in a /run of its own so wg finds
# its UAPI socket.
#
#   client  10.8.0.2 ─ wg ─┐
#   client2 10.8.0.3 ─ wg ─┼─ gateway (gw, MASQUERADE) ─ internet 198.51.100.2
#   client3 10.8.0.4 ─ wg ─┘   (client3: wg set ... peer C while running)
#
# While client pings the internet host (one identifier: one conntrack entry
# and NAT mapping), the gateway:
#   adds client3 (wg set peer C allowed-ips): it reaches the internet;
#   gives client2 one more address (wg set peer B allowed-ips): a source
#     gw dropped before (not client2's) passes at once;
#   removes client2 (wg set peer B remove): its conntrack entries go, it
#     gets through no more.
# Then: client lost at most 2 echoes, its latest handshake is the one it
# had (no new handshake), its echo's conntrack entry and NAT-ed identifier
# are the same, client3's and client2's conntrack counts are as expected,
# gw trace IFACE routes by the live peers, and gw's PID is the one it
# started with.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/gateway.sh"

GW_PRIVATE_RUN=1 gateway_world "$(gateway_peer client2 10.8.0.3)"
gateway_client client2 10.8.0.3 1
gateway_peer client3 10.8.0.4 > /dev/null
gateway_client client3 10.8.0.4 2
G() { on gateway "$GW" "$@"; }
gwg() { wg_in "$gw_pid" "$@"; }
pid0=$gw_pid
b_pub=$(gwg show gw0 peers | grep -vx "$cl_pub")
c_pub=$("$GW" pubkey < "$TMP/client3.key")
[ "$(echo "$b_pub" | wc -l)" = 1 ] || fail "not one other peer: $b_pub"

log "client and client2 reach the internet; client3 is unknown"
icmp_echo client $SRV > /dev/null || fail "client: no echo reply"
icmp_echo client2 $SRV > /dev/null || fail "client2: no echo reply"
# (a negative check: ping.py tries for 5 s)
icmp_echo client3 $SRV > /dev/null && fail "client3 got through before it was added"
hs0=$(gwg show gw0 latest-handshakes | awk -v k="$cl_pub" '$1 == k { print $2 }')
[ "${hs0:-0}" -gt 0 ] || fail "client has no handshake"
bg internet python3 "$TOP/tests/netns/gw_e2e.py" udp-echo 7002 > /dev/null
wait_udp internet 7002
on client2 python3 "$TOP/tests/netns/gw_e2e.py" udp-ping $SRV 7002 3 40002 > /dev/null ||
	fail "client2: UDP through gw"

log "client pings on while peers change"
bg client python3 "$TOP/tests/netns/ping.py" $SRV --stream "$TMP/stop" > "$TMP/stream"
stream=$BG_PID
# its entry: the identifier is the stream's PID (ip netns exec execs it)
echo_ct() { G conntrack "$ctl" -L 2> /dev/null |
	grep "^icmp .* src=10.8.0.2 .* type=8 code=0 id=$((stream & 0xffff)) " |
	sed 's/^icmp *1 [0-9]* //'; }
has_ct() { [ -n "$(echo_ct)" ]; }
wait_for 10 has_ct
ct0=$(echo_ct)
[ "$(echo "$ct0" | wc -l)" = 1 ] || fail "client's echo: not one conntrack entry: $ct0"

gwg set gw0 peer "$c_pub" allowed-ips 10.8.0.4/32
icmp_echo client3 $SRV > /dev/null || fail "client3: no echo reply after it was added"

# client2 sends from 10.8.0.33 too: not its address for gw yet
on client2 ip addr add 10.8.0.33/24 dev wgc0
src33() { on client2 python3 - "$SRV" <<'PY'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("10.8.0.33", 40033))
s.settimeout(1)
for _ in range(3):
    s.sendto(b"x", (sys.argv[1], 7002))
    try:
        s.recvfrom(100)
        sys.exit(0)
    except socket.timeout:
        pass
sys.exit(1)
PY
}
src33 && fail "10.8.0.33 got through before it was client2's"
drops0=$(G stats "$ctl" | sed -n 's/^drop_allowed-ips=//p')
[ "$drops0" -gt 0 ] || fail "gw did not count 10.8.0.33 as not client2's"
gwg set gw0 peer "$b_pub" allowed-ips 10.8.0.3/32,10.8.0.33/32
src33 || fail "10.8.0.33 did not get through once it was client2's"
owner_ct() { G conntrack "$ctl" -L 2> /dev/null | grep -c " src=$1 " || true; }
[ "$(owner_ct 10.8.0.3)" -gt 0 ] && [ "$(owner_ct 10.8.0.33)" -gt 0 ] ||
	fail "client2 has no conntrack entries to lose"

gwg set gw0 peer "$b_pub" remove
[ "$(owner_ct 10.8.0.3)" = 0 ] || fail "client2's conntrack entries stayed: $(owner_ct 10.8.0.3)"
[ "$(owner_ct 10.8.0.33)" = 0 ] || fail "client2's 10.8.0.33 entries stayed"
src33 && fail "client2 got through after its removal"
gwg show gw0 peers | grep -qx "$b_pub" && fail "client2 is still a peer"

# gw trace IFACE takes the live peers (trace-info): client3's packet
t=$(G trace "$ctl" 'icmp 10.8.0.4:9 > 198.51.100.2 icmp 8/0') || fail "gw trace: $t"
[[ $t == *"=> ACCEPT out eth0"* ]] || fail "gw trace: client3's echo: $t"

touch "$TMP/stop"
wait "$stream" || fail "the echo stream failed"
read -r _ sent _ received _ lost < "$TMP/stream"
log "  client: $sent echoes sent, $received answered"
[ "$sent" -ge 20 ] || fail "client's stream sent only $sent"
[ "$lost" -le 2 ] || fail "client lost $lost echoes while peers changed"
hs1=$(gwg show gw0 latest-handshakes | awk -v k="$cl_pub" '$1 == k { print $2 }')
[ "$hs1" = "$hs0" ] || fail "client handshook again: $hs0 -> $hs1"
ct1=$(echo_ct)
# the same entry: the same tuples, NAT-ed identifier included (counters,
# state and timeout aside)
strip() { sed 's/ \(packets\|bytes\|mark\|use\)=[0-9]*//g; s/\[[A-Z]*\] //g'; }
[ "$(echo "$ct1" | strip)" = "$(echo "$ct0" | strip)" ] ||
	fail "client's echo entry changed: $ct0 -> $ct1"
[ "$(owner_ct 10.8.0.4)" -gt 0 ] || fail "client3 has no conntrack entry"
[ "$gw_pid" = "$pid0" ] && [ "$(cat "/proc/$gw_pid/comm" 2> /dev/null)" = gw ] ||
	fail "gw is not the process it was"
# a clean exit (SAN=1: no leak, no sanitizer report)
kill -TERM "$gw_pid"
wait "$gw_pid" || fail "gw exited with $?"
log "peers added, changed and removed at runtime: client kept its session, entry and NAT"
