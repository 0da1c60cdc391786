#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# DNAT and SNAT to an address the host does not own, on gw's uplink.  The
# world of 60-gateway-masquerade.sh, gw started with
# contrib/examples/gw0-portforward.rules (TCP 8080 -> 10.8.0.2:80, UDP 5353 ->
# 10.8.0.2, MASQUERADE out):
#
#   ┌───────────────────────┐ eth0            lan0 ┌─────────────────────────┐ eth0              eth0 ┌──────────────────┐
#   │ client                │ 192.0.2.2  192.0.2.1 │ gateway                 │ 198.51.100.1          │ internet         │
#   │  wireguard-go wgc0    ├──────── veth ────────┤  gw run gw0.conf        ├──────── veth ─────────┤  198.51.100.2    │
#   │   10.8.0.2/24         │                      │   DNAT :8080, :5353     │   (.50: gw's alone,   │  connects to     │
#   │   socat :80, :5353    │                      │   host echo :2222       │    ARP from gw)       │  .1:8080, .1:2222│
#   └───────────────────────┘                      └─────────────────────────┘                       └──────────────────┘
#
# (a) DNAT: the internet host reaches the client's TCP server through
#     198.51.100.1:8080 (1 MB both ways, compared; the client sees the
#     internet host's address) and its UDP echo through :5353; the host's own
#     listener on :2222 keeps working and :8081 is refused by the kernel; a
#     restore without the DNAT rule gives :8080 back to the kernel (refused),
#     a restore with it takes it again; one without it during a DNAT-ed
#     upload leaves the upload working (its port stays gw's while the
#     connection lives, as in Linux) and gives the port back once it has
#     closed; a restore with more port ranges than the filters take is
#     refused.
# (b) SNAT --to-source 198.51.100.50, an address no interface has (SIGHUP
#     reload): gw answers ARP for it with the uplink's MAC; TCP (the server
#     sees .50), UDP and ICMP echo work.
# (c) with net.ipv4.conf.eth0.forwarding=1: a restore or SIGHUP with that
#     SNAT rule is refused (the old rules stay), and a gw starting with it
#     exits non-zero with the reason in its log.
# (e) DNAT from the uplink to gw's tunnel Address or to a port only: a note
#     in the log, the packets dropped (the host never gets them) and counted
#     in nf_drop_uplink_tunnel_addr (to the tunnel Address) and
#     dp_drop_uplink_host (a port only); an echo to the uplink's address still counts
#     as the kernel's (path_uplink_local).
# (d) the clsact qdisc deleted behind gw's back: a restore or SIGHUP whose
#     filters cannot be installed is refused, the old rules stay.
# No iptables or nftables rule in any namespace; SIGTERM removes the tc filter.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/gateway.sh"

PF=$TOP/contrib/examples/gw0-portforward.rules
PLAIN=$TOP/contrib/examples/gw0.rules
FOREIGN=198.51.100.50
GW_RULES=$PF gateway_world

G() { on gateway "$GW" "$@"; }
stat() { G stats "$ctl" | sed -n "s/^$1=//p"; }
# probe HOST ADDR PORT: how a TCP connect ends: connected, refused or timeout
probe() {
	on "$1" python3 -c '
import socket, sys
s = socket.socket()
s.settimeout(3)
try:
    s.connect((sys.argv[1], int(sys.argv[2]))); print("connected")
except ConnectionRefusedError:
    print("refused")
except OSError:
    print("timeout")' "$2" "$3"
}
# ping DST: one ICMP echo from the client; prints "reply FROM" or "nothing"
ping() { icmp_echo client "$1"; }

[ "$(on gateway sysctl -n net.ipv4.conf.eth0.forwarding)" = 0 ] || fail "the gateway's kernel forwards"
wait_for 5 grep -q "filters: .*DNAT-ed tcp 8080 udp 5353" "$TMP/gw.log"
head -c 1000000 /dev/urandom > "$TMP/data"
# a road-warrior peer is reachable once it has sent something (its endpoint)
r=$(ping $SRV) || fail "ping $SRV through MASQUERADE: $r"

log "(a) DNAT: internet -> $UPL:8080 -> client 10.8.0.2:80 (upload)"
bg client socat -d -d -u TCP-LISTEN:80,reuseaddr OPEN:"$TMP/up",creat,trunc 2> "$TMP/cl80.log"
rx=$BG_PID
wait_tcp client 80
on internet timeout 30 socat -u OPEN:"$TMP/data" TCP:$UPL:8080 || fail "internet -> $UPL:8080: socat"
wait "$rx" || true
cmp -s "$TMP/data" "$TMP/up" || fail "upload: $(wc -c < "$TMP/up") of 1000000 bytes arrived intact"
grep -Eq "accepting connection from AF=2 $SRV:[0-9]+" "$TMP/cl80.log" ||
	fail "the client did not see $SRV: $(grep accepting "$TMP/cl80.log")"
