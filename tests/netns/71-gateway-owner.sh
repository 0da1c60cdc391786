#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# -m owner on the gateway host's own packets (the world of gateway.sh): the
# host's sockets talk to the client through the TUN gw0; gw finds the
# sending socket's owner with sock_diag (uid) and /proc (gid) and the
# OUTPUT rules see it, as Linux's owner match does:
#   --uid-owner 65534 -j REJECT --reject-with tcp-reset   nobody's TCP is
#        refused at once; root's connects and its data arrives
#   --gid-owner 4242 -j DROP                     a UDP socket of a process
#        with gid 4242 sends nothing; the same as gid 4243 arrives
#   ! --socket-exists                            the kernel's own RST to the
#        client (no socket) is counted, root's socket's packets are not
# and the match never decides anything for packets from peers (FORWARD
# refuses it at load, as iptables does).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/gateway.sh"

# gw starts with these rules: it keeps the capabilities the gid lookup
# needs only when the rules it starts with compare gids (gw/priv.h)
{ sed '/^-A FORWARD -i gw0/q' "$TOP/contrib/examples/gw0.rules"
  cat <<'R'
-A OUTPUT -o gw0 -p tcp --dport 80 -m owner --uid-owner 65534 -j REJECT --reject-with tcp-reset
-A OUTPUT -o gw0 -p udp --dport 5353 -m owner --gid-owner 4242 -j DROP
-A OUTPUT -o gw0 -d 10.8.0.2/32 -p tcp --tcp-flags RST RST -m owner ! --socket-exists
-A OUTPUT -o gw0 -p tcp --sport 8000 --tcp-flags SYN,ACK SYN,ACK -m owner --uid-owner 65534
COMMIT
R
} > "$TMP/owner.rules"
GW_RULES=$TMP/owner.rules gateway_world
G() { on gateway "$GW" "$@"; }
G rules "$ctl" restore "$TMP/owner.rules" || fail "restore with owner rules"

printf '*filter\n-A FORWARD -m owner --uid-owner 0 -j DROP\nCOMMIT\n' > "$TMP/fwd.rules"
G rules "$ctl" restore "$TMP/fwd.rules" 2> "$TMP/err" && fail "owner in FORWARD was accepted"
grep -q "fwd.rules:2: .*not valid in FORWARD" "$TMP/err" || fail "owner in FORWARD: $(cat "$TMP/err")"

bg client socat -u TCP-LISTEN:80,bind=10.8.0.2,reuseaddr,fork OPEN:"$TMP/tcp80",creat,append
wait_tcp client 80
bg client socat -u UDP-RECV:5353,bind=10.8.0.2 OPEN:"$TMP/udp5353",creat,append
wait_udp client 5353

# gw learns the client's endpoint from its handshake: the client speaks first
on client python3 -c 'import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"x", ("10.8.0.1", 9))'
wait_for 10 sh -c "ip netns exec $(ns gateway) '$GW' show '$ctl' | grep -q 'latest handshake:'"

log "uid: nobody's TCP is reset by the rule, root's goes through"
as() { local u=$1 g=$2; shift 2; on gateway setpriv --reuid="$u" --regid="$g" --clear-groups "$@"; }
echo root-was-here | on gateway timeout 10 socat -u - TCP:10.8.0.2:80 || fail "root's TCP"
wait_for 5 grep -q root-was-here "$TMP/tcp80"
if echo nobody-was-here | as 65534 65534 timeout 10 socat -u - TCP:10.8.0.2:80 2> "$TMP/err"; then
	fail "nobody's TCP went through"
fi
grep -q "Connection refused" "$TMP/err" || fail "nobody's TCP: not reset: $(cat "$TMP/err")"
grep -q nobody-was-here "$TMP/tcp80" && fail "nobody's data arrived"

log "gid: gid 4242's UDP is dropped, gid 4243's arrives"
send_udp() {
	# the sender lives on a moment: gw looks its socket up when the packet comes
	as 65534 "$1" /usr/bin/python3 -c 'import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.sendto(sys.argv[1].encode() + b"\n", ("10.8.0.2", 5353))
time.sleep(1)' "$2"
}
send_udp 4243 from-4243
send_udp 4242 from-4242
send_udp 4243 again-4243
wait_for 5 grep -q again-4243 "$TMP/udp5353"
grep -q from-4243 "$TMP/udp5353" || fail "gid 4243's datagram did not arrive"
grep -q from-4242 "$TMP/udp5353" && fail "gid 4242's datagram arrived"

log "socket: the host kernel's RST to a closed port has none"
on client timeout 10 socat -u - TCP:10.8.0.1:81 < /dev/null 2> "$TMP/err" && fail "port 81 answered"
grep -q "Connection refused" "$TMP/err" || fail "client -> 10.8.0.1:81: $(cat "$TMP/err")"

log "a listener's SYN-ACK is its owner's (the request socket is not a full one)"
as 65534 65534 socat -u TCP-LISTEN:8000,bind=10.8.0.1,reuseaddr OPEN:/dev/null &
listener=$!
wait_tcp gateway 8000
echo hello | on client timeout 10 socat -u - TCP:10.8.0.1:8000 || fail "client -> nobody's listener"
wait "$listener" || true

log "the rules' counters"
G rules "$ctl" -L OUTPUT -v -n -x > "$TMP/out.L"
sed 's/^/    /' "$TMP/out.L"
grep -Eq '^ +1 +[0-9]+ REJECT .*owner UID match 65534' "$TMP/out.L" ||
	fail "the uid rule did not count one SYN"
grep -Eq '^ +1 +[0-9]+ DROP .*owner GID match 4242' "$TMP/out.L" ||
	fail "the gid rule did not count one datagram"
# the kernel's RST, and nothing root's socket sent (its connection ends with FINs)
grep -Eq '^ +1 +40 +(6|tcp) .*! owner socket exists' "$TMP/out.L" ||
	fail "the socketless RST was not counted once"
grep -Eq '^ +1 +[0-9]+ +(6|tcp) .*spt:8000 flags:0x12/0x12 owner UID match 65534' "$TMP/out.L" ||
	fail "the listener's SYN-ACK was not counted as nobody's"
lookups=$(G stats "$ctl" | sed -n 's/^owner_lookups=//p')
[ "${lookups:-0}" -ge 3 ] || fail "owner_lookups=$lookups"
no_netfilter
log "-m owner: uid, gid and socket of the host's packets through TUN, from sock_diag"
