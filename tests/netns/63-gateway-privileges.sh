#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# gw keeps only what it needs after setup (gw/priv.h), three ways, each with
# a stock wireguard-go client -> gw MASQUERADE -> internet transfer:
#
# (a) started as root with User = nobody, in the world of gateway.sh:
#
#   ┌────────────────┐ eth0      lan0 ┌───────────────────────┐ eth0          eth0 ┌──────────┐
#   │ client         │ 192.0.2.2   .1 │ gateway               │ 198.51.100.1        │ internet │
#   │  wireguard-go  ├───── veth ─────┤  gw run, User=nobody  ├─────── veth ────────┤ .100.2   │
#   └────────────────┘                └───────────────────────┘                     └──────────┘
#
#     /proc/PID/status: uid/gid 65534, no groups, CapEff = CapPrm =
#     cap_net_admin, CapBnd/CapInh/CapAmb empty, NoNewPrivs; gw stats says
#     the same, Seccomp 2 (gw's filter) on every thread; TCP and ICMP echo
#     through the NAT; SIGHUP reloads the rules
#     (readable by nobody); a restore with --gid-owner is warned about (its
#     capabilities are gone); the uplink address changes and the dropped gw
#     moves the tc filter (no error, TCP on the new address works); SIGTERM
#     exits 0 and removes the tc filter and the reserved ports.
# (c) started as uid 65534 with ambient CAP_NET_ADMIN and CAP_NET_RAW and that
#     bounding set, no_new_privs and a read-only / (what
#     contrib/systemd/gw@.service does), the config still saying User =
#     nobody (itself), in the same gateway: CAP_NET_RAW dropped after setup,
#     the bounding set left as given (no CAP_SETPCAP), not dumpable all the
#     same, traffic, and on
#     SIGTERM the filter, the ports and the control socket (in a directory
#     uid 65534 owns) removed.
# (b) rootless: contrib/container/gw-userns (`unshare --user --map-root-user
#     --net --mount`) run by uid 65534, gw inside as the namespace's root;
#     the test (real root) moves veth ends into its network namespace by PID
#     and configures them with nsenter into its user and network namespaces:
#
#   ┌────────────────┐ eth0      lan0 ┌─────────────────────────────────┐ eth0          eth0 ┌───────────┐
#   │ rclient        │ 192.0.2.2   .1 │ setpriv 65534 unshare -U -n -m  │ 198.51.100.1        │ rinternet │
#   │  wireguard-go  ├───── veth ─────┤  gw run (root in its userns)    ├─────── veth ────────┤ .100.2    │
#   └────────────────┘                └─────────────────────────────────┘                     └───────────┘
#
#     host view: uid 65534, CapEff = CapPrm = cap_net_admin, CapBnd empty;
#     gw stats (asked by uid 65534): uid=0, caps=cap_net_admin; tc filter and
#     reserved ports inside its namespace; TCP + ICMP echo; SIGTERM exits 0
#     and removes the filter, the ports, the TUN and the socket.
#
# /dev/net/tun: gw opens /dev/net/tun; where the node is 0600 (this kind of
# machine: no udev, which makes it 0666) gw's own mount namespace gets a
# 0666 node bind-mounted over it — never a change to the host's /dev.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/gateway.sh"

NOBODY=65534
CAP_NET_ADMIN=0000000000001000
CAP_NET_ADMIN_RAW=0000000000003000
NEW=198.51.100.3

as_nobody() { setpriv --reuid=$NOBODY --regid=$NOBODY --clear-groups -- "$@"; }

# status PID FIELD: a line of /proc/PID/status, tabs as spaces
status() { sed -n "s/^$2:[[:space:]]*//p" "/proc/$1/status" | tr '\t' ' '; }

