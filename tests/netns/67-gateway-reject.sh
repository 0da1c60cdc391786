#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The filter policy and REJECT, end to end: the world of gateway.sh with
# these rules loaded by `gw rules gw0 restore` (FORWARD policy DROP):
#
#   tcp 8081  REJECT --reject-with tcp-reset        the client: RST, ECONNREFUSED
#   udp 9999  REJECT (icmp-port-unreachable)        ICMP 3/3 from 10.8.0.1
#   tcp 8082  REJECT --reject-with icmp-host-prohibited   ICMP 3/10, EHOSTUNREACH
#   tcp 8083  REJECT --reject-with icmp-admin-prohibited  ICMP 3/13, EHOSTUNREACH
#   udp 9998  REJECT --reject-with icmp-net-unreachable   ICMP 3/0
#   tcp 8080, udp 9000  ACCEPT                      they work
#   tcp 8090, udp 9001, ICMP echo: the policy drops them: no answer at all
#   INPUT to 10.8.0.1: tcp 2222 tcp-reset and udp 2223 REJECT answered by gw
#     from 10.8.0.1; the rest reaches the host (its listener's SYN-ACK, its
#     own RST for a closed port)
#   a REJECT tcp-reset restored in front of the ESTABLISHED accept resets a
#     running connection at its next segment (ECONNRESET: the RST's sequence
#     number is the one the client expects)
#
# Each answer is checked on the client's wgc0 (gw_e2e.py probe: checksums,
# the quote is the packet sent); the server hears only the accepted ports;
# the rule counters and the policy counter moved (gw rules -L -v -n -x).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/gateway.sh"

gateway_world
G() { on gateway "$GW" "$@"; }

cat > "$TMP/reject.rules" << 'EOF'
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A POSTROUTING -s 10.8.0.0/24 -o eth0 -j MASQUERADE
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -i gw0 -p tcp --dport 2222 -j REJECT --reject-with tcp-reset
-A INPUT -i gw0 -p udp --dport 2223 -j REJECT
-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A FORWARD -i gw0 -o eth0 -p tcp --dport 8081 -j REJECT --reject-with tcp-reset
-A FORWARD -i gw0 -o eth0 -p udp --dport 9999 -j REJECT
-A FORWARD -i gw0 -o eth0 -p tcp --dport 8082 -j REJECT --reject-with icmp-host-prohibited
-A FORWARD -i gw0 -o eth0 -p tcp --dport 8083 -j REJECT --reject-with icmp-admin-prohibited
-A FORWARD -i gw0 -o eth0 -p udp --dport 9998 -j REJECT --reject-with icmp-net-unreachable
-A FORWARD -i gw0 -o eth0 -p tcp --dport 8080 -j ACCEPT
-A FORWARD -i gw0 -o eth0 -p udp --dport 9000 -j ACCEPT
COMMIT
EOF
G rules "$ctl" restore < "$TMP/reject.rules" || fail "gw rules restore"

# the server listens on every port, and logs who reached it
for p in 8080 8081 8082 8083 8090; do
	tcp_echo_server internet $p > "$TMP/tcp$p.log"
done
for p in 9000 9001 9998 9999; do
	bg internet python3 "$TOP/tests/netns/gw_e2e.py" udp-echo $p > "$TMP/udp$p.log"
done
for p in 9000 9001 9998 9999; do wait_udp internet $p; done

run() {
	local what=$1; shift
	r=$(probe "$@") || fail "$what: $r"
	log "  $what: $r"
}

log "REJECT answers as configured"
run "tcp 8081 tcp-reset" tcp $SRV 8081 64
expect "$r" answer=rst src=$SRV dst=10.8.0.2 sport=8081 err=ECONNREFUSED
run "udp 9999 default" udp $SRV 9999 64 40000
expect "$r" answer=icmp type=3 code=3 src=10.8.0.1 dst=10.8.0.2 qsrc=10.8.0.2 qdst=$SRV \
	qsport=40000 "errqueue=3/3@10.8.0.1,ECONNREFUSED"
run "tcp 8082 host-prohibited" tcp $SRV 8082 64
expect "$r" answer=icmp type=3 code=10 src=10.8.0.1 dst=10.8.0.2 qsrc=10.8.0.2 qdst=$SRV \
	err=EHOSTUNREACH
run "tcp 8083 admin-prohibited" tcp $SRV 8083 64
expect "$r" answer=icmp type=3 code=13 src=10.8.0.1 dst=10.8.0.2 qsrc=10.8.0.2 qdst=$SRV \
	err=EHOSTUNREACH
run "udp 9998 net-unreachable" udp $SRV 9998 64 40001
expect "$r" answer=icmp type=3 code=0 src=10.8.0.1 dst=10.8.0.2 qsrc=10.8.0.2 qdst=$SRV \
	qsport=40001 "errqueue=3/0@10.8.0.1,ENETUNREACH"

log "INPUT (gw's own address 10.8.0.1): REJECT from gw, the rest to the host"
run "tcp 10.8.0.1:2222 tcp-reset" tcp 10.8.0.1 2222 64
expect "$r" answer=rst src=10.8.0.1 dst=10.8.0.2 sport=2222 err=ECONNREFUSED
run "udp 10.8.0.1:2223 default" udp 10.8.0.1 2223 64 40003
expect "$r" answer=icmp type=3 code=3 src=10.8.0.1 dst=10.8.0.2 qsrc=10.8.0.2 qdst=10.8.0.1 \
	qsport=40003 "errqueue=3/3@10.8.0.1,ECONNREFUSED"
