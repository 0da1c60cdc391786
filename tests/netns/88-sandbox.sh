#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# gw inside the system call filter of contrib/systemd/gw@.service, and
# inside its own (gw/sandbox.h):
#
#   ┌────────────────┐ eth0      lan0 ┌──────────────────────────────────┐ eth0          eth0 ┌──────────┐
#   │ client         │ 192.0.2.2   .1 │ gateway                          │ 198.51.100.1        │ internet │
#   │  wireguard-go  ├───── veth ─────┤  syscall_filter @system-service  ├─────── veth ────────┤ .100.2   │
#   └────────────────┘                │   gw run, User = nobody          │                     └──────────┘
#                                     └──────────────────────────────────┘
#
# 1. every call of gw/sandbox_syscalls.h is in the unit's SystemCallFilter=
#    (systemd-analyze syscall-filter expands its sets);
# 2. gw started under exactly that set (tests/netns/syscall_filter: any other
#    call kills the process, as systemd does), setup and all: Seccomp 2 with
#    two filters (the unit's, gw's own), traffic through the NAT, gw stats,
#    SIGHUP, a rules restore, the uplink's address changing, SIGTERM exits 0
#    and cleans up;
# 3. GW_SECCOMP=off: no filter of gw's own, and a warning says so.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/gateway.sh"

# SAN builds: LeakSanitizer's check at exit stops the threads with ptrace
# (gw/sandbox.c allows its calls in those builds only); the unit's filter
# would kill it, so the test adds them to the unit's set there
SAN_CALLS=""
case $GW in
*/build/san/*) FILTER=$TOP/build/san/tests/netns/syscall_filter
	SAN_CALLS="ptrace wait4 waitid getppid getdents" ;;
*) FILTER=$TOP/build/rel/tests/netns/syscall_filter ;;
esac
[ -x "$FILTER" ] || fail "no $FILTER (make netns builds it)"
command -v systemd-analyze > /dev/null || fail "no systemd-analyze (Debian: systemd)"
UNIT=$TOP/contrib/systemd/gw@.service

# expand SET: the calls systemd puts in SET, sets expanded
expand() {
	systemd-analyze syscall-filter "$1" | awk 'NR > 1 && !/^ *#/ && NF { print $1 }' |
		while read -r n; do
			case $n in @*) expand "$n" ;; *) echo "$n" ;; esac
		done
}

log "1. gw's calls are inside the unit's SystemCallFilter="
filter=$(sed -n 's/^SystemCallFilter=//p' "$UNIT")
[ -n "$filter" ] || fail "no SystemCallFilter= in $UNIT"
for item in $filter; do
	case $item in
	~*) fail "a deny list in SystemCallFilter= (this test adds sets only): $item" ;;
	@*) expand "$item" ;;
	*) echo "$item" ;;
	esac
done | sort -u > "$TMP/allowed"
[ "$(wc -l < "$TMP/allowed")" -gt 100 ] || fail "SystemCallFilter= expands to: $(cat "$TMP/allowed")"
sed -n 's/^SANDBOX_SYSCALL\(_EXEC\)\{0,1\}(\(.*\))$/\2/p' "$TOP/gw/sandbox_syscalls.h" | sort -u > "$TMP/gw-calls"
[ "$(wc -l < "$TMP/gw-calls")" -gt 50 ] || fail "gw/sandbox_syscalls.h: $(wc -l < "$TMP/gw-calls") calls"
out=$(comm -23 "$TMP/gw-calls" "$TMP/allowed")
[ -z "$out" ] || fail "gw allows calls the unit does not: $out"
log "  $(wc -l < "$TMP/gw-calls") calls, all in the unit's $(wc -l < "$TMP/allowed")"

log "2. gw under the unit's filter, User = nobody"
chmod 0711 "$TMP" # uid 65534 reads the Rules file again on SIGHUP
REAL_GW=$GW
{ cat "$TMP/allowed"; printf '%s\n' $SAN_CALLS; } > "$TMP/allowed-run"
cat > "$TMP/gw-filtered" <<EOS
#!/bin/sh
exec "$FILTER" "$TMP/allowed-run" "$REAL_GW" "\$@"
EOS
chmod 0755 "$TMP/gw-filtered"
GW=$TMP/gw-filtered
GW_IFACE_EXTRA="User = nobody" gateway_world
G() { on gateway "$GW" "$@"; }
wait_for 10 G stats "$ctl"
st=/proc/$gw_pid/status
[ "$(sed -n 's/^Seccomp:[[:space:]]*//p' "$st")" = 2 ] || fail "$(grep ^Seccomp "$st")"
filters=$(sed -n 's/^Seccomp_filters:[[:space:]]*//p' "$st")
[ -z "$filters" ] || [ "$filters" = 2 ] || fail "Seccomp_filters: $filters, expected 2"
[ "$(sed -n 's/^NoNewPrivs:[[:space:]]*//p' "$st")" = 1 ] || fail "$(grep ^NoNewPrivs "$st")"
[ "$(sed -n 's/^CapPrm:[[:space:]]*//p' "$st")" = 0000000000001000 ] || fail "$(grep ^CapPrm "$st")"
grep -q "gw0: seccomp: [0-9]* system calls allowed" "$TMP/gw.log" ||
	fail "no seccomp line: $(cat "$TMP/gw.log")"
