#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A handshake flood puts gw under load: it answers with cookie replies
# instead of doing Diffie-Hellman, and a stock client (wireguard-go, which
# handles cookies itself) still connects and passes TCP during the flood.
#
#   ┌───────────────────────┐ eth0      eth0 ┌──────────────────────┐ eth1      eth0 ┌──────────────────────┐
#   │ client                │ 192.0.2.2      │ gateway              │ 198.51.100.1   │ flooder              │
#   │  wireguard-go wgc0    ├──── veth ──────┤  gw run gw0.conf     ├──── veth ──────┤  wg_flood.py:        │
#   │   10.8.0.2/24         │      192.0.2.1 │   TUN gw0 10.8.0.1   │  198.51.100.2  │  initiations with a  │
#   │   (LOG_LEVEL=verbose) │                │   UDP :51820         │                │  valid mac1, counts  │
#   └───────────────────────┘                └──────────────────────┘                │  cookie replies      │
#                                                                                    └──────────────────────┘
# Under load means (gw/gw.h): more than GW_UNDER_LOAD_HANDSHAKES handshake
# messages within one second, sticking for a second; the flooder sends
# thousands a second, so gw is under load for as long as it runs.
#
# Checks: gw reports under_load=1 and counts cookie replies sent; the
# flooder receives type-3 cookie replies for its own sender indices; the
# client's first initiation is answered with a cookie (its log says so), it
# retries with mac2 and completes the handshake; 1 MB over TCP arrives
# intact; gw keeps serving after the flood.
. "$(dirname "$0")/lib.sh"

host_add client gateway flooder
link_add client eth0 gateway eth0
link_add gateway eth1 flooder eth0
addr_add client eth0 192.0.2.2/24
addr_add gateway eth0 192.0.2.1/24
addr_add gateway eth1 198.51.100.1/24
addr_add flooder eth0 198.51.100.2/24

tunnel_gw gateway
stat() { on gateway "$GW" stats "$ctl" | sed -n "s/^$1=//p"; }

log "flood: initiations with a valid mac1 from the flooder"
bg flooder python3 "$TOP/tests/netns/wg_flood.py" 198.51.100.1 51820 "$gw_pub" \
	"$TMP/stop-flood" > "$TMP/flood.out"
flood_pid=$BG_PID
loaded() { [ "$(stat under_load)" = 1 ] && [ "$(stat drop_cookie-sent)" -ge 100 ]; }
wait_for 15 loaded
[ "$(stat handshakes_received)" = 0 ] || fail "gw answered a flood initiation"

log "a stock client connects during the flood"
LOG_LEVEL=verbose wg_go client wgc0
client_pid=$WG_PID
wgc() { wg_in "$client_pid" "$@"; }
wgc set wgc0 private-key "$TMP/client.key" peer "$gw_pub" \
	endpoint 192.0.2.1:51820 allowed-ips 10.8.0.0/24
on client ip addr add 10.8.0.2/24 dev wgc0
on client ip link set wgc0 up

head -c 1000000 /dev/urandom > "$TMP/data"
# the client's first initiation gets a cookie; wireguard-go retries after
# REKEY_TIMEOUT (5 s) with mac2, which passes; TCP's SYN retries carry on
tcp_xfer client gateway 10.8.0.1 7000
wgc show wgc0 latest-handshakes | awk '{ exit !($2 > 0) }' || fail "client saw no handshake"
[ "$(stat under_load)" = 1 ] || fail "gw was no longer under load: the flood stalled"
grep -q "Receiving cookie response" "$TMP/wggo.log" ||
	fail "the client was never sent a cookie: it did not connect under load"
[ "$(stat handshakes_received)" -ge 1 ] || fail "gw counted no answered initiation"

log "the flood stops"
touch "$TMP/stop-flood"
wait "$flood_pid" || fail "the flooder failed"
read -r flood < "$TMP/flood.out"
log "flooder: $flood; gw: cookie-sent=$(stat drop_cookie-sent)" \
	"ratelimited=$(stat drop_ratelimited) handshake=$(stat drop_handshake)"