log "  client saw: $(grep -o "from AF=2 [0-9.:]*" "$TMP/cl80.log")"

log "(a) DNAT: download from the client"
bg client socat -u OPEN:"$TMP/data" TCP-LISTEN:80,reuseaddr
tx=$BG_PID
wait_tcp client 80
on internet timeout 30 socat -u TCP:$UPL:8080 - > "$TMP/down" || fail "$UPL:8080 download: socat"
wait "$tx" || true
cmp -s "$TMP/data" "$TMP/down" || fail "download: $(wc -c < "$TMP/down") of 1000000 bytes intact"

log "(a) DNAT: UDP echo through $UPL:5353"
bg client python3 "$TOP/tests/netns/gw_e2e.py" udp-echo 5353 > /dev/null
wait_udp client 5353
on internet python3 "$TOP/tests/netns/gw_e2e.py" udp-ping $UPL 5353 3 > /dev/null || fail "UDP echo through $UPL:5353"
[ "$(stat path_uplink_peer_packets)" -gt 0 ] || fail "gw stats: nothing counted uplink -> peer"

log "(a) the host's own ports stay the kernel's"
tcp_echo_server gateway 2222 $UPL > /dev/null
echo "host service $RUN" > "$TMP/line"
tcp_echo internet $UPL 2222 "$TMP/line"
r=$(probe internet $UPL 8081)
[ "$r" = refused ] || fail "$UPL:8081 (no DNAT, nothing listens): $r, not the kernel's RST"

log "(a) a restore without the DNAT rule: :8080 is the kernel's again"
G rules "$ctl" restore < "$PLAIN" || fail "restore $PLAIN"
# (a connection of the download still closing keeps it gw's a few seconds)
refused_8080() { [ "$(probe internet $UPL 8080)" = refused ]; }
wait_for 20 refused_8080
log "(a) and with it again: gw's"
G rules "$ctl" restore < "$PF" || fail "restore $PF"
bg client socat -u OPEN:"$TMP/data" TCP-LISTEN:80,reuseaddr
tx=$BG_PID
wait_tcp client 80
on internet timeout 30 socat -u TCP:$UPL:8080 - > "$TMP/down2" || fail "$UPL:8080 again: socat"
wait "$tx" || true
cmp -s "$TMP/data" "$TMP/down2" || fail "download after the restore: not intact"

log "(a) a restore without the DNAT rule during a DNAT-ed upload: it completes, as in Linux"
bg client socat -u TCP-LISTEN:80,reuseaddr OPEN:"$TMP/up2",creat,trunc
rx=$BG_PID
wait_tcp client 80
{ head -c 500000 "$TMP/data"; sleep 1.5; tail -c +500001 "$TMP/data"; } |
	on internet timeout 30 socat -u - TCP:$UPL:8080 &
tx=$!
sleep 0.7
n=$(wc -l < "$TMP/gw.log")
G rules "$ctl" restore < "$PLAIN" || fail "restore $PLAIN"
wait "$tx" || fail "upload during the restore: socat"
wait "$rx" || true
cmp -s "$TMP/data" "$TMP/up2" ||
	fail "upload during the restore: $(wc -c < "$TMP/up2") of 1000000 bytes arrived intact"
tail -n +$((n + 1)) "$TMP/gw.log" | grep -q "filters: .*DNAT-ed tcp 8080 .*; kept for live connections only" ||
	fail "8080 not kept for the upload: $(tail -n +$((n + 1)) "$TMP/gw.log" | grep filters:)"
log "(a) once it has closed, :8080 is the kernel's again"
wait_for 20 refused_8080
G rules "$ctl" restore < "$PF" || fail "restore $PF"

log "(a) more DNAT-ed port ranges than the filters take: refused, nothing changes"
{
	sed -n '1,/^:POSTROUTING/p' "$PF"
	for p in $(seq 20000 2 20064); do
		echo "-A PREROUTING -i eth0 -p udp --dport $p -j DNAT --to-destination 10.8.0.2"
	done
	sed -n '/^-A POSTROUTING/,$p' "$PF"
} > "$TMP/many.rules"
G rules "$ctl" save > "$TMP/before"
G rules "$ctl" restore < "$TMP/many.rules" 2> "$TMP/err" && fail "33 DNAT-ed ranges accepted"
grep -q "^stdin: .*more than 32 port ranges" "$TMP/err" || fail "too many ranges: $(cat "$TMP/err")"
G rules "$ctl" save > "$TMP/after"
diff <(grep -v '^#' "$TMP/before") <(grep -v '^#' "$TMP/after") > /dev/null ||
	fail "a refused restore changed the rules"

