#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# lib.sh — hosts in network namespaces for gw's integration tests, in the
# spirit of the kernel's WireGuard netns.sh.  Source it from a test:
#
#   . "$(dirname "$0")/lib.sh"
#   host_add a b                 # namespaces $RUN-a, $RUN-b with lo up
#   link_add a eth0 b eth0       # a veth pair between them, both ends up
#   addr_add a eth0 192.0.2.1/24
#   bg b socat ...               # start in host b; its PID is ended on exit
#   wait_tcp b 7000              # poll until something listens (no sleeps)
#   on a cmd ...                 # run cmd in host a
#
# Every name carries a per-run prefix ($RUN), so runs never collide, and
# everything is torn down on exit, on failure and on SIGINT/SIGTERM: the
# processes this test started (by PID, never by name), whatever they started
# that still runs inside the test's namespaces (by PID, from ip netns pids),
# then the namespaces.
# Traffic stays between the namespaces a test makes; addresses come from the
# documentation ranges (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24) and
# 10.0.0.0/8 inside the namespaces.

set -eu -o pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
GW=${GW:-$TOP/gw/gw}
# GW_RUN_PREFIX is set by run.sh so it can check that nothing is left behind.
RUN=${GW_RUN_PREFIX:-gwt}$(printf '%04x' $((RANDOM)))$$
TMP=$(mktemp -d "/tmp/$RUN.XXXXXX")
_hosts=()
_pids=()

ns() { printf '%s-%s' "$RUN" "$1"; }

log() { printf '[%s] %s\n' "${0##*/}" "$*"; }

fail() {
	log "FAIL: $*" >&2
	exit 1
}

host_add() {
	local h
	for h in "$@"; do
		ip netns add "$(ns "$h")"
		_hosts+=("$h")
		ip -n "$(ns "$h")" link set lo up
	done
}

# link_add HOST_A IF_A HOST_B IF_B: the pair is created inside the two
# namespaces directly, so no name ever appears in the caller's namespace.
link_add() {
	ip link add "$2" netns "$(ns "$1")" type veth peer name "$4" netns "$(ns "$3")"
	ip -n "$(ns "$1")" link set "$2" up
	ip -n "$(ns "$3")" link set "$4" up
}

addr_add() { ip -n "$(ns "$1")" addr add "$3" dev "$2"; }

route_add() { local h=$1; shift; ip -n "$(ns "$h")" route add "$@"; }

on() { local h=$1; shift; ip netns exec "$(ns "$h")" "$@"; }

# bg HOST CMD...: start CMD in HOST in the background; sets BG_PID.
# ip netns exec execs the command, so the PID is the command's own.
bg() {
	local h=$1; shift
	ip netns exec "$(ns "$h")" "$@" &
	BG_PID=$!
	_pids+=("$BG_PID")
}

