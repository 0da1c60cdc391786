#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Onboarding: `gw peer add` on a running gateway, a new stock client from
# the config it prints, and its mistakes refused.
#
#   client 10.8.0.2 ─ wg ─┐
#                         ├─ gateway (gw, MASQUERADE) ─ internet 198.51.100.2
#   phone  (new)    ─ wg ─┘  lan1 10.101.0.1
#
#   gw peer add gw0.conf phone --endpoint 10.101.0.1:51820 --qr:
#     the printed wg-quick config, fed to a stock wireguard-go (wg setconf,
#     its Address on the interface), reaches the internet host through the
#     NAT; gw's PID is the same and the first client's handshake too (no
#     restart, no new handshake); the QR code decodes (zbarimg) to the same
#     config; the config file holds the peer under "# phone", keeps its mode
#     and loads again (gw trace reads it)
#   gw peer list: phone with its address and a handshake
#   refused with one line, nothing changed (the file's bytes, the gateway's
#     peers): a name that exists, an address that is taken or outside the
#     subnet, a bad name or DNS, an unknown name to remove, a config whose
#     UAPI socket a gateway with another key holds, a full subnet (a config
#     of its own, /30)
#   gw peer remove gw0.conf phone: gone from the gateway and the file; the
#     first client still reaches the internet
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/gateway.sh"

command -v zbarimg > /dev/null || fail "zbarimg is not installed (make deps)"
gateway_world  # its UAPI socket: $TMP/gw0.uapi (gateway.sh)
CONF=$TMP/gw0.conf
chmod 0640 "$CONF"
G() { on gateway "$GW" "$@"; }
# peers: the gateway's public keys, sorted, as its UAPI lists them
peers() { wg_uapi | sed -n 's/^public_key=//p' | sort; }
# reach HOST: an ICMP echo from HOST to the internet host is answered
reach() { [ "$(icmp_echo "$1" "$SRV")" = "reply $SRV" ]; }
wg_uapi() { printf 'get=1\n\n' | socat - UNIX-CONNECT:"$TMP/gw0.uapi"; }

reach client || fail "the first client does not reach $SRV"
hs0=$(wg_uapi | awk -F= '/^last_handshake_time_sec=/ { print $2; exit }')
[ "${hs0:-0}" -gt 0 ] || fail "no handshake of the first client"

# --- add, on the running gateway ---
cp "$CONF" "$TMP/conf.orig"
host_add phone
link_add phone eth0 gateway lan1
addr_add gateway lan1 10.101.0.1/24
addr_add phone eth0 10.101.0.2/24
G peer add "$CONF" phone --endpoint 10.101.0.1:51820 --qr > "$TMP/phone.out" 2> "$TMP/add.err" ||
	fail "gw peer add: $(cat "$TMP/add.err")"
awk '/^PersistentKeepalive/ { print; exit } { print }' "$TMP/phone.out" > "$TMP/phone.conf"
grep -q '^PrivateKey = ' "$TMP/phone.conf" || fail "no client config printed: $(cat "$TMP/phone.out")"
addr=$(sed -n 's/^Address = //p' "$TMP/phone.conf")
[ "$addr" = 10.8.0.3/24 ] || fail "phone got $addr, not the next free address 10.8.0.3/24"

python3 "$TOP/tests/netns/qr2pbm.py" "$TMP/qr.pbm" < "$TMP/phone.out"
zbarimg -q --raw "$TMP/qr.pbm" 2> /dev/null > "$TMP/qr.txt" || fail "zbarimg found no QR code"
# zbarimg ends what it decoded with a newline of its own
[ "$(cat "$TMP/qr.txt")" = "$(cat "$TMP/phone.conf")" ] ||
	fail "the QR code decodes to something else: $(diff "$TMP/qr.txt" "$TMP/phone.conf")"

[ "$(stat -c %a "$CONF")" = 640 ] || fail "the config's mode changed to $(stat -c %a "$CONF")"
grep -A1 '^\[Peer\]' "$CONF" | grep -qx '# phone' || fail "no # phone in the config: $(cat "$CONF")"
"$GW" trace "$CONF" --uplink-addr "$UPL" "tcp 10.8.0.3:40000 > $SRV:80 flags S" > /dev/null ||
	fail "the config does not load after gw peer add"

