#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# SIGUSR2: an in-place upgrade that hands the sockets over (gw/handover.h).
# The world of gateway.sh, gw run as User = nobody from a copy of the binary
# at $TMP/gw-bin, KeepState in a directory of nobody's:
#
#   client (wireguard-go) ── wg ── gateway (gw, MASQUERADE) ── internet (server)
#
#   1. a 20 MB upload and a 20 MB download through the NAT, both held
#      half-way; $TMP/gw-bin is replaced by another copy (a rename over it:
#      a new inode) and gw gets SIGUSR2: the PID stays, /proc/PID/exe is the
#      new inode, the TUN device never goes (ip monitor sees no deletion, the
#      ifindex is the same), both transfers end intact (sha256) with their
#      NAT ports (one connection from one port at the server), no new
#      handshake, gw show answers, Seccomp 2, NoNewPrivs 1 and the same
#      CapEff as before, and the state file is gone
#   2. SIGUSR2 with the binary's path removed: the failure is logged, no
#      state file is left, gw runs on (same PID) and forwards a new
#      connection; with a config asking for more Workers, another User,
#      ListenPort, MTU or Address, or a rules file that does not load (the
#      line named): refused, gw runs on without starting again
#   3. without KeepState: SIGUSR2 is refused with a log line, gw runs on
#   4. as the systemd unit runs it (uid nobody from the start, ambient
#      CAP_NET_ADMIN and CAP_NET_RAW, that bounding set, no_new_privs),
#      started by a relative path to a symlink: SIGUSR2 after the symlink
#      is re-pointed to a new binary runs that one, twice (the second from
#      an image a re-exec started), keeps CapEff and CapBnd, gw forwards
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/gateway.sh"

SIZE=20000000
chmod 0711 "$TMP"
mkdir "$TMP/state"
chown nobody "$TMP/state"
chmod 0700 "$TMP/state"
STATE=$TMP/state/gw0.state
BIN=$TMP/gw-bin
cp "$GW" "$BIN"
GW_BUILT=$GW
GW=$BIN GW_IFACE_EXTRA="User = nobody
KeepState = $STATE" gateway_world
GW=$GW_BUILT
status() { awk -v k="$1:" '$1 == k {print $2}' "/proc/$gw_pid/status"; }
ups() { grep -c ': up, listening on port' "$TMP/gw.log" || true; }
ifindex() { on gateway cat /sys/class/net/gw0/ifindex; }

# --- 1. an upgrade under load -------------------------------------------------
log "1. 20 MB each way through the NAT, held half-way; SIGUSR2 with a new binary meanwhile"
bg gateway ip monitor link > "$TMP/monitor"
held_start
idx1=$(ifindex)
cap1=$(status CapEff)
[ "$(status Seccomp)" = 2 ] || fail "no seccomp filter before the upgrade"
ino_old=$(stat -L -c %i "/proc/$gw_pid/exe")
cp "$GW" "$BIN.new"
mv "$BIN.new" "$BIN"
ino_new=$(stat -c %i "$BIN")
[ "$ino_new" != "$ino_old" ] || fail "the new binary has the old inode"
# the client's latest handshake just before and just after: the same, unless
# its keys were due anyway (REKEY_AFTER_TIME, 120 s: a slow run)
hs1=$(handshake)
[ -n "$hs1" ] && [ "$hs1" != 0 ] || fail "the client has no handshake: $hs1"
kill -USR2 "$gw_pid"
upgraded() { [ "$(ups)" = 2 ]; }
wait_for 20 upgraded
same_handshake "$hs1"
kill -0 "$gw_pid" || fail "gw is gone: $(tail -5 "$TMP/gw.log")"
grep -q 'SIGUSR2: executing .*descriptor(s) handed over' "$TMP/gw.log" ||
	fail "no hand-over logged: $(grep SIGUSR2 "$TMP/gw.log")"
[ "$(stat -L -c %i "/proc/$gw_pid/exe")" = "$ino_new" ] ||
	fail "gw runs inode $(stat -L -c %i "/proc/$gw_pid/exe"), not the new $ino_new"
[ ! -e "$STATE" ] || fail "the state file is still there after the upgrade"
grep -Eq 'KeepState: [1-9][0-9]* connection\(s\) carried over' "$TMP/gw.log" ||
	fail "no connection carried over: $(grep KeepState "$TMP/gw.log")"
