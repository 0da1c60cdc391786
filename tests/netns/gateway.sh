#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The world of the gateway tests (6x), sourced after lib.sh:
#
#   ┌────────────────────┐ eth0          lan0 ┌──────────────────────┐ eth0            eth0 ┌──────────┐
#   │ client             │ 192.0.2.2  192.0.2.1 │ gateway              │ 198.51.100.1          │ internet │
#   │  wireguard-go wgc0 ├──────── veth ────────┤  gw run gw0.conf     ├──────── veth ─────────┤ .100.2   │
#   │   10.8.0.2, default│                      │   Uplink eth0, Rules │                       │          │
#   └────────────────────┘                      └──────────────────────┘                       └──────────┘
#
# gateway_world [EXTRA]: builds it with contrib/examples/gw0.rules, or the
# file GW_RULES names (copied to $TMP/gw0.rules), EXTRA appended to gw0.conf
# (more [Peer] sections) and $GW_IFACE_EXTRA to its [Interface] section
# (User = nobody), starts gw (gw_pid, control socket ctl; with
# GW_PRIVATE_RUN set, in a /run of its own: gw_ns, wg_in "$gw_pid" reaches
# its UAPI socket) and the client
# (client_pid, wgc) with its default route through the tunnel.  Sets SRV,
# UPL, gw_pub, cl_pub.
#
# GW_IPV6=1: IPv6 beside IPv4 everywhere, no DAD: the client's wgc0
# fd00:8::2/64 (default ::/0 dev wgc0), gw's Address fd00:8::1/64 and
# Rules6 contrib/examples/gw0.rules6 (or GW_RULES6), the uplink
# 2001:db8:1::1/64 and the internet host 2001:db8:1::2/64 (SRV6, UPL6); with
# GW_UNDERLAY6=1 also the client's eth0 2001:db8:2::2/64 and the gateway's
# lan0 2001:db8:2::1/64, for an endpoint of [2001:db8:2::1]:51820 (the
# client's endpoint starts as IPv4).  GW_UPLINK_MTU=N: the uplink link's
# MTU, set before gw starts.
#
# More clients: gateway_peer NAME ADDR before gateway_world prints the [Peer]
# section for EXTRA; gateway_client NAME ADDR N after it builds host NAME on
# its own link lanN (10.(100+N).0.0/24) with stock wireguard-go wgc0 (WG_PID).
# gated GO FILE: prints FILE's first half, then, once the file GO exists, the
# rest (a transfer held open half-way, without sleeping for it).
# held_start / held_finish: $SIZE bytes each way through the NAT held
# half-way, then let go and checked (the restart tests); handshake /
# same_handshake: the client's latest handshake, and none since.
# gateway_far: one more host, far (203.0.113.2), behind the internet host,
# which routes (so a TTL can die there); the gateway routes 203.0.113.0/24
# to it.  Sets FAR.

