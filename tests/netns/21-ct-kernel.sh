#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Kernel ground truth for nat/conntrack: crafted TCP segments and UDP
# datagrams cross a Linux router; for each, the conntrack state the router
# gave it (iptables counters per --ctstate) and the line `conntrack -L`
# prints must be what tests/unit/test_ct*.c expect of gw's conntrack.
#
#   ┌───┐ eth0 192.0.2.1/24   192.0.2.254 eth0 ┌───┐ eth1 198.51.100.254   198.51.100.2/24 eth0 ┌───┐
#   │ a ├──────────────────────────────────────┤ r ├──────────────────────────────────────────┤ b │
#   └───┘                                      └───┘ conntrack, FORWARD counts per ctstate     └───┘
#
# a and b drop their own TCP input, so only the crafted segments exist.
. "$(dirname "$0")/lib.sh"

host_add a r b
link_add a eth0 r eth0
link_add r eth1 b eth0
addr_add a eth0 192.0.2.1/24
addr_add r eth0 192.0.2.254/24
addr_add r eth1 198.51.100.254/24
addr_add b eth0 198.51.100.2/24
route_add a default via 192.0.2.254
route_add b default via 198.51.100.254
on r sysctl -qw net.ipv4.ip_forward=1
for s in NEW ESTABLISHED RELATED INVALID; do
	on r iptables -A FORWARD -m conntrack --ctstate "$s" -j ACCEPT
done
on a iptables -A INPUT -p tcp -j DROP
on b iptables -A INPUT -p tcp -j DROP
# a state must outlast the crafting of the next segment, however slow a
# loaded machine makes it (CLOSE is 10 s by default)
on r sysctl -qw net.netfilter.nf_conntrack_tcp_timeout_close=600


counters() { on r iptables -L FORWARD -v -n -x | awk 'NR > 2 { printf "%s ", $1 }'; }

# seg FROM FLAGS SEQ ACK WANT_CTSTATE WANT_TCP_STATE ("-": no entry)
seg() {
	local h=$1 fl=$2 seq=$3 ack=$4 want=$5 wstate=$6 src dst sp dp before after i got state
	if [ "$h" = a ]; then src=192.0.2.1 dst=198.51.100.2 sp=40000 dp=443
	else src=198.51.100.2 dst=192.0.2.1 sp=443 dp=40000; fi
	before=$(counters)
	on "$h" python3 "$TOP/tests/netns/tcpseg.py" $src $dst $sp $dp "$seq" "$ack" "$fl"
	for ((i = 0; i < 100; i++)); do
		after=$(counters)
		[ "$after" != "$before" ] && break
		sleep 0.02
	done
	got=$(python3 -c "
b, a = '$before'.split(), '$after'.split()
print(','.join(n for n, x, y in zip(['NEW', 'ESTABLISHED', 'RELATED', 'INVALID'], b, a) if x != y) or 'none')")
	state=$(on r conntrack -L -p tcp 2>/dev/null | awk '{ print $4 }')
	[ -n "$state" ] || state=-
	[ "$got" = "$want" ] && [ "$state" = "$wstate" ] ||
		fail "$h $fl seq=$seq ack=$ack: $got $state, want $want $wstate"
}

flush() { on r conntrack -F >/dev/null 2>&1; }

# the handshake, then a server RST: CLOSE; a new SYN on the same ports
# passes as ESTABLISHED through the old entry, which resynchronises
seg a S 1000 0 NEW SYN_SENT
seg b SA 5000 1001 ESTABLISHED SYN_RECV
seg a A 1001 5001 ESTABLISHED ESTABLISHED
# (the time left: 5 days, less what this loaded machine took since)
on r conntrack -L -p tcp 2>/dev/null | grep -qEx \
	"tcp      6 431[0-9]{3} ESTABLISHED src=192.0.2.1 dst=198.51.100.2 sport=40000 dport=443 src=198.51.100.2 dst=192.0.2.1 sport=443 dport=40000 \[ASSURED\] mark=0 use=1" ||
	fail "conntrack -L: $(on r conntrack -L -p tcp 2>/dev/null)"
seg b R 5001 0 ESTABLISHED CLOSE
seg a S 90000 0 ESTABLISHED CLOSE
seg b SA 70000 90001 ESTABLISHED SYN_RECV
seg a A 90001 70001 ESTABLISHED ESTABLISHED
flush

# a FIN close, then a SYN: a new entry, NEW
seg a S 1000 0 NEW SYN_SENT
seg b SA 5000 1001 ESTABLISHED SYN_RECV
seg a A 1001 5001 ESTABLISHED ESTABLISHED
seg a FA 1001 5001 ESTABLISHED FIN_WAIT
seg b A 5001 1002 ESTABLISHED CLOSE_WAIT
seg b FA 5001 1002 ESTABLISHED LAST_ACK
seg a A 1002 5002 ESTABLISHED TIME_WAIT
seg a S 90000 0 NEW SYN_SENT
flush

# an ACK after a SYN: INVALID; a bare ACK is picked up
seg a S 1000 0 NEW SYN_SENT
seg a A 1001 5001 INVALID SYN_SENT
flush
seg a A 1001 5001 NEW ESTABLISHED
seg b A 5001 1001 ESTABLISHED ESTABLISHED
seg a A 1001 5001 ESTABLISHED ESTABLISHED
flush

# an RST answering the SYN kills the entry; RSTs below the window are
# INVALID, inexact ones keep ESTABLISHED
seg a S 1000 0 NEW SYN_SENT
seg b RA 0 1001 ESTABLISHED -
seg a S 1000 0 NEW SYN_SENT
seg b SA 5000 1001 ESTABLISHED SYN_RECV
seg a A 1001 5001 ESTABLISHED ESTABLISHED
seg b R 4900 0 INVALID ESTABLISHED
seg b R 5101 0 ESTABLISHED ESTABLISHED
seg a A 1001 5001 ESTABLISHED ESTABLISHED
seg b R 5001 0 ESTABLISHED CLOSE
log "TCP states as Linux gives them: reopen, pickup, RSTs"

# UDP: unreplied, then replied within 2 s (no ASSURED, 30 s)
bg b socat -T 5 UDP-LISTEN:7001,reuseaddr PIPE
wait_udp b 7001
echo hi | on a socat -t 0.5 - UDP:198.51.100.2:7001,sourceport=40001 >/dev/null
line=$(on r conntrack -L -p udp 2>/dev/null)
[ "$line" = "udp      17 29 src=192.0.2.1 dst=198.51.100.2 sport=40001 dport=7001 src=198.51.100.2 dst=192.0.2.1 sport=7001 dport=40001 mark=0 use=1" ] ||
	[ "$line" = "udp      17 30 src=192.0.2.1 dst=198.51.100.2 sport=40001 dport=7001 src=198.51.100.2 dst=192.0.2.1 sport=7001 dport=40001 mark=0 use=1" ] ||
	fail "conntrack -L udp: $line"
log "conntrack -L lines as gw's ct_format prints them"
