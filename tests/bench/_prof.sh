#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Connection rate through a NAT: short TCP connections (connect, read the
# server's 8 bytes up to its EOF, close) from a client to a server behind
# the NAT, through gw and through the kernel's own forwarding and
# MASQUERADE, measured in the same run and printed side by side with the
# ratio gw/kernel; with 1 and 32 connections in flight, each closed by the
# client with a RST (SO_LINGER 0, after the server's FIN) or with a FIN.
# Every case on a topology of its own (fresh namespaces: no conntrack entry,
# NAT port or TIME_WAIT of another case).  Informational: no pass/fail on
# numbers (issue 9's goal: gw ≥ 0.8 × the kernel at 32 in flight, no
# failure).  Needs root, wireguard-go, wg and iptables.
#
#   kernel:  client ── router (ip_forward=1, iptables MASQUERADE -o eth0) ── server
#            192.0.2.2        192.0.2.1 │ 198.51.100.1                     198.51.100.2
#   gw:      client (wireguard-go wgc0, 10.8.0.2) ── wg ── gateway (gw run:
#            Uplink eth0, Rules contrib/examples/gw0.rules, NatPorts as
#            default) ── server 198.51.100.2
#
#   connrate server 7200 on the server; connrate client on the client
#
# BENCH_SECONDS (default 5): the length of each case; WORKERS: the gw ends'
# Workers (default: one per CPU); CONNRATE: the
# connrate binary (make builds build/rel/tests/bench/connrate).
. "$(dirname "$0")/../netns/lib.sh"

T=${BENCH_SECONDS:-5}
CONNRATE=${CONNRATE:-$TOP/build/rel/tests/bench/connrate}
[ -x "$CONNRATE" ] || fail "no $CONNRATE (make $(realpath --relative-to="$TOP" "$CONNRATE"))"
for tool in wireguard-go wg iptables; do
	command -v "$tool" > /dev/null || fail "$tool is not installed (make deps)"
done
SRV=198.51.100.2

# world_kernel N: client kN-c, router kN-r, server kN-s; sets CLIENT, PIDS
# (and CTL empty)
world_kernel() {
	local c=k$1-c r=k$1-r s=k$1-s
	host_add $c $r $s
	link_add $c eth0 $r lan0
	link_add $r eth0 $s eth0
	addr_add $c eth0 192.0.2.2/24
	addr_add $r lan0 192.0.2.1/24
	addr_add $r eth0 198.51.100.1/24
	addr_add $s eth0 $SRV/24
	route_add $c default via 192.0.2.1
	CTL=
	on $r sysctl -qw net.ipv4.ip_forward=1
	on $r iptables -t nat -A POSTROUTING -o eth0 -j MASQUERADE
	bg $s "$CONNRATE" server 7200
	PIDS=$BG_PID
	wait_tcp $s 7200
	CLIENT=$c
}

# world_gw N: client gN-c (stock wireguard-go), gateway gN-g (gw), server
# gN-s; sets CLIENT, PIDS and CTL (gw's control socket)
world_gw() {
	local c=g$1-c g=g$1-g s=g$1-s d=$TMP/g$1 gw_priv gw_pub cl_priv cl_pub
	host_add $c $g $s
	link_add $c eth0 $g lan0
	link_add $g eth0 $s eth0
	addr_add $c eth0 192.0.2.2/24
	addr_add $g lan0 192.0.2.1/24
	addr_add $g eth0 198.51.100.1/24
	addr_add $s eth0 $SRV/24
	mkdir "$d"
	gw_priv=$("$GW" genkey); gw_pub=$(printf '%s\n' "$gw_priv" | "$GW" pubkey)
	GW_PUB=$gw_pub
	cl_priv=$("$GW" genkey); cl_pub=$(printf '%s\n' "$cl_priv" | "$GW" pubkey)
	printf '%s\n' "$cl_priv" > "$d/client.key"
	cat > "$d/gw0.conf" <<EOC
[Interface]
PrivateKey = $gw_priv
ListenPort = 51820
Address = 10.8.0.1/24
Uplink = eth0
Rules = $TOP/contrib/examples/gw0.rules
ControlSocket = $d/gw0.sock
UapiSocket = $d/gw0.uapi
Workers = ${WORKERS:-$(nproc)}

[Peer]
PublicKey = $cl_pub
AllowedIPs = 10.8.0.2/32
EOC
	bg $g "$GW" run "$d/gw0.conf" 2> "$d/gw.log"
	PIDS=$BG_PID GW_PID=$BG_PID
	CTL=$d/gw0.sock
	wait_udp $g 51820
	wait_for 10 test -S "$d/gw0.sock"
	wg_go $c wgc0 "$d/wggo.log"
	PIDS="$PIDS $WG_PID"
	wg_in "$WG_PID" set wgc0 private-key "$d/client.key" peer "$gw_pub" \
		endpoint 192.0.2.1:51820 allowed-ips 0.0.0.0/0
	on $c ip addr add 10.8.0.2/24 dev wgc0
	on $c ip link set wgc0 up
	on $c ip route add default dev wgc0
	bg $s "$CONNRATE" server 7200
	PIDS="$PIDS $BG_PID"
	wait_tcp $s 7200
	CLIENT=$c
}