# stop PID: end a process this test started and reap it.
stop() {
	kill -TERM "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}

# wg_go HOST IFACE [LOG]: stock wireguard-go in HOST, in the foreground so
# its PID is ours, with a private /run (its control socket directory is
# shared by every namespace otherwise); waits for its socket; sets WG_PID.
# Extra environment (LOG_LEVEL=verbose) passes through.  wg_in PID ARGS runs
# wg(8) against it.
wg_go() {
	local h=$1 ifc=$2 log=${3:-$TMP/wggo.log}
	WG_PROCESS_FOREGROUND=1 bg "$h" unshare -m sh -c \
		"mount -t tmpfs none /run && mkdir -p /var/run/wireguard && exec wireguard-go -f $ifc" \
		>> "$log" 2>&1
	WG_PID=$BG_PID
	wait_for 10 own_run "$WG_PID" "/var/run/wireguard/$ifc.sock"
}
wg_in() { local p=$1; shift; nsenter -t "$p" -m -n wg "$@"; }

# own_run PID SOCKET: process PID is in a mount namespace of its own (its
# private /run is up: before unshare it would see the host's /run, where
# another instance's socket may be) and SOCKET exists there
own_run() {
	[ "$(readlink "/proc/$1/ns/mnt")" != "$(readlink /proc/self/ns/mnt)" ] &&
		nsenter -t "$1" -m test -S "$2"
}

# gw_ns HOST CONF [LOG]: gw run CONF in HOST with a private /run, as wg_go
# does for wireguard-go (its UAPI socket /var/run/wireguard/IFACE.sock is
# then the test's own); waits for it and the control socket; sets GW_PID.  wg_in GW_PID
# ARGS runs stock wg(8) against it.
gw_ns() {
	local h=$1 conf=$2 log=${3:-$TMP/gw.log} ifc ctl
	ifc=$(basename "$conf" .conf)
	bg "$h" unshare -m sh -c "mount -t tmpfs none /run && exec \"\$0\" run \"\$1\"" \
		"$GW" "$conf" 2>> "$log"
	GW_PID=$BG_PID
	wait_for 10 own_run "$GW_PID" "/var/run/wireguard/$ifc.sock"
	# the control socket comes after the UAPI socket: wait for both
	ctl=$(sed -n 's/^ControlSocket *= *//p' "$conf")
	wait_for 10 own_run "$GW_PID" "${ctl:-/run/gw/$ifc.sock}"
}

# tunnel_gw HOST [PEER-LINES]: gw run in HOST as a plain tunnel (10.8.0.1/24,
# port 51820) with one client peer (10.8.0.2/32, PEER-LINES added to its
# [Peer]); new keys: gw_priv/gw_pub, cl_priv/cl_pub ($TMP/client.key); sets
# ctl (its control socket) and gw_pid, and waits for both sockets.
tunnel_gw() {
	local h=$1
	gw_priv=$("$GW" genkey); gw_pub=$(printf '%s\n' "$gw_priv" | "$GW" pubkey)
	cl_priv=$("$GW" genkey); cl_pub=$(printf '%s\n' "$cl_priv" | "$GW" pubkey)
	printf '%s\n' "$cl_priv" > "$TMP/client.key"
	ctl=$TMP/gw0.sock
	cat > "$TMP/gw0.conf" <<EOC
[Interface]
PrivateKey = $gw_priv
ListenPort = 51820
Address = 10.8.0.1/24
ControlSocket = $ctl
UapiSocket = $ctl.uapi
Workers = ${GW_TEST_WORKERS:-2}

[Peer]
PublicKey = $cl_pub
AllowedIPs = 10.8.0.2/32
${2:-}
EOC
	bg "$h" "$GW" run "$TMP/gw0.conf" 2> "$TMP/gw.log"
	gw_pid=$BG_PID
	wait_udp "$h" 51820
	wait_for 10 test -S "$ctl"
	check_workers "$h"
}

# check_workers HOST: gw in HOST (control socket $ctl) runs the workers the
# config asked for ($GW_TEST_WORKERS, else 2), a thread each beside its own
check_workers() {
	local want=${GW_TEST_WORKERS:-2} got threads
	got=$(on "$1" "$GW" stats "$ctl" | sed -n 's/^workers=//p')
	[ "$got" = "$want" ] || fail "gw runs $got workers, not $want"
	threads=$(ls "/proc/$gw_pid/task" | wc -l)
	# the control thread, a thread per worker when more than one; the
	# resolver's only when an Endpoint is a name
	[ "$want" = 1 ] && [ "$threads" -le 2 ] && return
	[ "$threads" -ge $((want + 1)) ] || fail "gw has $threads threads for $want workers"
}

# tcp_xfer FROM TO ADDR PORT [slow]: $TMP/data from host FROM to a
# one-connection receiver on host TO (ADDR:PORT, IPv4 or IPv6), compared
# byte for byte; no fork, so no child outlives the test.  slow: in 20
# chunks over about a second, so something can happen meanwhile.
tcp_xfer() {
	local rx
	local listen=TCP-LISTEN:"$4",bind="$3" to=TCP:"$3:$4"

	case $3 in *:*) listen=TCP6-LISTEN:"$4",bind="[$3]" to=TCP6:"[$3]:$4" ;; esac
	bg "$2" socat -u "$listen",reuseaddr - > "$TMP/recv"
	rx=$BG_PID
	wait_tcp "$2" "$4"
	if [ "${5:-}" = slow ]; then
		(for i in $(seq 0 19); do
			dd if="$TMP/data" bs=$(($(wc -c < "$TMP/data") / 20 + 1)) skip="$i" \
				count=1 status=none
			sleep 0.05
		done) | on "$1" timeout 60 socat -u - "$to"
	else
		on "$1" timeout 60 socat -u - "$to" < "$TMP/data"
	fi
	wait "$rx" || true
	cmp -s "$TMP/data" "$TMP/recv" || fail "TCP $1 -> $3:$4: $(wc -c < "$TMP/recv") of" \
		"$(wc -c < "$TMP/data") bytes arrived intact"
}

