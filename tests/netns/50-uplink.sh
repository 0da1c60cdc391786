#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# gw/uplink on a host-owned NAT address: out as Ethernet frames on the send
# packet socket (the first packet to a next hop without a neighbour entry
# by IPPROTO_RAW) with source 192.0.2.1:NatPorts, replies off the packet socket, the gateway's kernel
# silent for the range (tc filter), the host's own connections unharmed
# (reserved ports), GSO super-packets (larger than a receive ring slot: read
# from the socket's queue) cut into checked segments; with veth offloads on
# (the default) and off; all the while the host makes short connections to
# the internet host as fast as they go (connrate, 32 in flight: they must
# have run, how well is not asserted); a flood round and over a small
# receive ring.  Everything removed at exit.
#
#   ┌─────────┐ eth0 192.0.2.1/24        192.0.2.2/24 eth0 ┌──────────┐
#   │ gateway ├──────────────────── veth ───────────────────┤ internet │
#   └─────────┘ uplink_probe (NatPorts 61000-61999)          └──────────┘
#                                 TCP echo :7000, UDP echo :7001 (probe), file :7002
#                                 connrate server :7200
#                                 tcpdump: RST / ICMP from 192.0.2.1
. "$(dirname "$0")/lib.sh"

case $GW in
*/build/san/*) PROBE=${UPLINK_PROBE:-$TOP/build/san/tests/netns/uplink_probe} ;;
*) PROBE=${UPLINK_PROBE:-$TOP/build/rel/tests/netns/uplink_probe} ;;
esac
[ -x "$PROBE" ] || fail "no $PROBE (make $(realpath --relative-to="$TOP" "$PROBE"))"
CONNRATE=${CONNRATE:-${PROBE%/netns/uplink_probe}/bench/connrate}
[ -x "$CONNRATE" ] || fail "no $CONNRATE (make $(realpath --relative-to="$TOP" "$CONNRATE"))"
LO=61000 HI=61999 NAT=192.0.2.1 SRV=192.0.2.2

host_add gateway internet
link_add gateway eth0 internet eth0
addr_add gateway eth0 $NAT/24
addr_add internet eth0 $SRV/24

# 3 MB: enough for hundreds of GSO super-packets
head -c 3000000 /dev/urandom > "$TMP/big"
tcp_echo_server internet 7000 > /dev/null
bg internet "$PROBE" udp-echo 7001
# -t 30: socat ends a SYSTEM: child channel -t seconds after the child exits,
# dropping what is still in the pipe when the receiver is slow (SAN)
bg internet socat -t 30 TCP-LISTEN:7002,reuseaddr,fork SYSTEM:"cat $TMP/big"
wait_udp internet 7001
wait_tcp internet 7002
bg internet "$CONNRATE" server 7200
wait_tcp internet 7200

# capture NAME: what the gateway's kernel says about NAT-ed flows; sets CAP_PID
capture() {
	bg internet tcpdump -i eth0 -n -U --immediate-mode -w "$TMP/$1.pcap" \
		"src host $NAT and (icmp or (tcp[tcpflags] & tcp-rst != 0 and src portrange $LO-$HI))" \
		2> "$TMP/$1.err"
	CAP_PID=$BG_PID
	wait_for 10 grep -q 'listening on' "$TMP/$1.err"
}
# seen NAME: stops the capture and prints how many packets it holds
seen() {
	sleep 0.2 # let the last packet through tcpdump's buffer
	stop "$CAP_PID"
	tcpdump -n -r "$TMP/$1.pcap" 2> /dev/null | tee "$TMP/$1.txt" | wc -l
}

reserved() { on gateway cat /proc/sys/net/ipv4/ip_local_reserved_ports; }
tc_filters() { on gateway tc filter show dev eth0 ingress; }

# The control: without gw's filter the kernel answers the NAT port itself.
capture bare
on gateway "$PROBE" run --bare eth0 $NAT $LO $HI $SRV udp:7001 > "$TMP/bare.out" ||
	fail "bare probe: $(cat "$TMP/bare.out")"
n=$(seen bare)
[ "$n" -ge 1 ] || fail "control: no ICMP from the gateway's kernel without the tc filter"
log "control: without the filter the kernel answered ($n packet(s): $(head -1 "$TMP/bare.txt"))"

on gateway sh -c 'echo 5000,61500 > /proc/sys/net/ipv4/ip_local_reserved_ports'
before=$(reserved)

# connections the internet host's kernel accepted so far (/proc/net/snmp)
passive_opens() {
	on internet awk '/^Tcp:/ { if (!n) { for (i = 1; i <= NF; i++) if ($i == "PassiveOpens") c = i; n = 1 } else print $c }' \
		/proc/net/snmp
}

sport=61100
for mode in on off; do
	sport=$((sport + 2))
	on gateway "$PROBE" offload eth0 $mode || fail "offloads $mode (gateway)"
	on internet "$PROBE" offload eth0 $mode || fail "offloads $mode (internet)"
	capture "silent-$mode"
	p0=$(passive_opens)
	bg gateway "$CONNRATE" client $SRV 7200 -n 32 -t 3600 > "$TMP/load-$mode"
	load=$BG_PID
	# the probe starts once the load runs (it can be done in half a
	# second, before a slow start made a connection)
	wait_for 30 eval '[ "$(passive_opens)" -ge $((p0 + 20)) ]'
	out="$TMP/probe-$mode.out"
	bg gateway "$PROBE" run eth0 $NAT $LO $HI $SRV udp:7001 syn:7000:$sport \
		bulk:7002:$((sport + 1)):"$TMP/got-$mode" host:7000:7001:200 hold > "$out" 2>&1
	probe=$BG_PID
	for ((i = 0; i < 2400; i++)); do
		grep -q holding "$out" && break
		kill -0 "$probe" 2> /dev/null || fail "offloads $mode: probe: $(cat "$out")"
		sleep 0.05
	done
	grep -q holding "$out" || fail "offloads $mode: probe did not finish its steps: $(cat "$out")"
	tc_filters | grep -q 'pref 49374 bpf .*handle 0x1 direct-action' || fail "no tc filter while gw runs: $(tc_filters)"
	[ "$(reserved)" = "5000,61000-61999" ] || fail "reserved ports while gw runs: $(reserved)"
	stop "$load"
	grep -Eq ' ok=[1-9]' "$TMP/load-$mode" || fail "offloads $mode: the load did not run: $(cat "$TMP/load-$mode")"
	n=$(seen "silent-$mode")
	[ "$n" = 0 ] || fail "offloads $mode: the gateway's kernel answered NAT-ed flows: $(cat "$TMP/silent-$mode.txt")"
	stop "$probe"
	wait "$probe" 2> /dev/null && rc=0 || rc=$?
	cat "$out" | sed "s/^/    [$mode] /"
	grep -q 'checked .* 0 bad checksums, 0 over the MTU' "$out" || fail "offloads $mode: bad packets"
	cmp -s "$TMP/big" "$TMP/got-$mode" || fail "offloads $mode: the stream differs"
	# the probe's packets leave as frames on the packet socket
	txp=$(sed -n 's/.* tx packet \([0-9]*\) raw.*/\1/p' "$out")
	[ "${txp:-0}" -ge 10 ] || fail "offloads $mode: the probe's packets did not leave by the packet socket"
	segs=$(sed -n 's/.* gso \([0-9]*\) segs.*/\1/p' "$out")
	copied=$(sed -n 's/.* copied \([0-9]*\) pkts.*/\1/p' "$out")
	if [ $mode = on ]; then
		[ "$segs" -gt 0 ] || fail "offloads on: no GSO super-packet reached the uplink"
		# larger than a ring slot: read whole from the socket's queue
		[ "$copied" -gt 0 ] || fail "offloads on: no super-packet came by the queue"
	fi
	[ "$(reserved)" = "$before" ] || fail "reserved ports after exit: '$(reserved)', was '$before'"
	[ -z "$(tc_filters)" ] || fail "tc filter left behind: $(tc_filters)"
	on gateway tc qdisc show dev eth0 | grep -q clsact && fail "clsact left behind"
	log "offloads $mode: replies on the packet socket, kernel silent, host connections fine, $segs super-packets segmented, all removed"
	log "  the host's load alongside: $(cat "$TMP/load-$mode")"
