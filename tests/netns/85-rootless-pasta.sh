#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Rootless end to end, no root helper: an ordinary user (uid 65534) runs
# `gw-userns --pasta`: pasta makes the user's user and network namespace
# and gives it a tap interface "eth0" with the host's address and routes
# copied; gw runs in there as the namespace's root with the tap as its
# Uplink.  A stock wireguard-go client reaches the server through it.
#
#   ┌─────────────────┐ eth0        lan0 ┌─ host (the user's "machine") ─────────────────┐ eth0         eth0 ┌──────────┐
#   │ client          │ 192.0.2.2     .1 │  uid 65534: pasta -u 51820 (UDP sockets,      │ 198.51.100.1   .2 │ server   │
#   │  wireguard-go   ├────── veth ──────┤   TCP/ICMP sockets of the host for eth0 below)├────── veth ───────┤ socat    │
#   │  10.8.0.2 wgc0  │                  │   ┌ userns + netns of uid 65534 ─────────────┐│ default via .2    └──────────┘
#   │  default: wgc0  │                  │   │ eth0: pasta's tap, 198.51.100.1/24       ││
#   └─────────────────┘                  │   │  default via 198.51.100.2 (copied)       ││
#                                        │   │ gw run: Uplink = eth0, MASQUERADE,       ││
#                                        │   │  ListenPort 51820 (forwarded by pasta)   ││
#                                        │   └──────────────────────────────────────────┘│
#                                        └───────────────────────────────────────────────┘
#
# The client's endpoint is the host's 192.0.2.1:51820, where pasta listens
# and forwards into the namespace; inside the tunnel it sends to the server;
# gw MASQUERADEs to the tap's address and NatPorts and writes to the tap;
# pasta opens sockets of the host to the server, so the server sees the
# host's 198.51.100.1 (ports chosen by the host's kernel: pasta is a socket
# proxy, not a router).  Replies come back the same way, into the tap,
# where gw's tc filter hides them from the namespace's stack and its packet
# socket takes them.  Nothing runs as root but the test's setup: the
# namespaces host, client and server (the world), and one bind mount.
#
# The test's only help: /dev/net/tun is 0600 on this kind of machine (no
# udev, which makes it 0666), so the user's processes get a mount namespace
# where a 0666 node is bound over it (pasta opens it for the tap, gw for its
# TUN) — never a change to the host's /dev.  And net.ipv4.ping_group_range
# in the host namespace lets the user's pasta use ping sockets for ICMP.
#
# Checks: the namespace's uid_map is "0 65534 1" (no other id); gw runs as
# uid 65534 on the host with cap_net_admin only; TCP (1 MB, compared) and
# ICMP echo through it; the tc filter and reserved ports are in the user's
# namespace; SIGTERM to gw ends gw (exit 0) and pasta.
. "$(dirname "$0")/lib.sh"

NOBODY=65534
SRV=198.51.100.2 UPL=198.51.100.1
command -v pasta > /dev/null || fail "no pasta (Debian: passt; make deps installs it)"
as_nobody() { setpriv --reuid=$NOBODY --regid=$NOBODY --clear-groups -- "$@"; }
if ! as_nobody unshare --user --map-root-user --net true 2> "$TMP/userns.err"; then
	fail "unprivileged user namespaces are not allowed here: $(cat "$TMP/userns.err")"
fi

host_add client host server
link_add client eth0 host lan0
link_add host eth0 server eth0
addr_add client eth0 192.0.2.2/24
addr_add host lan0 192.0.2.1/24
addr_add host eth0 $UPL/24
addr_add server eth0 $SRV/24
route_add host default via $SRV
on host sysctl -qw net.ipv4.ping_group_range="0 2147483647"

chmod 0711 "$TMP"
R=$TMP/user
mkdir -m 0700 "$R"
cp "$GW" "$R/gw"
cp "$TOP/contrib/container/gw-userns" "$R/gw-userns"
cp "$TOP/contrib/examples/gw0.rules" "$R/gw0.rules"
gw_priv=$("$GW" genkey); gw_pub=$(printf '%s\n' "$gw_priv" | "$GW" pubkey)
cl_priv=$("$GW" genkey); cl_pub=$(printf '%s\n' "$cl_priv" | "$GW" pubkey)
printf '%s\n' "$cl_priv" > "$TMP/client.key"
cat > "$R/gw0.conf" <<EOC
[Interface]
PrivateKey = $gw_priv
ListenPort = 51820
Address = 10.8.0.1/24
Uplink = eth0
Rules = $R/gw0.rules
NatPorts = 61000-61999
Workers = ${GW_TEST_WORKERS:-2}
ControlSocket = $R/gw0.sock
UapiSocket = $R/gw0.uapi

[Peer]
PublicKey = $cl_pub
AllowedIPs = 10.8.0.2/32
EOC
bind_tun=""
if ! as_nobody sh -c ': < /dev/net/tun' 2> /dev/null; then
	mknod -m 0666 "$R/tun" c 10 200
	bind_tun='mount --bind "$0/tun" /dev/net/tun || exit 1;'