held_finish
same_handshake "$hs1"
[ "$(ifindex)" = "$idx1" ] || fail "gw0's ifindex was $idx1, is $(ifindex)"
! grep -q '^Deleted.*gw0' "$TMP/monitor" || fail "gw0 was deleted: $(grep gw0 "$TMP/monitor")"
on gateway "$GW" show "$ctl" > "$TMP/show" || fail "gw show: no answer"
grep -q 'latest handshake' "$TMP/show" || fail "gw show has no handshake: $(cat "$TMP/show")"
[ "$(status Seccomp)" = 2 ] || fail "Seccomp $(status Seccomp) after the upgrade"
[ "$(status NoNewPrivs)" = 1 ] || fail "NoNewPrivs $(status NoNewPrivs) after the upgrade"
[ "$(status CapEff)" = "$cap1" ] || fail "CapEff $(status CapEff) after the upgrade, was $cap1"
[ "$(stat -c %u "/proc/$gw_pid")" = "$(id -u nobody)" ] || fail "gw is not nobody's after the upgrade"
log "  pid $gw_pid, inode $ino_old -> $ino_new, gw0 ifindex $idx1 kept, transfers intact," \
    "NAT ports $p_up and $p_down kept, handshake unchanged, CapEff $cap1"

# --- 2. the binary gone -------------------------------------------------------
log "2. SIGUSR2 with the binary's path removed: gw runs on"
rm "$BIN"
kill -USR2 "$gw_pid"
failed() { grep -q 'SIGUSR2: the upgrade failed, running on' "$TMP/gw.log"; }
wait_for 20 failed
grep -q "SIGUSR2: executing $BIN: No such file or directory" "$TMP/gw.log" ||
	fail "the failure is not logged: $(grep SIGUSR2 "$TMP/gw.log")"
kill -0 "$gw_pid" || fail "gw is gone"
[ ! -e "$STATE" ] || fail "a state file is left after the failed upgrade"
head -c 1000000 /dev/urandom > "$TMP/data"
tcp_xfer client internet "$SRV" 7002
on gateway "$GW" show "$ctl" > /dev/null || fail "gw show: no answer after the failed upgrade"
log "  logged, no state file, a new connection through the NAT"
# refused FILE WHY EDIT...: with FILE changed by EDIT (a command), SIGUSR2
# is refused with "SIGUSR2 refused, running on: WHY" (a regex), gw runs on
# without starting again; FILE is put back
refused() {
	local file=$1 why=$2
	shift 2
	cp "$file" "$file.orig"
	"$@"
	kill -USR2 "$gw_pid"
	_refused() { grep -q "SIGUSR2 refused, running on: $why" "$TMP/gw.log"; }
	wait_for 10 _refused
	cp "$file.orig" "$file"
	[ "$(ups)" = 2 ] || fail "gw started again ($why)"
	kill -0 "$gw_pid" || fail "gw is gone after a refused SIGUSR2 ($why)"
	log "  $(grep -o "SIGUSR2 refused, running on: $why.*" "$TMP/gw.log" | head -1)"
}
cp "$GW" "$BIN"
# more workers than there are queues and sockets to hand over
refused "$TMP/gw0.conf" 'the config asks for more than' \
	sed -i 's/^Workers = .*/Workers = 64/' "$TMP/gw0.conf"
# a rules file the new image could not load: the line named
bad_rules() { printf '*filter\n-A FORWARD -j NO_SUCH_TARGET\nCOMMIT\n' >> "$TMP/gw0.rules"; }
refused "$TMP/gw0.rules" '.*gw0.rules:[0-9]*: ' bad_rules
# what the new image could not do with the privileges gw kept
refused "$TMP/gw0.conf" 'User changed' sed -i 's/^User = .*/User = root/' "$TMP/gw0.conf"
refused "$TMP/gw0.conf" 'ListenPort changed' \
	sed -i 's/^ListenPort = .*/ListenPort = 51821/' "$TMP/gw0.conf"
# the device keeps its MTU and addresses across the hand-over
refused "$TMP/gw0.conf" 'MTU changed' sed -i '/^Address = 10.8.0.1/a MTU = 1380' "$TMP/gw0.conf"
refused "$TMP/gw0.conf" 'Address changed' \
	sed -i 's#^Address = 10.8.0.1/24#Address = 10.8.0.1/25#' "$TMP/gw0.conf"

