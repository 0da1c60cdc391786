#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Controlling a running gateway: the topology of 60-gateway-masquerade.sh
# (wireguard-go client -> gw MASQUERADE -> internet), then
#   control clients      served side by side (a slow one holds no other)
#   gw rules gw0 -L -v -n      counters moved on MASQUERADE and FORWARD
#   gw rules gw0 save          round-trips through gw rules -f FILE save
#   gw rules gw0 restore       a syntax error changes nothing (FILE:LINE);
#                              -c loads the counters, without them 0;
#                              a good file during a TCP transfer: it completes
#   SIGHUP                     a bad Rules file is logged, the old rules stay;
#                              a good one is swapped in
#   gw conntrack gw0 -L/-C/-F  conntrack -L lines with the uplink address and
#                              a NatPorts port; count; flush
#   gw stats gw0 --json        one JSON object
#   gw trace gw0 PACKET...     the live rules' MASQUERADE and de-NAT; the live
#                              counters and conntrack untouched
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/gateway.sh"

gateway_world

# a request the control socket does not know gets an error answer: an
# unknown word, arguments where none go, none where they must, bad ones
for req in bogus "stats now" "rules-save x" rules-list "ct-list brief" "showx" ""; do
	[[ $(printf '%s\n' "$req" | socat -t 3 - UNIX-CONNECT:"$ctl") == error=* ]] ||
		fail "control request '$req' got no error answer"
done
[[ $(echo bogus | socat -t 3 - UNIX-CONNECT:"$ctl") == "error=unknown request" ]] ||
	fail "an unknown control request got no error answer"
[[ $(echo "ct-list brief" | socat -t 3 - UNIX-CONNECT:"$ctl") == "error=bad ct-list request" ]] ||
	fail "ct-list with a bad argument"

G() { on gateway "$GW" "$@"; }
# closed PORT: the server's end of the flow to PORT is gone, so its last
# packet went through gw (the counters and conntrack are compared below; a
# late FIN or ACK would move them)
closed() { [ -z "$(on internet ss -Htan "sport = :$1")" ]; }

# clients are served side by side: a restore whose body comes slowly does
# not hold a stats request made after it (they used to be served in turn)
{ echo "rules-restore slow"; sleep 2; cat "$TMP/gw0.rules"; } |
	{ socat -t 10 - UNIX-CONNECT:"$ctl" > "$TMP/slow.out"; echo slow >> "$TMP/order"; } &
slow=$!
sleep 0.5
G stats "$ctl" > /dev/null || fail "gw stats while a restore is in progress"
echo stats >> "$TMP/order"
wait "$slow"
grep -qx "ok=1" "$TMP/slow.out" || fail "slow restore: $(cat "$TMP/slow.out")"
[ "$(head -1 "$TMP/order")" = stats ] || fail "stats waited for a slow restore: $(cat "$TMP/order")"

# more clients than the server serves at once: the next one is told so; a
# restore larger than a request may be is refused by name, not by SIGPIPE
busy=()
for i in 1 2 3 4 5 6 7 8; do
	{ echo "rules-restore held$i"; sleep 3; } | socat -t 5 - UNIX-CONNECT:"$ctl" > /dev/null &
	busy+=($!)
done
wait_for 5 sh -c "[ \$(ss -xH state connected src '$ctl' | wc -l) -ge 8 ]"
G stats "$ctl" > /dev/null 2> "$TMP/err" && fail "a ninth client was served"
grep -q "busy" "$TMP/err" || fail "a ninth client: $(cat "$TMP/err")"
wait "${busy[@]}"
head -c $((17 << 20)) /dev/zero | G rules "$ctl" restore 2> "$TMP/err" && fail "a 17 MiB restore was taken"
grep -q "too large" "$TMP/err" || fail "a 17 MiB restore: $(cat "$TMP/err")"
G stats "$ctl" > /dev/null || fail "stats after the refusals"

head -c 3000000 /dev/urandom > "$TMP/data"

log "NAT-ed TCP, then gw rules gw0 -L -v -n"
bg internet socat -u TCP-LISTEN:7000,reuseaddr - > "$TMP/recv"
rx=$BG_PID
wait_tcp internet 7000
on client timeout 30 socat -u - TCP:$SRV:7000 < "$TMP/data" || fail "client -> server: socat"
wait "$rx" || true
cmp -s "$TMP/data" "$TMP/recv" || fail "TCP client -> server"

