#!/bin/bash
# SPDX-License-Identifier: MIT
# make fuzz-long: each harness named (default: all of build/fuzz) runs for
# SECONDS on its kept corpus:
#   tests/fuzz/corpus/NAME   committed seeds (small; read, never written)
#   build/fuzz/corpus/NAME   what runs found (kept between runs, not in git)
# A crash's input goes to build/fuzz/crash/NAME-*; the run goes on with the
# next harness and the script fails at the end.  Each run's libFuzzer
# output is in build/fuzz/log/NAME.txt; one summary line per harness
# (executions, edges covered, corpus size, clean or not) on stdout and in
# build/fuzz/log/summary.txt.
#   tests/fuzz/run.sh SECONDS [NAME...]
set -u
cd "$(dirname "$0")/../.." || exit 1
secs=${1:?usage: run.sh SECONDS [NAME...]}
shift
names=("$@")
if [ ${#names[@]} = 0 ]; then
	for b in build/fuzz/fuzz_*; do
		[ -x "$b" ] && names+=("${b##*/}")
	done
fi
mkdir -p build/fuzz/corpus build/fuzz/crash build/fuzz/log
summary=build/fuzz/log/summary.txt
: > "$summary"
bad=0
for n in "${names[@]}"; do
	bin=build/fuzz/$n
	work=build/fuzz/corpus/$n
	seeds=tests/fuzz/corpus/$n
	log=build/fuzz/log/$n.txt
	[ -x "$bin" ] || { echo "$n: no $bin (make fuzz)" >&2; bad=1; continue; }
	mkdir -p "$work"
	dirs=("$work")
	[ -d "$seeds" ] && dirs+=("$seeds")
	start=$(date +%s)
	"$bin" -max_total_time="$secs" -print_final_stats=1 -timeout=20 -rss_limit_mb=2048 \
		-artifact_prefix="build/fuzz/crash/$n-" "${dirs[@]}" > "$log" 2>&1
	rc=$?
	took=$(( $(date +%s) - start ))
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
	files=$(find "$work" -type f | wc -l)
	if [ $rc = 0 ]; then
		verdict=clean
	else
		verdict="FAILED (exit $rc, see $log)"
		bad=1
	fi
	printf '%-16s %5ss %10s execs %6s edges %6s corpus files  %s\n' "$n" "$took" \
		"${execs:-?}" "${cov:-?}" "$files" "$verdict" | tee -a "$summary"
done
exit $bad
