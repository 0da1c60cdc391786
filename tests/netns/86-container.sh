#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# gw in a real container: podman (Debian's 4.3, as root, with the runc
# runtime: this kind of machine has hybrid cgroups, which crun refuses)
# runs the image the way contrib/container/compose.yaml and gw.container
# say — user gw (uid 51820), --cap-drop all --cap-add NET_ADMIN,NET_RAW,
# /dev/net/tun, /proc/sys read-only as every runtime mounts it — joined to
# the test's gateway namespace (--network ns:PATH), and a stock
# wireguard-go client passes traffic through it:
#
#   ┌────────────────┐ eth0      lan0 ┌─────────────────────────────┐ eth0          eth0 ┌──────────┐
#   │ client         │ 192.0.2.2   .1 │ gateway                     │ 198.51.100.1        │ internet │
#   │  wireguard-go  ├───── veth ─────┤  podman run ... gw (uid     ├─────── veth ────────┤ .100.2   │
#   │  10.8.0.2 wgc0 │                │   51820, Uplink eth0)       │                     │          │
#   └────────────────┘                └─────────────────────────────┘                     └──────────┘
#
# 1. without the sysctls preset: gw cannot write ip_local_reserved_ports,
#    exits non-zero saying which value to preset, and leaves no tc filter;
# 2. with --sysctl net.ipv4.ip_local_reserved_ports=61000-61999 and
#    net.ipv4.conf.all.accept_local=1 (the runtime writes them into the
#    namespace before gw starts): gw runs, as uid 51820 with cap_net_admin
#    left (bounding set cap_net_admin,cap_net_raw), /proc/sys read-only in
#    its mounts; TCP (1 MB, compared) and ICMP echo through its NAT; podman
#    stop: gw exits 0, its tc filter goes, the preset reservation stays.
#
# The image: by default built here from the gw binary under test (FROM
# scratch: gw, the libraries ldd names, /etc/passwd with gw, the socket
# directories), in seconds, with the runtime stage's layout of
# contrib/container/Containerfile.  `make container` builds the real
# Containerfile (Debian bookworm, gw compiled in a build stage) and runs this
# test on it: GW_IMAGE names the image, GW_PODMAN_ROOT its storage.  podman
# keeps everything (storage, run state) under the test's own directories.
. "$(dirname "$0")/lib.sh"

command -v podman > /dev/null || fail "no podman (Debian: podman runc; make deps installs them)"
command -v runc > /dev/null || fail "no runc (Debian: runc; make deps installs it)"
PROOT=${GW_PODMAN_ROOT:-$TMP/podman}
P() {
	podman --root "$PROOT/storage" --runroot "$PROOT/run" --storage-driver vfs \
		--cgroup-manager cgroupfs --runtime runc --events-backend file "$@"
}
# containers first (gw gets SIGTERM), then lib.sh's teardown with our status
trap 'rc=$?; set +e; P rm -af -t 5 > /dev/null 2>&1; (exit $rc); _teardown' EXIT
UID_GW=51820
SRV=198.51.100.2 UPL=198.51.100.1

if [ -n "${GW_IMAGE:-}" ]; then
	IMAGE=$GW_IMAGE
else
	log "image from $GW (FROM scratch, the Containerfile's runtime layout)"
	C=$TMP/ctx
	mkdir -p "$C/root/usr/local/bin" "$C/root/etc/gw" "$C/run/gw" "$C/run/wireguard"
	mkdir -p "$C/root/var"
	ln -s /run "$C/root/var/run"
	cp "$GW" "$C/root/usr/local/bin/gw"
	for l in $(ldd "$GW" | grep -o '/[^ ]*\.so[^ ]*'); do
		mkdir -p "$C/root$(dirname "$l")"
		cp -L "$l" "$C/root$l"
	done
	printf 'root:x:0:0::/root:/usr/sbin/nologin\ngw:x:%s:%s::/nonexistent:/usr/sbin/nologin\n' \
		$UID_GW $UID_GW > "$C/root/etc/passwd"
	printf 'root:x:0:\ngw:x:%s:\n' $UID_GW > "$C/root/etc/group"
	chmod 0700 "$C/run/gw" "$C/run/wireguard"
	cat > "$C/Containerfile" <<EOF