gateway_world() {
	local gw_priv cl_priv
	SRV=198.51.100.2 UPL=198.51.100.1
	host_add client gateway internet
	link_add client eth0 gateway lan0
	link_add gateway eth0 internet eth0
	addr_add client eth0 192.0.2.2/24
	addr_add gateway lan0 192.0.2.1/24
	addr_add gateway eth0 $UPL/24
	addr_add internet eth0 $SRV/24
	local v6conf="" v6peer="" endpoint=192.0.2.1:51820
	if [ -n "${GW_UPLINK_MTU:-}" ]; then
		on gateway ip link set eth0 mtu "$GW_UPLINK_MTU"
		on internet ip link set eth0 mtu "$GW_UPLINK_MTU"
	fi
	if [ -n "${GW_IPV6:-}" ]; then
		SRV6=2001:db8:1::2 UPL6=2001:db8:1::1
		on gateway ip -6 addr add $UPL6/64 dev eth0 nodad
		on internet ip -6 addr add $SRV6/64 dev eth0 nodad
		cp "${GW_RULES6:-$TOP/contrib/examples/gw0.rules6}" "$TMP/gw0.rules6"
		v6conf="Address = fd00:8::1/64
Rules6 = $TMP/gw0.rules6"
		v6peer="AllowedIPs = fd00:8::2/128"
		if [ -n "${GW_UNDERLAY6:-}" ]; then
			on client ip -6 addr add 2001:db8:2::2/64 dev eth0 nodad
			on gateway ip -6 addr add 2001:db8:2::1/64 dev lan0 nodad
		fi
	fi

	gw_priv=$("$GW" genkey); gw_pub=$(printf '%s\n' "$gw_priv" | "$GW" pubkey)
	cl_priv=$("$GW" genkey); cl_pub=$(printf '%s\n' "$cl_priv" | "$GW" pubkey)
	printf '%s\n' "$cl_priv" > "$TMP/client.key"
	ctl=$TMP/gw0.sock
	cp "${GW_RULES:-$TOP/contrib/examples/gw0.rules}" "$TMP/gw0.rules"
	cat > "$TMP/gw0.conf" <<EOC
[Interface]
PrivateKey = $gw_priv
ListenPort = 51820
Address = 10.8.0.1/24
Uplink = eth0
Rules = $TMP/gw0.rules
NatPorts = 61000-61999
Workers = ${GW_TEST_WORKERS:-2}
ControlSocket = $ctl
$([ -n "${GW_PRIVATE_RUN:-}" ] || echo "UapiSocket = $TMP/gw0.uapi")
${GW_IFACE_EXTRA:-}
$v6conf

[Peer]
PublicKey = $cl_pub
AllowedIPs = 10.8.0.2/32
$v6peer
${1:-}
EOC

	if [ -n "${GW_PRIVATE_RUN:-}" ]; then
		gw_ns gateway "$TMP/gw0.conf" "$TMP/gw.log"
		gw_pid=$GW_PID
	else
		bg gateway "$GW" run "$TMP/gw0.conf" 2> "$TMP/gw.log"
		gw_pid=$BG_PID
	fi
	wait_udp gateway 51820
	wait_for 10 test -S "$ctl"
	check_workers gateway

	wg_go client wgc0
	client_pid=$WG_PID
	wgc set wgc0 private-key "$TMP/client.key" peer "$gw_pub" endpoint "$endpoint" \
		allowed-ips 0.0.0.0/0,::/0
	on client ip addr add 10.8.0.2/24 dev wgc0
	[ -z "${GW_IPV6:-}" ] || on client ip -6 addr add fd00:8::2/64 dev wgc0 nodad
	on client ip link set wgc0 up
	on client ip route add default dev wgc0
	[ -z "${GW_IPV6:-}" ] || on client ip -6 route add default dev wgc0
}
wgc() { wg_in "$client_pid" "$@"; }

gateway_peer() {
	local priv
	priv=$("$GW" genkey)
	printf '%s\n' "$priv" > "$TMP/$1.key"
	printf '[Peer]\nPublicKey = %s\nAllowedIPs = %s/32\n' \
		"$(printf '%s\n' "$priv" | "$GW" pubkey)" "$2"
}

gateway_client() {
	local h=$1 a=$2 net=10.$((100 + $3)).0
	host_add "$h"
	link_add "$h" eth0 gateway "lan$3"
	addr_add gateway "lan$3" $net.1/24
	addr_add "$h" eth0 $net.2/24
	wg_go "$h" wgc0 "$TMP/wggo-$h.log"
	wg_in "$WG_PID" set wgc0 private-key "$TMP/$h.key" peer "$gw_pub" \
		endpoint $net.1:51820 allowed-ips 0.0.0.0/0
	on "$h" ip addr add "$a/24" dev wgc0
	on "$h" ip link set wgc0 up
	on "$h" ip route add default dev wgc0
}

gateway_far() {
	FAR=203.0.113.2
	host_add far
	link_add internet eth1 far eth0
	addr_add internet eth1 203.0.113.1/24
	addr_add far eth0 $FAR/24
	route_add far default via 203.0.113.1
	route_add gateway 203.0.113.0/24 via "$SRV"
	on internet sysctl -qw net.ipv4.ip_forward=1
}

gated() {
	local n i
	n=$(wc -c < "$2")
	head -c $((n / 2)) "$2"
	# (ends with the test: $TMP goes at teardown)
	for ((i = 0; i < 1200; i++)); do
		[ -e "$1" ] && break
		[ -d "$TMP" ] || return 1
		sleep 0.05
	done
	tail -c +$((n / 2 + 1)) "$2"
}

# probe KIND DST DPORT TTL [SPORT]: gw_e2e.py's one line of key=value
probe() { on client python3 "$TOP/tests/netns/gw_e2e.py" probe wgc0 "$@"; }
# expect LINE KEY=VALUE...: every pair is in the probe's line
expect() {
	local line=$1 kv; shift
	for kv in "$@"; do
		[[ " $line " == *" $kv "* ]] || fail "wanted $kv in: $line"
	done
}

