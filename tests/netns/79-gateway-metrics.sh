#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Machine-readable state: the world of gateway.sh with PeerConntrackMax = 6
# and a second peer (idle, 10.8.0.3) that never connects.
#
#   client 10.8.0.2 ─ wg ─ gateway (gw, MASQUERADE) ─ internet 198.51.100.2
#   idle   10.8.0.3 (configured only)                   UDP 7002: answers
#                                                       each datagram with
#                                                       50 bytes more
#
#   gw conntrack -L -o extended  five UDP datagrams of known sizes and five
#                                ICMP echoes: packets= bytes= per direction
#                                are what was sent (whole IP packets)
#   gw show --json               parsed by python3: keys, allowed ips,
#                                endpoint, handshake, conntrack entries and
#                                drops (conntrack limit, allowed ips) per peer
#   gw stats --prometheus        valid exposition format (promcheck.py, and
#                                promtool check metrics where installed:
#                                Debian ships promtool only inside the
#                                prometheus server package, 96 MB that
#                                starts a server, so make deps leaves it);
#                                its values agree with --json and gw stats
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/gateway.sh"

GW_IFACE_EXTRA="PeerConntrackMax = 6"
gateway_world "$(gateway_peer idle 10.8.0.3)"
idle_pub=$("$GW" pubkey < "$TMP/idle.key")
G() { on gateway "$GW" "$@"; }
stat() { G stats "$ctl" | sed -n "s/^$1=//p"; }

bg internet python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 7002))
while True:
    d, a = s.recvfrom(4096)
    s.sendto(d + b"r" * 50, a)'
wait_udp internet 7002

# --- conntrack accounting --------------------------------------------------
# one datagram at a time, each waited for (no resend: a loss fails, it
# does not count twice); then five echo requests with 56 data bytes
on client python3 - "$SRV" <<'PY' || fail "the UDP and ICMP exchange did not complete"
import os, socket, struct, sys
srv = sys.argv[1]
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.bind(("0.0.0.0", 40100))
u.settimeout(20)
for size in (100, 200, 300, 400, 500):
    u.sendto(b"q" * size, (srv, 7002))
    d = u.recv(4096)
    assert len(d) == size + 50, len(d)
def csum(b):
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xffff)
    s += s >> 16
    return ~s & 0xffff
ident = 0x4747
r = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
r.settimeout(20)
for seq in range(1, 6):
    m = struct.pack("!BBHHH", 8, 0, 0, ident, seq) + b"p" * 56
    r.sendto(m[:2] + struct.pack("!H", csum(m)) + m[4:], (srv, 0))
    while True:
        d = r.recv(4096)
        h = (d[0] & 15) * 4
        if d[h] == 0 and struct.unpack("!HH", d[h + 4:h + 8]) == (ident, seq):
            break
PY
G conntrack "$ctl" -L -o extended > "$TMP/ct.ext" 2>/dev/null || fail "gw conntrack -L -o extended"
G conntrack "$ctl" -L > "$TMP/ct.plain" 2>/dev/null
udp=$(grep ' sport=40100 dport=7002 ' "$TMP/ct.ext") || fail "no UDP entry: $(cat "$TMP/ct.ext")"
# originals 5 * 28 + 1500, replies 5 * 28 + 1500 + 5 * 50
re='^ipv4     2 udp      17 [0-9]+ src=10\.8\.0\.2 dst=198\.51\.100\.2 sport=40100 dport=7002 packets=5 bytes=1640 src=198\.51\.100\.2 dst=198\.51\.100\.1 sport=7002 dport=6[0-9]{4} packets=5 bytes=1890 (\[ASSURED\] )?mark=0 use=1$'
[[ $udp =~ $re ]] || fail "UDP line: $udp"
icmp=$(grep "^ipv4     2 icmp     1 .* id=$((0x4747)) " "$TMP/ct.ext") ||
	fail "no ICMP entry: $(cat "$TMP/ct.ext")"