cookies=${flood#*cookies=}; cookies=${cookies%% *}
[ "$cookies" -ge 1 ] || fail "the flooder received no cookie reply"
[ "$(stat drop_cookie-sent)" -ge "$cookies" ] || fail "gw counted fewer cookies than arrived"
[ "${flood##*other=}" = 0 ] || fail "the flooder received something other than cookie replies"

log "gw keeps serving after the flood"
tcp_xfer client gateway 10.8.0.1 7000

# TCP throughput of the client through gw, without and during a flood of
# initiations that pass the under-load gate (valid mac2) from 200 sources,
# each just over the per-source rate limit: the most Diffie-Hellman a flood
# can make gw do without a peer's key.  Without and during alternate, four
# times each, in one run (the flooder paused between); the sums are
# compared, so a machine busy with other work slows both alike.
log "throughput with and without a valid-cookie flood from 200 sources"
for i in $(seq 10 209); do echo "addr add 198.51.100.$i/24 dev eth0"; done |
	ip -n "$(ns flooder)" -batch -
bg gateway iperf3 -s -B 10.8.0.1 -p 5201 > /dev/null
wait_tcp gateway 5201
# mbit: Mbit/s of a 2 s single TCP stream from the client to gw's address
# (after a second left out: slow start)
mbit() {
	on client iperf3 -c 10.8.0.1 -p 5201 -t 3 -O 1 -J > "$TMP/iperf.json" ||
		fail "iperf3 failed: $(tail -5 "$TMP/iperf.json")"
	python3 -c 'import json, sys
print(int(json.load(open(sys.argv[1]))["end"]["sum_received"]["bits_per_second"] / 1e6))' \
		"$TMP/iperf.json"
}
unknown() { stat drop_unknown-peer; }
rm -f "$TMP/stop-flood"
u0=$(unknown)
bg flooder python3 "$TOP/tests/netns/wg_flood.py" 198.51.100.1 51820 "$gw_pub" \
	"$TMP/stop-flood" --sources 198.51.100.10 200 > "$TMP/flood.out"
flood_pid=$BG_PID
# under load, and the sources' initiations pass the gate: each costs gw two
# Diffie-Hellman computations before it is an unknown peer's
busy() { [ "$(stat under_load)" = 1 ] && [ "$(unknown)" -ge $((u0 + 500)) ]; }
wait_for 20 busy
# the handshake budget's global limit (gw/gw.h): at most GW_HS_BURST plus
# GW_HS_PER_SECOND a second go through Diffie-Hellman, however fast the
# sources send; counted from before the first look to after the last, so a
# slow machine only makes the bound looser
hs_rate=$(sed -n 's/.*GW_HS_PER_SECOND = \([0-9]*\).*/\1/p' "$TOP/gw/gw.h")
hs_burst=$(sed -n 's/.*GW_HS_BURST = \([0-9]*\).*/\1/p' "$TOP/gw/gw.h")
[ -n "$hs_rate" ] && [ -n "$hs_burst" ] || fail "no handshake budget in gw/gw.h"
t0=$(date +%s%N) c0=$(unknown)
off=0 on=0 runs=
for round in 1 2 3 4; do
	kill -STOP "$flood_pid"
	r=$(mbit); off=$((off + r))
	kill -CONT "$flood_pid"
	wait_for 10 busy
	f=$(mbit); on=$((on + f))
	runs="$runs $r/$f"
	u0=$(unknown)
done
c1=$(unknown) t1=$(date +%s%N)
touch "$TMP/stop-flood"
wait "$flood_pid" || fail "the flooder failed"
read -r flood < "$TMP/flood.out"
log "Mbit/s without/during:$runs; flooder: $flood; gw: unknown-peer=$(unknown)" \
	"handshake-budget=$(stat drop_handshake-budget) ratelimited=$(stat drop_ratelimited)" \
	"cookie-sent=$(stat drop_cookie-sent)"
cookies=${flood#*cookies=}; cookies=${cookies%% *}
[ "$cookies" -ge 200 ] || fail "the flooder's sources took $cookies cookies, not 200"
ms=$(((t1 - t0) / 1000000))
log "gw computed $((c1 - c0)) flood initiations in $ms ms (limit $hs_rate/s, burst $hs_burst)"
[ $((c1 - c0)) -le $((hs_burst + hs_rate * ms / 1000 + hs_rate / 100)) ] ||
	fail "gw computed $((c1 - c0)) initiations in $ms ms: over its budget"
[ "$(stat drop_handshake-budget)" -ge 1 ] || fail "no initiation was over the budget"
[ $((on * 2)) -ge "$off" ] ||
	fail "the flood took the client's throughput from $off to $on Mbit/s: below half"

log "handshake flood: cookie replies, a stock client still connects"
