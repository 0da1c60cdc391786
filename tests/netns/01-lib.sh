#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# lib.sh itself: a test that fails, and one interrupted by SIGINT, leave no
# namespace and no process behind.
. "$(dirname "$0")/lib.sh"

child="$TMP/child.sh"
cat > "$child" <<'EOS'
. "$LIB"
host_add x y
link_add x eth0 y eth0
bg x sleep 300
echo "$RUN $BG_PID" > "$OUT"
[ "${MODE}" = fail ] && fail "on purpose"
sleep 300
EOS

# job control: the child gets its own process group that does not ignore
# SIGINT, and a Ctrl-C is simulated by signalling the whole group
set -m
for mode in fail sigint; do
	out="$TMP/$mode.out"
	# SIGINT back to its default: a shell started in the background (a
	# runner's `make test &`, nohup) passes SIGINT on ignored, and bash
	# can neither trap nor reset a signal ignored at its start
	LIB="$TOP/tests/netns/lib.sh" MODE=$mode OUT=$out GW_RUN_PREFIX="$RUN-c" \
		env --default-signal=INT bash "$child" >/dev/null 2>&1 &
	pid=$!
	wait_for 10 test -s "$out"
	read -r crun cpid < "$out"
	if [ "$mode" = sigint ]; then
		kill -INT -- -"$pid"
	fi
	set +e; wait "$pid"; rc=$?; set -e
	[ "$rc" != 0 ] || fail "$mode: child exited 0"
	ip netns list | grep -q "^$crun-" && fail "$mode: namespaces of $crun left"
	kill -0 "$cpid" 2>/dev/null && fail "$mode: background process $cpid left"
	log "$mode: torn down (exit $rc)"
done