G rules "$ctl" -L -v -n > "$TMP/filter.L" || fail "gw rules -L -v -n"
G rules "$ctl" -t nat -L -v -n > "$TMP/nat.L" || fail "gw rules -t nat -L -v -n"
sed 's/^/    /' "$TMP/filter.L" "$TMP/nat.L"
head -1 "$TMP/filter.L" | grep -q '^Chain INPUT (policy ACCEPT 0 packets, 0 bytes)$' ||
	fail "filter -L header: $(head -1 "$TMP/filter.L")"
grep -Eq '^ +[1-9][0-9]*[KM]? +[1-9][0-9]*[KM]? MASQUERADE +0 +-- +\* +eth0 +10\.8\.0\.0/24 +0\.0\.0\.0/0' \
	"$TMP/nat.L" || fail "MASQUERADE counter did not move"
grep -Eq '^ +[1-9][0-9]*[KM]? +[1-9][0-9]*[KM]? ACCEPT +0 +-- +gw0 +eth0 ' "$TMP/filter.L" ||
	fail "FORWARD -i gw0 -o eth0 counter did not move"
grep -Eq '^ +[1-9][0-9]*[KM]? +[1-9][0-9]*[KM]? ACCEPT .*ctstate RELATED,ESTABLISHED' \
	"$TMP/filter.L" || fail "FORWARD ctstate counter did not move"
G rules "$ctl" -L FORWARD --line-numbers -x -v -n | grep -Eq '^1 +[0-9]+ +[0-9]+ ACCEPT' ||
	fail "-L FORWARD --line-numbers -x"
G rules "$ctl" -t nosuch -L 2> "$TMP/err" && fail "-t nosuch succeeded"
grep -q "Table does not exist" "$TMP/err" || fail "-t nosuch: $(cat "$TMP/err")"

log "gw rules gw0 save round-trips through gw rules -f FILE save"
wait_for 10 closed 7000
G rules "$ctl" save > "$TMP/saved" || fail "gw rules save"
grep -Eq '^\[[1-9][0-9]*:[1-9][0-9]*\] -A POSTROUTING -s 10.8.0.0/24 -o eth0 -j MASQUERADE$' \
	"$TMP/saved" || fail "save: no counters on MASQUERADE: $(cat "$TMP/saved")"
"$GW" rules -c -f "$TMP/saved" save -c > "$TMP/saved2" || fail "gw rules -c -f saved save -c"
cmp -s "$TMP/saved" "$TMP/saved2" || fail "save -> -c -f save -c differs: $(diff "$TMP/saved" "$TMP/saved2")"
# (chain counters are printed without -c too, as iptables-save does)
"$GW" rules -f "$TMP/saved" save | sed 's/\[[0-9]*:[0-9]*\]$/[0:0]/' > "$TMP/canon1"
"$GW" rules -f "$TMP/gw0.rules" save > "$TMP/canon2"
cmp -s "$TMP/canon1" "$TMP/canon2" || fail "live rules differ from the Rules file: $(diff "$TMP/canon1" "$TMP/canon2")"

log "restore of a bad file changes nothing and names FILE:LINE"
sed 's/-j MASQUERADE/-j MASQUERAD/' "$TMP/gw0.rules" > "$TMP/bad.rules"
G rules "$ctl" restore < "$TMP/bad.rules" 2> "$TMP/err" && fail "bad restore succeeded"
grep -Eq '^stdin:8: ' "$TMP/err" || fail "bad restore (stdin): $(cat "$TMP/err")"
G rules "$ctl" restore "$TMP/bad.rules" 2> "$TMP/err" && fail "bad restore FILE succeeded"
grep -Eq "^$TMP/bad.rules:8: " "$TMP/err" || fail "bad restore FILE: $(cat "$TMP/err")"
log "  $(cat "$TMP/err")"
G rules "$ctl" save > "$TMP/saved3"
cmp -s "$TMP/saved" "$TMP/saved3" || fail "a bad restore changed the rules"

log "restore -c loads the text's counters; without -c they start at 0"
# counters far above anything the test's traffic adds: what was loaded
# shows whatever moved meanwhile
big=9000000000000
awk -v big=$big '
	/^:(FORWARD|POSTROUTING) / { sub(/\[[0-9]+:[0-9]+\]$/, "[" big ":" big "]") }
	/^\[[0-9]+:[0-9]+\] -A / { sub(/^\[[0-9]+:[0-9]+\]/, "[" big ":" big "]") }
	{ print }' "$TMP/saved" > "$TMP/big.rules"