FROM scratch
COPY root/ /
COPY --chown=$UID_GW:$UID_GW run/ /run/
USER gw
ENTRYPOINT ["/usr/local/bin/gw"]
CMD ["run", "/etc/gw/gw0.conf"]
EOF
	P build -q -t localhost/gw-test "$C" > /dev/null || fail "podman build"
	IMAGE=localhost/gw-test
fi

host_add client gateway internet
link_add client eth0 gateway lan0
link_add gateway eth0 internet eth0
addr_add client eth0 192.0.2.2/24
addr_add gateway lan0 192.0.2.1/24
addr_add gateway eth0 $UPL/24
addr_add internet eth0 $SRV/24

# the config volume, readable by the image's user
V=$TMP/etc-gw
mkdir -m 0700 "$V"
gw_priv=$("$GW" genkey); gw_pub=$(printf '%s\n' "$gw_priv" | "$GW" pubkey)
cl_priv=$("$GW" genkey); cl_pub=$(printf '%s\n' "$cl_priv" | "$GW" pubkey)
printf '%s\n' "$cl_priv" > "$TMP/client.key"
cp "$TOP/contrib/examples/gw0.rules" "$V/gw0.rules"
cat > "$V/gw0.conf" <<EOC
[Interface]
PrivateKey = $gw_priv
ListenPort = 51820
Address = 10.8.0.1/24
Uplink = eth0
Rules = gw0.rules
NatPorts = 61000-61999
Workers = ${GW_TEST_WORKERS:-2}

[Peer]
PublicKey = $cl_pub
AllowedIPs = 10.8.0.2/32
EOC
chown -R $UID_GW:$UID_GW "$V"
# /dev/net/tun for uid 51820: a 0666 node where the host's is 0600 (no udev
# on this kind of machine; udev makes it 0666), passed as the device
TUN=/dev/net/tun
if [ "$(stat -c %a /dev/net/tun)" != 666 ]; then
	TUN=$TMP/tun
	mknod -m 0666 "$TUN" c 10 200
fi
RUNARGS=(--network "ns:/run/netns/$(ns gateway)" --cap-drop all --cap-add NET_ADMIN,NET_RAW
	--device "$TUN:/dev/net/tun" -v "$V:/etc/gw:ro"
	# this machine's hard limits are below podman's defaults (and below
	# what its runtime starts with), and root here has no CAP_SYS_RESOURCE
	# to raise them: limits lower than both
	--ulimit nofile=4096:4096 --ulimit nproc=4096:4096)

log "1. no sysctl preset: gw refuses, naming the value to preset"
[[ $(on gateway cat /proc/sys/net/ipv4/ip_local_reserved_ports) != *61000* ]] ||
	fail "ports reserved before the test"
if P run --rm --name gw-nopreset "${RUNARGS[@]}" "$IMAGE" > /dev/null 2> "$TMP/nopreset.log"; then
	fail "gw started with a read-only /proc/sys and no reservation"
fi
grep -q "net.ipv4.ip_local_reserved_ports cannot be written here (Read-only file system) and lacks ports 61000-61999 that gw reserves: preset it .*: net.ipv4.ip_local_reserved_ports=61000-61999 " \
	"$TMP/nopreset.log" || fail "no clear message: $(cat "$TMP/nopreset.log")"
[ -z "$(on gateway tc filter show dev eth0 ingress)" ] || fail "tc filter left behind"
log "  $(grep -o 'net.ipv4.ip_local_reserved_ports cannot.*' "$TMP/nopreset.log" | cut -c1-110)..."

log "2. sysctls preset by the runtime: gw runs as uid $UID_GW with two capabilities"
P run --rm --name gw-test "${RUNARGS[@]}" \
	--sysctl net.ipv4.ip_local_reserved_ports=61000-61999 \
	--sysctl net.ipv4.conf.all.accept_local=1 "$IMAGE" > /dev/null 2> "$TMP/gw.log" &
