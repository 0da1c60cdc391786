#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Stock wg(8) drives gw through the WireGuard UAPI socket exactly as it
# drives wireguard-go: the same keys and peers on both, every wg command run
# against each, the outputs compared.
#
#   ┌──────────────────────────────┐      ┌──────────────────────────────┐
#   │ gwh                          │      │ ref                          │
#   │  gw run gw0.conf             │      │  wireguard-go -f gw0         │
#   │   private /run: UAPI socket  │      │   private /run: UAPI socket  │
#   │   /var/run/wireguard/gw0.sock│      │   /var/run/wireguard/gw0.sock│
#   └──────────────────────────────┘      └──────────────────────────────┘
#   (no link between them: nothing is sent, so no handshake or transfer can
#   differ; the peers' endpoints are documentation addresses nobody has, and
#   no peer has both an endpoint and a persistent keepalive: that would
#   start handshakes the kernel refuses to send, which wireguard-go leaves
#   out of transfer and gw counts)
#
# Normalised, and only that: the order of the peers.  wireguard-go keeps
# its peers in a Go map and answers get=1 in the map's random order, which
# wg show / showconf / dump print as they come (wg show sorts by latest
# handshake, all 0 here); gw answers in config order.  Each output is cut
# into its per-peer blocks and those are sorted.  Everything else, allowed
# IPs' order included, must be byte for byte the same.
#
# gw runs as User = nobody (the socket is made before the drop and serves
# after it).  Also: a set that fails is all or nothing on gw (wireguard-go applies the
# lines before the bad one), UAPI errors are errno=-22 on both, the socket is
# 0600 in a 0755 directory, and the new listen-port is where gw listens.
. "$(dirname "$0")/lib.sh"

host_add gwh ref
key() { "$GW" genkey; }
pub() { printf '%s\n' "$1" | "$GW" pubkey; }
gw_priv=$(key)
a_priv=$(key); a_pub=$(pub "$a_priv")
b_priv=$(key); b_pub=$(pub "$b_priv")
c_priv=$(key); c_pub=$(pub "$c_priv")
d_priv=$(key); d_pub=$(pub "$d_priv")
e_priv=$(key); e_pub=$(pub "$e_priv")
psk=$("$GW" genpsk)

peers() {
	cat <<EOP

[Peer]
PublicKey = $a_pub
PresharedKey = $psk
AllowedIPs = 10.8.0.2/32, fd00:8::2/128, 10.20.0.0/16
Endpoint = 192.0.2.77:51999

[Peer]
PublicKey = $b_pub
AllowedIPs = 10.8.0.3/32
PersistentKeepalive = 25

[Peer]
PublicKey = $c_pub
EOP
}
{
	printf '[Interface]\nWorkers = %s\nPrivateKey = %s\nListenPort = 51820\nControlSocket = %s\n' "${GW_TEST_WORKERS:-2}" \
		"$gw_priv" "$TMP/gw0.ctl"
	echo "User = nobody"
	peers
} > "$TMP/gw0.conf"
{
	printf '[Interface]\nPrivateKey = %s\nListenPort = 51820\n' "$gw_priv"
	peers
} > "$TMP/ref.conf"

gw_ns gwh "$TMP/gw0.conf"
gw_pid=$GW_PID
wg_go ref gw0
ref_pid=$WG_PID
wg_in "$ref_pid" setconf gw0 "$TMP/ref.conf"

# gw serves every request below as nobody: the socket was made before the
# privilege drop
[ "$(awk '/^Uid:/ { print $3 }' "/proc/$gw_pid/status")" = "$(id -u nobody)" ] ||
	fail "gw does not run as nobody"
# the socket wg finds, as wireguard-go makes it
perm=$(nsenter -t "$gw_pid" -m stat -c '%a %F' /var/run/wireguard/gw0.sock)
[ "$perm" = "600 socket" ] || fail "UAPI socket: $perm"
perm=$(nsenter -t "$gw_pid" -m stat -c '%a' /var/run/wireguard)
[ "$perm" = 755 ] || fail "UAPI directory: $perm"

# sortblocks RE: the lines from one matching RE (a peer's first) to the
# next as one unit; the units sorted (the lines before the first unit too).
# Empty lines go: the last unit has none after it, and which unit is last
# is the order being normalised.
sortblocks() {
	awk -v re="$1" '
		/^$/ { next }
		$0 ~ re { if (blk != "") print "1" blk; blk = $0; inpeer = 1; next }
		!inpeer { print "0" $0; next }
		{ blk = blk "\001" $0 }
		END { if (blk != "") print "1" blk }' | LC_ALL=C sort | cut -c2- | tr '\001' '\n'
}

n=0
same() { # same WHAT [PEER-REGEX] -- WG-ARGS...
	local what=$1 re=$2 g r
	shift 3
	g=$(wg_in "$gw_pid" "$@" 2>&1) || g="exit $?: $g"
	r=$(wg_in "$ref_pid" "$@" 2>&1) || r="exit $?: $r"
	if [ -n "$re" ]; then
		g=$(printf '%s\n' "$g" | sortblocks "$re")
		r=$(printf '%s\n' "$r" | sortblocks "$re")
	fi
	if [ "$g" != "$r" ]; then
		diff <(printf '%s\n' "$r") <(printf '%s\n' "$g") >&2 || true
		printf "%s\n" "$g" >&2; fail "wg $*: gw differs from wireguard-go ($what; - wireguard-go, + gw)"
	fi
	n=$((n + 1))
}

