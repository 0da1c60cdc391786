#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# gw trace and gw rules -f on the example config in contrib/: a client's
# packet is MASQUERADE-d out of the uplink and the reply de-NAT-ed back to the
# client; rules files print canonically or are refused with FILE:LINE.
# No hosts: these commands send nothing.
. "$(dirname "$0")/lib.sh"

conf=$TOP/contrib/examples/gw0.conf
out=$("$GW" trace "$conf" --uplink-addr 192.0.2.1 --json \
	'tcp 10.8.0.2:40000 > 203.0.113.5:443 flags S' \
	'tcp 203.0.113.5:443 > @1.src:@1.sport in eth0 flags SA' \
	'tcp 10.8.0.2:40000 > 203.0.113.5:443 flags A' \
	'udp 203.0.113.9:53 > 10.8.0.2:5000 in eth0')
log "$out"
line() { sed -n "${1}p" <<<"$out"; }
echo "$(line 1)" | grep -q '"verdict":"ACCEPT","out":"eth0"' || fail "SYN not accepted out eth0"
echo "$(line 1)" | grep -Eq '"packet":"tcp 192\.0\.2\.1:6[1-5][0-9]{3} > 203\.0\.113\.5:443 flags S"' ||
	fail "SYN not masqueraded to the uplink address and a NatPorts port"
echo "$(line 1)" | grep -q '"ct":"NEW"' || fail "SYN not NEW"
echo "$(line 1)" | grep -q '"nat/POSTROUTING/1"' || fail "MASQUERADE rule not hit"
echo "$(line 2)" | grep -q '"verdict":"ACCEPT","out":"gw0"' || fail "SYN-ACK not back to the tunnel"
echo "$(line 2)" | grep -q '"packet":"tcp 203.0.113.5:443 > 10.8.0.2:40000 flags SA"' || fail "SYN-ACK not de-NAT-ed"
echo "$(line 2)" | grep -q '"ct":"ESTABLISHED"' || fail "SYN-ACK not ESTABLISHED"
echo "$(line 3)" | grep -q '"ct":"ESTABLISHED"' || fail "ACK not ESTABLISHED"
echo "$(line 4)" | grep -q '"verdict":"DROP"' || fail "unsolicited UDP not dropped by FORWARD policy"
echo "$(line 4)" | grep -q '"filter/FORWARD/policy"' || fail "policy hit missing"

# the human form ends each packet with the => line
"$GW" trace "$conf" --uplink-addr 192.0.2.1 'udp 10.8.0.2:5000 > 203.0.113.5:53' |
	grep -Eq '^=> ACCEPT out eth0 udp 192\.0\.2\.1:[0-9]+ > 203\.0\.113\.5:53 ct NEW$' || fail "human output"
# without an uplink address MASQUERADE has nothing to map to
"$GW" trace "$conf" --json 'udp 10.8.0.2:5000 > 203.0.113.5:53' | grep -q '"drop":"nat_no_address"' ||
	fail "no uplink address"

# what gw run does after the verdict (gw/forward.h), shown as it does it:
# a DF packet over the uplink's MTU is answered with fragmentation needed
# and its MTU, one without DF goes in fragments, a packet the host sends
# to a tunnel address no peer has is answered with host unreachable
out=$("$GW" trace "$conf" --uplink-addr 192.0.2.1 --json \
	'tcp 10.8.0.2:40000 > 203.0.113.5:443 flags S len 1600 df' \
	'icmp 10.8.0.1 > 10.8.0.77')
log "$out"
echo "$(line 1)" | grep -q '"verdict":"DROP".*"drop":"frag_needed"' || fail "a DF packet over the MTU: not dropped before FORWARD"
echo "$(line 1)" | grep -q '"reply":"icmp 10.8.0.1 > 10.8.0.2 icmp 3/4"' ||
	fail "a DF packet over the MTU: no fragmentation needed"
echo "$(line 2)" | grep -q '"drop":"no_peer"' || fail "to no peer: not dropped"
echo "$(line 2)" | grep -q '"reply":"icmp 10.8.0.1 > 10.8.0.1 icmp 3/1"' || fail "to no peer: not answered"
"$GW" trace "$conf" --uplink-addr 192.0.2.1 'udp 10.8.0.2:5000 > 203.0.113.5:53 len 1600' |
	grep -q '(in fragments of at most 1500 bytes)' || fail "no fragments shown"

