#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# KeepState: a restart that keeps the connections (gw/keep.h).  The world of
# gateway.sh, gw run as User = nobody from a copy of the binary, KeepState
# in a directory of nobody's:
#
#   client (wireguard-go) ── wg ── gateway (gw, MASQUERADE) ── internet (server)
#
#   1. a 20 MB upload and a 20 MB download through the NAT, both held
#      half-way; gw stops (SIGTERM): the state file is nobody's, mode 0600,
#      the tc filter and the reserved NatPorts stay; the download's gate
#      opens while no gw runs, and the server's segments reach the gateway
#      (its counters grow) without a RST or ICMP from the gateway's kernel
#      (tcpdump on the server's side); gw starts again from another copy
#      of the binary (an upgrade): the file is gone, both transfers end
#      intact (sha256), each connection kept its NAT port (the server saw
#      one connection from one port, conntrack has it), and neither side
#      made a new handshake (the client's latest handshake is unchanged)
#   2. every way of spoiling the file is refused with its own log line and
#      gw starts fresh (empty conntrack, the tc filter and the ports taken
#      over all the same): not a state file, another version, a flipped
#      body byte, a flipped MAC byte, truncated at 0, 7, 59, 91 bytes, half
#      and one byte short, a byte appended, readable by others, written for
#      another PrivateKey (a real file of another config's key)
#   3. SIGINT (or no KeepState) exits cleaning up as always: the tc filter
#      and the reserved ports are gone
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/gateway.sh"

SIZE=20000000
NOBODY=$(id -u nobody)
chmod 0711 "$TMP"
mkdir "$TMP/state"
chown nobody "$TMP/state"
chmod 0700 "$TMP/state"
STATE=$TMP/state/gw0.state
cp "$GW" "$TMP/gw-a"
cp "$GW" "$TMP/gw-b"
GW_A=$TMP/gw-a GW_B=$TMP/gw-b
GW=$GW_A GW_IFACE_EXTRA="User = nobody
KeepState = $STATE" gateway_world
GW=$GW_B
filter() { on gateway tc filter show dev eth0 ingress | grep -c 'pref 49374 bpf .*handle 0x1 direct-action' || true; }
reserved() { on gateway cat /proc/sys/net/ipv4/ip_local_reserved_ports; }
# start_gw BIN LOG: gw run again (the config of gateway_world); sets gw_pid
start_gw() {
	bg gateway "$1" run "$TMP/gw0.conf" 2> "$2"
	gw_pid=$BG_PID
	# (after User = nobody the last one could not remove its sockets)
	wait_for 10 grep -q ': up, listening on port' "$2"
	wait_for 10 test -S "$ctl"
}
# stop_gw SIGNAL: gw ends (and is reaped)
stop_gw() {
	kill "-$1" "$gw_pid"
	wait "$gw_pid" 2> /dev/null || true
}
[ "$(filter)" = 1 ] || fail "no tc filter at start"

# --- 1. a restart under load ------------------------------------------------
log "1. 20 MB each way through the NAT, held half-way; gw restarted meanwhile"
bg internet tcpdump -i eth0 -n -U --immediate-mode -w "$TMP/srv.pcap" \
	"src host $UPL and (icmp or tcp[tcpflags] & tcp-rst != 0)" 2> "$TMP/cap.err"
cap=$BG_PID
wait_for 10 grep -q 'listening on' "$TMP/cap.err"
held_start
ct_has "dport=$p_up " || fail "conntrack has no entry with NAT port $p_up"
res1=$(reserved)
hs1=$(handshake)
[ -n "$hs1" ] && [ "$hs1" != 0 ] || fail "the client has no handshake: $hs1"

stop_gw TERM
grep -q "KeepState: state written to $STATE" "$TMP/gw.log" || fail "no state written: $(tail -3 "$TMP/gw.log")"
[ "$(stat -c '%u %a' "$STATE")" = "$NOBODY 600" ] ||
	fail "state file is $(stat -c '%U %a' "$STATE"), not nobody's with mode 600"
[ ! -e "$STATE.tmp" ] || fail "$STATE.tmp left behind"
[ "$(filter)" = 1 ] || fail "the tc filter went with gw (KeepState)"
[ "$(reserved)" = "$res1" ] || fail "reserved ports changed at exit: '$(reserved)' (was '$res1')"
# while no gw runs: the server's segments reach the gateway's kernel
rxp() { on gateway cat /sys/class/net/eth0/statistics/rx_packets; }
rx0=$(rxp)
touch "$TMP/go-down"
grown() { [ "$(rxp)" -ge $((rx0 + 3)) ]; }
wait_for 20 grown
start_gw "$GW_B" "$TMP/gw2.log"
[ ! -e "$STATE" ] || fail "the state file is still there after the start"
grep -q 'KeepState: state of .* read from' "$TMP/gw2.log" || fail "state not read: $(cat "$TMP/gw2.log")"
grep -Eq 'KeepState: [1-9][0-9]* connection\(s\) carried over' "$TMP/gw2.log" ||
	fail "no connection carried over: $(grep KeepState "$TMP/gw2.log")"
