#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# NAT66 on the uplink beyond MASQUERADE (issue 12): DNAT of uplink ports to a
# peer and SNAT to an IPv6 address the host does not own.  The world of
# 83-gateway-ipv6.sh (IPv4 underlay), gw started with Rules6 = the rules
# below (TCP 8080 -> [fd00:8::2]:80, UDP 5353 -> fd00:8::2, MASQUERADE out):
#
#   ┌───────────────────────┐ eth0            lan0 ┌─────────────────────────┐ eth0                eth0 ┌──────────────────────┐
#   │ client                │ 192.0.2.2  192.0.2.1 │ gateway                 │ 2001:db8:1::1            │ internet             │
#   │  wireguard-go wgc0    ├──────── veth ────────┤  gw run gw0.conf        ├──────── veth ────────────┤  2001:db8:1::2        │
#   │   fd00:8::2/64        │                      │   Rules6: DNAT :8080,   │  (::50: gw's alone,      │  connects to         │
#   │   socat :80, :5353    │                      │   :5353; host echo 2222 │   NDP answered by gw)    │  [::1]:8080, :2222   │
#   └───────────────────────┘                      └─────────────────────────┘                          └──────────────────────┘
#
# (a) DNAT66: the internet host reaches the client's TCP server through
#     [2001:db8:1::1]:8080 (1 MB both ways, compared; the client sees the
#     internet host's address), a download survives a restore that removes
#     its rule half-way (the port stays gw's while the connection lives),
#     and its UDP echo through :5353; the
#     gateway's kernel sends no RST and no ICMPv6 unreachable meanwhile (its
#     counters), so the ports are hidden from it; the host's own listener
#     on [2001:db8:1::1]:2222 keeps working over IPv6 and :8081 is refused
#     by the kernel; an address the uplink gets later takes a DNAT66 rule
#     with -d naming it (:8082).
# (b) SNAT66 --to-source 2001:db8:1::50, an address no interface has
#     (SIGHUP reload of Rules6): gw answers Neighbor Solicitations for it
#     with the uplink's MAC; TCP (the server sees ::50), UDP and ICMPv6 echo
#     work; a download outlives a restore that removes its rule half-way
#     (the address stays gw's while the connection lives, and leaves the
#     filters once conntrack -F ends the connection).
# (c) with net.ipv6.conf.eth0.forwarding=1: a SIGHUP with an SNAT66 rule to
#     another foreign address is refused, the old IPv6 rules stay.
# No ip6tables or nftables rule in any namespace.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/gateway.sh"

cat > "$TMP/nat66.rules6" <<'EOF'
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A PREROUTING -i eth0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination [fd00:8::2]:80
-A PREROUTING -i eth0 -p udp -m udp --dport 5353 -j DNAT --to-destination fd00:8::2
-A PREROUTING -d 2001:db8:1::9/128 -i eth0 -p tcp -m tcp --dport 8082 -j DNAT --to-destination [fd00:8::2]:80
-A POSTROUTING -s fd00:8::/64 -o eth0 -j MASQUERADE
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A FORWARD -i gw0 -o eth0 -j ACCEPT
-A FORWARD -i eth0 -o gw0 -m conntrack --ctstate DNAT -j ACCEPT
COMMIT
EOF
FOREIGN6=2001:db8:1::50 SEC6=2001:db8:1::9
GW_IPV6=1 GW_RULES6=$TMP/nat66.rules6 gateway_world

# the gateway kernel's count of RSTs sent and ICMPv6 destination unreachables
rsts() { on gateway awk '/^Tcp:/ { if (n++) print $15 }' /proc/net/snmp; }
unreach6() { on gateway awk '$1 == "Icmp6OutDestUnreachs" { print $2 }' /proc/net/snmp6; }
# probe HOST ADDR PORT: how a TCP connect ends: connected, refused or timeout
probe() {
	on "$1" python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET6)
s.settimeout(3)
try:
    s.connect((sys.argv[1], int(sys.argv[2]))); print("connected")
except ConnectionRefusedError:
    print("refused")
except OSError:
    print("timeout")' "$2" "$3"
}

[ "$(on gateway sysctl -n net.ipv6.conf.all.forwarding)" = 0 ] ||
	fail "the gateway's kernel forwards IPv6"
wait_for 5 grep -q "filters: .*IPv6 addresses $UPL6;.*DNAT-ed tcp 8080 udp 5353" "$TMP/gw.log"
head -c 1000000 /dev/urandom > "$TMP/data"
# (the client is reachable once it has sent something: its endpoint)
r=$(on client python3 "$TOP/tests/netns/ping6.py" $SRV6) || fail "ping6 $SRV6: $r"

rst0=$(rsts) un0=$(unreach6)
log "(a) DNAT66: internet -> [$UPL6]:8080 -> client [fd00:8::2]:80 (upload)"
bg client socat -d -d -u TCP6-LISTEN:80,reuseaddr OPEN:"$TMP/up",creat,trunc 2> "$TMP/cl80.log"
rx=$BG_PID
wait_tcp client 80
on internet timeout 30 socat -u OPEN:"$TMP/data" "TCP6:[$UPL6]:8080" ||
	fail "internet -> [$UPL6]:8080: socat"