tcp_echo_server gateway 2224 10.8.0.1 > /dev/null
run "tcp 10.8.0.1:2224 the host's listener" tcp 10.8.0.1 2224 64
expect "$r" answer=synack src=10.8.0.1 dst=10.8.0.2 sport=2224 err=0
run "tcp 10.8.0.1:2225 nothing listens: the host's RST" tcp 10.8.0.1 2225 64
expect "$r" answer=rst src=10.8.0.1 dst=10.8.0.2 sport=2225 err=ECONNREFUSED

log "what the rules allow works"
run "tcp 8080 accepted" tcp $SRV 8080 64
expect "$r" answer=synack src=$SRV dst=10.8.0.2 sport=8080 err=0
on client python3 "$TOP/tests/netns/gw_e2e.py" udp-ping $SRV 9000 3 > /dev/null || fail "UDP 9000 (accepted): no echo"
echo "allowed $RUN" > "$TMP/u"
tcp_echo client $SRV 8080 "$TMP/u"

log "the policy drops the rest without an answer"
before=$(G rules "$ctl" -L FORWARD -v -n -x | sed -n 's/^Chain FORWARD (policy DROP \([0-9]*\) packets.*/\1/p')
[ -n "$before" ] || fail "no FORWARD policy line"
run "tcp 8090 dropped" tcp $SRV 8090 64
expect "$r" answer=none err=pending
run "udp 9001 dropped" udp $SRV 9001 64 40002
expect "$r" answer=none errqueue=none
run "icmp echo dropped" icmp $SRV 0 64
expect "$r" answer=none

log "the server heard only the accepted ports"
for p in 8081 8082 8083 8090; do
	[ -s "$TMP/tcp$p.log" ] && fail "TCP $p reached the server: $(cat "$TMP/tcp$p.log")"
done
for p in 9001 9998 9999; do
	[ -s "$TMP/udp$p.log" ] && fail "UDP $p reached the server: $(cat "$TMP/udp$p.log")"
done
grep -Eq "^$UPL:61[0-9]{3}$" "$TMP/tcp8080.log" ||
	fail "TCP 8080 did not reach the server from $UPL:NatPorts"
grep -Eq "^$UPL:61[0-9]{3}$" "$TMP/udp9000.log" || fail "UDP 9000 did not reach the server"

log "rule counters (gw rules gw0 -L FORWARD -v -n -x)"
G rules "$ctl" -L FORWARD -v -n -x > "$TMP/L" || fail "gw rules -L"
sed 's/^/    /' "$TMP/L"
# pkts MATCH: the packet counter of the one rule whose line ends in MATCH
pkts() {
	local l
	l=$(grep -E " $1\$" "$TMP/L") || fail "no rule ending in '$1'"
	[ "$(wc -l <<< "$l")" = 1 ] || fail "more than one rule ending in '$1'"
	awk '{print $1}' <<< "$l"
}
for m in 'tcp dpt:8081 reject-with tcp-reset' 'udp dpt:9999 reject-with icmp-port-unreachable' \
	'tcp dpt:8082 reject-with icmp-host-prohibited' 'tcp dpt:8083 reject-with icmp-admin-prohibited' \
	'udp dpt:9998 reject-with icmp-net-unreachable' 'tcp dpt:8080' 'udp dpt:9000'; do
	[ "$(pkts "$m")" -ge 1 ] || fail "the counter of '$m' did not move"
done
after=$(sed -n 's/^Chain FORWARD (policy DROP \([0-9]*\) packets.*/\1/p' "$TMP/L")
# at least the TCP SYN, the UDP datagram and the echo request
[ "$after" -ge $((before + 3)) ] || fail "FORWARD policy counter: $before -> $after"

log "an established flow, reset by a rule restored in front of ESTABLISHED"
on client python3 - $SRV "$TMP/go" > "$TMP/mid" << 'EOF' &
import os, socket, sys, time
s = socket.create_connection((sys.argv[1], 8080), timeout=10)
s.sendall(b"one\n")
assert s.recv(100) == b"one\n"
print("established", flush=True)
while not os.path.exists(sys.argv[2]):
    time.sleep(0.05)
s.sendall(b"two\n")
try:
    print("answer", s.recv(100), flush=True)
except ConnectionResetError:
    print("reset", flush=True)
except socket.timeout:
    print("timeout", flush=True)
EOF
mid=$!
wait_for 10 grep -q established "$TMP/mid"
sed 's/^-A FORWARD -m conntrack/-A FORWARD -i gw0 -p tcp --dport 8080 -j REJECT --reject-with tcp-reset\n&/' \
	"$TMP/reject.rules" > "$TMP/reset.rules"
G rules "$ctl" restore < "$TMP/reset.rules" || fail "gw rules restore (reset)"
touch "$TMP/go"
wait "$mid" || fail "the established flow: $(cat "$TMP/mid")"
grep -qx reset "$TMP/mid" || fail "the established flow was not reset: $(cat "$TMP/mid")"
G rules "$ctl" -L FORWARD -v -n -x | grep -Eq '^ +1 +[0-9]+ REJECT .*tcp dpt:8080 reject-with tcp-reset$' ||
	fail "the mid-flow REJECT did not count one packet: $(G rules "$ctl" -L FORWARD -v -n -x)"

no_netfilter
kill -TERM "$gw_pid"
wait "$gw_pid" || fail "gw exited with $?"
log "REJECT answers as configured (RST, ICMP 3/3, 3/10, 3/13, 3/0), the policy drops the rest"
