#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# gw under systemd's eyes (Type=notify, WatchdogSec=, journald's stderr),
# with tests/netns/notify_listen.py standing in for $NOTIFY_SOCKET:
#
#   ┌──────────────────────────────────────────────┐
#   │ gateway                                      │
#   │  gw run gw0.conf   ── sd_notify ──▶ notify_listen.py ($TMP/notify.sock)
#   │   TUN gw0 10.8.0.1/24, Rules (conntrack, LOG)│
#   │   stderr: $TMP/gw.log = $JOURNAL_STREAM      │
#   └──────────────────────────────────────────────┘
#
# - a config gw refuses: the error line at <3>, and no READY=1;
# - READY=1 (with STATUS=) comes from gw's own PID once the control socket
#   accepts connections; WATCHDOG=1 follows ($WATCHDOG_USEC, $WATCHDOG_PID);
# - STATUS= follows conntrack use (UDP from the host to a peer);
# - every log line carries a priority: LogLevel = notice hides info lines,
#   a LOG rule's lines come at its --log-level (7) all the same, and 600
#   datagrams through the LOG rule are cut to a burst and a "suppressed N" line;
# - SIGHUP: RELOADING=1 with MONOTONIC_USEC=, then READY=1, and the file's
#   new LogLevel; SIGTERM: STOPPING=1, exit 0.
. "$(dirname "$0")/lib.sh"

host_add gateway
gw_priv=$("$GW" genkey)
cl_pub=$("$GW" genkey | "$GW" pubkey)
ctl=$TMP/gw0.ctl
sock=$TMP/notify.sock
nlog=$TMP/notify.log
: > "$nlog"
cat > "$TMP/gw0.rules" <<'EOR'
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A OUTPUT -j LOG --log-prefix "gw82 " --log-level 7
COMMIT
EOR
conf() { # conf LOGLEVEL
	cat <<EOC
[Interface]
PrivateKey = $gw_priv
ListenPort = 51820
Address = 10.8.0.1/24
ControlSocket = $ctl
UapiSocket = $TMP/gw0.uapi
Rules = $TMP/gw0.rules
LogLevel = $1

[Peer]
PublicKey = $cl_pub
AllowedIPs = 10.8.0.2/32
EOC
}

# udp_to N: N datagrams from the host to the peer's address (into the TUN:
# no session, so none goes further)
udp_to() {
	on gateway python3 -c 'import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(int(sys.argv[1])):
    try:
        s.sendto(b"gw82", ("10.8.0.2", 9))
    except OSError:
        pass' "$1"
}

bg gateway python3 "$TOP/tests/netns/notify_listen.py" "$sock" "$nlog" --ctl "$ctl"
wait_for 10 test -S "$sock"

# run_gw CONF: gw as systemd starts it: $NOTIFY_SOCKET, a watchdog of 1 s for
# its own PID (sh's, which execs gw), stderr a stream named by $JOURNAL_STREAM
run_gw() {
	: >> "$TMP/gw.log"
	NOTIFY_SOCKET=$sock WATCHDOG_USEC=1000000 \
		JOURNAL_STREAM=$(stat -c '%d:%i' "$TMP/gw.log") \
		bg gateway sh -c 'WATCHDOG_PID=$$ exec "$0" run "$1"' "$GW" "$1" 2>> "$TMP/gw.log"
	gw_pid=$BG_PID
}

log "a config gw refuses: <3> and no READY=1"
conf loud > "$TMP/gw0.conf"
run_gw "$TMP/gw0.conf"
rc=0
wait "$gw_pid" || rc=$?
[ "$rc" = 1 ] || fail "gw run with LogLevel = loud exited $rc"
grep -qxF "<3>$TMP/gw0.conf:8: LogLevel: 'loud' is not error, warning, notice, info or debug" \
	"$TMP/gw.log" || fail "no <3> config error: $(cat "$TMP/gw.log")"
[ ! -s "$nlog" ] || fail "a gw that did not start told systemd: $(cat "$nlog")"
: > "$TMP/gw.log"