done

# The send queue: to a next hop without a neighbour entry the first packet
# goes by the raw socket (the kernel resolves it); the entry is learned from
# the kernel's event and the next ones leave as frames.
on gateway ip neigh flush dev eth0
on gateway ip neigh show dev eth0 | grep -q "^$SRV .*lladdr" && fail "neighbour entry for $SRV not flushed"
on gateway "$PROBE" run eth0 $NAT $LO $HI $SRV neigh:7001 > "$TMP/neigh.out" 2>&1 ||
	fail "neigh: $(cat "$TMP/neigh.out")"
log "$(grep '^neigh' "$TMP/neigh.out")"

# The receive ring goes round, and over: a 64-slot ring, 2000 echoes read
# as they come, then 2000 unread (the kernel drops what finds it full);
# then it is read empty and takes the next echo.
on gateway "$PROBE" run --ring 64 eth0 $NAT $LO $HI $SRV flood:7001:2000 udp:7001 \
	> "$TMP/flood.out" 2>&1 || fail "ring flood: $(cat "$TMP/flood.out")"
grep -q 'udp echo from 7001: ok' "$TMP/flood.out" || fail "ring flood: $(cat "$TMP/flood.out")"
log "$(grep '^flood' "$TMP/flood.out" | paste -sd';')"

# A clsact that was there before stays.
on gateway tc qdisc add dev eth0 clsact
on gateway "$PROBE" run eth0 $NAT $LO $HI $SRV udp:7001 > /dev/null || fail "probe with clsact present"
on gateway tc qdisc show dev eth0 | grep -q clsact || fail "pre-existing clsact removed"
[ -z "$(tc_filters)" ] || fail "tc filter left behind: $(tc_filters)"
log "a pre-existing clsact qdisc is left alone"