podman_pid=$!
_pids+=("$podman_pid")
gw_pid=""
found() {
	gw_pid=$(P inspect -f '{{.State.Pid}}' gw-test 2> /dev/null) && [ "${gw_pid:-0}" != 0 ]
}
wait_for 30 found
up() { grep -q "gw0: up, listening on port 51820" "$TMP/gw.log"; }
wait_for 10 up
st() { sed -n "s/^$1:[[:space:]]*//p" "/proc/$gw_pid/status" | tr '\t' ' '; }
[ "$(st Uid)" = "$UID_GW $UID_GW $UID_GW $UID_GW" ] || fail "Uid: $(st Uid)"
[ "$(st CapEff)" = 0000000000001000 ] || fail "CapEff: $(st CapEff) (cap_net_admin only expected)"
[ "$(st CapPrm)" = 0000000000001000 ] || fail "CapPrm: $(st CapPrm)"
[ "$(st CapBnd)" = 0000000000003000 ] || fail "CapBnd: $(st CapBnd) (net_admin,net_raw expected)"
[ "$(readlink "/proc/$gw_pid/ns/net")" = "$(on gateway readlink /proc/self/ns/net)" ] ||
	fail "the container is not in the gateway namespace"
awk '$5 == "/proc/sys" { split($6, o, ","); if (o[1] == "ro") ro = 1 } END { exit !ro }' \
	"/proc/$gw_pid/mountinfo" || fail "/proc/sys is not read-only in the container"
grep -q "reserved_ports\|accept_local\|Read-only\|UAPI socket" "$TMP/gw.log" &&
	fail "gw complained about a sysctl or its sockets: $(cat "$TMP/gw.log")"
[[ $(on gateway tc filter show dev eth0 ingress) == *bpf* ]] || fail "no tc filter on eth0"
E() { P exec gw-test gw "$@"; }
grep -qx "caps=cap_net_admin" <<< "$(E stats gw0)" || fail "gw stats in the container: $(E stats gw0)"
log "  uid $UID_GW, CapEff cap_net_admin, CapBnd net_admin+net_raw, /proc/sys ro; podman exec gw stats gw0 works"

wg_go client wgc0
client_pid=$WG_PID
wg_in "$client_pid" set wgc0 private-key "$TMP/client.key" peer "$gw_pub" \
	endpoint 192.0.2.1:51820 allowed-ips 0.0.0.0/0
on client ip addr add 10.8.0.2/24 dev wgc0
on client ip link set wgc0 up
on client ip route add default dev wgc0

log "  TCP and ICMP echo through the container's NAT"
head -c 1000000 /dev/urandom > "$TMP/data"
bg internet socat -d -d -u TCP-LISTEN:7000,reuseaddr - > "$TMP/recv" 2> "$TMP/srv.log"
rx=$BG_PID
wait_tcp internet 7000
on client timeout 30 socat -u - TCP:$SRV:7000 < "$TMP/data" || fail "client -> internet: socat"
wait "$rx" || true
cmp -s "$TMP/data" "$TMP/recv" ||
	fail "TCP: $(wc -c < "$TMP/recv") of $(wc -c < "$TMP/data") bytes arrived intact"
grep -Eq "accepting connection from AF=2 $UPL:61[0-9]{3}( |$)" "$TMP/srv.log" ||
	fail "the server did not see $UPL:NatPorts: $(grep accepting "$TMP/srv.log")"
[ "$(icmp_echo client $SRV)" = "reply $SRV" ] || fail "ping $SRV through the container"

log "  podman stop: gw exits 0, the tc filter goes, the preset reservation stays"
P stop -t 10 gw-test > /dev/null
wait "$podman_pid" || fail "podman run (gw) exited with $?"
[ -z "$(on gateway tc filter show dev eth0 ingress)" ] || fail "tc filter left behind"
[[ $(on gateway cat /proc/sys/net/ipv4/ip_local_reserved_ports) == 61000-61999 ]] ||
	fail "the preset reservation changed: $(on gateway cat /proc/sys/net/ipv4/ip_local_reserved_ports)"
grep -q "signal 15, shutting down" "$TMP/gw.log" || fail "no clean shutdown: $(cat "$TMP/gw.log")"
no_netfilter
log "gw in a podman container: two capabilities, read-only /proc/sys, traffic through it"
