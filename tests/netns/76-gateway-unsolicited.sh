#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Unsolicited packets from the uplink hold no NAT port: the world of
# gateway.sh (NatPorts 61000-61999); the internet host sends a TCP ACK from
# its server port 80 to each of the 1,000 NAT ports of the uplink's address
# (as a spoofer would, to take every port toward that server), then the
# client opens 50 connections to that server through MASQUERADE.  All 50
# work, and the ACKs left no conntrack entry: they are dropped
# (dp_drop_uplink_host).  Before, each one was picked up mid-stream and held
# its port for 300 s.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/gateway.sh"

gateway_world
stat() { on gateway "$GW" stats "$ctl" | sed -n "s/^$1=//p"; }

bg internet python3 -c '
import socket, threading
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 80)); s.listen(64)
def serve(c):
    with c:
        c.sendall(b"hello\n")
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()'
wait_tcp internet 80

# segments with a wrong checksum (a raw socket's: the kernel says nothing
# of their checksum) are INVALID: gw verifies what neither it nor the
# kernel checked (what gw cut from a super-packet, or completed, it skips)
inv=$(stat conntrack_invalid)
on internet python3 "$TOP/tests/netns/tcpseg.py" "$SRV" "$UPL" 80 61000-61009 1 1 AX
wait_for 30 eval '[ "$(stat conntrack_invalid)" -ge $((inv + 10)) ]'
log "10 segments with a wrong checksum: conntrack_invalid $inv -> $(stat conntrack_invalid)"

drops=$(stat dp_drop_uplink_host)
ct0=$(on gateway "$GW" conntrack "$ctl" -C)
on internet python3 "$TOP/tests/netns/tcpseg.py" "$SRV" "$UPL" 80 61000-61999 123456 654321 A
wait_for 30 eval '[ "$(stat dp_drop_uplink_host)" -ge $((drops + 1000)) ]'
ct1=$(on gateway "$GW" conntrack "$ctl" -C)
log "1000 unsolicited ACKs: dp_drop_uplink_host $drops -> $(stat dp_drop_uplink_host), conntrack $ct0 -> $ct1"
[ "$ct1" -lt $((ct0 + 50)) ] || fail "the ACKs left $((ct1 - ct0)) conntrack entries"

on client python3 - "$SRV" <<'PY' || fail "connections through the gateway failed"
import socket, sys
ok = 0
for i in range(50):
    with socket.create_connection((sys.argv[1], 80), timeout=10) as c:
        data = b""
        while not data.endswith(b"\n"):
            chunk = c.recv(64)
            if not chunk:
                break
            data += chunk
        if data == b"hello\n":
            ok += 1
print("ok", ok)
sys.exit(0 if ok == 50 else 1)
PY
log "50 connections to the server after the ACKs: all answered; conntrack $(on gateway "$GW" conntrack "$ctl" -C)"
