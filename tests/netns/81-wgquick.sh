#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# wg-quick users land softly: `gw run IFACE` finds $GW_CONFIG_DIR/IFACE.conf;
# PrivateKeyFile / PresharedKeyFile; wg-quick's "world accessible" warning;
# a PostUp running iptables gets the Rules lines it would be; and an
# Endpoint host name that does not resolve at start is tried again until it
# does, and the handshake follows without restarting gw; names follow
# peers changed at runtime; a name that moves is looked up again
# (GW_DNS_INTERVAL=2: every 2 s once the session is 3 s old) and the
# endpoint follows.
#
#   ┌────────────────────────────────┐  veth   ┌─────────────────────────┐
#   │ client: gw run cl0             ├─────────┤ server: gw run srv0.conf│
#   │ (GW_CONFIG_DIR=$TMP/etc)       │         │ 10.8.0.1/24             │
#   │ Endpoint = gwsrv.test:51820    │         │ (config 0644, dir 0755: │
#   │ own mount ns: /etc/hosts and   │         │  world accessible)      │
#   │ /etc/nsswitch.conf bind-mounted│         └─────────────────────────┘
#   └────────────────────────────────┘
#   eth0 192.0.2.2                                eth0 192.0.2.1
# The client's name service is files only (its own nsswitch.conf), from a
# hosts file of the test's own: the name is added to it (written in place,
# so the bind mount sees it) while gw runs.
. "$(dirname "$0")/lib.sh"

host_add client server
link_add client eth0 server eth0
addr_add client eth0 192.0.2.2/24
addr_add server eth0 192.0.2.1/24

srv_priv=$("$GW" genkey); srv_pub=$(printf '%s\n' "$srv_priv" | "$GW" pubkey)
cl_priv=$("$GW" genkey); cl_pub=$(printf '%s\n' "$cl_priv" | "$GW" pubkey)
psk=$("$GW" genpsk)

# the server: inline keys, a file others may read in a directory they may
# enter, and wg-quick's usual PostUp/PostDown
install -d -m 0755 "$TMP/srv"
cat > "$TMP/srv/srv0.conf" <<EOF
[Interface]
PrivateKey = $srv_priv
ListenPort = 51820
Address = 10.8.0.1/24
ControlSocket = $TMP/srv0.sock
PostUp = iptables -A FORWARD -i %i -j ACCEPT; iptables -t nat -A POSTROUTING -o eth0 -j MASQUERADE
PostDown = iptables -D FORWARD -i %i -j ACCEPT; iptables -t nat -D POSTROUTING -o eth0 -j MASQUERADE

[Peer]
PublicKey = $cl_pub
PresharedKey = $psk
AllowedIPs = 10.8.0.2/32
EOF
chmod 0644 "$TMP/srv/srv0.conf"

# the client: keys in files (0600, in the test's 0700 directory), found by name
install -d -m 0700 "$TMP/etc" "$TMP/keys"
printf '%s\n' "$cl_priv" > "$TMP/keys/cl0.key"
printf '%s  \n\n' "$psk" > "$TMP/keys/psk"
chmod 0600 "$TMP/keys/cl0.key" "$TMP/keys/psk"
cat > "$TMP/etc/cl0.conf" <<EOF
[Interface]
PrivateKeyFile = ../keys/cl0.key
ListenPort = 40000
Address = 10.8.0.2/24
ControlSocket = $TMP/cl0.sock
UapiSocket = $TMP/cl0.uapi

[Peer]
PublicKey = $srv_pub
PresharedKeyFile = $TMP/keys/psk
AllowedIPs = 10.8.0.0/24
Endpoint = gwsrv.test:51820
PersistentKeepalive = 1
EOF
chmod 0600 "$TMP/etc/cl0.conf"
printf '127.0.0.1 localhost\n' > "$TMP/hosts"
printf 'passwd: files\ngroup: files\nhosts: files\n' > "$TMP/nsswitch.conf"

bg server "$GW" run "$TMP/srv/srv0.conf" 2> "$TMP/srv.log"
srv_pid=$BG_PID
wait_udp server 51820
wait_for 10 test -S "$TMP/srv0.sock"

log "the server's log: wg-quick's warning, and the Rules lines for its PostUp"
grep -qxF "Warning: \`$TMP/srv/srv0.conf' is world accessible" "$TMP/srv.log" ||
	fail "no world-accessible warning: $(cat "$TMP/srv.log")"
grep -q "srv0.conf:6: warning: PostUp is not run by gw.*Rules file" "$TMP/srv.log" ||
	fail "no PostUp advice: $(cat "$TMP/srv.log")"
grep -qxF "    -A FORWARD -i srv0 -j ACCEPT" "$TMP/srv.log" &&
	grep -qxF "    -A POSTROUTING -o eth0 -j MASQUERADE" "$TMP/srv.log" ||
	fail "PostUp not translated: $(cat "$TMP/srv.log")"