# tcp_echo_server HOST PORT [BIND]: a TCP echo in HOST (tests/netns/tcp_echo.py,
# a thread per connection), polled until it listens; sets BG_PID.  It prints
# each peer as ADDR:PORT.  tcp_echo HOST ADDR PORT FILE: FILE through the echo
# at ADDR:PORT from HOST, sent while the echo is read back (a client that
# writes all before it reads can deadlock an echo once both directions'
# buffers fill); fails the test unless every byte came back intact.
tcp_echo_server() {
	bg "$1" python3 "$TOP/tests/netns/tcp_echo.py" serve "$2" ${3:+"$3"}
	wait_tcp "$1" "$2"
}
tcp_echo() {
	local r
	r=$(on "$1" timeout 150 python3 "$TOP/tests/netns/tcp_echo.py" check "$2" "$3" "$4" 2>&1) ||
		fail "TCP echo $1 -> $2:$3: ${r:-no end in 150 s}"
}

# icmp_echo HOST DST [TTL] [--all]: tests/netns/ping.py in HOST (see there).
icmp_echo() { local h=$1; shift; on "$h" python3 "$TOP/tests/netns/ping.py" "$@"; }

# _wait_ss HOST PROTO PORT [TIMEOUT]: poll ss for a listening socket.
_wait_ss() {
	local h=$1 flag=$2 port=$3 t=${4:-10} i
	for ((i = 0; i < t * 20; i++)); do
		if [ -n "$(on "$h" ss -H "-${flag}ln" "sport = :$port" 2>/dev/null)" ]; then
			return 0
		fi
		sleep 0.05
	done
	fail "nothing listens on $port/$flag in $h after ${t}s"
}
wait_tcp() { _wait_ss "$1" t "$2" "${3:-10}"; }
wait_udp() { _wait_ss "$1" u "$2" "${3:-10}"; }

# wait_for TIMEOUT CMD...: poll CMD until it succeeds.
wait_for() {
	local t=$1 i; shift
	for ((i = 0; i < t * 20; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	fail "timed out after ${t}s waiting for: $*"
}

# no_netfilter: no iptables/ip6tables rule and no nftables ruleset in any
# namespace this test made (gw must work without the kernel's netfilter).
no_netfilter() {
	local h r c
	for c in iptables-save ip6tables-save nft; do
		command -v "$c" > /dev/null || fail "no $c to check for netfilter rules"
	done
	for h in "${_hosts[@]}"; do
		for c in iptables-save ip6tables-save; do
			r=$(on "$h" "$c" 2> /dev/null | grep -v '^#' || true)
			[ -z "$r" ] || fail "$c in $h: $r"
		done
		r=$(on "$h" nft list ruleset 2> /dev/null || true)
		[ -z "$r" ] || fail "nft list ruleset in $h: $r"
	done
}

_teardown() {
	local rc=$? p h
	trap - EXIT INT TERM
	for p in "${_pids[@]}"; do
		kill -TERM "$p" 2>/dev/null || true
	done
	for p in "${_pids[@]}"; do
		# give each a moment, then make sure
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			kill -0 "$p" 2>/dev/null || break
			sleep 0.05
		done
		kill -KILL "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	# what those started in turn (socat ... fork) lives in our namespaces:
	# end every process still in a namespace this test made, by PID
	for h in "${_hosts[@]}"; do
		for p in $(ip netns pids "$(ns "$h")" 2>/dev/null); do
			kill -KILL "$p" 2>/dev/null || true
		done
	done
	for h in "${_hosts[@]}"; do
		ip netns del "$(ns "$h")" 2>/dev/null || true
	done
	[ -n "${KEEP_TMP:-}" ] || rm -rf "$TMP"
	exit "$rc"
}
trap _teardown EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
