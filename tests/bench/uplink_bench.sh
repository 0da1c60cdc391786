#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# TCP through the NAT: what the gateway's process costs per GB when the
# traffic crosses its uplink (the packet socket's ring in, the uplink's send
# socket out).  The client's WireGuard is gw too, so the client is not the
# limit.  One iperf3 TCP stream each way, ROUNDS rounds (default 3), medians
# printed.  Informational: no pass/fail on numbers.  Needs root, iperf3.
#
#   client (gw, 10.8.0.2) ── wg ── gateway (gw run: Uplink eth0, MASQUERADE) ── server
#   192.0.2.2          192.0.2.1 │ 198.51.100.1                     198.51.100.2
#
# BENCH_SECONDS (default 5) per run; PERF=1 records the gateway with perf
# during the upload/download of the first round into $PERF_DIR (default
# /tmp) as uplink-{up,down}.data.
. "$(dirname "$0")/../netns/lib.sh"

T=${BENCH_SECONDS:-5}
ROUNDS=${ROUNDS:-3}
command -v iperf3 > /dev/null || fail "iperf3 is not installed (make deps)"
SRV=198.51.100.2

host_add c g s
link_add c eth0 g lan0
link_add g eth0 s eth0
addr_add c eth0 192.0.2.2/24
addr_add g lan0 192.0.2.1/24
addr_add g eth0 198.51.100.1/24
addr_add s eth0 $SRV/24
gw_priv=$("$GW" genkey); gw_pub=$(printf '%s\n' "$gw_priv" | "$GW" pubkey)
cl_priv=$("$GW" genkey); cl_pub=$(printf '%s\n' "$cl_priv" | "$GW" pubkey)
cat > "$TMP/gw0.conf" <<EOC
[Interface]
PrivateKey = $gw_priv
ListenPort = 51820
Address = 10.8.0.1/24
Uplink = eth0
Rules = $TOP/contrib/examples/gw0.rules
ControlSocket = $TMP/gw0.sock
UapiSocket = $TMP/gw0.uapi

[Peer]
PublicKey = $cl_pub
AllowedIPs = 10.8.0.2/32
EOC
cat > "$TMP/wgc1.conf" <<EOC
[Interface]
PrivateKey = $cl_priv
ListenPort = 40000
Address = 10.8.0.2/24
ControlSocket = $TMP/wgc1.sock
UapiSocket = $TMP/wgc1.uapi

[Peer]
PublicKey = $gw_pub
AllowedIPs = 0.0.0.0/0
Endpoint = 192.0.2.1:51820
EOC
bg g "$GW" run "$TMP/gw0.conf" 2> "$TMP/gw.log"
gw_pid=$BG_PID
wait_udp g 51820
wait_for 10 test -S "$TMP/gw0.sock"
bg c "$GW" run "$TMP/wgc1.conf" 2> "$TMP/gwc.log"
wait_udp c 40000
on c ip route add default dev wgc1

cpu_ms() {
	awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); print int(($12 + $13) * 1000 / hz) }' \
		"/proc/$1/stat"
}

# run UP|DOWN ROUND: one iperf3 run; appends "mbps cpu_ms_per_GB" to $TMP/DIR
run() {
	local rev= srv g0 p=
	[ "$1" = DOWN ] && rev=-R
	bg s iperf3 -s -1 -p 5201 > /dev/null
	srv=$BG_PID
	wait_tcp s 5201
	g0=$(cpu_ms "$gw_pid")
	if [ "${PERF:-0}" = 1 ] && [ "$2" = 1 ]; then
		perf record -q -g -p "$gw_pid" -o "${PERF_DIR:-/tmp}/uplink-${1,,}.data" \
			-- sleep "$T" 2> /dev/null &
		p=$!
	fi
	on c iperf3 -c $SRV -p 5201 -t "$((T + 1))" -O 1 $rev -J > "$TMP/iperf.json"
	[ -z "$p" ] || wait "$p" || true
	python3 -c 'import json, sys
e = json.load(open(sys.argv[1]))
bits = e["end"]["sum_received"]["bits_per_second"]
gb = sum(i["sum"]["bytes"] for i in e["intervals"]) / 1e9
print("%.0f %.0f" % (bits / 1e6, int(sys.argv[2]) / gb))' \
		"$TMP/iperf.json" "$(($(cpu_ms "$gw_pid") - g0))" >> "$TMP/$1"
	stop "$srv"
}

# the tunnel's handshake before the clock
on c python3 "$TOP/tests/netns/ping.py" $SRV > /dev/null || fail "no echo through the NAT"
for r in $(seq "$ROUNDS"); do
	run UP "$r"
	run DOWN "$r"
done
med() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
printf '== TCP through the NAT, gw ↔ gw, %s rounds of %s s: median (all)\n' "$ROUNDS" "$T"
for d in UP DOWN; do
	printf '%-5s Mbit/s %6s (%s)   gateway CPU ms/GB %6s (%s)\n' "$d" \
		"$(cut -d' ' -f1 "$TMP/$d" | med)" "$(cut -d' ' -f1 "$TMP/$d" | paste -sd,)" \
		"$(cut -d' ' -f2 "$TMP/$d" | med)" "$(cut -d' ' -f2 "$TMP/$d" | paste -sd,)"
done
"$GW" stats "$TMP/gw0.sock" | grep -E 'uplink|drop' | grep -v '=0$' || true
