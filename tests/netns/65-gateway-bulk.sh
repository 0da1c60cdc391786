#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Tens of MB through the tunnel and the NAT, while the gateway host's own
# connections to the same server keep working and its kernel stays silent
# for the NAT-ed flows: the world of gateway.sh, with the gateway's
# ephemeral port range widened to 61000-62999 so that half of it is NatPorts
# (the default 32768-60999 misses NatPorts, and the check below could not
# fail): only ip_local_reserved_ports keeps the host's ports out of them.
#
#   client ── wg ── gateway (gw, MASQUERADE) ── internet (tcpdump on eth0 all along)
#                   host's own TCP/UDP ──────────┘
#
#   TCP upload and download, 32 MB each, sha256 compared; both held open
#     half-way while the host makes 20 TCP fetches and 10 UDP exchanges to
#     the server, then 20 + 10 more while the second halves flow
#   all the while the host's own connections run, the client makes short
#     NAT-ed connections to the server as fast as they go (connrate, 32 in
#     flight, RST close): they must have run, how well is not asserted
#   NAT-ed UDP exchanges and ICMP echo alongside
#   the server sees 198.51.100.1:NatPorts for every NAT-ed flow, and the
#     host's own connections from ports outside NatPorts
#   the capture holds no RST and no ICMP from 198.51.100.1 but the echo
#     requests the client sent through the NAT (so it did capture) and the
#     load's RSTs, which gw forwarded (TTL below 64)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/gateway.sh"

case $GW in
*/build/san/*) CONNRATE=${CONNRATE:-$TOP/build/san/tests/bench/connrate} ;;
*) CONNRATE=${CONNRATE:-$TOP/build/rel/tests/bench/connrate} ;;
esac
[ -x "$CONNRATE" ] || fail "no $CONNRATE (make $(realpath --relative-to="$TOP" "$CONNRATE"))"
SIZE=32000000
gateway_world
on gateway sysctl -qw net.ipv4.ip_local_port_range="61000 62999"
E2E=$TOP/tests/netns/gw_e2e.py

bg internet tcpdump -i eth0 -n -U --immediate-mode -w "$TMP/srv.pcap" \
	"src host $UPL and (icmp or tcp[tcpflags] & tcp-rst != 0)" \
	"and not (tcp dst port 7200 and ip[8] < 64)" 2> "$TMP/cap.err"
cap=$BG_PID
wait_for 10 grep -q 'listening on' "$TMP/cap.err"

head -c $SIZE /dev/urandom > "$TMP/up"
head -c $SIZE /dev/urandom > "$TMP/down"
head -c 100000 /dev/urandom > "$TMP/small"
sha() { sha256sum < "$1" | cut -d' ' -f1; }


bg internet socat -d -d -u TCP-LISTEN:7000,reuseaddr - > "$TMP/up.recv" 2> "$TMP/srv-up.log"
rx=$BG_PID
gated "$TMP/go" "$TMP/down" | on internet socat -d -d -t 30 -u - TCP-LISTEN:7001,reuseaddr 2> "$TMP/srv-down.log" &
_pids+=($!)
bg internet python3 "$E2E" udp-echo 7002 > "$TMP/srv-udp.log"
bg internet socat -d -d -t 30 -U TCP-LISTEN:7100,fork,reuseaddr OPEN:"$TMP/small" 2> "$TMP/srv-host.log"
bg internet python3 "$E2E" udp-echo 7101 > "$TMP/srv-hostudp.log"
bg internet "$CONNRATE" server 7200
wait_tcp internet 7000
wait_tcp internet 7001
wait_tcp internet 7100
wait_udp internet 7002
wait_udp internet 7101
wait_tcp internet 7200

log "NAT-ed: TCP upload and download of $SIZE bytes, held half-way"
gated "$TMP/go" "$TMP/up" | on client timeout 60 socat -u - TCP:$SRV:7000 &
up=$!
on client timeout 60 socat -u TCP:$SRV:7001 - > "$TMP/down.recv" &
down=$!
on client python3 "$E2E" udp-ping $SRV 7002 200 > "$TMP/udp-ping" &
uping=$!
held() { [ "$(on gateway "$GW" conntrack "$ctl" -L 2> /dev/null | grep -Ec 'ESTABLISHED .* dport=700[01] ')" = 2 ]; }
wait_for 20 held
held_bytes() { [ "$(wc -c < "$TMP/up.recv")" -ge $((SIZE / 2)) ] && [ "$(wc -c < "$TMP/down.recv")" -ge $((SIZE / 2)) ]; }
wait_for 30 held_bytes

# host N: N TCP fetches and N/2 UDP exchanges of the gateway's own
host() {
	local i n=$1
	for ((i = 0; i < n; i++)); do
		on gateway timeout 10 socat -u TCP:$SRV:7100 - > "$TMP/fetch" ||
			fail "the host's own TCP fetch $i failed"
		cmp -s "$TMP/fetch" "$TMP/small" || fail "the host's own TCP fetch $i: wrong bytes"
	done
	for ((i = 0; i < n / 2; i++)); do
		on gateway python3 "$E2E" udp-ping $SRV 7101 1 > "$TMP/hu" ||
			fail "the host's own UDP exchange $i: $(cat "$TMP/hu")"
	done
}
log "the load: short NAT-ed connections from the client, as fast as they go"
bg client "$CONNRATE" client $SRV 7200 -n 32 -t 3600 --rst > "$TMP/load"
load=$BG_PID
loading() { ct_has ' dport=7200 '; }
wait_for 20 loading
log "the host's own connections while the NAT-ed flows are held open"
host 20
for _ in 1 2 3; do
	on client python3 "$E2E" probe wgc0 icmp $SRV 0 64 > "$TMP/ping" || fail "$(cat "$TMP/ping")"
	[[ $(cat "$TMP/ping") == *answer=icmp\ type=0* ]] || fail "ping through the NAT: $(cat "$TMP/ping")"
done
log "... and while the second halves flow"
touch "$TMP/go"
host 20
stop "$load"
grep -Eq ' ok=[1-9]' "$TMP/load" || fail "the load did not run: $(cat "$TMP/load")"
log "  the load alongside: $(cat "$TMP/load")"
wait "$up" || fail "client -> server: socat"
wait "$down" || fail "server -> client: socat"
wait "$uping" || fail "NAT-ed UDP: $(cat "$TMP/udp-ping")"
wait "$rx" || true
[ "$(sha "$TMP/up.recv")" = "$(sha "$TMP/up")" ] ||
	fail "upload: $(wc -c < "$TMP/up.recv") of $SIZE bytes arrived, sha256 differs"
[ "$(sha "$TMP/down.recv")" = "$(sha "$TMP/down")" ] ||
	fail "download: $(wc -c < "$TMP/down.recv") of $SIZE bytes arrived, sha256 differs"
log "  both ways intact: $(sha "$TMP/up" | head -c 16)... up, $(sha "$TMP/down" | head -c 16)... down"

log "the server saw the uplink address: NatPorts for NAT-ed flows, others for the host"
natport() { [[ $1 =~ ^$UPL:([0-9]+)$ ]] && [ "${BASH_REMATCH[1]}" -ge 61000 ] && [ "${BASH_REMATCH[1]}" -le 61999 ]; }
hostport() { [[ $1 =~ ^$UPL:([0-9]+)$ ]] && ! natport "$1"; }
peers() { sed -n 's/.*accepting connection from AF=2 \([0-9.:]*\).*/\1/p' "$1"; }
for f in srv-up srv-down; do
	p=$(peers "$TMP/$f.log")
	natport "$p" || fail "$f: the server saw '$p'"
	log "  $f: $p"