# ct_has PATTERN: the gateway's conntrack listing (gw conntrack -L) has a
# line with PATTERN (fixed text).  The listing is read whole before it is
# searched: grep -q on a pipe leaves at the first match, the listing (tens
# of thousands of entries under load) then dies of SIGPIPE, and pipefail
# takes that for a failure.
ct_has() {
	on gateway "$GW" conntrack "$ctl" -L > "$TMP/ct.list" 2> /dev/null &&
		grep -qF -- "$1" "$TMP/ct.list"
}

# held_start: SIZE bytes (random) each way through the NAT -- an upload to
# the internet host's :7000 and a download from its :7001 -- held half-way
# (gated: the rest waits for $TMP/go-up and $TMP/go-down); sets up, down
# and rx (PIDs), and p_up and p_down, the NAT ports the server sees (from
# NatPorts).  held_finish: both let go, both intact (sha256), one
# connection each at the server, from those ports.
held_start() {
	head -c "$SIZE" /dev/urandom > "$TMP/up"
	head -c "$SIZE" /dev/urandom > "$TMP/down"
	bg internet socat -d -d -u TCP-LISTEN:7000,reuseaddr - > "$TMP/up.recv" \
		2> "$TMP/srv-up.log"
	rx=$BG_PID
	gated "$TMP/go-down" "$TMP/down" |
		on internet socat -d -d -u - TCP-LISTEN:7001,reuseaddr 2> "$TMP/srv-down.log" &
	_pids+=($!)
	wait_tcp internet 7000
	wait_tcp internet 7001
	gated "$TMP/go-up" "$TMP/up" | on client timeout 300 socat -u - TCP:$SRV:7000 &
	up=$!
	on client timeout 300 socat -u TCP:$SRV:7001 - > "$TMP/down.recv" &
	down=$!
	_held_half() { [ "$(wc -c < "$TMP/up.recv")" -ge $((SIZE / 2)) ] &&
		       [ "$(wc -c < "$TMP/down.recv")" -ge $((SIZE / 2)) ]; }
	wait_for 60 _held_half
	p_up=$(_held_peer 7000) p_down=$(_held_peer 7001)
	case "$p_up $p_down" in
	6[01][0-9][0-9][0-9]\ 6[01][0-9][0-9][0-9]) ;;
	*) fail "the server's peers are not on NatPorts: '$p_up' '$p_down'" ;;
	esac
}
# the port of the peer of the internet host's established connection on :$1
_held_peer() {
	on internet ss -Htn state established "sport = :$1" | awk '{print $4}' | sed 's/.*://'
}
_held_sha() { sha256sum < "$1" | cut -d' ' -f1; }
held_finish() {
	local f n
	touch "$TMP/go-up" "$TMP/go-down"
	wait "$up" || fail "the upload's client failed"
	wait "$rx" || true
	wait "$down" || fail "the download's client failed"
	[ "$(_held_sha "$TMP/up.recv")" = "$(_held_sha "$TMP/up")" ] ||
		fail "upload: $(wc -c < "$TMP/up.recv") of $SIZE bytes arrived intact"
	[ "$(_held_sha "$TMP/down.recv")" = "$(_held_sha "$TMP/down")" ] ||
		fail "download: $(wc -c < "$TMP/down.recv") of $SIZE bytes arrived intact"
	for f in srv-up srv-down; do
		n=$(grep -c 'accepting connection from' "$TMP/$f.log")
		[ "$n" = 1 ] || fail "$f: the server accepted $n connections"
	done
	grep -q "accepting connection from AF=2 $UPL:$p_up" "$TMP/srv-up.log" ||
		fail "upload not from $UPL:$p_up: $(grep accepting "$TMP/srv-up.log")"
	grep -q "accepting connection from AF=2 $UPL:$p_down" "$TMP/srv-down.log" ||
		fail "download not from $UPL:$p_down: $(grep accepting "$TMP/srv-down.log")"
}
# handshake: the client's latest handshake (Unix s); same_handshake BEFORE:
# none since BEFORE, unless the keys were due anyway (REKEY_AFTER_TIME,
# 120 s, on a slow run)
handshake() { wgc show wgc0 latest-handshakes | awk '{print $2}'; }
same_handshake() {
	local now
	now=$(handshake)
	[ "$now" = "$1" ] || [ $(($(date +%s) - $1)) -ge 110 ] ||
		fail "a new handshake: latest $1, now $now"
}
