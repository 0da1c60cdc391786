#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Two clients, the same source port, at once: the world of gateway.sh with a
# second stock wireguard-go client (client2, 10.8.0.3, on its own link lan1)
# and the far host behind the internet router (gateway_far).
#
#   client  10.8.0.2 ─ wg ─┐
#                          ├─ gateway (gw, MASQUERADE, NatPorts 61000-61999) ─ internet ─ far
#   client2 10.8.0.3 ─ wg ─┘
#
# Both clients, from the same port, at the same time:
#   TCP upload (8 MB each, held open half-way until both flows are in
#     conntrack): two entries, two different NatPorts; the server stores each
#     connection by its peer port, and each holds what that client sent
#   TCP download (8 MB each) from port 40001: both arrive intact, two ports
#   UDP exchanges from port 40002: all answered, two ports
#   ICMP echo with the same identifier: both answered with it; TTL exceeded
#     from the router quotes each client's own echo (identifier restored)
# Every NAT port the server sees is in NatPorts (MASQUERADE maps all into it).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/gateway.sh"

gateway_world "$(gateway_peer client2 10.8.0.3)"
gateway_client client2 10.8.0.3 1
gateway_far
G() { on gateway "$GW" "$@"; }

# natports LIST...: every ADDR:PORT is $UPL with a port in NatPorts, and
# the ports differ
natports() {
	local a seen=" "
	for a in "$@"; do
		[[ $a =~ ^$UPL:(6[01][0-9]{3})$ ]] && [ "${BASH_REMATCH[1]}" -ge 61000 ] &&
			[ "${BASH_REMATCH[1]}" -le 61999 ] || fail "$a: not $UPL:61000-61999"
		[[ $seen == *" $a "* ]] && fail "two flows on the same NAT port: $*"
		seen+="$a "
	done
}

head -c 8000000 /dev/urandom > "$TMP/data1"
head -c 8000000 /dev/urandom > "$TMP/data2"
head -c 8000000 /dev/urandom > "$TMP/data3"
sha() { sha256sum < "$1" | cut -d' ' -f1; }

log "TCP uploads from port 40000 of both clients at once"
mkdir "$TMP/sink"
bg internet python3 "$TOP/tests/netns/gw_e2e.py" tcp-sink 7000 2 "$TMP/sink" > "$TMP/sink.log"
sink=$BG_PID
wait_tcp internet 7000
gated "$TMP/go" "$TMP/data1" | on client timeout 60 socat -u - TCP:$SRV:7000,sourceport=40000 &
up1=$!
gated "$TMP/go" "$TMP/data2" | on client2 timeout 60 socat -u - TCP:$SRV:7000,sourceport=40000 &
up2=$!
both() { [ "$(G conntrack "$ctl" -L 2> /dev/null | grep -c ' sport=40000 dport=7000 ')" = 2 ]; }
wait_for 20 both
G conntrack "$ctl" -L 2> /dev/null | grep ' dport=7000 ' | tee "$TMP/ct" | sed 's/^/    /'
# the NAT port conntrack gave the flow from ADDR:40000
ctport() {
	sed -n "s/.* src=$1 dst=$SRV sport=40000 dport=7000 src=$SRV dst=$UPL sport=7000 dport=\([0-9]*\) .*/\1/p" \
		"$TMP/ct"
}
p1=$(ctport 10.8.0.2) p2=$(ctport 10.8.0.3)
[ -n "$p1" ] && [ -n "$p2" ] || fail "conntrack: no entry for each client: $(cat "$TMP/ct")"
natports "$UPL:$p1" "$UPL:$p2"
touch "$TMP/go"
wait "$up1" || fail "client: upload failed"
wait "$up2" || fail "client2: upload failed"
wait "$sink" || fail "the server's sink failed"
sed 's/^/    server: /' "$TMP/sink.log"
[ "$(sha "$TMP/sink/$UPL:$p1")" = "$(sha "$TMP/data1")" ] ||
	fail "the server's connection from $UPL:$p1 does not hold client's data"
[ "$(sha "$TMP/sink/$UPL:$p2")" = "$(sha "$TMP/data2")" ] ||
	fail "the server's connection from $UPL:$p2 does not hold client2's data"
log "  10.8.0.2:40000 -> $UPL:$p1, 10.8.0.3:40000 -> $UPL:$p2, both 8 MB intact"