# --- 3. without KeepState -----------------------------------------------------
log "3. without KeepState: SIGUSR2 refused"
kill -INT "$gw_pid"
wait "$gw_pid" 2> /dev/null || true
sed -i '/^KeepState = /d' "$TMP/gw0.conf"
bg gateway "$GW" run "$TMP/gw0.conf" 2> "$TMP/gw3.log"
gw_pid=$BG_PID
wait_for 10 grep -q ': up, listening on port' "$TMP/gw3.log"
wait_for 10 test -S "$ctl"
kill -USR2 "$gw_pid"
refused() { grep -q 'SIGUSR2 refused: an in-place upgrade needs KeepState' "$TMP/gw3.log"; }
wait_for 10 refused
kill -0 "$gw_pid" || fail "gw is gone after a refused SIGUSR2"
on gateway "$GW" show "$ctl" > /dev/null || fail "gw show: no answer after a refused SIGUSR2"
tcp_xfer client internet "$SRV" 7003

# --- 4. as the systemd unit runs gw -------------------------------------------
log "4. started as nobody with ambient cap_net_admin,cap_net_raw (the unit): SIGUSR2"
kill -INT "$gw_pid"
wait "$gw_pid" 2> /dev/null || true
mkdir -m 0700 "$TMP/n"
chown nobody "$TMP/n"
ctl=$TMP/n/gw0.sock
sed -i -e "s#^ControlSocket = .*#ControlSocket = $ctl#" \
	-e "s#^UapiSocket = .*#UapiSocket = $TMP/n/gw0.uapi#" -e "/^User = nobody/a KeepState = $STATE" \
	"$TMP/gw0.conf"
cp "$GW" "$BIN"
# started by a relative path (./bin/gw from $TMP/n), a symlink to the
# binary: each upgrade re-points the symlink
mkdir "$TMP/n/bin"
ln -s "$BIN" "$TMP/n/bin/gw"
# /dev/net/tun for uid nobody: a 0666 node bound over it (as test 63 does)
# in a mount namespace of gw's own, unless nobody can open it already
setpriv --reuid=nobody --regid=nogroup --clear-groups sh -c ': < /dev/net/tun' 2> /dev/null ||
	mknod -m 0666 "$TMP/n/tun" c 10 200
caps=-all,+net_admin,+net_raw
bg gateway unshare -m sh -c '
	if [ -e "$0/n/tun" ]; then mount --bind "$0/n/tun" /dev/net/tun || exit 1; fi
	cd "$0/n" || exit 1
	exec setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps='$caps' \
		--ambient-caps='$caps' --bounding-set='$caps' --no-new-privs -- \
		./bin/gw run "$0/gw0.conf"' "$TMP" 2> "$TMP/gw4.log"
gw_pid=$BG_PID
wait_for 10 grep -q ': up, listening on port' "$TMP/gw4.log"
wait_for 10 test -S "$ctl"
cap1=$(status CapEff) bnd1=$(status CapBnd)
# upgrade K: the symlink re-pointed to a new copy $BIN.K, SIGUSR2, that
# copy runs; the second runs in an image a re-exec started (the filter
# inherited): it found its path without asking for the current directory
upgrade_link() {
	local k=$1 ino
	cp "$GW" "$BIN.$k"
	ln -s "$BIN.$k" "$TMP/n/bin/gw.new"
	mv -T "$TMP/n/bin/gw.new" "$TMP/n/bin/gw"
	ino=$(stat -c %i "$BIN.$k")
	kill -USR2 "$gw_pid"
	ups4() { [ "$(grep -c ': up, listening on port' "$TMP/gw4.log")" = "$k" ]; }
	wait_for 20 ups4
	[ "$(grep -c "SIGUSR2: executing $TMP/n/bin/gw," "$TMP/gw4.log")" = "$((k - 1))" ] ||
		fail "not the path gw was started by: $(grep 'SIGUSR2: executing' "$TMP/gw4.log")"
	[ "$(stat -L -c %i "/proc/$gw_pid/exe")" = "$ino" ] ||
		fail "gw runs inode $(stat -L -c %i "/proc/$gw_pid/exe"), not the symlink's new target $ino"
}
upgrade_link 2
upgrade_link 3
[ "$(status CapEff)" = "$cap1" ] || fail "CapEff $(status CapEff) after the upgrade, was $cap1"
[ "$(status CapBnd)" = "$bnd1" ] || fail "CapBnd $(status CapBnd) after the upgrade, was $bnd1"
[ "$(status NoNewPrivs)" = 1 ] || fail "NoNewPrivs $(status NoNewPrivs) after the upgrade"
[ "$(status Seccomp)" = 2 ] || fail "Seccomp $(status Seccomp) after the upgrade"
on gateway "$GW" show "$ctl" > /dev/null || fail "gw show: no answer after the upgrade"
tcp_xfer client internet "$SRV" 7004
log "  twice by the re-pointed symlink; CapEff $cap1, CapBnd $bnd1 kept; a new connection through the NAT"
log "ok"