done
mapfile -t a < <(sort -u "$TMP/srv-udp.log")
[ "${#a[@]}" = 1 ] && natport "${a[0]}" || fail "NAT-ed UDP from: ${a[*]}"
mapfile -t a < <(peers "$TMP/srv-host.log")
[ "${#a[@]}" = 40 ] || fail "the server saw ${#a[@]} of the host's 40 TCP connections"
for p in "${a[@]}"; do hostport "$p" || fail "a host TCP connection from $p"; done
log "  host TCP: ${#a[@]} from ports $(printf '%s\n' "${a[@]}" | sed 's/.*://' | sort -n | sed -n '1p;$p' | paste -sd-)"
mapfile -t a < "$TMP/srv-hostudp.log"
[ "${#a[@]}" -ge 20 ] || fail "the server saw ${#a[@]} of the host's 20 UDP exchanges"
for p in "${a[@]}"; do hostport "$p" || fail "a host UDP exchange from $p"; done

log "the capture on the server: no RST, no ICMP from the gateway's kernel"
sleep 0.2 # the last packets through tcpdump's buffer
stop "$cap"
grep -q '^0 packets dropped by kernel' "$TMP/cap.err" || fail "tcpdump: $(cat "$TMP/cap.err")"
tcpdump -n -r "$TMP/srv.pcap" 2> /dev/null > "$TMP/cap.txt"
pings=$(grep -c "^[0-9:.]* IP $UPL > $SRV: ICMP echo request," "$TMP/cap.txt" || true)
[ "$pings" -ge 3 ] || fail "the capture missed the echo requests through the NAT: $(cat "$TMP/cap.txt")"
bad=$(grep -v "^[0-9:.]* IP $UPL > $SRV: ICMP echo request," "$TMP/cap.txt" || true)
if [ -n "$bad" ]; then
	grep -E "^[0-9:.]* IP $UPL\.61[0-9]{3} > .*Flags \[R" <<< "$bad" &&
		fail "RST from a NatPort (a NAT-ed flow) by the gateway's kernel"
	fail "RST or ICMP from the gateway: $bad"
fi
log "  $pings echo requests (the test's), nothing else"

no_netfilter
kill -TERM "$gw_pid"
wait "$gw_pid" || fail "gw exited with $?"
log "32 MB both ways through the NAT, the host's own connections alongside, its kernel silent"