log "READY=1 once the control socket is up, STATUS=, WATCHDOG=1"
conf notice > "$TMP/gw0.conf"
run_gw "$TMP/gw0.conf"
wait_for 20 grep -q "READY=1" "$nlog"
"$GW" show "$ctl" > /dev/null || fail "READY=1 sent, but gw show fails"
ready=$(grep -m1 "READY=1" "$nlog")
[ "$(cut -f1 <<< "$ready")" = "$gw_pid" ] || fail "READY=1 not from gw ($gw_pid): $ready"
grep -q "	ctl=up" <<< "$ready" || fail "READY=1 before the control socket took connections"
grep -qF "	STATUS=1 peer, 0 active; conntrack 0/65536" <<< "$ready" ||
	fail "no STATUS= with READY=1: $ready"
wait_for 20 grep -q "^$gw_pid	WATCHDOG=1" "$nlog"

log "STATUS= follows conntrack use"
udp_to 1
wait_for 20 grep -q "^$gw_pid	.*STATUS=1 peer, 0 active; conntrack [1-9][0-9]*/65536" "$nlog"

log "log lines: priorities, LogLevel = notice, LOG at --log-level 7, rate limits"
wait_for 10 grep -q '^<7>gw: gw82 IN= OUT=gw0 SRC=10.8.0.1 DST=10.8.0.2 .* PROTO=UDP ' "$TMP/gw.log"
grep -q '^<5>gw: gw0: up, listening on port 51820' "$TMP/gw.log" || fail "no <5> 'up' line"
grep -q 'netfilter on' "$TMP/gw.log" && fail "an info line with LogLevel = notice"
bad=$(grep -v '^<[0-7]>gw: ' "$TMP/gw.log" || true)
[ -z "$bad" ] || fail "log lines without a priority: $bad"
# more than a burst of datagrams through the LOG rule: the burst, then
# after the interval the count of those dropped
udp_to 600
suppressed() {
	udp_to 1
	grep -q '^<7>gw: suppressed [0-9]* messages like the next one$' "$TMP/gw.log"
}
wait_for 30 suppressed
n=$(grep -c '^<7>gw: gw82 ' "$TMP/gw.log")
[ "$n" -lt 600 ] || fail "$n LOG lines for 600+ datagrams: no rate limit"
log "  $n LOG lines for 600+ datagrams: $(grep -m1 'suppressed' "$TMP/gw.log" | cut -c1-60)"

log "SIGHUP: RELOADING=1 with MONOTONIC_USEC=, then READY=1; LogLevel from the file"
conf info > "$TMP/gw0.conf"
mark=$(wc -l < "$nlog")
kill -HUP "$gw_pid"
ready_again() { tail -n +"$((mark + 1))" "$nlog" | grep -q "READY=1"; }
wait_for 20 ready_again
after=$(tail -n +"$((mark + 1))" "$nlog" | grep -v "^$gw_pid	WATCHDOG=1$" | grep -v "^$gw_pid	WATCHDOG=1	STATUS=")
grep -qE "^$gw_pid	RELOADING=1	MONOTONIC_USEC=[0-9]+$" <<< "$(head -1 <<< "$after")" ||
	fail "the reload did not begin with RELOADING=1: $after"
grep -q "^$gw_pid	READY=1	STATUS=" <<< "$(sed -n 2p <<< "$after")" ||
	fail "no READY=1 after RELOADING=1: $after"
wait_for 10 grep -q '^<5>gw: gw0: SIGHUP: LogLevel info$' "$TMP/gw.log"
wait_for 10 grep -q '^<5>gw: gw0: SIGHUP: peers from' "$TMP/gw.log"

log "SIGTERM: STOPPING=1, exit 0"
kill -TERM "$gw_pid"
rc=0
wait "$gw_pid" || rc=$?
[ "$rc" = 0 ] || fail "gw exited $rc on SIGTERM"
grep -q "^$gw_pid	STOPPING=1" "$nlog" || fail "no STOPPING=1: $(tail -3 "$nlog")"
log "gw told systemd: ready, reloading, ready, watchdog, status, stopping"