log "TCP downloads to port 40001 of both clients at once"
bg internet socat -d -d -t 30 -U TCP-LISTEN:7001,fork,reuseaddr OPEN:"$TMP/data3" 2> "$TMP/dl.log"
wait_tcp internet 7001
on client timeout 60 socat -u TCP:$SRV:7001,sourceport=40001 - > "$TMP/dl1" &
dl1=$!
on client2 timeout 60 socat -u TCP:$SRV:7001,sourceport=40001 - > "$TMP/dl2" &
dl2=$!
wait "$dl1" || fail "client: download failed"
wait "$dl2" || fail "client2: download failed"
[ "$(sha "$TMP/dl1")" = "$(sha "$TMP/data3")" ] || fail "client: download differs"
[ "$(sha "$TMP/dl2")" = "$(sha "$TMP/data3")" ] || fail "client2: download differs"
mapfile -t peers < <(sed -n 's/.*accepting connection from AF=2 \([0-9.:]*\).*/\1/p' "$TMP/dl.log")
[ "${#peers[@]}" = 2 ] || fail "the server saw ${#peers[@]} connections: $(cat "$TMP/dl.log")"
natports "${peers[@]}"
log "  server saw ${peers[*]}"

log "UDP from port 40002 of both clients at once"
bg internet python3 "$TOP/tests/netns/gw_e2e.py" udp-echo 7002 > "$TMP/udp.log"
wait_udp internet 7002
on client python3 "$TOP/tests/netns/gw_e2e.py" udp-ping $SRV 7002 20 40002 > "$TMP/u1" &
u1=$!
on client2 python3 "$TOP/tests/netns/gw_e2e.py" udp-ping $SRV 7002 20 40002 > "$TMP/u2" &
u2=$!
wait "$u1" || fail "client: $(cat "$TMP/u1")"
wait "$u2" || fail "client2: $(cat "$TMP/u2")"
mapfile -t peers < <(sort -u "$TMP/udp.log")
[ "${#peers[@]}" = 2 ] || fail "the server saw UDP from: ${peers[*]}"
natports "${peers[@]}"
log "  server saw ${peers[*]}"

log "ICMP echo with the same identifier from both clients"
# (gateway.sh's probe, from the client HOST given first; its expect as is)
probe() { local h=$1; shift; on "$h" python3 "$TOP/tests/netns/gw_e2e.py" probe wgc0 "$@"; }
probe client icmp $SRV 0 64 4242 > "$TMP/i1" &
i1=$!
probe client2 icmp $SRV 0 64 4242 > "$TMP/i2" &
i2=$!
wait "$i1" || fail "client: $(cat "$TMP/i1")"
wait "$i2" || fail "client2: $(cat "$TMP/i2")"
expect "$(cat "$TMP/i1")" answer=icmp type=0 src=$SRV dst=10.8.0.2 id=4242
expect "$(cat "$TMP/i2")" answer=icmp type=0 src=$SRV dst=10.8.0.3 id=4242
log "TTL exceeded quoting each client's own echo (same identifier)"
probe client icmp $FAR 0 2 4343 > "$TMP/i1" &
i1=$!
probe client2 icmp $FAR 0 2 4343 > "$TMP/i2" &
i2=$!
wait "$i1" || fail "client: $(cat "$TMP/i1")"
wait "$i2" || fail "client2: $(cat "$TMP/i2")"
expect "$(cat "$TMP/i1")" answer=icmp type=11 src=$SRV dst=10.8.0.2 qsrc=10.8.0.2 qdst=$FAR
expect "$(cat "$TMP/i2")" answer=icmp type=11 src=$SRV dst=10.8.0.3 qsrc=10.8.0.3 qdst=$FAR
G conntrack "$ctl" -L 2> /dev/null | grep '^icmp' | tee "$TMP/ct" | sed 's/^/    /'
for id in 4242 4343; do
	n=$(grep -c " type=8 code=0 id=$id " "$TMP/ct" || true)
	[ "$n" = 2 ] || fail "conntrack: $n echo flows with id $id"
	n=$(sed -n "s/.* type=8 code=0 id=$id .* type=0 code=0 id=\([0-9]*\) .*/\1/p" "$TMP/ct" | sort -u | wc -l)
	[ "$n" = 2 ] || fail "conntrack: the two echo flows with id $id share their NAT-ed id"
done

no_netfilter
kill -TERM "$gw_pid"
wait "$gw_pid" || fail "gw exited with $?"
log "two clients on the same source port: distinct NAT ports, every transfer intact"
