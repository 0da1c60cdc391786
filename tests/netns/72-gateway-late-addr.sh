#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# gw starts while its uplink has no IPv4 address yet (a cloud VM whose DHCP
# is slower than gw's unit) and takes it when it appears: the world of
# gateway.sh, then gw restarted after the uplink's address was removed:
#   gw starts (logs that MASQUERADE waits); restores are checked as at start
#   (too many DNAT-ed ranges, foreign SNAT with forwarding on: refused)
#   the address comes: the tc filter is one for it, a UDP flow from the client is
#   MASQUERADE-d to it and its replies come back
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/gateway.sh"

gateway_world

stop "$gw_pid"
on gateway ip addr del "$UPL/24" dev eth0
bg gateway "$GW" run "$TMP/gw0.conf" 2> "$TMP/gw2.log"
gw_pid=$BG_PID
wait_for 10 test -S "$ctl"
grep -q "has no IPv4 address yet" "$TMP/gw2.log" || fail "no word of the missing address: $(cat "$TMP/gw2.log")"
# (a filter for no address yet may be there: it hides nothing)
tc_prog() { on gateway tc filter show dev eth0 ingress | sed -n "s/.*bytecode '\([^']*\)'.*/\1/p"; }
before=$(tc_prog)
new_prog() { local p; p=$(tc_prog); [ -n "$p" ] && [ "$p" != "$before" ]; }

log "without an address, restores are checked as at start"
{
	sed -n '1,/^:POSTROUTING/p' "$TMP/gw0.rules"
	for p in $(seq 20000 2 20064); do
		echo "-A PREROUTING -i eth0 -p udp --dport $p -j DNAT --to-destination 10.8.0.2"
	done
	sed -n '/^-A POSTROUTING/,$p' "$TMP/gw0.rules"
} > "$TMP/many.rules"
on gateway "$GW" rules "$ctl" restore < "$TMP/many.rules" 2> "$TMP/err" &&
	fail "33 DNAT-ed ranges accepted while the uplink has no address"
grep -q "more than 32 port ranges" "$TMP/err" || fail "too many ranges: $(cat "$TMP/err")"
sed "s/-j MASQUERADE/-j SNAT --to-source 198.51.100.50/" "$TMP/gw0.rules" > "$TMP/snat.rules"
on gateway sysctl -qw net.ipv4.conf.eth0.forwarding=1
on gateway "$GW" rules "$ctl" restore < "$TMP/snat.rules" 2> "$TMP/err" &&
	fail "SNAT to a foreign address accepted with forwarding on while the uplink has no address"
grep -q "net.ipv4.conf.eth0.forwarding=0" "$TMP/err" || fail "foreign SNAT refused with: $(cat "$TMP/err")"
on gateway sysctl -qw net.ipv4.conf.eth0.forwarding=0

log "the address appears: filters and MASQUERADE follow"
on gateway ip addr add "$UPL/24" dev eth0
wait_for 10 new_prog
bg internet python3 "$TOP/tests/netns/gw_e2e.py" udp-echo 7000 > /dev/null
wait_udp internet 7000
# a fresh handshake with the new gw instance
wgc set wgc0 peer "$gw_pub" remove
wgc set wgc0 peer "$gw_pub" endpoint 192.0.2.1:51820 allowed-ips 0.0.0.0/0
on client ip route replace default dev wgc0
# udp-ping resends until each echo is back, byte for byte
on client python3 "$TOP/tests/netns/gw_e2e.py" udp-ping $SRV 7000 3 > /dev/null ||
	fail "UDP through the NAT after the address appeared"
ct_has "dst=$UPL " || fail "no entry NAT-ed to $UPL"
stop "$gw_pid"
[[ $(on gateway tc filter show dev eth0 ingress) != *bpf* ]] || fail "tc filter left after SIGTERM"
no_netfilter
log "gw starts without an uplink address and follows it when it comes"