grep -c "$big" "$TMP/big.rules" | grep -qv '^0$' || fail "no counters to load in $(cat "$TMP/big.rules")"
# every [p:b] of chains and rules in the save, one per line
counters() { grep -Eo '^(:[A-Z]+ [A-Z-]+ )?\[[0-9]+:[0-9]+\]' | grep -Eo '[0-9]+:[0-9]+' | tr ':' '\n'; }
G rules "$ctl" restore -c < "$TMP/big.rules" || fail "restore -c"
G rules "$ctl" save > "$TMP/saved4"
n=$(counters < "$TMP/saved4" | awk -v big=$big '$1 >= big && $1 < big + 1000000' | wc -l)
want=$(counters < "$TMP/big.rules" | awk -v big=$big '$1 == big' | wc -l)
[ "$n" = "$want" ] && [ "$want" -ge 4 ] ||
	fail "restore -c: $n of $want counters loaded: $(cat "$TMP/saved4")"
G rules "$ctl" restore "$TMP/big.rules" || fail "restore without -c"
G rules "$ctl" save > "$TMP/saved5"
n=$(counters < "$TMP/saved5" | awk '$1 >= 1000000' | wc -l)
[ "$n" = 0 ] || fail "restore without -c kept $n counters: $(cat "$TMP/saved5")"
G rules "$ctl" restore -c "$TMP/big.rules" || fail "restore -c FILE"
G rules "$ctl" save | counters | awk -v big=$big '$1 >= big' | wc -l | grep -qx "$want" ||
	fail "restore -c FILE did not load the counters"

log "a good restore during a running TCP transfer: it completes"
{ sed '/^\*filter/,$d' "$TMP/gw0.rules"; sed -n '/^\*filter/,$p' "$TMP/gw0.rules" |
	sed 's/^COMMIT$/-A FORWARD -p icmp -j ACCEPT\nCOMMIT/'; } > "$TMP/good.rules"
bg internet socat -u TCP-LISTEN:7001,reuseaddr - > "$TMP/recv2"
rx=$BG_PID
wait_tcp internet 7001
{ head -c 1500000 "$TMP/data"; sleep 1.5; tail -c +1500001 "$TMP/data"; } |
	on client timeout 30 socat -u - TCP:$SRV:7001 &
tx=$!
sleep 0.7
[ "$(G conntrack "$ctl" -C)" -ge 1 ] || fail "no conntrack entry during the transfer"
G rules "$ctl" restore < "$TMP/good.rules" || fail "good restore"
wait "$tx" || fail "client -> server during restore: socat"
wait "$rx" || true
cmp -s "$TMP/data" "$TMP/recv2" ||
	fail "TCP during restore: $(wc -c < "$TMP/recv2") of 3000000 bytes arrived intact"
G rules "$ctl" -L FORWARD -n | grep -Eq '^ACCEPT +1 +-- +0\.0\.0\.0/0' ||
	fail "restored rule missing: $(G rules "$ctl" -L FORWARD -n)"

log "SIGHUP: a bad Rules file keeps the old rules, a good one is loaded"
wait_for 10 closed 7001
G rules "$ctl" save > "$TMP/before"
cp "$TMP/bad.rules" "$TMP/gw0.rules"
kill -HUP "$gw_pid"
wait_for 5 grep -q "gw0.rules:8: " "$TMP/gw.log"
G rules "$ctl" save > "$TMP/after"
cmp -s "$TMP/before" "$TMP/after" || fail "a bad SIGHUP reload changed the rules"
cp "$TMP/good.rules" "$TMP/gw0.rules"
sed -i 's/-p icmp -j ACCEPT/-p udp -j ACCEPT/' "$TMP/gw0.rules"
kill -HUP "$gw_pid"
hup() { G rules "$ctl" -L FORWARD -n | grep -Eq '^ACCEPT +17 +-- '; }
wait_for 5 hup
kill -0 "$gw_pid" || fail "gw died on SIGHUP"

log "gw conntrack gw0 -L / -C / -F"
bg internet socat -u TCP-LISTEN:7002,reuseaddr - > /dev/null
wait_tcp internet 7002
{ echo hello; while [ ! -e "$TMP/release" ] && [ -d "$TMP" ]; do sleep 0.05; done; } |
	on client socat -u - TCP:$SRV:7002 &
