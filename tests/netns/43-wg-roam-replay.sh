#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A stock client (wireguard-go) changes its source port mid-transfer: gw
# follows it.  Data messages captured on the wire and sent again: gw drops
# them as replays, without moving the endpoint, and keeps serving.
#
#   ┌──────────────────────────────┐ eth0            eth0 ┌──────────────────────────┐
#   │ client                       │ 192.0.2.2  192.0.2.1 │ gateway                  │
#   │  wireguard-go wgc0           ├──────── veth ────────┤  gw run gw0.conf         │
#   │   10.8.0.2/24                │                      │   TUN gw0 10.8.0.1/24    │
#   │   listen-port 40001 → 40002  │                      │   UDP :51820             │
#   │  replayer (python, own port) │                      │   wg_capture.py on eth0  │
#   └──────────────────────────────┘                      └──────────────────────────┘
#
# Checks: 1 MB over TCP arrives intact while the client's UDP socket moves
# from port 40001 to 40002; `gw show` then reports endpoint 192.0.2.2:40002;
# replayed data messages (sent from another port) are counted as
# drop_replay and leave the endpoint alone; TCP passes afterwards.
. "$(dirname "$0")/lib.sh"

host_add client gateway
link_add client eth0 gateway eth0
addr_add client eth0 192.0.2.2/24
addr_add gateway eth0 192.0.2.1/24

tunnel_gw gateway
stat() { on gateway "$GW" stats "$ctl" | sed -n "s/^$1=//p"; }
endpoint() { on gateway "$GW" show "$ctl" | sed -n 's/^ *endpoint: //p'; }

wg_go client wgc0
client_pid=$WG_PID
wgc() { wg_in "$client_pid" "$@"; }
wgc set wgc0 private-key "$TMP/client.key" listen-port 40001 peer "$gw_pub" \
	endpoint 192.0.2.1:51820 allowed-ips 10.8.0.0/24
on client ip addr add 10.8.0.2/24 dev wgc0
on client ip link set wgc0 up

head -c 1000000 /dev/urandom > "$TMP/data"

tcp_xfer client gateway 10.8.0.1 7000
[ "$(endpoint)" = 192.0.2.2:40001 ] || fail "endpoint is $(endpoint), not 192.0.2.2:40001"

log "roaming: the client's source port changes mid-transfer"
rx_bytes() { [ "$(wc -c 2>/dev/null < "$TMP/recv" || echo 0)" -ge "$1" ]; }
rm -f "$TMP/recv"
(wait_for 30 rx_bytes 200000; wgc set wgc0 listen-port 40002) &
mover=$!
_pids+=("$mover")
tcp_xfer client gateway 10.8.0.1 7000 slow
wait "$mover" || fail "wg set listen-port failed"
[ "$(endpoint)" = 192.0.2.2:40002 ] || fail "gw show: endpoint $(endpoint), not 192.0.2.2:40002"

log "replay: data messages captured on the wire, sent again"
bg gateway python3 "$TOP/tests/netns/wg_capture.py" eth0 51820 3 "$TMP/cap-ready" \
	> "$TMP/captured"
cap_pid=$BG_PID
wait_for 10 test -e "$TMP/cap-ready"
tcp_xfer client gateway 10.8.0.1 7000
wait "$cap_pid" || fail "capture failed"
[ "$(wc -l < "$TMP/captured")" = 3 ] || fail "captured $(wc -l < "$TMP/captured") data messages, not 3"
before_replay=$(stat drop_replay)
on client python3 - "$TMP/captured" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("192.0.2.2", 40009))
for line in open(sys.argv[1]):
    for _ in range(2):
        s.sendto(bytes.fromhex(line.strip()), ("192.0.2.1", 51820))
EOF
# each datagram ends in one outcome: counted as replays, none was delivered
replays_counted() { [ "$(stat drop_replay)" -ge $((before_replay + 6)) ]; }
wait_for 5 replays_counted
[ "$(endpoint)" = 192.0.2.2:40002 ] || fail "a replay moved the endpoint to $(endpoint)"
kill -0 "$gw_pid" || fail "gw died"
tcp_xfer client gateway 10.8.0.1 7000

kill -TERM "$gw_pid"
wait "$gw_pid" || fail "gw exited with $?"
log "source port roaming mid-transfer; replayed data messages dropped"
