#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# TCPMSS in gw run adds an MSS option to a SYN that has none, as the kernel
# does (diff scenario 53 shows the kernel's side): min(536, target), the
# packet 4 bytes longer, checksums right.  The option has to fit in the
# buffer the packet arrived in, and each way in has its own: a peer's
# datagram (the padding and spent tag after the packet), the uplink's
# receive ring slot, the TCP read from the host's TUN.  The world of
# gateway.sh with a TCPMSS --clamp-mss-to-pmtu rule on each way:
#
#   1. the client sends a SYN without options through the tunnel to the
#      internet host: it arrives there with MSS 536
#   2. the internet host sends one to a DNAT-ed port of the uplink: the
#      client gets it with MSS 536
#   3. the gateway host sends one to the client (OUTPUT, POSTROUTING -o
#      gw0): the client gets it with MSS 536
# Before, gw forwarded all three without an option (the room after the
# packet was never known outside the unit tests).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/gateway.sh"

cat > "$TMP/tcpmss.rules" <<'EOR'
*mangle
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A FORWARD -p tcp -m tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu
-A POSTROUTING -o gw0 -p tcp -m tcp --dport 82 --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu
COMMIT
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A PREROUTING -i eth0 -p tcp -m tcp --dport 8081 -j DNAT --to-destination 10.8.0.2:81
-A POSTROUTING -s 10.8.0.0/24 -o eth0 -j MASQUERADE
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED,DNAT -j ACCEPT
-A FORWARD -i gw0 -o eth0 -j ACCEPT
COMMIT
EOR
GW_RULES=$TMP/tcpmss.rules gateway_world

# cap N HOST IFACE PORT -- SENDER...: the first TCP segment with PORT seen on
# HOST's IFACE once SENDER ran, described by syn_cap.py, into $TMP/capN;
# SENDER runs again each second until one is seen (a first SYN may wait
# on a neighbour entry, or be lost)
cap() {
	local n=$1 h=$2 ifc=$3 port=$4 i
	shift 5
	rm -f "$TMP/ready$n"
	bg "$h" python3 "$TOP/tests/netns/syn_cap.py" "$ifc" "$port" "$TMP/ready$n" 30 \
		> "$TMP/cap$n"
	local pid=$BG_PID
	wait_for 10 test -e "$TMP/ready$n"
	for ((i = 0; i < 20 * 25; i++)); do
		((i % 20)) || "$@"
		[ -s "$TMP/cap$n" ] && break
		sleep 0.05
	done
	wait "$pid" || fail "case $n: nothing on $h's $ifc for port $port"
	log "case $n: $(cat "$TMP/cap$n")"
}
want() {
	local line
	line=$(cat "$TMP/cap$1"); shift
	for kv in "$@"; do
		[[ " $line " == *" $kv "* ]] || fail "wanted $kv in: $line"
	done
}
seg() { local h=$1; shift; on "$h" python3 "$TOP/tests/netns/tcpseg.py" "$@"; }

# 1. a peer's SYN, out by the uplink (its datagram's room)
cap 1 internet eth0 81 -- seg client 10.8.0.2 "$SRV" 40001 81 1000 0 S
want 1 dport=81 flags=S hlen=24 tot=44 mss=536 csum=ok

# 2. a SYN off the uplink, DNAT-ed to the client (the ring slot's room)
cap 2 client wgc0 81 -- seg internet "$SRV" "$UPL" 40002 8081 2000 0 S
want 2 sport=40002 dport=81 flags=S hlen=24 tot=44 mss=536 csum=ok

# 3. the gateway host's own SYN to the client (the TUN read's room)
cap 3 client wgc0 82 -- seg gateway 10.8.0.1 10.8.0.2 40003 82 3000 0 S
want 3 sport=40003 dport=82 flags=S hlen=24 tot=44 mss=536 csum=ok

# the SYNs counted 44 bytes after the option went in (iptables -c's way)
on gateway "$GW" rules "$ctl" -L FORWARD -t filter -v -x -n > "$TMP/fwd.list"
log "$(cat "$TMP/fwd.list")"
awk '$3 == "ACCEPT" && $6 == "gw0" && $7 == "eth0" && $1 > 0 && $2 == 44 * $1 { ok = 1 }
     END { exit !ok }' "$TMP/fwd.list" || fail "FORWARD's rule 2 did not count the SYNs at 44 bytes"
no_netfilter
log "PASS"
