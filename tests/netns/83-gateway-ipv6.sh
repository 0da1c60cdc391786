#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# IPv6 through the gateway end to end (issue 12): a stock WireGuard client
# with a ULA inside the tunnel reaches an IPv6 internet host through gw's
# Rules6 (contrib/examples/gw0.rules6: NAT66 MASQUERADE to the uplink's
# address), gw taking the replies off the uplink itself.  No ip6tables or
# nftables rule anywhere; the gateway's kernel forwards no IPv6.
#
#   ┌───────────────────────┐ eth0             lan0 ┌─────────────────────────┐ eth0                eth0 ┌─────────────────┐
#   │ client                │ 192.0.2.2   192.0.2.1 │ gateway                 │ 2001:db8:1::1            │ internet        │
#   │  wireguard-go wgc0    ├──────── veth ─────────┤  gw run gw0.conf        ├──────── veth ────────────┤  2001:db8:1::2   │
#   │   fd00:8::2/64        │ (2001:db8:2::2/::1    │   TUN gw0 fd00:8::1/64  │  MTU 1400 both ends      │  socat; routes  │
#   │   default ::/0 wgc0   │  when underlay6)      │   Rules6, MASQUERADE    │                          │                 │
#   └───────────────────────┘                       └─────────────────────────┘                          └────────┬────────┘
#                                                                               far 2001:db8:3::2 ── MTU 1280 ──────┘
#
# Checks, over an IPv4 underlay and then an IPv6 one (the client's
# endpoint [2001:db8:2::1]:51820): TCP client -> server and server ->
# client (20 MB each, compared) with the server seeing the uplink's
# address and a NatPort; UDP both ways; ICMPv6 echo; the uplink's MTU is
# 1400, below the tunnel's, so a 1370-byte echo gets a Packet Too Big from
# gw, and a 1300-byte one to far (2001:db8:3::2, behind the internet host
# over a 1280 link) gets the router's, translated back through NAT66; a
# 3000-byte UDP datagram goes there and back in IPv6 fragments (the
# client's cut at 1300, the server's at 1400), reassembled by gw before its
# rules and cut again as it came;
# gw conntrack -f ipv6 lists the NAT66 entries; the gateway host and the
# client reach each other over IPv6 (echo both ways, 2 MB of TCP from the
# host's TUN: super-packets cut by gw, let through by an -m owner rule: the
# host's IPv6 socket found by sock_diag); the live IPv6 rules: gw rules
# -6 -L -v shows the MASQUERADE rule's counters, -6 save / restore (a
# REJECT put in front refuses the next connection with a RST, then it goes
# again), gw trace IFACE runs an IPv6 packet through them, SIGHUP reads
# Rules6 again; no ip6tables/nft
# rule in any namespace and net.ipv6.conf.all.forwarding=0 on the gateway.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/gateway.sh"

head -c 20000000 /dev/urandom > "$TMP/data"

GW_IPV6=1 GW_UNDERLAY6=1 GW_UPLINK_MTU=1400 gateway_world
[ "$(on gateway sysctl -n net.ipv6.conf.all.forwarding)" = 0 ] ||
	fail "the gateway's kernel forwards IPv6"
# far: behind the internet host, which routes IPv6 to it over a 1280 link
FAR6=2001:db8:3::2
host_add far
link_add internet eth1 far eth0
on internet ip link set eth1 mtu 1280
on far ip link set eth0 mtu 1280
on internet ip -6 addr add 2001:db8:3::1/64 dev eth1 nodad
on far ip -6 addr add $FAR6/64 dev eth0 nodad
on far ip -6 route add default via 2001:db8:3::1
on internet sysctl -qw net.ipv6.conf.all.forwarding=1
on gateway ip -6 route add 2001:db8:3::/64 via $SRV6

stat_of() { on gateway "$GW" stats "$ctl" | sed -n "s/^$1=//p"; }