fi
chown -R $NOBODY:$NOBODY "$R"

log "uid $NOBODY: gw-userns --pasta in the host namespace"
bg host unshare -m sh -c "$bind_tun"'
	exec setpriv --reuid='$NOBODY' --regid='$NOBODY' --clear-groups -- \
		env GW="$0/gw" "$0/gw-userns" --pasta "$0/gw0.conf"' "$R" 2> "$TMP/gw.log"
pasta_pid=$BG_PID
# gw's PID, as gw-userns prints it from inside (gw execs in its place)
started() { grep -q "gw-userns: pid [0-9]*: waiting for pasta's eth0" "$TMP/gw.log"; }
wait_for 10 started
gw_pid=$(sed -n "s/^gw-userns: pid \([0-9]*\): waiting.*/\1/p" "$TMP/gw.log")
_pids+=("$gw_pid")
asked() { as_nobody "$R/gw" stats "$R/gw0.sock"; }
wait_for 10 asked
[ "$(awk '{print $1, $2, $3}' "/proc/$gw_pid/uid_map")" = "0 $NOBODY 1" ] ||
	fail "uid_map of the user's namespace: $(cat "/proc/$gw_pid/uid_map")"
[ "$(sed -n 's/^Uid:[[:space:]]*//p' "/proc/$gw_pid/status" | tr '\t' ' ')" = \
	"$NOBODY $NOBODY $NOBODY $NOBODY" ] || fail "gw's Uid: $(grep Uid "/proc/$gw_pid/status")"
[ "$(sed -n 's/^CapEff:[[:space:]]*//p' "/proc/$gw_pid/status")" = 0000000000001000 ] ||
	fail "gw's CapEff: $(grep CapEff "/proc/$gw_pid/status")"
grep -qx "uid=0" <<< "$(asked)" || fail "gw stats: not uid 0 in its namespace"
[ "$(readlink "/proc/$gw_pid/ns/net")" != "$(on host readlink /proc/self/ns/net)" ] ||
	fail "gw runs in the host namespace, not in the user's"
UN() { nsenter -t "$gw_pid" -U -n "$@"; }
tapped() { [[ $(UN ip -4 addr show dev eth0) == *"$UPL/24"* ]]; }
wait_for 10 tapped
[[ $(UN ip -d link show dev eth0) == *tun* ]] || fail "eth0 inside is not pasta's tap"
filtered() { [[ $(UN tc filter show dev eth0 ingress) == *bpf* ]]; }
wait_for 5 filtered
reserved() { [[ $(UN cat /proc/sys/net/ipv4/ip_local_reserved_ports) == *61000-61999* ]]; }
wait_for 5 reserved
log "  gw: uid $NOBODY (0 inside), cap_net_admin; eth0 is pasta's tap with $UPL"

wg_go client wgc0
client_pid=$WG_PID
wg_in "$client_pid" set wgc0 private-key "$TMP/client.key" peer "$gw_pub" \
	endpoint 192.0.2.1:51820 allowed-ips 0.0.0.0/0
on client ip addr add 10.8.0.2/24 dev wgc0
on client ip link set wgc0 up
on client ip route add default dev wgc0

log "  TCP through wireguard-go -> pasta -> gw (MASQUERADE out of the tap) -> pasta -> server"
head -c 1000000 /dev/urandom > "$TMP/data"
bg server socat -d -d -u TCP-LISTEN:7000,reuseaddr - > "$TMP/recv" 2> "$TMP/srv.log"
rx=$BG_PID
wait_tcp server 7000
on client timeout 30 socat -u - TCP:$SRV:7000 < "$TMP/data" || fail "client -> server: socat"
wait "$rx" || true
cmp -s "$TMP/data" "$TMP/recv" ||
	fail "TCP: $(wc -c < "$TMP/recv") of $(wc -c < "$TMP/data") bytes arrived intact"
grep -Eq "accepting connection from AF=2 $UPL:" "$TMP/srv.log" ||
	fail "the server did not see the host's $UPL: $(grep accepting "$TMP/srv.log")"
# the flow went through gw's NAT: its conntrack has it, NAT-ed to NatPorts
ct=$(as_nobody "$R/gw" conntrack "$R/gw0.sock" -L)
grep -Eq "tcp .*src=10\.8\.0\.2 dst=$SRV .*dport=7000 .*src=$SRV dst=$UPL sport=7000 dport=61[0-9]{3}" \
	<<< "$ct" || fail "no NAT-ed entry in gw's conntrack: $ct"

log "  ICMP echo through the same way"
[ "$(on client python3 "$TOP/tests/netns/ping.py" $SRV)" = "reply $SRV" ] ||
	fail "ping $SRV through gw and pasta"

log "  SIGTERM to gw: exit 0, and pasta ends with it"
kill -TERM "$gw_pid"
wait "$pasta_pid" || fail "gw-userns (pasta) exited with $?"
kill -0 "$gw_pid" 2> /dev/null && fail "gw still runs"
[ -e "$R/gw0.sock" ] && fail "control socket left behind"
no_netfilter
log "rootless with pasta: no root at run time, TCP and ICMP through gw"
