#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# ICMP errors back through the NAT (RELATED): the world of gateway.sh, with
# the internet host also a router to one more host behind it (gateway_far).
#
#   client ── wg ── gateway (gw, MASQUERADE) ── internet 198.51.100.2 ── far 203.0.113.2
#                   route 203.0.113.0/24          forwards, TTL 1 dies here
#
# Every answer is watched on the client's wgc0 (gw_e2e.py probe): outer and
# inner IP header checksums, the ICMP (and TCP) checksum, the outer
# destination 10.8.0.2, and the quoted packet equal to the one the client sent
# but for the TTL and the header checksum (source 10.8.0.2 and the client's
# own port again, L4 checksum, echo identifier).  The client's kernel must
# match each error to the socket that sent the packet (ECONNREFUSED,
# EHOSTUNREACH, the IP_RECVERR queue).
#   UDP to a closed port of the server    ICMP port unreachable from the server
#     (also 1300 bytes: a quote cut at 548; 3000 bytes: sent as fragments,
#     the quote is of the datagram the server reassembled)
#   TCP to a closed port of the server    the server's RST
#   UDP / TCP / ICMP echo with TTL 2      TTL exceeded from the router
#   UDP / ICMP echo with TTL 1            TTL exceeded from gw itself (10.8.0.1)
#     (also 1300 and 3000 bytes: gw quotes the datagram it reassembled)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/gateway.sh"

gateway_world
gateway_far


# the far host is reachable through the router (so TTL 2 is what kills it)
bg far socat -u UDP-RECV:7000 OPEN:"$TMP/far",creat
wait_udp far 7000
on client socat -u - UDP:$FAR:7000 <<< "hello far"
wait_for 5 test -s "$TMP/far"

log "UDP to a closed port of the server: ICMP port unreachable, de-NAT-ed"
r=$(probe udp $SRV 9 64 40000) || fail "$r"
log "  $r"
expect "$r" answer=icmp type=3 code=3 src=$SRV dst=10.8.0.2 qsrc=10.8.0.2 qdst=$SRV \
	qsport=40000 qttl=63 "errqueue=3/3@$SRV,ECONNREFUSED"

# 1300 bytes (within the tunnel MTU): the server quotes only the first 548 (576 in all), and the
# quoted UDP checksum is still the client's (as Linux's de-NAT leaves it)
r=$(probe udp $SRV 9 64 40005 1300) || fail "$r"
log "  $r"
expect "$r" answer=icmp type=3 code=3 src=$SRV dst=10.8.0.2 qsrc=10.8.0.2 qdst=$SRV \
	qsport=40005 qttl=63 qlen=548 "errqueue=3/3@$SRV,ECONNREFUSED"

# 3000 bytes: the client's kernel sends fragments, gw reassembles them before
# conntrack, the server quotes the datagram it reassembled
r=$(probe udp $SRV 9 64 40007 3000) || fail "$r"
log "  $r"
expect "$r" answer=icmp type=3 code=3 src=$SRV dst=10.8.0.2 qsrc=10.8.0.2 qdst=$SRV \
	qsport=40007 qttl=63 qlen=548 "errqueue=3/3@$SRV,ECONNREFUSED"

log "TCP to a closed port of the server: its RST, de-NAT-ed"
r=$(probe tcp $SRV 9 64 40001) || fail "$r"
log "  $r"
expect "$r" answer=rst src=$SRV dst=10.8.0.2 sport=9 lport=40001 err=ECONNREFUSED

log "TTL 2: TTL exceeded from the router behind gw, de-NAT-ed"
r=$(probe udp $FAR 7000 2 40002) || fail "$r"
log "  $r"
expect "$r" answer=icmp type=11 code=0 src=$SRV dst=10.8.0.2 qsrc=10.8.0.2 qdst=$FAR \
	qsport=40002 qttl=1 "errqueue=11/0@$SRV,EHOSTUNREACH"
r=$(probe tcp $FAR 7001 2 40003) || fail "$r"
log "  $r"
expect "$r" answer=icmp type=11 code=0 src=$SRV dst=10.8.0.2 qsrc=10.8.0.2 qdst=$FAR \
	qsport=40003 qttl=1 err=EHOSTUNREACH
r=$(probe icmp $FAR 0 2) || fail "$r"
log "  $r"
expect "$r" answer=icmp type=11 code=0 src=$SRV dst=10.8.0.2 qsrc=10.8.0.2 qdst=$FAR qttl=1

log "TTL 1: TTL exceeded from gw itself"
r=$(probe udp $SRV 7000 1 40004) || fail "$r"
log "  $r"
expect "$r" answer=icmp type=11 code=0 src=10.8.0.1 dst=10.8.0.2 qsrc=10.8.0.2 qdst=$SRV \
	qsport=40004 qttl=1 "errqueue=11/0@10.8.0.1,EHOSTUNREACH"
r=$(probe udp $SRV 7000 1 40006 1300) || fail "$r"
log "  $r"
expect "$r" answer=icmp type=11 code=0 src=10.8.0.1 dst=10.8.0.2 qsrc=10.8.0.2 qdst=$SRV \
	qsport=40006 qttl=1 qlen=548 "errqueue=11/0@10.8.0.1,EHOSTUNREACH"
r=$(probe udp $SRV 7000 1 40008 3000) || fail "$r"
log "  $r"
expect "$r" answer=icmp type=11 code=0 src=10.8.0.1 dst=10.8.0.2 qsrc=10.8.0.2 qdst=$SRV \
	qsport=40008 qttl=1 qlen=548 "errqueue=11/0@10.8.0.1,EHOSTUNREACH"
r=$(probe icmp $SRV 0 1) || fail "$r"
log "  $r"
expect "$r" answer=icmp type=11 code=0 src=10.8.0.1 dst=10.8.0.2 qsrc=10.8.0.2 qdst=$SRV qttl=1

G() { on gateway "$GW" "$@"; }
G conntrack "$ctl" -L 2> /dev/null | sed 's/^/    /'
no_netfilter
kill -TERM "$gw_pid"
wait "$gw_pid" || fail "gw exited with $?"
log "ICMP errors through the NAT reach the client with the quoted packet as sent"