# transfers PORT: both ways, 20 MB each, compared; the server sees UPL6
transfers() {
	local port=$1
	log "TCP client -> [$SRV6]:$port through NAT66"
	bg internet socat -d -d -u TCP6-LISTEN:$port,reuseaddr - > "$TMP/recv" 2> "$TMP/srv0.log"
	local rx=$BG_PID
	wait_tcp internet $port
	on client timeout 120 socat -u - "TCP6:[$SRV6]:$port" < "$TMP/data" ||
		fail "client -> server: socat"
	wait "$rx" || true
	cmp -s "$TMP/data" "$TMP/recv" ||
		fail "TCP client -> server: $(wc -c < "$TMP/recv") of 20000000 bytes arrived intact"
	# (socat prints addresses in full)
	grep -Eq "accepting connection from AF=10 \[2001:0db8:0001:0000:0000:0000:0000:0001\]:61[0-9]{3}( |$)" \
		"$TMP/srv0.log" ||
		fail "the server did not see [$UPL6]:NatPorts: $(grep accepting "$TMP/srv0.log")"
	log "  server saw: $(grep -o "from AF=10 [^ ]*" "$TMP/srv0.log")"

	log "TCP [$SRV6] -> client (download)"
	bg internet socat -u OPEN:"$TMP/data" TCP6-LISTEN:$((port + 1)),reuseaddr
	local tx=$BG_PID
	wait_tcp internet $((port + 1))
	on client timeout 120 socat -u "TCP6:[$SRV6]:$((port + 1))" - > "$TMP/recv2" ||
		fail "server -> client: socat"
	wait "$tx" || true
	cmp -s "$TMP/data" "$TMP/recv2" ||
		fail "TCP server -> client: $(wc -c < "$TMP/recv2") of 20000000 bytes arrived intact"

	log "UDP both ways"
	bg internet socat -u UDP6-RECV:$((port + 2)),reuseaddr - > "$TMP/udp.in"
	wait_udp internet $((port + 2))
	echo "hello over IPv6 $RUN" | on client socat -u - "UDP6-SENDTO:[$SRV6]:$((port + 2))"
	wait_for 10 grep -q "hello over IPv6 $RUN" "$TMP/udp.in" || fail "UDP client -> server"
	# replies back to the NAT-ed source: an echo server, requests resent
	# until answered (a reply's arrival is not raced against a timeout)
	bg internet python3 "$TOP/tests/netns/gw_e2e.py" udp-echo $((port + 3)) > /dev/null
	wait_udp internet $((port + 3))
	on client python3 "$TOP/tests/netns/gw_e2e.py" udp-ping $SRV6 $((port + 3)) 20 > /dev/null ||
		fail "UDP server -> client: echoes did not come back"

	log "a UDP datagram of 3000 bytes each way, in IPv6 fragments (gw reassembles, cuts again)"
	on client ip -6 route replace $SRV6 dev wgc0 mtu 1300
	local re0 fr0
	re0=$(stat_of frag_reassembled) fr0=$(stat_of frag_fragmented)
	bg internet python3 "$TOP/tests/netns/gw_e2e.py" udp-echo $((port + 4)) > /dev/null
	wait_udp internet $((port + 4))
	on client python3 "$TOP/tests/netns/gw_e2e.py" udp-ping $SRV6 $((port + 4)) 2 0 3000 \
		> /dev/null || fail "the fragmented 3000-byte datagrams did not come back"
	on client ip -6 route del $SRV6 dev wgc0
	[ "$(stat_of frag_reassembled)" -ge $((re0 + 2)) ] && [ "$(stat_of frag_fragmented)" -ge $((fr0 + 2)) ] ||
		fail "gw did not reassemble and cut both datagrams: $(on gateway "$GW" stats "$ctl" | grep ^frag_)"

	log "ICMPv6 echo; Packet Too Big from gw (uplink MTU 1400) and from a router beyond"
	local r
	r=$(on client python3 "$TOP/tests/netns/ping6.py" $SRV6) || fail "no echo reply: $r"
	[[ $r == "reply $SRV6" ]] || fail "echo: $r"
	# (the path MTUs an earlier round learned are forgotten first)
	on client ip -6 route flush cache
	r=$(on client python3 "$TOP/tests/netns/ping6.py" $SRV6 1370) || fail "no answer: $r"
	[[ $r == "too-big fd00:8::1 mtu=1400" ]] || fail "1370-byte echo: $r"
	log "  a 1370-byte echo: $r"
	# the router's Packet Too Big to the uplink's address: RELATED to the
	# NAT66 flow, translated back to the client
	r=$(on client python3 "$TOP/tests/netns/ping6.py" $FAR6 1300) || fail "no answer: $r"
	[[ $r == "too-big $SRV6 mtu=1280" ]] || fail "1300-byte echo to $FAR6: $r"
	log "  a 1300-byte echo to $FAR6: $r"
	r=$(on client python3 "$TOP/tests/netns/ping6.py" $FAR6 1200) || fail "no echo reply: $r"
	[[ $r == "reply $FAR6" ]] || fail "echo to $FAR6: $r"

	log "conntrack: NAT66 entries"
	on gateway "$GW" conntrack "$ctl" -L -f ipv6 > "$TMP/ct6" || fail "gw conntrack -f ipv6"
	grep -Eq "^tcp .*src=fd00:8::2 dst=$SRV6 .* src=$SRV6 dst=$UPL6 sport=$port dport=61[0-9]{3}" \
		"$TMP/ct6" || fail "no NAT66 TCP entry: $(head -3 "$TMP/ct6")"
	! grep -q "src=10\.8\." "$TMP/ct6" || fail "-f ipv6 listed IPv4 entries"
}