wait "$rx" || true
cmp -s "$TMP/data" "$TMP/up" || fail "upload: $(wc -c < "$TMP/up") of 1000000 bytes arrived intact"
grep -q "accepting connection from AF=10 \[2001:0db8:0001:0000:0000:0000:0000:0002\]:" \
	"$TMP/cl80.log" || fail "the client did not see $SRV6: $(grep accepting "$TMP/cl80.log")"
log "  client saw: $(grep -o "from AF=10 [^ ]*" "$TMP/cl80.log")"

log "(a) DNAT66: download from the client"
bg client socat -u OPEN:"$TMP/data" TCP6-LISTEN:80,reuseaddr
tx=$BG_PID
wait_tcp client 80
on internet timeout 30 socat -u "TCP6:[$UPL6]:8080" - > "$TMP/down" ||
	fail "[$UPL6]:8080 download: socat"
wait "$tx" || true
cmp -s "$TMP/data" "$TMP/down" || fail "download: $(wc -c < "$TMP/down") of 1000000 bytes intact"

# across_restore N SERVER PORT CLIENT DEST DPORT RULES6 WHAT: a download of
# $TMP/data from SERVER's :PORT (held half-way) to CLIENT, which connects to
# [DEST]:DPORT, the IPv6 rules restored to RULES6 half-way; it ends intact
# (WHAT in messages)
across_restore() {
	local n=$1 srv=$2 port=$3 cl=$4 dest=$5 dport=$6 rules=$7 what=$8 dl
	gated "$TMP/go$n" "$TMP/data" | on "$srv" socat -u - "TCP6-LISTEN:$port,reuseaddr" &
	_pids+=($!)
	wait_tcp "$srv" "$port"
	on "$cl" timeout 60 socat -u "TCP6:[$dest]:$dport" - > "$TMP/down$n" &
	dl=$!
	_half() { [ "$(wc -c < "$TMP/down$n")" -ge 500000 ]; }
	wait_for 20 _half || fail "the download $what did not reach half-way"
	on gateway "$GW" rules "$ctl" -6 restore "$rules" || fail "restore -6 ($what)"
	touch "$TMP/go$n"
	wait "$dl" || fail "the download $what died with its rule"
	cmp -s "$TMP/data" "$TMP/down$n" ||
		fail "download $what across the restore: $(wc -c < "$TMP/down$n") bytes"
}

log "(a) a DNAT66 connection outlives its rule (restore -6 without it, mid-download)"
grep -v -- "--dport 8080" "$TMP/nat66.rules6" > "$TMP/nodnat.rules6"
across_restore 2 client 80 internet "$UPL6" 8080 "$TMP/nodnat.rules6" "through DNAT66"
on gateway "$GW" rules "$ctl" -6 restore "$TMP/nat66.rules6" || fail "restore -6 back"

log "(a) DNAT66: UDP echo through [$UPL6]:5353"
bg client python3 "$TOP/tests/netns/gw_e2e.py" udp-echo 5353 > /dev/null
wait_udp client 5353
on internet python3 "$TOP/tests/netns/gw_e2e.py" udp-ping $UPL6 5353 5 > /dev/null ||
	fail "UDP echo through [$UPL6]:5353: no answer"

log "(a) DNAT66 to a secondary address of the uplink: [$SEC6]:8082 -> client :80"
on gateway ip -6 addr add $SEC6/64 dev eth0 nodad
wait_for 10 grep -q "filters: .*IPv6 addresses $UPL6,$SEC6;.*DNAT-ed tcp 8080,8082 " "$TMP/gw.log"
echo "through $SEC6 $RUN" > "$TMP/sec.line"
bg client socat -u OPEN:"$TMP/sec.line" TCP6-LISTEN:80,reuseaddr
tx=$BG_PID
wait_tcp client 80
on internet timeout 30 socat -u "TCP6:[$SEC6]:8082" - > "$TMP/sec.got" ||
	fail "[$SEC6]:8082: socat"
wait "$tx" || true
cmp -s "$TMP/sec.line" "$TMP/sec.got" || fail "[$SEC6]:8082: got \"$(cat "$TMP/sec.got")\""

log "(a) the gateway's kernel answered none of it"
[ "$(rsts)" = "$rst0" ] || fail "the gateway's kernel sent $(($(rsts) - rst0)) RST(s)"
[ "$(unreach6)" = "$un0" ] ||
	fail "the gateway's kernel sent $(($(unreach6) - un0)) ICMPv6 unreachable(s)"

log "(a) the host's own IPv6 ports stay the kernel's"
tcp_echo_server gateway 2222 $UPL6 > /dev/null
echo "host service over IPv6 $RUN" > "$TMP/line"
tcp_echo internet $UPL6 2222 "$TMP/line"
r=$(probe internet $UPL6 8081)
[ "$r" = refused ] || fail "[$UPL6]:8081 (no DNAT, nothing listens): $r, not the kernel's RST"
[ "$(rsts)" -gt "$rst0" ] || fail "the RST counter did not count the kernel's RST for :8081"