log "(b) SNAT to $FOREIGN, an address no interface has (SIGHUP)"
sed "s/-j MASQUERADE/-j SNAT --to-source $FOREIGN/" "$PLAIN" > "$TMP/snat.rules"
cp "$TMP/snat.rules" "$TMP/gw0.rules"
on gateway ip -4 addr show | grep -q "$FOREIGN" && fail "$FOREIGN is the gateway's"
kill -HUP "$gw_pid"
wait_for 10 grep -q "not the host's (gw answers ARP) $FOREIGN" "$TMP/gw.log"
bg internet socat -d -d -u TCP-LISTEN:7100,reuseaddr OPEN:"$TMP/recv",creat,trunc 2> "$TMP/srv.log"
rx=$BG_PID
wait_tcp internet 7100
on client timeout 30 socat -u OPEN:"$TMP/data" TCP:$SRV:7100 || fail "client -> server via $FOREIGN"
wait "$rx" || true
cmp -s "$TMP/data" "$TMP/recv" || fail "TCP via $FOREIGN: not intact"
grep -Eq "accepting connection from AF=2 $FOREIGN:[0-9]+" "$TMP/srv.log" ||
	fail "the server did not see $FOREIGN: $(grep accepting "$TMP/srv.log")"
log "  server saw: $(grep -o "from AF=2 [0-9.:]*" "$TMP/srv.log")"
mac=$(on gateway cat /sys/class/net/eth0/address)
n=$(on internet ip -4 neigh show $FOREIGN dev eth0)
[[ $n == *"lladdr $mac"* ]] || fail "the internet's neighbour entry for $FOREIGN: \"$n\", not $mac"
[ "$(stat uplink_arp_replies)" -gt 0 ] || fail "gw stats: no ARP reply counted"
[ "$(stat uplink_arp_announced)" = 1 ] || fail "gw stats: $(stat uplink_arp_announced) gratuitous ARPs"
r=$(ping $SRV) || fail "ping $SRV via $FOREIGN: $r"
[ "$r" = "reply $SRV" ] || fail "ping $SRV via $FOREIGN: $r"
bg internet python3 "$TOP/tests/netns/gw_e2e.py" udp-echo 7101 > /dev/null
wait_udp internet 7101
on client python3 "$TOP/tests/netns/gw_e2e.py" udp-ping $SRV 7101 3 > /dev/null || fail "UDP echo via $FOREIGN"

log "(c) forwarding on: SNAT to $FOREIGN is refused"
G rules "$ctl" restore < "$PLAIN" || fail "restore $PLAIN"
on gateway sysctl -qw net.ipv4.conf.eth0.forwarding=1
G rules "$ctl" save > "$TMP/before"
G rules "$ctl" restore < "$TMP/snat.rules" 2> "$TMP/err" && fail "restore with forwarding on succeeded"
grep -q "net.ipv4.conf.eth0.forwarding=0" "$TMP/err" || fail "restore refused with: $(cat "$TMP/err")"
log "  restore: $(cat "$TMP/err")"
kill -HUP "$gw_pid"
wait_for 10 grep -q "SIGHUP: .*forwarding=0.*the old rules stay" "$TMP/gw.log"
G rules "$ctl" save > "$TMP/after"
diff <(grep -v '^#' "$TMP/before") <(grep -v '^#' "$TMP/after") > /dev/null ||
	fail "a refused restore or reload changed the rules"
cat > "$TMP/gw1.conf" <<EOC
[Interface]
Workers = ${GW_TEST_WORKERS:-2}
PrivateKey = $("$GW" genkey)
ListenPort = 51821
Address = 10.9.0.1/24
Uplink = eth0
Rules = $TMP/snat.rules
NatPorts = 62000-62999
ControlSocket = $TMP/gw1.sock
UapiSocket = $TMP/gw1.uapi
EOC
on gateway timeout 20 "$GW" run "$TMP/gw1.conf" 2> "$TMP/gw1.log" && fail "gw started with forwarding on"
grep -q "SNAT to $FOREIGN.*net.ipv4.conf.eth0.forwarding=0" "$TMP/gw1.log" ||
	fail "gw refused to start without the reason: $(cat "$TMP/gw1.log")"
grep -q Sanitizer "$TMP/gw1.log" && fail "the refusal: $(cat "$TMP/gw1.log")"
log "  start: $(grep -o "SNAT to.*" "$TMP/gw1.log" | head -1)"
on gateway ip link show gw1 2> /dev/null && fail "the refused gw left its TUN behind"
on gateway sysctl -qw net.ipv4.conf.eth0.forwarding=0