held=$!
flow() { ct_has "dport=7002"; }
wait_for 5 flow
G conntrack "$ctl" -L > "$TMP/ct" 2> "$TMP/cterr" || fail "gw conntrack -L"
sed 's/^/    /' "$TMP/ct"
grep -Eq "^tcp +6 [0-9]+ ESTABLISHED src=10\.8\.0\.2 dst=$SRV sport=[0-9]+ dport=7002 src=$SRV dst=$UPL sport=7002 dport=61[0-9]{3} (\[ASSURED\] )?mark=0 use=1$" \
	"$TMP/ct" || fail "conntrack -L line: $(grep 7002 "$TMP/ct")"
grep -Eq "^gw conntrack: [1-9][0-9]* flow entries have been shown\.$" "$TMP/cterr" ||
	fail "-L summary: $(cat "$TMP/cterr")"
n=$(G conntrack "$ctl" -C)
[ "$n" = "$(wc -l < "$TMP/ct")" ] || [ "$n" -ge 1 ] || fail "-C: $n"
# the held flow ends in order before the flush (FIN both ways, and the last
# ACK is through gw once the server's socket is gone): a packet of it after
# the flush would be INVALID or NEW, refill the table and move the counters
# gw trace must leave alone below (the client's FIN retransmits did)
touch "$TMP/release"
wait "$held" || fail "the held flow: socat"
wait_for 10 closed 7002
G conntrack "$ctl" -F 2> /dev/null || fail "gw conntrack -F"
n=$(G conntrack "$ctl" -C)
[ "$n" = 0 ] || fail "-F left $n entries"

log "gw stats gw0 --json"
G stats "$ctl" --json > "$TMP/stats.json" || fail "gw stats --json"
python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["path_peer_uplink_packets"] > 0, d' \
	< "$TMP/stats.json" || fail "stats --json: $(head -c 300 "$TMP/stats.json")"
[ "$(G stats "$ctl" | wc -l)" = "$(python3 -c 'import json,sys; print(len(json.load(sys.stdin)))' < "$TMP/stats.json")" ] ||
	fail "--json has not the same keys as the key=value form"

log "gw trace gw0 PACKET: the live rules, nothing sent, nothing live changed"
# quiet first: the held flow's last packets may still be on their way
quiet() {
	G rules "$ctl" save > "$TMP/before"; sleep 0.3
	G rules "$ctl" save > "$TMP/before2"; cmp -s "$TMP/before" "$TMP/before2"
}
wait_for 10 quiet
ct_before=$(G conntrack "$ctl" -C)
G trace "$ctl" 'tcp 10.8.0.2:40000 > 203.0.113.5:443 flags S' \
	'tcp 203.0.113.5:443 > @1.src:@1.sport in eth0 flags SA' > "$TMP/trace" || fail "gw trace live"
sed 's/^/    /' "$TMP/trace"
grep -Eq "^=> ACCEPT out eth0 tcp $UPL:61[0-9]{3} > 203\.0\.113\.5:443 .*ct NEW" "$TMP/trace" ||
	fail "live trace: no MASQUERADE to $UPL:NatPorts"
grep -Eq "^=> ACCEPT out gw0 tcp 203\.0\.113\.5:443 > 10\.8\.0\.2:40000 .*ct ESTABLISHED" \
	"$TMP/trace" || fail "live trace: the reply is not de-NAT-ed"
G trace "$ctl" --json 'udp 10.8.0.2:5000 > 203.0.113.5:53' |
	python3 -c 'import json,sys; d=json.loads(sys.stdin.readline()); assert d["verdict"] == "ACCEPT", d' ||
	fail "live trace --json"
G rules "$ctl" save > "$TMP/after"
cmp -s "$TMP/before" "$TMP/after" || fail "gw trace changed the live counters: $(diff "$TMP/before" "$TMP/after")"
[ "$(G conntrack "$ctl" -C)" = "$ct_before" ] || fail "gw trace changed the live conntrack"

no_netfilter
kill -TERM "$gw_pid"
wait "$gw_pid" || fail "gw exited with $?"
log "gw rules -L/save/restore, SIGHUP, conntrack -L/-C/-F, stats --json, trace on a running gateway"