log "(b) SNAT66 to $FOREIGN6, an address no interface has (SIGHUP)"
sed "s/-j MASQUERADE/-j SNAT --to-source $FOREIGN6/" "$TMP/nat66.rules6" > "$TMP/snat.rules6"
cp "$TMP/snat.rules6" "$TMP/gw0.rules6"
on gateway ip -6 addr show | grep -q "$FOREIGN6" && fail "$FOREIGN6 is the gateway's"
kill -HUP "$gw_pid"
wait_for 10 grep -q "not the host's (gw answers NDP) $FOREIGN6" "$TMP/gw.log"
bg internet socat -d -d -u TCP6-LISTEN:7100,reuseaddr OPEN:"$TMP/recv",creat,trunc \
	2> "$TMP/srv.log"
rx=$BG_PID
wait_tcp internet 7100
on client timeout 30 socat -u OPEN:"$TMP/data" "TCP6:[$SRV6]:7100" ||
	fail "client -> server via $FOREIGN6"
wait "$rx" || true
cmp -s "$TMP/data" "$TMP/recv" || fail "TCP via $FOREIGN6: not intact"
grep -q "accepting connection from AF=10 \[2001:0db8:0001:0000:0000:0000:0000:0050\]:" \
	"$TMP/srv.log" || fail "the server did not see $FOREIGN6: $(grep accepting "$TMP/srv.log")"
log "  server saw: $(grep -o "from AF=10 [^ ]*" "$TMP/srv.log")"
mac=$(on gateway cat /sys/class/net/eth0/address)
n=$(on internet ip -6 neigh show $FOREIGN6 dev eth0)
[[ $n == *"lladdr $mac"* ]] || fail "the internet's neighbour entry for $FOREIGN6: \"$n\", not $mac"
log "  internet's neighbour: $n"
r=$(on client python3 "$TOP/tests/netns/ping6.py" $SRV6) || fail "ping6 $SRV6 via $FOREIGN6: $r"
[ "$r" = "reply $SRV6" ] || fail "ping6 $SRV6 via $FOREIGN6: $r"
bg internet python3 "$TOP/tests/netns/gw_e2e.py" udp-echo 7101 > "$TMP/udp7101.log"
wait_udp internet 7101
on client python3 "$TOP/tests/netns/gw_e2e.py" udp-ping $SRV6 7101 5 > /dev/null ||
	fail "UDP echo via $FOREIGN6"
grep -q "^$FOREIGN6:" "$TMP/udp7101.log" || fail "UDP came from $(head -1 "$TMP/udp7101.log")"
on gateway "$GW" conntrack "$ctl" -L -f ipv6 > "$TMP/ct6" || fail "gw conntrack -f ipv6"
grep -q "src=$SRV6 dst=$FOREIGN6 sport=7100" "$TMP/ct6" ||
	fail "no SNAT66 entry: $(grep 7100 "$TMP/ct6")"

log "(b) an SNAT66 connection outlives its rule (restore -6 to MASQUERADE, mid-download)"
across_restore 3 internet 7102 client "$SRV6" 7102 "$TMP/nat66.rules6" "via $FOREIGN6"
# its entry (TIME_WAIT, 120 s) keeps $FOREIGN6 in the filters until it goes
last_filters() { grep "uplink eth0 filters: " "$TMP/gw.log" | tail -1; }
last_filters | grep -q "$FOREIGN6.*kept for live connections only: [0-9]* port(s), 1 address(es)" ||
	fail "$FOREIGN6 is not kept for its live connection: $(last_filters)"
log "(b) conntrack -F ends it: $FOREIGN6 leaves the filters"
on gateway "$GW" conntrack "$ctl" -F > /dev/null 2>&1 || fail "gw conntrack -F"
_released() { ! last_filters | grep -q -e "$FOREIGN6" -e "kept for live"; }
wait_for 10 _released || fail "$FOREIGN6 still in the filters: $(last_filters)"

log "(c) IPv6 forwarding on: SNAT66 to another foreign address is refused"
on gateway sysctl -qw net.ipv6.conf.eth0.forwarding=1
sed "s/-j MASQUERADE/-j SNAT --to-source 2001:db8:1::51/" "$TMP/nat66.rules6" > "$TMP/gw0.rules6"
kill -HUP "$gw_pid"
wait_for 10 grep -q "SIGHUP: .*SNAT to 2001:db8:1::51, an IPv6 address .*net.ipv6.conf.eth0.forwarding=0.*the old IPv6 rules stay" \
	"$TMP/gw.log"
log "  $(grep -o "SIGHUP: .*2001:db8:1::51.*" "$TMP/gw.log" | cut -c1-160)..."
on gateway sysctl -qw net.ipv6.conf.eth0.forwarding=0
grep -q "not the host's (gw answers NDP) 2001:db8:1::51" "$TMP/gw.log" &&
	fail "the refused rules reached the filters"

no_netfilter
log "ok"
