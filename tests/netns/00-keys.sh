#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# gw genkey/pubkey/genpsk against wg(8): same public keys for the same private
# keys, each tool reads the other's keys, bad input is refused with exit 1.
# No hosts: this test only needs the binaries.
. "$(dirname "$0")/lib.sh"

for i in $(seq 20); do
	k=$(wg genkey)
	[ "$(printf '%s\n' "$k" | "$GW" pubkey)" = "$(printf '%s\n' "$k" | wg pubkey)" ] ||
		fail "gw pubkey differs from wg pubkey for a wg key"
	k=$("$GW" genkey)
	[ ${#k} = 44 ] || fail "gw genkey printed '${#k}' characters"
	[ "$(printf '%s\n' "$k" | "$GW" pubkey)" = "$(printf '%s\n' "$k" | wg pubkey)" ] ||
		fail "gw pubkey differs from wg pubkey for a gw key"
	p=$("$GW" genpsk)
	# wg accepts gw's preshared key
	printf '%s\n' "$p" > "$TMP/psk"
	wg pubkey < "$TMP/psk" >/dev/null || fail "wg refuses a gw genpsk key"
done
[ "$("$GW" genkey)" != "$("$GW" genkey)" ] || fail "two genkey runs gave one key"

# without a trailing newline, and with trailing whitespace
k=$(wg genkey)
[ "$(printf '%s' "$k" | "$GW" pubkey)" = "$(printf '%s' "$k" | wg pubkey)" ] || fail "no newline"
[ "$(printf '%s \n\n' "$k" | "$GW" pubkey)" = "$(printf '%s' "$k" | wg pubkey)" ] || fail "whitespace"

# bad input: both tools refuse it; gw says why, exits 1, prints nothing on stdout
bad=(
	""                                               # empty
	"abc"                                            # short
	"${k%=}"                                         # 43 characters
	"${k}A"                                          # 45 characters
	"${k:0:42}*="                                    # not base64
	"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh9="   # non-zero trailing bits
	" $k"                                            # leading space
	"$k trailing"                                    # trailing garbage
)
for b in "${bad[@]}"; do
	set +e
	out=$(printf '%s\n' "$b" | "$GW" pubkey 2>"$TMP/err"); rc=$?
	printf '%s\n' "$b" | wg pubkey >/dev/null 2>&1; wrc=$?
	set -e
	[ "$rc" = 1 ] || fail "gw pubkey '$b': exit $rc, want 1"
	[ "$wrc" != 0 ] || fail "wg accepts '$b' but gw does not"
	[ -z "$out" ] || fail "gw pubkey '$b' printed '$out'"
	grep -q 'not a key' "$TMP/err" || fail "gw pubkey '$b': unclear error: $(cat "$TMP/err")"
done
set +e
"$GW" pubkey extra </dev/null >/dev/null 2>&1; [ $? = 1 ] || fail "pubkey with an argument"
"$GW" nonsense >/dev/null 2>&1; [ $? = 1 ] || fail "unknown subcommand"
# without their arguments the subcommands say how to call them
for c in run rules conntrack stats trace; do
	msg=$("$GW" "$c" 2>&1 >/dev/null); rc=$?
	[ "$rc" = 1 ] && [[ $msg == "Usage: gw $c "* ]] || fail "gw $c without arguments: $rc '$msg'"
done
set -e
"$GW" --help | grep -q genkey || fail "--help"
"$GW" --version | grep -Eq '^gw [0-9]+\.[0-9]+' || fail "--version"
log "keys interchangeable with wg"
