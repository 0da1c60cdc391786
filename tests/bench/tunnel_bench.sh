#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Tunnel throughput between two namespaces, iperf3 TCP single stream, both
# directions, for three pairings measured in the same run and printed side
# by side: gw ↔ gw, wireguard-go ↔ gw (the stock client against gw as the
# server) and wireguard-go ↔ wireguard-go (the reference); then the CPU time
# each end's process took per GB carried (user + system, from
# /proc/PID/stat: what the tunnel costs, the AEAD included).
# Informational: no pass/fail on numbers.  Needs root, iperf3,
# wireguard-go and wg.
#
#   ┌─────────────────────────┐ eth0            eth0 ┌─────────────────────────┐
#   │ a (client)              │ 192.0.2.2  192.0.2.1 │ b (server)              │
#   │  tunnel 10.9.0.2/24     ├──────── veth ────────┤  tunnel 10.9.0.1/24     │
#   │  iperf3 -c              │                      │  iperf3 -s -1           │
#   └─────────────────────────┘                      └─────────────────────────┘
#
# BENCH_SECONDS (default 5): the length of each iperf3 run (the first
# second, slow start, is omitted from the figure).
. "$(dirname "$0")/../netns/lib.sh"

T=${BENCH_SECONDS:-5}
for tool in iperf3 wireguard-go wg; do
	command -v "$tool" > /dev/null || fail "$tool is not installed (make deps)"
done

host_add a b
link_add a eth0 b eth0
addr_add a eth0 192.0.2.2/24
addr_add b eth0 192.0.2.1/24

a_priv=$("$GW" genkey); a_pub=$(printf '%s\n' "$a_priv" | "$GW" pubkey)
b_priv=$("$GW" genkey); b_pub=$(printf '%s\n' "$b_priv" | "$GW" pubkey)
printf '%s\n' "$a_priv" > "$TMP/a.key"
printf '%s\n' "$b_priv" > "$TMP/b.key"

# side_up KIND HOST IFACE: one end of the tunnel (a: client with the
# endpoint, b: server on 51820); sets SIDE_PID
side_up() {
	local kind=$1 h=$2 ifc=$3 priv pub addr port ep peer_allowed
	if [ "$h" = a ]; then
		priv=$a_priv pub=$b_pub addr=10.9.0.2/24 port=40000 ep=192.0.2.1:51820
		peer_allowed=10.9.0.1/32
	else
		priv=$b_priv pub=$a_pub addr=10.9.0.1/24 port=51820 ep=
		peer_allowed=10.9.0.2/32
	fi
	if [ "$kind" = gw ]; then
		{
			printf '[Interface]\nPrivateKey = %s\nListenPort = %s\n' "$priv" "$port"
			printf 'Address = %s\nControlSocket = %s\nUapiSocket = %s\n' "$addr" \
				"$TMP/$ifc.sock" "$TMP/$ifc.uapi"
			printf 'Workers = %s\n\n' "$WORKERS"
			printf '[Peer]\nPublicKey = %s\nAllowedIPs = %s\n' "$pub" "$peer_allowed"
			[ -z "$ep" ] || printf 'Endpoint = %s\n' "$ep"
		} > "$TMP/$ifc.conf"
		bg "$h" "$GW" run "$TMP/$ifc.conf" 2> "$TMP/$ifc.log"
		SIDE_PID=$BG_PID
		wait_for 10 test -S "$TMP/$ifc.sock"
	else
		# wireguard-go keeps its sockets in /run/wireguard: a private /run
		WG_PROCESS_FOREGROUND=1 bg "$h" unshare -m sh -c \
			"mount -t tmpfs none /run && mkdir -p /var/run/wireguard && exec wireguard-go -f $ifc" \
			> "$TMP/$ifc.log" 2>&1
		SIDE_PID=$BG_PID
		wait_for 10 nsenter -t "$SIDE_PID" -m test -S "/var/run/wireguard/$ifc.sock"
		nsenter -t "$SIDE_PID" -m -n wg set "$ifc" private-key "$TMP/$h.key" \
			listen-port "$port" peer "$pub" allowed-ips "$peer_allowed" \
			${ep:+endpoint "$ep"}
		on "$h" ip addr add "$addr" dev "$ifc"
		on "$h" ip link set "$ifc" up
	fi
}