grep -q "srv0.conf:7: warning: PostDown: .iptables -D FORWARD -i srv0 -j ACCEPT' deletes" \
	"$TMP/srv.log" || fail "PostDown's -D not named: $(cat "$TMP/srv.log")"

log "client: gw run cl0, the Endpoint's name unknown yet"
bg client unshare -m sh -c "mount --bind '$TMP/hosts' /etc/hosts &&
	mount --bind '$TMP/nsswitch.conf' /etc/nsswitch.conf &&
	exec env GW_CONFIG_DIR='$TMP/etc' GW_DNS_INTERVAL=2 '$GW' run cl0" 2> "$TMP/cl.log"
cl_pid=$BG_PID
wait_udp client 40000
wait_for 10 test -S "$TMP/cl0.sock"
grep -q "cl0.conf:8: Endpoint gwsrv.test:51820 does not resolve" "$TMP/cl.log" ||
	fail "no word of the unresolved name: $(cat "$TMP/cl.log")"
grep -q "world accessible" "$TMP/cl.log" && fail "client warned: $(cat "$TMP/cl.log")"
on client "$GW" show "$TMP/cl0.sock" | grep -q "latest handshake" &&
	fail "a handshake without an endpoint"
kill -0 "$cl_pid" || fail "gw stopped: $(cat "$TMP/cl.log")"

log "the name appears: gw resolves it and the handshake follows"
printf '192.0.2.1 gwsrv.test\n' >> "$TMP/hosts"
hs_done() { on server "$GW" show "$TMP/srv0.sock" | grep -q "latest handshake"; }
wait_for 150 hs_done
grep -q "cl0.conf:8: Endpoint gwsrv.test:51820 resolves to 192.0.2.1:51820" "$TMP/cl.log" ||
	fail "resolution not logged: $(cat "$TMP/cl.log")"
kill -0 "$cl_pid" || fail "gw restarted or stopped"

log "traffic through the tunnel (keys and preshared key from files)"
head -c 200000 /dev/urandom > "$TMP/data"
tcp_xfer client server 10.8.0.1 7000

log "names follow runtime changes: SIGHUP adds a peer whose name resolves later, UAPI removes it"
other_pub=$("$GW" genkey | "$GW" pubkey)
cat >> "$TMP/etc/cl0.conf" <<EOF

[Peer]
PublicKey = $other_pub
AllowedIPs = 10.9.0.0/24
Endpoint = other.test:51821
EOF
kill -HUP "$cl_pid"
wait_for 20 grep -q "SIGHUP: peers from .*1 peer(s) added" "$TMP/cl.log"
printf '192.0.2.1 other.test\n' >> "$TMP/hosts"
wait_for 30 grep -q "Endpoint other.test:51821 resolves to 192.0.2.1:51821" "$TMP/cl.log"
on client "$GW" show "$TMP/cl0.sock" | grep -A1 "^peer: $other_pub" |
	grep -q "endpoint: 192.0.2.1:51821" ||
	fail "the new peer's endpoint: $(on client "$GW" show "$TMP/cl0.sock")"
hex=$(printf '%s' "$other_pub" | base64 -d | od -An -tx1 | tr -d ' \n')
printf 'set=1\npublic_key=%s\nremove=true\n\n' "$hex" | socat - UNIX-CONNECT:"$TMP/cl0.uapi" |
	grep -qx 'errno=0' || fail "UAPI remove refused"
on client "$GW" show "$TMP/cl0.sock" | grep -q "$other_pub" && fail "the peer is still there"
tcp_xfer client server 10.8.0.1 7001

log "the name moves: re-resolved (GW_DNS_INTERVAL=2) once the session is stale, endpoint replaced"
on server ip addr add 192.0.2.3/24 dev eth0
printf '127.0.0.1 localhost\n192.0.2.3 gwsrv.test\n192.0.2.1 other.test\n' > "$TMP/hosts"
wait_for 60 grep -q "Endpoint gwsrv.test:51820 now resolves to 192.0.2.3:51820 (was 192.0.2.1:51820)" \
	"$TMP/cl.log"

log "clean exits (the client's resolver thread joined)"
kill -TERM "$cl_pid"
wait "$cl_pid" || fail "client gw exited with $?: $(cat "$TMP/cl.log")"
kill -TERM "$srv_pid"
wait "$srv_pid" || fail "server gw exited with $?: $(cat "$TMP/srv.log")"
grep -q "Sanitizer\|runtime error" "$TMP/cl.log" "$TMP/srv.log" && fail "sanitizer report"

log "gw run IFACE: a name with no config there names the file it looked for"
out=$(GW_CONFIG_DIR="$TMP/etc" "$GW" run nosuch 2>&1) && fail "gw run nosuch started"
[ "$out" = "$TMP/etc/nosuch.conf: No such file or directory" ] || fail "gw run nosuch: $out"
log "ok"
