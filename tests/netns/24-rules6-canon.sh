#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# IPv6 rules against the real ip6tables (Debian 12: 1.8.9, nf_tables) in a
# namespace of its own, as 20-rules-canon.sh and 22-rules-list.sh do for
# IPv4:
#  - the canonical table tests/unit/rules6_canon.txt ("RULE;CANONICAL;OK|FAIL"
#    rows under "*table" lines, each restored as *table / :U - [0:0] / RULE /
#    COMMIT): OK rows load and ip6tables-save prints CANONICAL (a fixed
#    point), FAIL rows are refused.  The unit test checks gw on the same rows;
#  - every table's OK rows in one file: ip6tables-save -c against
#    gw rules -6 -f FILE save -c;
#  - the listings tests/unit/rules6_list_*.txt ("@@ rules" / "@@ list TABLE
#    ARGS"): ip6tables -L against gw rules -6 -f FILE -L, byte for byte.
#
#   ┌───────────────────────────────┐
#   │ c: lo only, ip6tables-restore │   one namespace, no links
#   └───────────────────────────────┘
#
# REGEN=FILE prints rows for the rules in FILE (same "*table" sections, one
# rule per line) from what ip6tables says, to extend the table; REGEN=1
# rewrites the list sections of the rules6_list files.
. "$(dirname "$0")/lib.sh"

TABLE=$TOP/tests/unit/rules6_canon.txt
command -v ip6tables-restore >/dev/null || fail "ip6tables-restore missing (make deps)"
[ -x "$GW" ] || fail "$GW missing (make)"
host_add c

empty() { printf '*raw\nCOMMIT\n*mangle\nCOMMIT\n*nat\nCOMMIT\n*filter\nCOMMIT\n' | on c ip6tables-restore; }

# restore TABLE RULE: load one rule, print its saved -A lines joined by \n
restore() {
	local t=$1 rule=$2
	printf '*%s\n:U - [0:0]\n%s\nCOMMIT\n' "$t" "$rule" > "$TMP/in"
	on c ip6tables-restore < "$TMP/in" > /dev/null 2> "$TMP/err" || return 1
	on c ip6tables-save -t "$t" | grep '^-A' | awk 'NR > 1 { printf "\\n" } { printf "%s", $0 }'
	printf '*%s\nCOMMIT\n' "$t" | on c ip6tables-restore
}

if [ -n "${REGEN:-}" ] && [ -f "$REGEN" ]; then
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

if [ -z "${REGEN:-}" ]; then
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
			log "  ip6tables-save: $got"
			log "  table:          $want"
			bad=$((bad + 1))
			continue
		fi
		again=$(restore "$table" "${want//\\n/$'\n'}") || again="(refused)"
		if [ "$again" != "$want" ]; then
			log "not a fixed point: *$table $want -> $again"
			bad=$((bad + 1))
		fi
	done < "$TABLE"
	[ "$bad" = 0 ] || fail "$bad of $n rows differ from ip6tables"
	log "$n rows agree with ip6tables-restore/ip6tables-save"

	# every table's OK rows in one file (rows with U aside), counters included
	for t in raw mangle nat filter; do
		awk -v t="$t" -F';' '
			/^\*/ { cur = substr($0, 2); next }
			/^#/ || !NF { next }
			cur == t && $NF == "OK" && $0 !~ / U/ && $0 !~ /--goto/ {
				sub(/;[^;]*;OK$/, ""); print
			}' "$TABLE" > "$TMP/rows"
		{ printf '*%s\n:U - [0:0]\n' "$t"; cat "$TMP/rows"; echo COMMIT; } > "$TMP/$t.rules"
		for c in -c ""; do
			on c ip6tables-restore $c < "$TMP/$t.rules" > "$TMP/out" 2>&1 ||
				fail "all $t rows: ip6tables-restore $c refuses them: $(cat "$TMP/out")"
			on c ip6tables-save -c | grep -v '^#' > "$TMP/ipt" || true
			"$GW" rules -6 $c -f "$TMP/$t.rules" save -c | grep -v '^#' > "$TMP/gw" ||
				fail "all $t rows: gw rules -6 $c refuses them"
			diff -u "$TMP/ipt" "$TMP/gw" || fail "all $t rows: gw's save ($c) differs from ip6tables-save"
			empty
		done
	done
	log "whole files agree with ip6tables-save -c"
fi

# the listings
sections() {
	awk -v rules="$TMP/rules" -v lists="$TMP/lists" '
		/^@@ / { sec = $2; if (sec == "list") print substr($0, 9) > lists; next }
		sec == "rules" { print > rules }
	' "$1"
}
n=0 bad=0
for f in "$TOP"/tests/unit/rules6_list_*.txt; do
	name=${f##*/}
	: > "$TMP/rules"
	: > "$TMP/lists"
	sections "$f"
	empty
	on c ip6tables-restore -c < "$TMP/rules" > /dev/null 2> "$TMP/err" ||
		fail "$name: ip6tables-restore refuses the rules: $(cat "$TMP/err")"
	{
		awk '/^@@ /{ exit } { print }' "$f"
		echo '@@ rules'
		cat "$TMP/rules"
		while IFS= read -r args; do
			read -r table rest <<< "$args"
			echo "@@ list $args"
			# shellcheck disable=SC2086 # ARGS are words
			on c ip6tables -t "$table" $rest
		done < "$TMP/lists"
	} > "$TMP/new"
	if [ -n "${REGEN:-}" ]; then
		cp "$TMP/new" "$f"
		log "$name: regenerated"
		continue
	fi
	n=$((n + 1))
	if ! diff -u "$f" "$TMP/new" > "$TMP/diff"; then
		cat "$TMP/diff" >&2
		log "$name: ip6tables -L differs from the file"
		bad=$((bad + 1))
	fi
	# gw's offline listing of the same rules
	while IFS= read -r args; do
		read -r table rest <<< "$args"
		# shellcheck disable=SC2086 # ARGS are words
		on c ip6tables -t "$table" $rest > "$TMP/ipt"
		# shellcheck disable=SC2086
		"$GW" rules -6 -c -f "$TMP/rules" -t "$table" $rest > "$TMP/gw" ||
			{ log "$name: gw rules -6 -L $args failed"; bad=$((bad + 1)); continue; }
		if ! diff -u "$TMP/ipt" "$TMP/gw" > "$TMP/diff"; then
			cat "$TMP/diff" >&2
			log "$name: gw rules -6 -t $table $rest differs from ip6tables"
			bad=$((bad + 1))
		fi
	done < "$TMP/lists"
done
empty
[ -z "${REGEN:-}" ] || exit 0
[ "$bad" = 0 ] || fail "$bad of $n listing files differ from ip6tables -L"
log "$n listing files agree with ip6tables -L (and gw rules -6 -L)"