# check_status PID UID CAPEFF CAPBND: the process's credentials as the
# kernel shows them to us
check_status() {
	local pid=$1 uid=$2 eff=$3 bnd=$4 f
	[ "$(status "$pid" Uid)" = "$uid $uid $uid $uid" ] || fail "Uid: $(status "$pid" Uid)"
	[ "$(status "$pid" Gid)" = "$uid $uid $uid $uid" ] || fail "Gid: $(status "$pid" Gid)"
	[ -z "$(status "$pid" Groups)" ] || fail "Groups: $(status "$pid" Groups)"
	for f in CapEff CapPrm; do
		[ "$(status "$pid" $f)" = "$eff" ] || fail "$f: $(status "$pid" $f), expected $eff"
	done
	[ "$(status "$pid" CapBnd)" = "$bnd" ] || fail "CapBnd: $(status "$pid" CapBnd), expected $bnd"
	for f in CapInh CapAmb; do
		[ "$(status "$pid" $f)" = 0000000000000000 ] || fail "$f: $(status "$pid" $f)"
	done
	[ "$(status "$pid" NoNewPrivs)" = 1 ] || fail "NoNewPrivs: $(status "$pid" NoNewPrivs)"
	# gw's own seccomp filter (gw/sandbox.h), on every thread
	[ "$(status "$pid" Seccomp)" = 2 ] || fail "Seccomp: $(status "$pid" Seccomp), expected 2 (filter)"
	for f in /proc/"$pid"/task/*/status; do
		grep -q '^Seccomp:[[:space:]]*2$' "$f" || fail "$f: $(grep ^Seccomp: "$f")"
	done
	log "  /proc/$pid/status: Uid $uid, CapEff $eff, CapBnd $bnd, NoNewPrivs 1, Seccomp 2"
}

# check_stats STATS-TEXT KEY=VALUE...
check_stats() {
	local text=$1 kv; shift
	for kv in "$@"; do
		grep -qxF "$kv" <<< "$text" || fail "gw stats: no $kv in: $(grep -E '^(user|uid|gid|caps)' <<< "$text" | tr '\n' ' ')"
	done
	log "  gw stats: $(grep -E '^(user|uid|gid|caps)' <<< "$text" | tr '\n' ' ')"
}

# ping HOST DST: one ICMP echo from HOST's namespace, answered by DST within 5 s
ping() { [ "$(icmp_echo "$1" "$2")" = "reply $2" ]; }

# tcp_transfer CLIENT SERVER PORT SRC-ADDR: 1 MB client -> server compared,
# the server saw SRC-ADDR:NatPorts
tcp_transfer() {
	local c=$1 s=$2 port=$3 src=$4 rx
	bg "$s" socat -d -d -u TCP-LISTEN:"$port",reuseaddr - > "$TMP/recv" 2> "$TMP/srv.log"
	rx=$BG_PID
	wait_tcp "$s" "$port"
	on "$c" timeout 30 socat -u - TCP:$SRV:"$port" < "$TMP/data" || fail "$c -> $s: socat"
	wait "$rx" || true
	cmp -s "$TMP/data" "$TMP/recv" ||
		fail "TCP $c -> $s: $(wc -c < "$TMP/recv") of $(wc -c < "$TMP/data") bytes arrived intact"
	grep -Eq "accepting connection from AF=2 $src:61[0-9]{3}( |$)" "$TMP/srv.log" ||
		fail "the server did not see $src:NatPorts: $(grep accepting "$TMP/srv.log")"
}

# no_filter_left NSENTER...: tc filter and reserved ports gone in that namespace
no_filter_left() {
	[ -z "$("$@" tc filter show dev eth0 ingress)" ] || fail "tc filter left behind"
	[[ $("$@" cat /proc/sys/net/ipv4/ip_local_reserved_ports) == *61000* ]] &&
		fail "reserved ports left behind"
	"$@" ip link show gw0 > /dev/null 2>&1 && fail "TUN gw0 still there"
	return 0
}

head -c 1000000 /dev/urandom > "$TMP/data"
# uid 65534 reaches its own directories under $TMP, nothing else
chmod 0711 "$TMP"
# tun_node DIR: DIR/tun, a 0666 TUN node, unless uid 65534 can open
# /dev/net/tun already
tun_node() {
	if as_nobody sh -c ': < /dev/net/tun' 2> /dev/null; then
		return 0
	fi
	mknod -m 0666 "$1/tun" c 10 200
}
# sh code run with DIR as $0 in a mount namespace of its own: DIR/tun (if
# made) over /dev/net/tun
TUN_BIND='if [ -e "$0/tun" ]; then mount --bind "$0/tun" /dev/net/tun || exit 1; fi'

# --- (a) root, User = nobody --------------------------------------------------
log "(a) gw started as root with User = nobody"
GW_IFACE_EXTRA="User = nobody" gateway_world
G() { on gateway "$GW" "$@"; }
wait_for 10 G stats "$ctl"
check_status "$gw_pid" $NOBODY $CAP_NET_ADMIN 0000000000000000
check_stats "$(G stats "$ctl")" user=nobody uid=$NOBODY gid=$NOBODY caps=cap_net_admin \
	caps_effective=cap_net_admin caps_bounding=none
[[ $(G stats "$ctl" --json) == *'"caps": "cap_net_admin"'* ]] || fail "gw stats --json: no caps"
# switched by gw itself: not dumpable, so /proc/PID is root's, not nobody's
[ "$(stat -c %u "/proc/$gw_pid/status")" = 0 ] || fail "gw is dumpable after switching to nobody"
grep -q "gw0: privileges: uid $NOBODY gid $NOBODY, capabilities cap_net_admin, bounding set none" \
	"$TMP/gw.log" || fail "no privileges line: $(cat "$TMP/gw.log")"

log "  TCP and ICMP echo through the tunnel and NAT"
tcp_transfer client internet 7000 $UPL
ping client $SRV || fail "ping $SRV through the NAT"

log "  SIGHUP: Rules (readable by nobody) reloaded"
chmod 0644 "$TMP/gw0.rules"
kill -HUP "$gw_pid"
wait_for 5 grep -q "SIGHUP: rules reloaded" "$TMP/gw.log"

log "  a restore that compares gids: the capabilities for it are gone, and gw says so"
sed 's/^-A FORWARD -i gw0 .*/&\n-A OUTPUT -o gw0 -m owner --gid-owner 4242 -j DROP/' \
	"$TMP/gw0.rules" > "$TMP/gid.rules"
G rules "$ctl" restore "$TMP/gid.rules" || fail "restore with a --gid-owner rule"
grep -q "warning: the rules now need cap_dac_read_search,cap_sys_ptrace, dropped at start" \
	"$TMP/gw.log" || fail "no warning about the missing capabilities: $(tail -3 "$TMP/gw.log")"
G rules "$ctl" restore "$TMP/gw0.rules" || fail "restore gw0.rules"

log "  the uplink address changes: $UPL -> $NEW; the dropped gw moves the tc filter"
bpf() { on gateway tc -d filter show dev eth0 ingress; }
before=$(bpf)
[[ $before == *bpf* ]] || fail "no tc filter on the uplink"
on gateway sysctl -qw net.ipv4.conf.eth0.promote_secondaries=1
on gateway ip addr add $NEW/24 dev eth0
on gateway ip addr del $UPL/24 dev eth0
wait_for 5 grep -q "address $UPL -> $NEW" "$TMP/gw.log"
moved() { after=$(bpf); [[ $after == *bpf* && $after != "$before" ]]; }
wait_for 5 moved
if grep -E "tc (ingress )?filter|reserved_ports|Operation not permitted|Permission denied" \
	"$TMP/gw.log"; then
	fail "errors after the drop (above)"
fi
tcp_transfer client internet 7001 $NEW

log "  SIGTERM: exit 0, tc filter and reserved ports removed by uid $NOBODY"
kill -TERM "$gw_pid"
wait "$gw_pid" || fail "gw exited with $?"
no_filter_left on gateway

# --- (c) uid 65534 with ambient capabilities (the systemd unit) ---------------
log "(c) gw started as uid $NOBODY with ambient cap_net_admin,cap_net_raw (User = itself)"
R=$TMP/c
mkdir -m 0700 "$R"
# (User = nobody stays: gw is that user already, nothing to switch)
sed -e "s#^ControlSocket = .*#ControlSocket = $R/gw0.sock#" -e "s#^UapiSocket = .*#UapiSocket = $R/gw0.uapi#" -e "s#^Rules = .*#Rules = $R/gw0.rules#" \
	"$TMP/gw0.conf" > "$R/gw0.conf"
grep -q "^User = nobody" "$R/gw0.conf" || fail "no User in $R/gw0.conf"
cp "$TMP/gw0.rules" "$R/gw0.rules"
cp "$GW" "$R/gw"
tun_node "$R"
chown -R $NOBODY:$NOBODY "$R"
# the unit's User=, AmbientCapabilities=, CapabilityBoundingSet=,
# NoNewPrivileges= and ProtectSystem=strict (all read-only but its runtime
# directory, /dev, /proc and /sys)
caps=-all,+net_admin,+net_raw
bg gateway unshare -m sh -c "$TUN_BIND"'
	mount --bind "$0" "$0" && mount -o remount,bind,ro / || exit 1
	exec setpriv --reuid='$NOBODY' --regid='$NOBODY' --clear-groups --inh-caps='$caps' \
		--ambient-caps='$caps' --bounding-set='$caps' --no-new-privs -- \
		"$0/gw" run "$0/gw0.conf"' "$R" 2> "$TMP/gw-c.log"
gw_pid=$BG_PID
wait_for 10 G stats "$R/gw0.sock"
check_status "$gw_pid" $NOBODY $CAP_NET_ADMIN $CAP_NET_ADMIN_RAW
check_stats "$(G stats "$R/gw0.sock")" user=nobody uid=$NOBODY caps=cap_net_admin \
	caps_bounding=cap_net_admin,cap_net_raw
# not switched, yet not dumpable (PR_SET_DUMPABLE): /proc/PID is root's
[ "$(stat -c %u "/proc/$gw_pid/status")" = 0 ] || fail "gw is dumpable without a user switch"
# a new gw: the client's session is gone, so it handshakes again now
wgc set wgc0 peer "$gw_pub" remove
wgc set wgc0 peer "$gw_pub" endpoint 192.0.2.1:51820 allowed-ips 0.0.0.0/0
ping client $SRV || fail "ping $SRV through the NAT"
tcp_transfer client internet 7002 $NEW
kill -TERM "$gw_pid"
wait "$gw_pid" || fail "gw exited with $?"
no_filter_left on gateway
[ -e "$R/gw0.sock" ] && fail "control socket left behind"

# --- (b) rootless ---------------------------------------------------------------
log "(b) rootless: gw in unshare --user --map-root-user --net run by uid $NOBODY"
if ! as_nobody unshare --user --map-root-user --net true 2> "$TMP/userns.err"; then
	fail "unprivileged user namespaces are not allowed here ($(cat "$TMP/userns.err");" \
		"user.max_user_namespaces=$(sysctl -n user.max_user_namespaces 2>&1)," \
		"kernel.unprivileged_userns_clone=$(sysctl -n kernel.unprivileged_userns_clone 2>&1)):" \
		"the rootless case cannot be tested"
fi
host_add rclient rinternet
R=$TMP/b
mkdir -m 0700 "$R"
cp "$TMP/gw0.rules" "$R/gw0.rules"
cp "$GW" "$R/gw"
tun_node "$R"
rcl_priv=$("$GW" genkey); rcl_pub=$(printf '%s\n' "$rcl_priv" | "$GW" pubkey)
printf '%s\n' "$rcl_priv" > "$TMP/rclient.key"
cat > "$R/gw0.conf" <<EOC
[Interface]
Workers = ${GW_TEST_WORKERS:-2}
PrivateKey = $("$GW" genkey)
ListenPort = 51820
Address = 10.8.0.1/24
Uplink = eth0
Rules = $R/gw0.rules
NatPorts = 61000-61999
ControlSocket = $R/gw0.sock
UapiSocket = $R/gw0.uapi

[Peer]
PublicKey = $rcl_pub
AllowedIPs = 10.8.0.2/32
EOC
rgw_pub=$(sed -n 's/^PrivateKey = //p' "$R/gw0.conf" | "$GW" pubkey)
# contrib/container/gw-userns: the namespaces, then gw once the uplink is
# there (one PID throughout: setpriv, env, unshare and sh exec)
cp "$TOP/contrib/container/gw-userns" "$R/gw-userns"
chown -R $NOBODY:$NOBODY "$R"
setpriv --reuid=$NOBODY --regid=$NOBODY --clear-groups -- env GW="$R/gw" \
	GW_TUN="$([ -e "$R/tun" ] && echo "$R/tun")" "$R/gw-userns" "$R/gw0.conf" \
	2> "$TMP/gw-b.log" &
rgw=$!
_pids+=("$rgw")
waiting() { grep -q "gw-userns: pid $rgw: waiting for uplink eth0" "$TMP/gw-b.log"; }
wait_for 5 waiting
[ "$(awk '{print $1, $2, $3}' "/proc/$rgw/uid_map")" = "0 $NOBODY 1" ] ||
	fail "uid_map of the rootless namespace: $(cat "/proc/$rgw/uid_map")"
RN() { nsenter -t "$rgw" -U -n "$@"; }
ip link add eth0 netns "$(ns rclient)" type veth peer name lan0 netns "$rgw"
RN ip addr add 192.0.2.1/24 dev lan0
RN ip link set lan0 up
ip link add eth0 netns "$rgw" type veth peer name eth0 netns "$(ns rinternet)"
RN ip addr add $UPL/24 dev eth0
RN ip link set eth0 up
addr_add rclient eth0 192.0.2.2/24
on rclient ip link set eth0 up
addr_add rinternet eth0 $SRV/24
on rinternet ip link set eth0 up
asked() { as_nobody "$R/gw" stats "$R/gw0.sock"; }
wait_for 10 asked
check_status "$rgw" $NOBODY $CAP_NET_ADMIN 0000000000000000
check_stats "$(asked)" user=root uid=0 gid=0 caps=cap_net_admin caps_bounding=none
# gw may have started before the uplink's address came: the filters follow it
filtered() { [[ $(RN tc filter show dev eth0 ingress) == *bpf* ]]; }
wait_for 5 filtered
reserved() { [[ $(RN cat /proc/sys/net/ipv4/ip_local_reserved_ports) == *61000-61999* ]]; }
wait_for 5 reserved

wg_go rclient wgc0
wg_in "$WG_PID" set wgc0 private-key "$TMP/rclient.key" peer "$rgw_pub" \
	endpoint 192.0.2.1:51820 allowed-ips 0.0.0.0/0
on rclient ip addr add 10.8.0.2/24 dev wgc0
on rclient ip link set wgc0 up
on rclient ip route add default dev wgc0
log "  TCP and ICMP echo through the rootless gateway"
tcp_transfer rclient rinternet 7000 $UPL
ping rclient $SRV || fail "ping $SRV through the rootless gateway"

log "no iptables or nftables rule in any namespace"
for h in client gateway internet rclient rinternet; do
	r=$(on "$h" iptables-save 2> /dev/null | grep -v '^#' || true)
	[ -z "$r" ] || fail "iptables-save in $h: $r"
	r=$(on "$h" nft list ruleset 2> /dev/null || true)
	[ -z "$r" ] || fail "nft list ruleset in $h: $r"
done
r=$(RN nft list ruleset 2> /dev/null || true)
[ -z "$r" ] || fail "nft list ruleset in the rootless namespace: $r"

log "  SIGTERM: exit 0; filter, ports, TUN and socket removed inside"
# something to look into the namespace with once gw is gone
nsenter -t "$rgw" -U -n sleep 60 &
holder=$!
_pids+=("$holder")
kill -TERM "$rgw"
wait "$rgw" || fail "rootless gw exited with $?"
no_filter_left nsenter -t "$holder" -U -n
[ -e "$R/gw0.sock" ] && fail "control socket left behind"
log "privileges dropped after setup: User, ambient capabilities, rootless; traffic and cleanup work"