log "  /proc/PID/status: Seccomp 2, Seccomp_filters ${filters:-?}, NoNewPrivs 1, CapPrm cap_net_admin"

ping() { [ "$(icmp_echo "$1" "$2")" = "reply $2" ]; }
ping client $SRV || fail "ping $SRV through the NAT"
head -c 200000 /dev/urandom > "$TMP/data"
bg internet socat -u TCP-LISTEN:7000,reuseaddr - > "$TMP/recv"
rx=$BG_PID
wait_tcp internet 7000
on client timeout 30 socat -u - TCP:$SRV:7000 < "$TMP/data" || fail "socat through the NAT"
wait "$rx" || true
cmp -s "$TMP/data" "$TMP/recv" || fail "TCP through the NAT: not intact"

log "  SIGHUP, a rules restore, the uplink's address changing"
chmod 0644 "$TMP/gw0.rules"
kill -HUP "$gw_pid"
wait_for 5 grep -q "SIGHUP: rules reloaded" "$TMP/gw.log"
G rules "$ctl" restore "$TMP/gw0.rules" || fail "rules restore"
G conntrack "$ctl" -L > /dev/null 2>&1 || fail "gw conntrack -L"
on gateway sysctl -qw net.ipv4.conf.eth0.promote_secondaries=1
on gateway ip addr add 198.51.100.3/24 dev eth0
on gateway ip addr del $UPL/24 dev eth0
wait_for 5 grep -q "address $UPL -> 198.51.100.3" "$TMP/gw.log"
ping client $SRV || fail "ping $SRV after the address change"
grep -q "seccomp: forbidden" "$TMP/gw.log" && fail "$(grep seccomp "$TMP/gw.log")"
kill -TERM "$gw_pid"
wait "$gw_pid" || fail "gw exited with $? ($(tail -3 "$TMP/gw.log"))"
[ -z "$(on gateway tc filter show dev eth0 ingress)" ] || fail "tc filter left behind"

log "3. GW_SECCOMP=off: no filter of gw's own"
GW=$REAL_GW
: > "$TMP/gw-off.log"
GW_SECCOMP=off bg gateway "$GW" run "$TMP/gw0.conf" 2> "$TMP/gw-off.log"
gw_pid=$BG_PID
wait_for 10 test -S "$ctl"
wait_for 5 grep -q "seccomp: off (GW_SECCOMP=off)" "$TMP/gw-off.log"
[ "$(sed -n 's/^Seccomp:[[:space:]]*//p' "/proc/$gw_pid/status")" = 0 ] ||
	fail "GW_SECCOMP=off: $(grep ^Seccomp "/proc/$gw_pid/status")"
kill -TERM "$gw_pid"
wait "$gw_pid" || fail "gw exited with $?"
log "gw runs inside @system-service and its own filter; GW_SECCOMP=off turns its own off"
