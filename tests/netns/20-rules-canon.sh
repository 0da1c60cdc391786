#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The canonical-spelling table (tests/unit/rules_canon.txt), checked against
# the real iptables-restore / iptables-save (Debian 12: 1.8.9, nf_tables) in
# a namespace of its own.  The unit test checks gw against the same table,
# so gw's save prints what iptables-save prints.
#
#   ┌──────────────────────────────┐
#   │ c: lo only, iptables-restore │   one namespace, no links
#   └──────────────────────────────┘
#
# Each row "RULE;CANONICAL;OK|FAIL" (after a "*table" line) is restored as
#   *table / :U - [0:0] / RULE / COMMIT
# OK rows must load and save as CANONICAL (lines joined by a literal \n),
# and CANONICAL must load back to itself; FAIL rows must be refused.
#
# REGEN=FILE prints rows for the rules in FILE (same "*table" sections, one
# rule per line) from what iptables says, to extend the table.
. "$(dirname "$0")/lib.sh"

TABLE=$TOP/tests/unit/rules_canon.txt
command -v iptables-restore >/dev/null || fail "iptables-restore missing (make deps)"
host_add c

# restore TABLE RULE: load one rule, print its saved -A lines joined by \n
restore() {
	local t=$1 rule=$2
	printf '*%s\n:U - [0:0]\n%s\nCOMMIT\n' "$t" "$rule" > "$TMP/in"
	on c iptables-restore < "$TMP/in" > /dev/null 2> "$TMP/err" || return 1
	on c iptables-save -t "$t" | grep '^-A' | awk 'NR > 1 { printf "\\n" } { printf "%s", $0 }'
	# leave the table empty for the next row
	printf '*%s\nCOMMIT\n' "$t" | on c iptables-restore
}

if [ -n "${REGEN:-}" ]; then
	table=filter
	while IFS= read -r line; do
		case $line in
		'*'*) table=${line#\*}; echo "$line"; continue ;;
		''|'#'*) continue ;;
		esac
		if out=$(restore "$table" "$line"); then
			printf '%s;%s;OK\n' "$line" "$out"
		else
			printf '%s;;FAIL\n' "$line"
		fi
	done < "$REGEN"
	exit 0
fi