re='^ipv4     2 icmp     1 [0-9]+ src=10\.8\.0\.2 dst=198\.51\.100\.2 type=8 code=0 id=18247 packets=5 bytes=420 src=198\.51\.100\.2 dst=198\.51\.100\.1 type=0 code=0 id=[0-9]+ packets=5 bytes=420 mark=0 use=1$'
[[ $icmp =~ $re ]] || fail "ICMP line: $icmp"
! grep -q 'packets=' "$TMP/ct.plain" || fail "plain -L shows counters: $(cat "$TMP/ct.plain")"
log "conntrack -o extended: UDP 5/1640 and 5/1890, ICMP 5/420 each way, as sent"
for bad in "-o" "-o bogus" "-C -o extended" "-F -o extended" "-L -C"; do
	out=$(G conntrack "$ctl" $bad 2>&1) && fail "gw conntrack $bad was taken"
	[ "$(printf '%s\n' "$out" | wc -l)" = 1 ] || fail "gw conntrack $bad: $out"
done
[ "$(G conntrack "$ctl" -C)" -ge 2 ] || fail "the entries went away"

# --- per-peer drops ----------------------------------------------------------
# 10 new flows: the client has 2 entries, PeerConntrackMax 6 takes 4 more
on client python3 - "$SRV" <<'PY'
import socket, sys
for p in range(41000, 41010):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", p))
    s.sendto(b"x", (sys.argv[1], 7002))
PY
# a packet with a source outside the client's AllowedIPs (10.8.0.99)
on client python3 - "$SRV" <<'PY'
import socket, struct, sys
ip = socket.inet_aton
pl = struct.pack("!HHHH", 5555, 7002, 9, 0) + b"s"
h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(pl), 1, 0, 64, 17, 0,
                ip("10.8.0.99"), ip(sys.argv[1]))
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
s.sendto(h + pl, (sys.argv[1], 0))
PY
limited() { [ "$(stat conntrack_peer_limit)" -ge 6 ] && [ "$(stat drop_allowed-ips)" -ge 1 ]; }
wait_for 20 limited

# --- gw show --json ----------------------------------------------------------
# the conntrack -L count and the JSON's, taken until an expiry between them
# does not get in the way
for ((i = 0; i < 10; i++)); do
	n1=$(G conntrack "$ctl" -L 2>/dev/null | grep -c ' src=10\.8\.0\.2 ' || true)
	G show "$ctl" --json > "$TMP/show.json" || fail "gw show --json"
	n2=$(G conntrack "$ctl" -L 2>/dev/null | grep -c ' src=10\.8\.0\.2 ' || true)
	[ "$n1" = "$n2" ] && break
done
gw_priv=$(sed -n 's/^PrivateKey = //p' "$TMP/gw0.conf")
for secret in "$gw_priv" "$(cat "$TMP/client.key")" "$(cat "$TMP/idle.key")"; do
	! grep -qF "$secret" "$TMP/show.json" || fail "a private key in gw show --json"
done
python3 - "$TMP/show.json" "$gw_pub" "$cl_pub" "$idle_pub" "$n1" \
	"$(stat conntrack_peer_limit)" "$(stat drop_allowed-ips)" <<'PY' || fail "gw show --json: $(cat "$TMP/show.json")"
import json, sys, time
path, gw_pub, cl_pub, idle_pub, entries, limit, aips = sys.argv[1:]
j = json.load(open(path))
def want(what, got, exp):
    if got != exp:
        sys.exit("%s: %r, want %r" % (what, got, exp))
want("interface", j["interface"], "gw0")
want("public_key", j["public_key"], gw_pub)
want("listen_port", j["listen_port"], 51820)
want("addresses", j["addresses"], ["10.8.0.1/24"])
peers = {p["public_key"]: p for p in j["peers"]}
want("peer keys", sorted(peers), sorted([cl_pub, idle_pub]))
c, i = peers[cl_pub], peers[idle_pub]
want("client allowed_ips", c["allowed_ips"], ["10.8.0.2/32"])
want("client endpoint", c["endpoint"].rsplit(":", 1)[0], "192.0.2.2")
hs = c["latest_handshake"]
if not (isinstance(hs, int) and 0 < hs <= time.time() + 5):
    sys.exit("client latest_handshake: %r" % hs)
for k in ("rx_bytes", "tx_bytes", "handshakes_completed"):
    if not (isinstance(c[k], int) and c[k] > 0):
        sys.exit("client %s: %r" % (k, c[k]))
want("client persistent_keepalive", c["persistent_keepalive"], 0)
want("client conntrack_entries", c["conntrack_entries"], int(entries))
if int(entries) < 1:
    sys.exit("no conntrack entries of the client")
