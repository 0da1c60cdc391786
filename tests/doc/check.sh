#!/usr/bin/env bash
# The man pages and the bash completion against the code (make unit):
#  1. doc/gw.8 and doc/gw.conf.5 render with groff -man -ww without a warning;
#  2. gw.8 has an entry (.TP) for every subcommand `gw --help` lists and names
#     every option the subcommands' usages show; gw.conf.5 has an entry for
#     every key gw/config.c parses and names every wg-quick key it ignores;
#  3. contrib/bash-completion/gw is valid bash, completes `gw r` to run and
#     rules, and offers every subcommand.
# Usage: tests/doc/check.sh [GW]   (default gw/gw; run from the top directory)
set -u
GW=${1:-gw/gw}
MAN8=doc/gw.8
MAN5=doc/gw.conf.5
COMPL=contrib/bash-completion/gw
fail=0
err() { echo "doc: $*" >&2; fail=1; }

# 1. rendering
for page in "$MAN8" "$MAN5"; do
	out=$(groff -man -Tutf8 -ww -z "$page" 2>&1)
	[ -z "$out" ] || err "$page: groff warns: $out"
	lines=$(groff -man -Tutf8 "$page" 2>/dev/null | wc -l)
	[ "$lines" -gt 20 ] || err "$page: renders to $lines lines"
done

# The first word of the line after each .TP (a tagged paragraph's tag),
# quotes and roff escapes stripped: "PrivateKey" from .BI "PrivateKey = " KEY.
tags() {
	awk 'tp { l = $0; sub(/^\.[A-Z]+ +/, "", l); gsub(/"/, "", l); gsub(/\\-/, "-", l);
		  split(l, w, /[ ,]/); print w[1]; tp = 0; next }
	     /^\.TP/ { tp = 1 }' "$1" | sort -u
}
# The page's text with \- as -.
plain() { sed 's/\\-/-/g' "$1"; }

# 2a. subcommands and their options
subs=$("$GW" --help | awk '/^Available subcommands:/ { on = 1; next } on && /^  [a-z]/ { print $1 }')
[ -n "$subs" ] || err "no subcommands in '$GW --help'"
man8_tags=$(tags "$MAN8")
for s in $subs; do
	grep -qxF -- "$s" <<<"$man8_tags" || err "$MAN8: no entry for subcommand '$s'"
	# options in the subcommand's usage: --long and -X
	opts=$("$GW" "$s" --help 2>&1 | grep -oE '(^|[][ |])--?[A-Za-z][A-Za-z-]*' |
		sed 's/^[][ |]//' | sort -u)
	for o in $opts; do
		plain "$MAN8" | grep -qE -- "(^|[^A-Za-z-])$o([^A-Za-z-]|$)" ||
			err "$MAN8: option '$o' of 'gw $s' is not documented"
	done
done
for o in --help --version; do
	grep -qxF -- "$o" <<<"$man8_tags" || err "$MAN8: no entry for '$o'"
done

# 2b. config keys: every strcasecmp(key, "Name") in the parser has an entry;
# the wg-quick keys it reads and ignores are named.
keys=$(grep -oE 'strcasecmp\(key, "[A-Za-z0-9]+"\)' gw/config.c | sed 's/.*"\(.*\)".*/\1/' | sort -u)
ignored=$(sed -n '/unimplemented\[\] = {/,/};/p' gw/config.c | grep -oE '"[A-Za-z]+"' | tr -d '"')
[ "$(wc -w <<<"$keys")" -ge 20 ] || err "gw/config.c: only $(wc -w <<<"$keys") keys found: the grep is stale"
[ -n "$ignored" ] || err "gw/config.c: no unimplemented keys found: the grep is stale"
man5_tags=$(tags "$MAN5")
for k in $keys; do
	grep -qxF -- "$k" <<<"$man5_tags" || err "$MAN5: no entry for key '$k'"
done
for k in $ignored; do
	plain "$MAN5" | grep -qE "(^|[^A-Za-z])$k([^A-Za-z]|$)" || err "$MAN5: ignored key '$k' is not named"
done
# and no entry for a key the parser does not know
for t in $man5_tags; do
	[[ $t =~ ^[A-Z][A-Za-z0-9]*$ ]] || continue
	grep -qxF -- "$t" <<<"$keys" || err "$MAN5: entry '$t' is not a key gw/config.c parses"
done

# 3. completion
bash -n "$COMPL" || err "$COMPL: not valid bash"
got=$(bash -c '. "$1"
	complete -p gw >/dev/null || exit 1
	COMP_WORDS=(gw r); COMP_CWORD=1; _gw; printf "%s\n" "${COMPREPLY[@]}" | sort | xargs' _ "$COMPL")
[ "$got" = "rules run" ] || err "$COMPL: 'gw r' completes to '$got', not 'rules run'"
all=$(bash -c '. "$1"; COMP_WORDS=(gw ""); COMP_CWORD=1; _gw; printf "%s\n" "${COMPREPLY[@]}"' _ "$COMPL")
for s in $subs; do
	grep -qxF -- "$s" <<<"$all" || err "$COMPL: 'gw ' does not offer '$s'"
done
# an interface from GW_CONFIG_DIR for the commands that take one
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
: >"$dir/doccheck0.conf"
for s in run show stats rules conntrack trace peer; do
	words="gw $s"
	[ "$s" = peer ] && words="gw peer list"
	got=$(GW_CONFIG_DIR=$dir bash -c '. "$1"; read -ra COMP_WORDS <<<"$2"; COMP_WORDS+=(doccheck)
		COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _gw; printf "%s\n" "${COMPREPLY[@]}"' _ "$COMPL" "$words")
	grep -qxF doccheck0 <<<"$got" || err "$COMPL: '$words doccheck' does not complete the interface doccheck0"
done

if [ "$fail" = 0 ]; then
	echo "doc: gw.8, gw.conf.5 and the bash completion match gw ($(wc -w <<<"$subs") subcommands, $(wc -w <<<"$keys") config keys)"
fi
exit "$fail"