# cpu_ms PID: the user + system CPU time of process PID so far, in ms
cpu_ms() {
	awk -v hz="$(getconf CLK_TCK)" '{ sub(/.*\) /, ""); print int(($12 + $13) * 1000 / hz) }' \
		"/proc/$1/stat"
}

# world_gwgw N: as world_gw, but the client's WireGuard is gw too (plain
# mode, default route through its tunnel): what the gateway's NAT costs
# when the client side is not the bottleneck
world_gwgw() {
	local c=gh$1-c d=$TMP/gh$1 cl_priv
	world_gw "h$1"
	# world_gw made gh$1-c with wireguard-go: replace it by gw
	stop "$WG_PID"
	PIDS=${PIDS/ $WG_PID/}
	on $c ip link del wgc0 2> /dev/null || true
	cl_priv=$(cat "$d/client.key")
	cat > "$d/wgc1.conf" <<EOC
[Interface]
PrivateKey = $cl_priv
ListenPort = 40000
Address = 10.8.0.2/24
ControlSocket = $d/wgc1.sock
UapiSocket = $d/wgc1.uapi
Workers = ${WORKERS:-$(nproc)}

[Peer]
PublicKey = $GW_PUB
AllowedIPs = 0.0.0.0/0
Endpoint = 192.0.2.1:51820
EOC
	bg $c "$GW" run "$d/wgc1.conf" 2> "$d/gwc.log"
	WG_PID=$BG_PID
	PIDS="$PIDS $WG_PID"
	wait_udp $c 40000
	on $c ip route add default dev wgc1
}

# measure KIND N INFLIGHT CLOSE: one case on a fresh world; its connrate
# line into $TMP/KIND-N, and gw's drop counters that moved after it
measure() {
	local out=$TMP/$1-$2 p
	"world_$1" "$2"
	# the path works (and the tunnel's handshake is done) before the clock
	on $CLIENT "$CONNRATE" client $SRV 7200 -c 1 -w 10 > "$out"
	grep -q ' ok=1 ' "$out" || fail "$1: no connection through the NAT: $(cat "$out")"
	local g0 w0
	[ -z "$CTL" ] || { g0=$(cpu_ms $GW_PID); w0=$(cpu_ms $WG_PID); }
	on $CLIENT "$CONNRATE" client $SRV 7200 -n "$3" -t "$T" "--$4" > "$out"
	if [ -n "$CTL" ]; then
		echo "cpu ms: gw $(($(cpu_ms $GW_PID) - g0)) client $(($(cpu_ms $WG_PID) - w0))" >> "$out"
		"$GW" stats "$CTL" | grep -E '^[a-z_]*drop[a-z_]*=[1-9]' | paste -sd' ' |
			sed -n 's/^./gw drops: &/p' >> "$out" || true
	fi
	for p in $PIDS; do stop "$p"; done
}

# field KEY FILE: the value of KEY= in connrate's line
field() { sed -n "s/.* $1=\([0-9.]*\).*/\1/p" "$2"; }

world_gw 1
on $CLIENT "$CONNRATE" client $SRV 7200 -c 1 -w 10 > /dev/null
( on $CLIENT "$CONNRATE" client $SRV 7200 -n 32 -t 12 --rst > $TMP/cr.out ) &
sleep 2
perf record -F 4999 -g -p $GW_PID -o /tmp/gw.perf.data -- sleep 8 2>/dev/null
wait
cat $TMP/cr.out
