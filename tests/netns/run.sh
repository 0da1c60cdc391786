#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs every tests/netns/NN-*.sh (or those named as arguments), one after the
# other, and checks that none left a namespace behind.
set -u
cd "$(dirname "$0")"
[ "$(id -u)" = 0 ] || { echo "netns tests need root (CI runs as root)" >&2; exit 1; }
export GW_RUN_PREFIX="gwt$$x"
tests=("$@")
[ ${#tests[@]} -gt 0 ] || tests=([0-9][0-9]-*.sh)
passed=0 failed=0
for t in "${tests[@]}"; do
	start=$SECONDS
	if bash "./${t##*/}"; then
		echo "ok   ${t##*/} ($((SECONDS - start))s)"
		passed=$((passed + 1))
	else
		echo "FAIL ${t##*/} ($((SECONDS - start))s)"
		failed=$((failed + 1))
	fi
done
left=$(ip netns list | awk '{print $1}' | grep "^$GW_RUN_PREFIX" || true)
if [ -n "$left" ]; then
	echo "FAIL namespaces left behind: $left"
	failed=$((failed + 1))
fi
echo "netns tests: $passed passed, $failed failed"
[ "$failed" = 0 ]