log "(e) DNAT from the uplink to the host itself (gw's tunnel Address, a port only): noted, dropped and counted"
G rules "$ctl" restore < "$PF" || fail "restore $PF"
sed 's|^-A POSTROUTING|-A PREROUTING -i eth0 -p tcp --dport 8082 -j DNAT --to-destination 10.8.0.1:2222\n-A PREROUTING -i eth0 -p udp --dport 8083 -j DNAT --to-destination :2223\n&|' \
	"$PF" > "$TMP/local.rules"
G rules "$ctl" restore < "$TMP/local.rules" || fail "restore with DNAT to the host"
grep -q "uplink eth0: 2 REDIRECT/DNAT rule(s) send traffic from eth0 to this host.*dp_drop_uplink_host" \
	"$TMP/gw.log" || fail "no note for the DNAT to the host: $(tail -n 3 "$TMP/gw.log")"
drops=$(stat dp_drop_uplink_host) tdrops=$(stat nf_drop_uplink_tunnel_addr)
r=$(probe internet $UPL 8082)
[ "$r" = timeout ] || fail "$UPL:8082 DNAT-ed to 10.8.0.1: $r (gw cannot hand it to the host)"
wait_for 5 eval '[ "$(stat nf_drop_uplink_tunnel_addr)" -gt $tdrops ]'
echo "to the host $RUN" | on internet timeout 5 socat -t 1 - UDP:$UPL:8083 > /dev/null || true
wait_for 5 eval '[ "$(stat dp_drop_uplink_host)" -gt $drops ]'
log "  dp_drop_uplink_host: $drops -> $(stat dp_drop_uplink_host)," \
	"nf_drop_uplink_tunnel_addr: $tdrops -> $(stat nf_drop_uplink_tunnel_addr)"
# an echo to the uplink's address is still the kernel's, and gw counts it so
local_before=$(stat path_uplink_local_packets)
on internet python3 - "$UPL" <<'EOF' || fail "no echo reply from $UPL"
import os, socket, struct, sys
def csum(b):
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xffff); s += s >> 16
    return ~s & 0xffff
msg = struct.pack("!BBHHH", 8, 0, 0, os.getpid() & 0xffff, 1) + b"gw-host " * 4
msg = msg[:2] + struct.pack("!H", csum(msg)) + msg[4:]
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
s.settimeout(3)
s.sendto(msg, (sys.argv[1], 0))
while True:
    d, a = s.recvfrom(2048)
    if d[(d[0] & 15) * 4] == 0:
        break
EOF
[ "$(stat path_uplink_local_packets)" -gt "$local_before" ] || fail "the echo to $UPL not counted as the kernel's"

log "(d) the tc filter cannot change (its clsact qdisc deleted behind gw's back): a restore that needs it is refused, the old rules and filters stay"
G rules "$ctl" restore < "$PF" || fail "restore $PF"
G rules "$ctl" save > "$TMP/before"
sed 's|^-A POSTROUTING|-A PREROUTING -i eth0 -p udp --dport 7777 -j DNAT --to-destination 10.8.0.2\n&|' \
	"$PF" > "$TMP/more.rules"
on gateway tc qdisc del dev eth0 clsact
G rules "$ctl" restore < "$TMP/more.rules" 2> "$TMP/err" && fail "restore accepted without its tc filter"
grep -q "^stdin: the uplink's filters cannot take these rules" "$TMP/err" ||
	fail "restore refused with: $(cat "$TMP/err")"
log "  restore: $(cat "$TMP/err")"
cp "$TMP/more.rules" "$TMP/gw0.rules"
kill -HUP "$gw_pid"
wait_for 10 grep -q "SIGHUP: .*the uplink's filters cannot take these rules.*the old rules stay" "$TMP/gw.log"
G rules "$ctl" save > "$TMP/after"
diff <(grep -v '^#' "$TMP/before") <(grep -v '^#' "$TMP/after") > /dev/null ||
	fail "a restore or reload the filters could not take changed the rules"
grep -q "filters: .*7777" "$TMP/gw.log" && fail "the socket filter took the refused rules"

log "no iptables or nftables rule in any namespace"
no_netfilter

log "SIGTERM: the tc filter removed"
kill -TERM "$gw_pid"
wait "$gw_pid" || fail "gw exited with $?"
[ -z "$(on gateway tc filter show dev eth0 ingress)" ] || fail "tc filter left behind"
log "DNAT to a peer, SNAT to an address only gw answers for, refused with forwarding on"