log "underlay: IPv4 (endpoint 192.0.2.1:51820)"
transfers 7000
log "the gateway host and the client over IPv6 (INPUT, OUTPUT)"
r=$(on client python3 "$TOP/tests/netns/ping6.py" fd00:8::1) || fail "client -> gw: $r"
[[ $r == "reply fd00:8::1" ]] || fail "client -> gw's Address: $r"
r=$(on gateway python3 "$TOP/tests/netns/ping6.py" fd00:8::2) || fail "gw host -> client: $r"
[[ $r == "reply fd00:8::2" ]] || fail "gateway host -> client: $r"
# -m owner over IPv6: root's SYN is let through, anybody else's dropped
# (the filter table alone is restored: nat's counters stay)
sed -n '/^\*filter/,/^COMMIT/{s|^:OUTPUT ACCEPT \[0:0\]$|&\n-A OUTPUT -d fd00:8::2 -p tcp --dport 7300 -m owner --uid-owner 0 -j ACCEPT\n-A OUTPUT -d fd00:8::2 -p tcp --dport 7300 --syn -j DROP|;p}' \
	"$TMP/gw0.rules6" > "$TMP/own6"
on gateway "$GW" rules "$ctl" -6 restore "$TMP/own6" || fail "restore -6 with -m owner"
bg client socat -u TCP6-LISTEN:7300,reuseaddr - > "$TMP/hostrecv"
hrx=$BG_PID
wait_tcp client 7300
head -c 2000000 "$TMP/data" | on gateway timeout 60 socat -u - "TCP6:[fd00:8::2]:7300" ||
	fail "gateway host -> client TCP"
wait "$hrx" || true  # the listener ends at the sender's FIN
[ "$(wc -c < "$TMP/hostrecv")" -eq 2000000 ] ||
	fail "gateway host -> client: $(wc -c < "$TMP/hostrecv") of 2000000 bytes"
cmp -s <(head -c 2000000 "$TMP/data") "$TMP/hostrecv" || fail "gateway host -> client: corrupted"
on gateway "$GW" rules "$ctl" -6 -L OUTPUT -v -n -x > "$TMP/own6.l"
awk '/owner UID match 0/ { if ($1 > 0) ok = 1 } END { exit !ok }' "$TMP/own6.l" ||
	fail "the -m owner rule counted nothing: $(cat "$TMP/own6.l")"