[ "$(readlink "/proc/$gw_pid/exe")" = "$GW_B" ] || fail "gw runs $(readlink "/proc/$gw_pid/exe")"
held_finish
same_handshake "$hs1"
on gateway "$GW" show "$ctl" > "$TMP/show"
grep -q 'latest handshake' "$TMP/show" || fail "gw show has no handshake: $(cat "$TMP/show")"
kill -INT "$cap"
wait "$cap" 2> /dev/null || true
n=$(on internet tcpdump -n -r "$TMP/srv.pcap" 2> /dev/null | wc -l)
[ "$n" = 0 ] || fail "the gateway sent $n RST/ICMP: $(on internet tcpdump -n -r "$TMP/srv.pcap" 2> /dev/null | head -3)"
log "  transfers intact, NAT ports $p_up and $p_down kept, handshake unchanged"

# --- 2. spoiled files ---------------------------------------------------------
log "2. spoiled state files are refused, gw starts fresh"
stop_gw TERM
cp -p "$STATE" "$TMP/good.state"
len=$(stat -c %s "$TMP/good.state")
[ "$len" -gt 200 ] || fail "state file of $len bytes"
# flip FILE OFFSET: one byte xor 0xff
flip() {
	python3 -c 'import sys; p, o = sys.argv[1], int(sys.argv[2]); b = bytearray(open(p, "rb").read()); b[o] ^= 0xff; open(p, "wb").write(b)' "$1" "$2"
}
# try NAME WHY PREPARE...: the good file spoiled by PREPARE (run on $STATE),
# then gw must say "refused (WHY)" and start with an empty table
try() {
	local name=$1 why=$2; shift 2
	cp -p "$TMP/good.state" "$STATE"
	"$@"
	start_gw "$GW_B" "$TMP/gw-$name.log"
	grep -qF "KeepState $STATE: refused ($why): starting fresh" "$TMP/gw-$name.log" ||
		fail "$name: not refused as '$why': $(grep KeepState "$TMP/gw-$name.log")"
	[ ! -e "$STATE" ] || fail "$name: the spoiled file is still there"
	[ "$(on gateway "$GW" conntrack "$ctl" -C)" = 0 ] || fail "$name: conntrack not empty"
	[ "$(filter)" = 1 ] || fail "$name: no tc filter"
	stop_gw TERM
}
trunc() { truncate -s "$1" "$STATE"; }
try magic "not a gw state file" flip "$STATE" 0
try version "written by another version of gw (file format version differs)" flip "$STATE" 8
try body "bad checksum" flip "$STATE" $((len / 2))
try mac "bad checksum" flip "$STATE" $((len - 1))
for t in 0 7 59 91 $((len / 2)) $((len - 1)); do
	try "trunc$t" truncated trunc "$t"
done
try append "longer than its header says" sh -c "printf x >> '$STATE'"
# readable by others: refused before it is read
cp -p "$TMP/good.state" "$STATE"
chmod 0644 "$STATE"
start_gw "$GW_B" "$TMP/gw-mode.log"
grep -q "KeepState $STATE: readable by others than its owner (mode 644): refused, starting fresh" \
	"$TMP/gw-mode.log" || fail "a world-readable file was not refused: $(grep KeepState "$TMP/gw-mode.log")"
[ ! -e "$STATE" ] || fail "the world-readable file is still there"
stop_gw TERM
# another config's key: a real file written by gw with another PrivateKey
cp "$TMP/gw0.conf" "$TMP/gw0.conf.orig"
sed -i "s|^PrivateKey = .*|PrivateKey = $("$GW" genkey)|" "$TMP/gw0.conf"
rm -f "$STATE"
start_gw "$GW_B" "$TMP/gw-other.log"
stop_gw TERM
[ -e "$STATE" ] || fail "gw with another key wrote no state"
cp -p "$STATE" "$TMP/other.state"
cp "$TMP/gw0.conf.orig" "$TMP/gw0.conf"
try otherkey "written for another PrivateKey" cp -p "$TMP/other.state" "$STATE"
log "  magic, version, body, MAC, 6 truncations, appended, mode, another key: refused"

# --- 3. SIGINT cleans up ------------------------------------------------------
log "3. SIGINT: the tc filter and the reserved ports go"
cp -p "$TMP/good.state" "$STATE"
start_gw "$GW_B" "$TMP/gw-int.log"
stop_gw INT
[ ! -e "$STATE" ] || fail "SIGINT wrote a state file"
[ "$(filter)" = 0 ] || fail "the tc filter stays after SIGINT"
case ",$(reserved)," in
*61000-61999*) fail "NatPorts still reserved after SIGINT: $(reserved)" ;;
esac
log "ok"