# the printed config, as a user would use it: wg-quick's keys to the
# interface, the rest to wg setconf
wg_go phone wgc0 "$TMP/wggo-phone.log"
phone_pid=$WG_PID
grep -v -e '^Address' -e '^DNS' "$TMP/phone.conf" > "$TMP/phone.wg"
wg_in "$phone_pid" setconf wgc0 "$TMP/phone.wg"
on phone ip addr add "$addr" dev wgc0
on phone ip link set wgc0 up
on phone ip route add default dev wgc0
reach phone || fail "the new peer does not reach $SRV through the NAT"
[ -d "/proc/$gw_pid" ] || fail "gw is gone"
G peer list "$CONF" > "$TMP/list" || fail "gw peer list failed"
grep -E '^phone +[^ ]+ +10\.8\.0\.3/32 +10\.101\.0\.2:[0-9]+ +[0-9]+s ago' "$TMP/list" > /dev/null ||
	fail "gw peer list: $(cat "$TMP/list")"
hs1=$(wg_uapi | awk -F= '/^last_handshake_time_sec=/ { print $2; exit }')
[ "$hs1" = "$hs0" ] || fail "the first client's handshake changed ($hs0 -> $hs1)"

# --- mistakes: one line on stderr, nothing changed ---
cp "$CONF" "$TMP/conf.before"
peers > "$TMP/peers.before"
refused() {
	local what=$1; shift
	if G peer "$@" > "$TMP/out" 2> "$TMP/err"; then
		fail "$what: accepted"
	fi
	[ "$(wc -l < "$TMP/err")" = 1 ] || fail "$what: not one line: $(cat "$TMP/err")"
	cmp -s "$CONF" "$TMP/conf.before" || fail "$what: the config changed"
	peers | cmp -s - "$TMP/peers.before" || fail "$what: the gateway's peers changed"
	log "refused ($what): $(cat "$TMP/err")"
}
refused "a name that exists" add "$CONF" phone --endpoint 10.101.0.1:51820
refused "an address that is taken" add "$CONF" tablet --ip 10.8.0.2 --endpoint 10.101.0.1:51820
refused "the gateway's own address" add "$CONF" tablet --ip 10.8.0.1 --endpoint 10.101.0.1:51820
refused "a bad name" add "$CONF" 'a b' --endpoint 10.101.0.1:51820
refused "an unknown name" remove "$CONF" nobody
refused "--ip outside the subnet" add "$CONF" tablet --ip 10.9.0.5 --endpoint 10.101.0.1:51820
refused "--dns with a prefix" add "$CONF" tablet --dns 10.8.0.1/32 --endpoint 10.101.0.1:51820
# a config whose UAPI socket another gateway holds (the path is shared by
# every network namespace): that gateway is left alone
sed "s|^PrivateKey = .*|PrivateKey = $("$GW" genkey)|" "$CONF" > "$TMP/other.conf"
cp "$TMP/other.conf" "$TMP/other.before"
refused "another gateway's socket" add "$TMP/other.conf" tablet --endpoint 10.101.0.1:51820
cmp -s "$TMP/other.conf" "$TMP/other.before" || fail "another gateway's socket: its config changed"
cat > "$TMP/small.conf" <<EOC
[Interface]
Workers = ${GW_TEST_WORKERS:-2}
PrivateKey = $("$GW" genkey)
Address = 10.9.0.1/30

[Peer]
PublicKey = $("$GW" genkey | "$GW" pubkey)
AllowedIPs = 10.9.0.2/32
EOC
cp "$TMP/small.conf" "$TMP/small.before"
"$GW" peer add "$TMP/small.conf" tablet --endpoint 192.0.2.1:51820 > /dev/null 2> "$TMP/err" &&
	fail "a full subnet: accepted"
grep -q 'no free address' "$TMP/err" || fail "a full subnet: $(cat "$TMP/err")"
cmp -s "$TMP/small.conf" "$TMP/small.before" || fail "a full subnet: the config changed"

# --- remove ---
phone_key=$(wg_in "$phone_pid" show wgc0 public-key)
G peer remove "$CONF" phone 2> "$TMP/err" || fail "gw peer remove: $(cat "$TMP/err")"
peers | grep -qx "$(printf '%s' "$phone_key" | base64 -d | od -An -tx1 | tr -d ' \n')" &&
	fail "phone is still a peer of the gateway"
grep -q '# phone' "$CONF" && fail "phone is still in the config"
cmp -s "$CONF" "$TMP/conf.orig" ||
	fail "add then remove did not give the config back: $(diff "$TMP/conf.orig" "$CONF")"
"$GW" trace "$CONF" --uplink-addr "$UPL" "tcp 10.8.0.2:40000 > $SRV:80 flags S" > /dev/null ||
	fail "the config does not load after gw peer remove"
reach client || fail "the first client lost its way after the remove"
log "ok: a peer added live (QR decodes, reaches $SRV, no restart), mistakes refused, removed"