sed -n '/^\*filter/,/^COMMIT/p' "$TMP/gw0.rules6" > "$TMP/filter6"
on gateway "$GW" rules "$ctl" -6 restore "$TMP/filter6" || fail "restore -6 back"

log "live IPv6 rules"
on gateway "$GW" rules "$ctl" -6 -t nat -L POSTROUTING -v -n -x > "$TMP/l6" || fail "gw rules -6 -L"
awk '/MASQUERADE/ { if ($1 > 0) ok = 1 } END { exit !ok }' "$TMP/l6" ||
	fail "the MASQUERADE rule counted nothing: $(cat "$TMP/l6")"
on gateway "$GW" rules "$ctl" -6 save > "$TMP/s6" || fail "gw rules -6 save"
grep -q -- "-A POSTROUTING -s fd00:8::/64 -o eth0 -j MASQUERADE" "$TMP/s6" ||
	fail "gw rules -6 save: $(cat "$TMP/s6")"
! on gateway "$GW" rules "$ctl" save | grep -q fd00: || fail "IPv6 rules in the IPv4 save"
sed 's|^-A FORWARD -i gw0 -o eth0 -j ACCEPT|-A FORWARD -p tcp --dport 7200 -j REJECT --reject-with tcp-reset\n&|' \
	"$TMP/gw0.rules6" > "$TMP/r6"
on gateway "$GW" rules "$ctl" -6 restore "$TMP/r6" || fail "gw rules -6 restore"
bg internet socat -u TCP6-LISTEN:7200,reuseaddr /dev/null
wait_tcp internet 7200
on client timeout 10 socat -u /dev/null "TCP6:[$SRV6]:7200" 2> "$TMP/rej" &&
	fail "a connection past the restored REJECT"
grep -q "Connection refused" "$TMP/rej" || fail "no RST from the REJECT: $(cat "$TMP/rej")"
on gateway "$GW" trace "$ctl" "tcp [fd00:8::2]:40000 > [$SRV6]:7200 flags S" > "$TMP/tr6" ||
	fail "gw trace IFACE with an IPv6 packet"
grep -q "REJECT" "$TMP/tr6" || fail "gw trace does not see the live IPv6 REJECT: $(cat "$TMP/tr6")"
on gateway "$GW" rules "$ctl" -6 restore "$TMP/gw0.rules6" || fail "gw rules -6 restore (back)"
on gateway "$GW" trace "$ctl" "tcp [fd00:8::2]:40000 > [$SRV6]:7200 flags S" > "$TMP/tr6" ||
	fail "gw trace IFACE with an IPv6 packet"
grep -q "$UPL6" "$TMP/tr6" || fail "gw trace: no MASQUERADE to [$UPL6]: $(cat "$TMP/tr6")"
# SIGHUP reads Rules6 again
cp "$TMP/gw0.rules6" "$TMP/orig6"
cp "$TMP/r6" "$TMP/gw0.rules6"
kill -HUP "$gw_pid"
saved6() { on gateway "$GW" rules "$ctl" -6 save | grep -q -- "--dport 7200 -j REJECT"; }
wait_for 10 saved6 || fail "SIGHUP did not reload Rules6"
cp "$TMP/orig6" "$TMP/gw0.rules6"
kill -HUP "$gw_pid"
wait_for 10 eval '! saved6' || fail "SIGHUP did not reload Rules6 (back)"

log "underlay: IPv6 (the client roams to [2001:db8:2::1]:51820)"
wgc set wgc0 peer "$gw_pub" endpoint "[2001:db8:2::1]:51820"
transfers 7100
on gateway "$GW" show "$ctl" > "$TMP/show" || fail "gw show"
grep -q "endpoint: \[2001:db8:2::2\]:" "$TMP/show" ||
	fail "gw does not see the client at its IPv6 endpoint: $(grep endpoint "$TMP/show")"
no_netfilter
log "ok"