# a peer's share of conntrack (PeerConntrackMax) as gw run keeps it: the
# third new flow of the peer is dropped with its reason; an unsolicited ACK
# off the uplink to a NatPort leaves no entry
mkdir "$TMP/limit"
sed 's/^\[Interface\]$/&\nPeerConntrackMax = 2/' "$conf" > "$TMP/limit/gw0.conf"
sed -i "s|^Rules = .*|Rules = $TOP/contrib/examples/gw0.rules|" "$TMP/limit/gw0.conf"
out=$("$GW" trace "$TMP/limit/gw0.conf" --uplink-addr 192.0.2.1 --json --conntrack \
	'udp 10.8.0.2:5000 > 203.0.113.5:53' 'udp 10.8.0.2:5001 > 203.0.113.5:53' \
	'udp 10.8.0.2:5002 > 203.0.113.5:53' 'tcp 203.0.113.9:443 > 192.0.2.1:61000 in eth0 flags A')
log "$out"
[ "$(line 1 | grep -c '"verdict":"ACCEPT"')$(line 2 | grep -c '"verdict":"ACCEPT"')" = 11 ] ||
	fail "the peer's first two flows"
line 3 | grep -q '"verdict":"DROP",.*"drop":"peer_conntrack_limit"' || fail "the third flow: $(line 3)"
[ "$(grep -c 'src=' <<<"$out")" = 2 ] || fail "conntrack after the trace: $out"

# rules -f: canonical form, fixed point, errors with FILE:LINE
"$GW" rules -f "$TOP/contrib/examples/gw0.rules" save > "$TMP/a"
grep -q -- '-A POSTROUTING -s 10.8.0.0/24 -o eth0 -j MASQUERADE' "$TMP/a" || fail "save: $(cat "$TMP/a")"
"$GW" rules -f "$TMP/a" save > "$TMP/b"
cmp -s "$TMP/a" "$TMP/b" || fail "load -> save -> load is not a fixed point"
printf '*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -m foo -j ACCEPT\nCOMMIT\n' > "$TMP/bad.rules"
set +e
msg=$("$GW" rules -f "$TMP/bad.rules" save 2>&1 >/dev/null); rc=$?
set -e
[ "$rc" = 1 ] || fail "bad rules: exit $rc"
case "$msg" in "$TMP/bad.rules:3: "*foo*) ;; *) fail "bad rules: '$msg'";; esac
# the largest counters load and print back (iptables-restore -c takes them too)
printf '*filter\n:INPUT ACCEPT [0:18446744073709551615]\n:FORWARD ACCEPT [18446744073709551615:1]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n' > "$TMP/max.rules"
"$GW" rules -c -f "$TMP/max.rules" save | grep -qx ':FORWARD ACCEPT \[18446744073709551615:1\]' ||
	fail "the largest counter does not round-trip"
# a config whose rules file is bad refuses to trace
sed "s|^Rules = .*|Rules = $TMP/bad.rules|" "$conf" > "$TMP/gw0.conf"
set +e
msg=$("$GW" trace "$TMP/gw0.conf" 'udp 10.8.0.2:1 > 1.2.3.4:2' 2>&1 >/dev/null); rc=$?
set -e
[ "$rc" = 1 ] && [[ "$msg" == "$TMP/bad.rules:3: "* ]] || fail "trace with bad rules: $rc '$msg'"
# a packet gw trace cannot read is refused by name, with exit 1
for bad in 'tcp 10.8.0.2:1 203.0.113.5:2' 'tcp 10.8.0.300:1 > 203.0.113.5:2' \
	'sctp 10.8.0.2 > 203.0.113.5' 'udp 10.8.0.2:1 > 203.0.113.5:2 flags S' \
	'tcp 10.8.0.2:1 > 203.0.113.5:2 flags X' 'udp 10.8.0.2:1 > 1.2.3.4:2 ttl 0' \
	'udp 10.8.0.2:1 > 1.2.3.4:2 len 5' 'udp @9.src:1 > 1.2.3.4:2' \
	'icmp 203.0.113.5 > 192.0.2.1 icmp 3/3 in eth0'; do
	set +e
	msg=$("$GW" trace "$conf" --uplink-addr 192.0.2.1 "$bad" 2>&1 >/dev/null); rc=$?
	set -e
	[ "$rc" = 1 ] || fail "trace '$bad': exit $rc"
	[[ "$msg" == "gw: trace: '"* ]] || fail "trace '$bad': unclear error '$msg'"
done
log "trace and rules -f work on contrib/examples"