every_show() {
	same show '^peer: ' -- show gw0
	same show-all '^peer: ' -- show
	same showconf '^\[Peer\]' -- showconf gw0
	same dump '^.' -- show gw0 dump
	for f in public-key private-key listen-port fwmark; do
		same "$f" '' -- show gw0 "$f"
	done
	for f in peers endpoints allowed-ips latest-handshakes transfer persistent-keepalive \
		preshared-keys; do
		same "$f" '^.' -- show gw0 "$f"
	done
	same interfaces '' -- show interfaces
}

log "show, showconf and every show field, as configured"
every_show
[ "$(wg_in "$gw_pid" show gw0 allowed-ips | grep -c .)" = 3 ] || fail "not 3 peers"

log "wg set: allowed-ips, remove, a new peer, keepalive, endpoint, psk, listen-port, fwmark"
for cmd in \
	"peer $b_pub allowed-ips 10.8.0.3/32,10.30.0.7/24,fd00:8::3/128" \
	"peer $a_pub allowed-ips 10.8.0.2/32 persistent-keepalive 0" \
	"peer $c_pub allowed-ips 10.8.0.3/32" \
	"peer $c_pub remove" \
	"peer $d_pub allowed-ips 10.8.0.4/32 endpoint [2001:db8::7]:5555" \
	"peer $b_pub persistent-keepalive 7" \
	"peer $a_pub endpoint 198.51.100.9:1234 preshared-key /dev/null" \
	"listen-port 51900" \
	"fwmark 0x2a" \
	"private-key $TMP/new.key"; do
	printf '%s\n' "$(key)" > "$TMP/new.key"
	# shellcheck disable=SC2086
	same "set $cmd" '' -- set gw0 $cmd
	every_show
done
wait_udp gwh 51900

log "wg syncconf and wg addconf"
# with its PrivateKey (wg-quick strip keeps it): without one, wg sends an
# all-zero key, which wireguard-go takes as "no key" and gw refuses (it
# always has one; checked below)
cat > "$TMP/sync.conf" <<EOF
[Interface]
PrivateKey = $(cat "$TMP/new.key")
ListenPort = 51901

[Peer]
PublicKey = $b_pub
AllowedIPs = 10.8.0.3/32, 10.40.0.0/16

[Peer]
PublicKey = $e_pub
PresharedKey = $psk
AllowedIPs = 10.8.0.5/32
Endpoint = 203.0.113.5:7777
EOF
same syncconf '' -- syncconf gw0 "$TMP/sync.conf"
every_show
cat > "$TMP/add.conf" <<EOF
[Peer]
PublicKey = $a_pub
AllowedIPs = 10.8.0.2/32, 10.8.0.5/32
EOF
same addconf '' -- addconf gw0 "$TMP/add.conf"
every_show
same setconf '' -- setconf gw0 "$TMP/ref.conf"
every_show

log "UAPI errors: the same errno, and gw changes nothing of a bad set"
uapi() { # uapi PID TEXT: the raw answer of the daemon in PID's mount namespace
	printf '%b' "$2" | nsenter -t "$1" -m socat -t 5 - UNIX-CONNECT:/var/run/wireguard/gw0.sock
}
for req in 'set=1\nbogus=1\n\n' 'set=1\nlisten_port=99999\n\n' \
	"set=1\npublic_key=$(printf '%064d' 7)\nallowed_ip=10.1.1.1\n\n" \
	"set=1\npublic_key=zz\n\n" 'set=1\nreplace_peers=yes\n\n'; do
	g=$(uapi "$gw_pid" "$req" | tr '\n' ' ')
	r=$(uapi "$ref_pid" "$req" | tr '\n' ' ')
	[ "$g" = "$r" ] || fail "UAPI '$req': gw '$g', wireguard-go '$r'"
	[ "$g" = "errno=-22  " ] || fail "UAPI '$req': '$g'"
done
before=$(wg_in "$gw_pid" show gw0 dump)
hexkey=$(printf '%s' "$d_pub" | base64 -d | od -An -tx1 | tr -d ' \n')
bad="set=1\nreplace_peers=true\npublic_key=$hexkey\nallowed_ip=10.50.0.0/16\nlisten_port=1\n\n"
[ "$(uapi "$gw_pid" "$bad" | head -1)" = "errno=-22" ] || fail "a bad set was not refused"
[ "$(wg_in "$gw_pid" show gw0 dump)" = "$before" ] || fail "a refused set changed gw"
printf '[Interface]\nListenPort = 51902\n' > "$TMP/nokey.conf"
wg_in "$gw_pid" syncconf gw0 "$TMP/nokey.conf" 2>/dev/null && fail "gw took an all-zero private key"
[ "$(wg_in "$gw_pid" show gw0 dump)" = "$before" ] || fail "a refused syncconf changed gw"
# a port below 1024 after the drop to nobody: refused, gw stays where it is
wg_in "$gw_pid" set gw0 listen-port 80 2>/dev/null && fail "gw as nobody took port 80"
[ "$(wg_in "$gw_pid" show gw0 dump)" = "$before" ] || fail "a refused listen-port changed gw"
# an operation that is neither get nor set: closed unanswered on both
[ -z "$(uapi "$gw_pid" 'bogus=1\n\n')" ] || fail "gw answered an unknown operation"
[ -z "$(uapi "$ref_pid" 'bogus=1\n\n')" ] || fail "wireguard-go answered an unknown operation"
kill -0 "$gw_pid" || fail "gw died"
# a clean exit (SAN=1: no leak, no sanitizer report)
kill -TERM "$gw_pid"
wait "$gw_pid" || fail "gw exited with $?"
log "$n wg outputs identical to wireguard-go's"