# cpu_ms PID: the user + system CPU time of process PID so far, in ms
cpu_ms() {
	awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); print int(($12 + $13) * 1000 / hz) }' \
		"/proc/$1/stat"
}

# iperf A_TO_B|B_TO_A PID_A PID_B: Mbit/s of one TCP stream through the
# tunnel into $TMP/mbps ("-" when iperf3 failed), and the CPU ms per GB
# received of the ends' processes into $TMP/cpu ("a_ms/b_ms")
iperf() {
	local srv rev= a0 b0
	[ "$1" = B_TO_A ] && rev=-R
	bg b iperf3 -s -1 -B 10.9.0.1 -p 5201 > /dev/null
	srv=$BG_PID
	wait_tcp b 5201
	echo - > "$TMP/mbps"
	echo - > "$TMP/cpu"
	a0=$(cpu_ms "$2") b0=$(cpu_ms "$3")
	if on a iperf3 -c 10.9.0.1 -p 5201 -t "$((T + 1))" -O 1 $rev -J > "$TMP/iperf.json"; then
		python3 -c 'import json, sys
e = json.load(open(sys.argv[1]))
bits = e["end"]["sum_received"]["bits_per_second"]
# all of the run, the omitted first second too, as the CPU times are
gb = sum(i["sum"]["bytes"] for i in e["intervals"]) / 1e9
print("%.0f" % (bits / 1e6))
da, db = int(sys.argv[2]), int(sys.argv[3])
print("%.0f/%.0f" % (da / gb, db / gb) if gb > 0 else "-", file=open(sys.argv[4], "w"))' \
			"$TMP/iperf.json" "$(($(cpu_ms "$2") - a0))" "$(($(cpu_ms "$3") - b0))" \
			"$TMP/cpu" > "$TMP/mbps"
	fi
	stop "$srv"
}

# pairing NAME CLIENT_KIND SERVER_KIND N: measures both ways; prints a row
# of throughput and one of CPU per GB
pairing() {
	local name=$1 ab ba pa pb cab cba
	side_up "$3" b "t${4}b"; pb=$SIDE_PID
	side_up "$2" a "t${4}a"; pa=$SIDE_PID
	iperf A_TO_B "$pa" "$pb"; ab=$(cat "$TMP/mbps") cab=$(cat "$TMP/cpu")
	iperf B_TO_A "$pa" "$pb"; ba=$(cat "$TMP/mbps") cba=$(cat "$TMP/cpu")
	stop "$pa"
	stop "$pb"
	printf '%-30s %18s %18s\n' "$name" "$ab" "$ba" >> "$TMP/rows"
	printf '%-30s %18s %18s\n' "$name" "$cab" "$cba" >> "$TMP/cpurows"
}

: > "$TMP/rows"
: > "$TMP/cpurows"
NCPU=$(nproc)
WORKERS=1
pairing "gw ↔ gw, 1 worker" gw gw 1
if [ "$NCPU" -gt 1 ]; then
	WORKERS=$NCPU
	pairing "gw ↔ gw, $NCPU workers" gw gw 4
fi
pairing "wireguard-go ↔ gw" wggo gw 2
pairing "wireguard-go ↔ wireguard-go" wggo wggo 3
printf '== tunnel throughput: iperf3, 1 TCP stream, %s s, Mbit/s (informational)\n' "$T"
printf '%-30s %18s %18s\n' "client ↔ server" "client → server" "server → client"
cat "$TMP/rows"
printf '== CPU ms per GB carried, client/server process (user + system)\n'
printf '%-30s %18s %18s\n' "client ↔ server" "client → server" "server → client"
cat "$TMP/cpurows"
