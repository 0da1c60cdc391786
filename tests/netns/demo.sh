#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# make demo: gw on a throw-away topology.
#
#   ┌────────┐ 192.0.2.2        192.0.2.1 ┌─────────┐ 203.0.113.1     203.0.113.2 ┌──────────┐
#   │ client ├──────────── veth ──────────┤ gateway ├──────────── veth ───────────┤ internet │
#   └────────┘                            └─────────┘                             └──────────┘
#   wireguard-go + wg                        gw                                     HTTP :80
#
# A stock client (wireguard-go + wg, every route through the tunnel) reaches
# the gateway host and the internet host through gw: gw runs the client's
# packets through contrib/examples/gw0.rules and MASQUERADEs them out of its
# uplink itself.  The gateway's kernel does not forward and no iptables or
# nftables rule exists; gw trace shows the same decisions offline.
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

step "keys made by gw, used by a stock WireGuard client"
gw_priv=$("$GW" genkey); gw_pub=$(printf '%s\n' "$gw_priv" | "$GW" pubkey)
cl_priv=$("$GW" genkey); cl_pub=$(printf '%s\n' "$cl_priv" | "$GW" pubkey)
psk=$("$GW" genpsk)
echo "gateway public key (gw pubkey): $gw_pub"
echo "gateway public key (wg pubkey): $(printf '%s\n' "$gw_priv" | wg pubkey)"
printf '%s\n' "$cl_priv" > "$TMP/client.key"
printf '%s\n' "$psk" > "$TMP/psk"
# stock wireguard-go, with a private /run for its socket (lib.sh)
wg_go client wgdemo0 /dev/null
client_wg=$WG_PID
wgc() { wg_in "$client_wg" "$@"; }
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
UapiSocket = $TMP/gw0.uapi
Rules = $TOP/contrib/examples/gw0.rules
User = nobody
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
on client ip route add default dev wgdemo0
printf 'printf "HTTP/1.0 200 OK\\r\\nContent-Type: text/plain\\r\\n\\r\\nhello from the gateway host, through the tunnel\\n"\n' > "$TMP/http-gw.sh"
bg gateway socat TCP-LISTEN:80,bind=10.8.0.1,reuseaddr,fork EXEC:"sh $TMP/http-gw.sh"
wait_tcp gateway 80
echo "client fetches http://10.8.0.1/ through wireguard-go -> gw:"
on client sh -c 'printf "GET / HTTP/1.0\r\n\r\n" | timeout 10 socat -t 3 - TCP:10.8.0.1:80' | sed 's/^/    /'

step "the internet through gw: client → tunnel → gw (gw0.rules, MASQUERADE) → uplink → internet"
printf 'printf "HTTP/1.0 200 OK\\r\\nContent-Type: text/plain\\r\\n\\r\\nhello from the internet host; you came from $SOCAT_PEERADDR:$SOCAT_PEERPORT\\n"\n' > "$TMP/http.sh"
bg internet socat TCP-LISTEN:80,reuseaddr,fork EXEC:"sh $TMP/http.sh"

wait_tcp internet 80
echo "client fetches http://203.0.113.2/ (the gateway's kernel does not forward: ip_forward=$(on gateway sysctl -n net.ipv4.ip_forward)):"
on client sh -c 'printf "GET / HTTP/1.0\r\n\r\n" | timeout 10 socat -t 3 - TCP:203.0.113.2:80' | sed 's/^/    /'
echo "gw show:"
"$GW" show "$TMP/gw0.sock" | sed 's/^/    /'
echo "gw stats (what moved, where):"
"$GW" stats "$TMP/gw0.sock" | grep -E '^(path_|nf_drop_|conntrack_count|uplink_tx)' | grep -v '=0$' |
	sed 's/^/    /'
echo "gw conntrack -L (the flow, NAT-ed to the uplink address and a NatPorts port):"
"$GW" conntrack "$TMP/gw0.sock" -L 2>&1 | sed 's/^/    /'
echo "gw rules -L -v -n (the counters moved):"
"$GW" rules "$TMP/gw0.sock" -L -v -n | sed 's/^/    /'
"$GW" rules "$TMP/gw0.sock" -t nat -L POSTROUTING -v -n | sed 's/^/    /'
echo "iptables-save / nft list ruleset on the gateway (empty):"
{ on gateway iptables-save 2> /dev/null | grep -v '^#' || true; on gateway nft list ruleset 2> /dev/null; } |
	sed 's/^/    /'

step "what gw's rule engine does with the client's request (gw trace: nothing is sent)"
"$GW" trace "$TMP/gw0.conf" --uplink-addr 203.0.113.1 \
	'tcp 10.8.0.2:40000 > 203.0.113.2:80 flags S' \
	'tcp 203.0.113.2:80 > @1.src:@1.sport in eth0 flags SA' \
	'udp 203.0.113.2:53 > 10.8.0.2:5000 in eth0' | sed 's/^/    /'

step "privileges: after setup gw runs as User = nobody with only what it still needs"
"$GW" stats "$TMP/gw0.sock" | grep -E '^(user|uid|gid|caps|caps_effective|caps_bounding)=' |
	sed 's/^/    /'
echo "(README: Deploy shows the systemd unit and the rootless run in a user namespace)"
echo
echo "demo done; tearing the topology down"
