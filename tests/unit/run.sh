#!/usr/bin/env bash
# Runs each cmocka unit test program given as an argument; cmocka prints its
# own summary per program, this prints one closing line for all of them.
set -u
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=0:detect_leaks=1:halt_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
passed=0 failed=0
for t in "$@"; do
	echo "== ${t##*/}"
	if "$t"; then
		passed=$((passed + 1))
	else
		echo "FAILED: ${t##*/}"
		failed=$((failed + 1))
	fi
done
echo "unit programs: $passed passed, $failed failed"
[ "$failed" = 0 ]