table=filter
n=0 bad=0
while IFS= read -r line; do
	case $line in
	'*'*) table=${line#\*}; continue ;;
	''|'#'*) continue ;;
	esac
	status=${line##*;}
	rest=${line%;*}
	want=${rest##*;}
	rule=${rest%;*}
	n=$((n + 1))
	if [ "$status" = FAIL ]; then
		if restore "$table" "$rule" > /dev/null; then
			log "accepted, table says FAIL: *$table $rule"
			bad=$((bad + 1))
		fi
		continue
	fi
	if ! got=$(restore "$table" "$rule"); then
		log "refused ($(tr '\n' ' ' < "$TMP/err")), table says OK: *$table $rule"
		bad=$((bad + 1))
		continue
	fi
	if [ "$got" != "$want" ]; then
		log "*$table $rule"
		log "  iptables-save: $got"
		log "  table:         $want"
		bad=$((bad + 1))
		continue
	fi
	# the canonical form is a fixed point of iptables too
	again=$(restore "$table" "${want//\\n/$'\n'}") || again="(refused)"
	if [ "$again" != "$want" ]; then
		log "not a fixed point: *$table $want -> $again"
		bad=$((bad + 1))
	fi
done < "$TABLE"
[ "$bad" = 0 ] || fail "$bad of $n rows differ from iptables"
log "$n rows agree with iptables-restore/iptables-save"

# Whole files, counters included: iptables-restore [-c] + iptables-save -c
# against gw rules [-c] -f FILE save -c (comment lines aside), with and
# without loading the file's counters.
[ -x "$GW" ] || fail "$GW missing (make)"
whole() {
	local name=$1 file=$2 c
	for c in -c ""; do
		on c iptables-restore $c < "$file" > "$TMP/out" 2>&1 ||
			fail "$name: iptables-restore $c refuses it: $(cat "$TMP/out")"
		on c iptables-save -c | grep -v '^#' > "$TMP/ipt" || true
		"$GW" rules $c -f "$file" save -c | grep -v '^#' > "$TMP/gw" || fail "$name: gw $c refuses it"
		diff -u "$TMP/ipt" "$TMP/gw" || fail "$name: gw's save ($c) differs from iptables-save"
		printf '*raw\nCOMMIT\n*mangle\nCOMMIT\n*nat\nCOMMIT\n*filter\nCOMMIT\n' | on c iptables-restore
	done
}
# refused by both only when counters are loaded: a [p:b] prefix is a -c
refused_with_c() {
	local name=$1 file=$2
	on c iptables-restore -c < "$file" > /dev/null 2>&1 && fail "$name: iptables-restore -c takes it"
	"$GW" rules -c -f "$file" save > /dev/null 2>&1 && fail "$name: gw rules -c takes it"
	whole_no_c "$name" "$file"
}
whole_no_c() {
	local name=$1 file=$2
	on c iptables-restore < "$file" > "$TMP/out" 2>&1 || fail "$name: iptables-restore refuses it: $(cat "$TMP/out")"
	on c iptables-save -c | grep -v '^#' > "$TMP/ipt" || true
	"$GW" rules -f "$file" save -c | grep -v '^#' > "$TMP/gw" || fail "$name: gw refuses it"
	diff -u "$TMP/ipt" "$TMP/gw" || fail "$name: gw's save differs from iptables-save"
	printf '*raw\nCOMMIT\n*mangle\nCOMMIT\n*nat\nCOMMIT\n*filter\nCOMMIT\n' | on c iptables-restore
}
# every table's OK rows in one file (rows with U aside: a jump to U would
# make U's rules reachable where some are not valid)
for t in raw mangle nat filter; do
	awk -v t="$t" -F';' '
		/^\*/ { cur = substr($0, 2); next }
		/^#/ || !NF { next }
		cur == t && $NF == "OK" && $0 !~ / U/ && $0 !~ /--goto/ {
			sub(/;[^;]*;OK$/, ""); print
		}' "$TABLE" > "$TMP/rows"
	{ printf '*%s\n:U - [0:0]\n' "$t"; cat "$TMP/rows"; echo COMMIT; } > "$TMP/$t.rules"
	whole "all $t rows" "$TMP/$t.rules"
done
cat > "$TMP/chains.rules" <<'RULES'
# chain order, policies, counters and tables in one file
*nat
:PREROUTING ACCEPT [4:240]
:POSTROUTING ACCEPT [0:0]
:zz - [0:0]
:PORTFW - [0:0]
[1:60] -A PREROUTING -d 192.0.2.1 -p tcp -j PORTFW
-A PORTFW -p tcp --dport 8080 -j DNAT --to 10.8.0.2:80
-A POSTROUTING -s 10.8.0.0/24 -o eth0 -j MASQUERADE
COMMIT
*filter
:INPUT DROP [10:2000]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [1:2]
:zeta - [5:6]
:Alpha - [0:0]
:_x - [0:0]
:beta - [0:0]
[3:4] -A INPUT -j zeta
-A zeta -j beta
-A beta -g Alpha
-A Alpha -m limit --limit 60/minute -j LOG --log-prefix "in: "
-A Alpha -p tcp -j REJECT --reject-with tcp-reset
-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A FORWARD -i gw0 -o eth0 -j ACCEPT
-A _x -j RETURN
COMMIT
*mangle
-A FORWARD -p tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu
COMMIT
RULES
whole "chains and counters" "$TMP/chains.rules"
cat > "$TMP/setcounters.rules" <<'RULES'
*filter
:INPUT DROP [1:2]
-A INPUT -s 10.0.0.1/32 -c 5 50 -j ACCEPT
[6:60] -A INPUT -s 10.0.0.2/32 -c 7 70 -j ACCEPT
COMMIT
RULES
refused_with_c "a [p:b] prefix and -c" "$TMP/setcounters.rules"
log "whole files agree with iptables-save -c"