want("client drops conntrack-limit", c["drops"]["conntrack-limit"], int(limit))
want("client drops allowed-ips", c["drops"]["allowed-ips"], int(aips))
want("idle allowed_ips", i["allowed_ips"], ["10.8.0.3/32"])
want("idle endpoint", i["endpoint"], None)
want("idle latest_handshake", i["latest_handshake"], 0)
want("idle rx_bytes", i["rx_bytes"], 0)
want("idle conntrack_entries", i["conntrack_entries"], 0)
if any(i["drops"].values()):
    sys.exit("idle drops: %r" % i["drops"])
print("ok")
PY
log "show --json: keys, allowed ips, endpoint, handshake, $n1 conntrack entries, $(stat conntrack_peer_limit) limit and $(stat drop_allowed-ips) allowed-ips drops for the client"
G show "$ctl" json > /dev/null 2>&1 && fail "gw show IFACE json (no --) was taken"

# --- gw stats --prometheus -------------------------------------------------
python3 "$TOP/tests/netns/promcheck.py" --self-test > /dev/null || fail "promcheck.py's self-test"
G stats "$ctl" --prometheus > "$TMP/metrics.prom" || fail "gw stats --prometheus"
G stats "$ctl" > "$TMP/stats.txt"
python3 "$TOP/tests/netns/promcheck.py" "$TMP/metrics.prom" > "$TMP/series.json" ||
	fail "gw stats --prometheus is not valid exposition format"
if command -v promtool > /dev/null; then
	promtool check metrics < "$TMP/metrics.prom" || fail "promtool check metrics"
fi
for secret in "$gw_priv" "$(cat "$TMP/client.key")"; do
	! grep -qF "$secret" "$TMP/metrics.prom" || fail "a private key in --prometheus"
done
python3 - "$TMP/series.json" "$TMP/stats.txt" "$TMP/show.json" "$cl_pub" "$idle_pub" <<'PY' ||
import json, sys
series, stats_txt, show, cl, idle = sys.argv[1:]
s = json.load(open(series))
kv = dict(l.split("=", 1) for l in open(stats_txt).read().split("\n") if "=" in l)
j = json.load(open(show))
def get(name, **labels):
    labels.setdefault("interface", "gw0")
    key = name + "{" + ",".join('%s="%s"' % (k, labels[k]) for k in sorted(labels)) + "}"
    if key not in s:
        sys.exit("no series %s" % key)
    return s[key]
def want(what, got, exp):
    if got != exp:
        sys.exit("%s: %r, want %r" % (what, got, exp))
want("gw_peers", get("gw_peers"), 2)
want("gw_listen_port", get("gw_listen_port"), 51820)
# counters that no longer move agree with gw stats and gw show --json
for k, name, labels in (("conntrack_peer_limit", "gw_conntrack_peer_limit_total", {}),
                        ("conntrack_max", "gw_conntrack_max", {}),
                        ("drop_allowed-ips", "gw_wg_drops_total", {"reason": "allowed-ips"}),
                        ("drop_mac1", "gw_wg_drops_total", {"reason": "mac1"}),
                        ("nf_drop_peer_conntrack_limit", "gw_netfilter_drops_total",
                         {"reason": "peer_conntrack_limit"})):
    want(name, get(name, **labels), float(kv[k]))
peers = {p["public_key"]: p for p in j["peers"]}
for reason in ("conntrack-limit", "allowed-ips"):
    want("client " + reason, get("gw_peer_drops_total", peer=cl, reason=reason),
         peers[cl]["drops"][reason])
want("idle handshake", get("gw_peer_latest_handshake_seconds", peer=idle), 0)
want("idle conntrack", get("gw_peer_conntrack_entries", peer=idle), 0)
if get("gw_peer_latest_handshake_seconds", peer=cl) != peers[cl]["latest_handshake"]:
    sys.exit("client handshake differs from --json")
if get("gw_peer_receive_bytes_total", peer=cl) < peers[cl]["rx_bytes"]:
    sys.exit("client rx bytes went back")
# every number of gw stats is a sample
names = {k.split("{")[0] for k in s}
if len(s) < len([v for v in kv.values() if v.isdigit()]):
    sys.exit("fewer samples (%d) than gw stats numbers" % len(s))
print("ok")
PY
	fail "gw stats --prometheus values: $(head -c 3000 "$TMP/metrics.prom")"
log "stats --prometheus: valid ($(grep -vc '^#' "$TMP/metrics.prom") samples), agrees with gw stats and --json"
