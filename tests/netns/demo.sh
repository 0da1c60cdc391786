#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# make demo: gw on a throw-away topology.
#
#   ┌────────┐ 192.0.2.2        192.0.2.1 ┌─────────┐ 203.0.113.1     203.0.113.2 ┌──────────┐
#   │ client ├──────────── veth ──────────┤ gateway ├──────────── veth ───────────┤ internet │
#   └────────┘                            └─────────┘                             └──────────┘
#   wireguard-go + wg                        gw                                     HTTP :80
#
# What exists so far: gw's key tools (interchangeable with wg), the tunnel
# (`gw run`: a stock client connects and reaches the gateway host), the rule
# engine (offline, through gw trace) and the test harness.  The NAT gateway is
# not built yet; until it is, the path to the internet is routed by the
# gateway host's kernel, and gw trace shows what gw's rules will decide for
# the client's packets.
. "$(dirname "$0")/lib.sh"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "topology: client — gateway — internet (namespaces $RUN-*)"
host_add client gateway internet
link_add client eth0 gateway wg-side
link_add gateway eth0 internet eth0
addr_add client eth0 192.0.2.2/24
addr_add gateway wg-side 192.0.2.1/24
addr_add gateway eth0 203.0.113.1/24
addr_add internet eth0 203.0.113.2/24
route_add client default via 192.0.2.1
route_add internet 192.0.2.0/24 via 203.0.113.1
on gateway sysctl -qw net.ipv4.ip_forward=1

step "keys made by gw, used by a stock WireGuard client"
gw_priv=$("$GW" genkey); gw_pub=$(printf '%s\n' "$gw_priv" | "$GW" pubkey)
cl_priv=$("$GW" genkey); cl_pub=$(printf '%s\n' "$cl_priv" | "$GW" pubkey)
psk=$("$GW" genpsk)
echo "gateway public key (gw pubkey): $gw_pub"
echo "gateway public key (wg pubkey): $(printf '%s\n' "$gw_priv" | wg pubkey)"
printf '%s\n' "$cl_priv" > "$TMP/client.key"
printf '%s\n' "$psk" > "$TMP/psk"
# wireguard-go keeps its socket in /run/wireguard: give it a private /run
mkdir -p "$TMP/run"
WG_PROCESS_FOREGROUND=1 bg client unshare -m sh -c \
	"mount -t tmpfs none /run && mkdir -p /var/run/wireguard && exec wireguard-go -f wgdemo0" \
	>/dev/null 2>&1
client_wg=$BG_PID
wait_for 10 on client ip link show wgdemo0
# wg needs the same private /run: enter the client's mount namespace
wgc() { nsenter -t "$client_wg" -m -n wg "$@"; }
wait_for 10 nsenter -t "$client_wg" -m test -S /var/run/wireguard/wgdemo0.sock
wgc set wgdemo0 private-key "$TMP/client.key" peer "$gw_pub" preshared-key "$TMP/psk" \
	endpoint 192.0.2.1:51820 allowed-ips 0.0.0.0/0
echo "client's wg accepts the keys:"
wgc show wgdemo0 | sed 's/^/    /'
[ "$(wgc show wgdemo0 public-key)" = "$cl_pub" ] && echo "    (its public key equals gw pubkey's: $cl_pub)"

step "the tunnel: gw run on the gateway, the stock client connects"
cat > "$TMP/gw0.conf" <<EOC
[Interface]
PrivateKey = $gw_priv
ListenPort = 51820
Address = 10.8.0.1/24
Uplink = eth0
ControlSocket = $TMP/gw0.sock
Rules = $TOP/contrib/examples/gw0.rules
[Peer]
PublicKey = $cl_pub
PresharedKey = $psk
AllowedIPs = 10.8.0.2/32
EOC
bg gateway "$GW" run "$TMP/gw0.conf" 2> "$TMP/gw.log"
wait_udp gateway 51820
wait_for 10 test -S "$TMP/gw0.sock"
on client ip addr add 10.8.0.2/24 dev wgdemo0
on client ip link set wgdemo0 up
printf 'printf "HTTP/1.0 200 OK\\r\\nContent-Type: text/plain\\r\\n\\r\\nhello from the gateway host, through the tunnel\\n"\n' > "$TMP/http-gw.sh"
bg gateway socat TCP-LISTEN:80,bind=10.8.0.1,reuseaddr,fork EXEC:"sh $TMP/http-gw.sh"
wait_tcp gateway 80
echo "client fetches http://10.8.0.1/ through wireguard-go -> gw:"
on client sh -c 'printf "GET / HTTP/1.0\r\n\r\n" | timeout 10 socat -t 3 - TCP:10.8.0.1:80' | sed 's/^/    /'
echo "gw show:"
"$GW" show "$TMP/gw0.sock" | sed 's/^/    /'

step "the path gw will own: client → gateway → internet (kernel-routed for now)"
printf 'printf "HTTP/1.0 200 OK\\r\\nContent-Type: text/plain\\r\\n\\r\\nhello from the internet host\\n"\n' > "$TMP/http.sh"
bg internet socat TCP-LISTEN:80,reuseaddr,fork EXEC:"sh $TMP/http.sh"

wait_tcp internet 80
on client sh -c 'printf "GET / HTTP/1.0\r\n\r\n" | socat -t 3 - TCP:203.0.113.2:80' | sed 's/^/    /'

step "what gw's rule engine does with the client's request (gw trace: nothing is sent)"
"$GW" trace "$TMP/gw0.conf" --uplink-addr 203.0.113.1 \
	'tcp 10.8.0.2:40000 > 203.0.113.2:80 flags S' \
	'tcp 203.0.113.2:80 > @1.src:@1.sport in eth0 flags SA' \
	'udp 203.0.113.2:53 > 10.8.0.2:5000 in eth0' | sed 's/^/    /'

step "not yet: gw NAT-ing the client's traffic out of the uplink itself, gw rules IFACE, gw conntrack (the gateway issue)"
echo
echo "demo done; tearing the topology down"
