#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The listing tables (tests/unit/rules_list_*.txt), checked against the real
# iptables -L (Debian 12: 1.8.9, nf_tables) in a namespace of its own.  The
# unit test (tests/unit/test_rules_list.c) checks gw's rules_list() against
# the same files byte for byte, so gw rules -L prints what iptables -L does.
#
#   ┌──────────────────────────────────────┐
#   │ c: lo only, iptables-restore -c, -L  │   one namespace, no links,
#   └──────────────────────────────────────┘   no resolver configured
#
# A file is "# comment" lines, then sections that start with a line "@@ ...":
#   @@ rules                  iptables-restore -c input (counters as [p:b])
#   @@ list TABLE ARGS...     what "iptables -t TABLE ARGS..." prints
# Each file's rules are restored into emptied tables and every list section
# must equal iptables' output.  REGEN=1 rewrites the list sections from what
# iptables prints (to add a file: write its rules and "@@ list" lines, then
# REGEN=1 this script, then check the result by eye).
. "$(dirname "$0")/lib.sh"

command -v iptables-restore >/dev/null || fail "iptables-restore missing (make deps)"
host_add c

empty() { printf '*raw\nCOMMIT\n*mangle\nCOMMIT\n*nat\nCOMMIT\n*filter\nCOMMIT\n' | on c iptables-restore; }

# sections FILE: the rules into $TMP/rules, the list headers into $TMP/lists
sections() {
	awk -v rules="$TMP/rules" -v lists="$TMP/lists" '
		/^@@ / { sec = $2; if (sec == "list") print substr($0, 9) > lists; next }
		sec == "rules" { print > rules }
	' "$1"
}

n=0 bad=0
for f in "$TOP"/tests/unit/rules_list_*.txt; do
	name=${f##*/}
	: > "$TMP/rules"
	: > "$TMP/lists"
	sections "$f"
	empty
	on c iptables-restore -c < "$TMP/rules" > /dev/null 2> "$TMP/err" ||
		fail "$name: iptables-restore refuses the rules: $(cat "$TMP/err")"
	{
		awk '/^@@ /{ exit } { print }' "$f"
		echo '@@ rules'
		cat "$TMP/rules"
		while IFS= read -r args; do
			read -r table rest <<< "$args"
			echo "@@ list $args"
			# shellcheck disable=SC2086 # ARGS are words
			on c iptables -t "$table" $rest
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
		log "$name: iptables -L differs from the file"
		bad=$((bad + 1))
	fi
done
empty
[ -z "${REGEN:-}" ] || exit 0
[ "$bad" = 0 ] || fail "$bad of $n files differ from iptables -L"
log "$n files agree with iptables -L"
