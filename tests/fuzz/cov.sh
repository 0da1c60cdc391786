#!/bin/bash
# SPDX-License-Identifier: MIT
# make fuzz-cov: where the harnesses stop.  Builds the harnesses again with
# clang's source coverage (-fprofile-instr-generate -fcoverage-mapping, in
# build/fuzzcov), replays each one's kept corpus (tests/fuzz/corpus/NAME and
# what make fuzz-long found in build/fuzz/corpus/NAME) once, and reports
# with llvm-cov:
#   build/fuzzcov/report/NAME.txt   per file and per function of gw/, nat/
#                                   and crypto/ (llvm-cov report)
#   build/fuzzcov/report/NAME.miss  the functions of the files it reaches
#                                   that it never enters
#   stdout                          per harness: the files it reaches with
#                                   their line coverage
# So "coverage over N minutes" is: make fuzz-long FUZZ_SECONDS=N*60, then
# make fuzz-cov.
#   tests/fuzz/cov.sh [NAME...]
set -u
cd "$(dirname "$0")/../.." || exit 1
B=build/fuzzcov
names=("$@")
if [ ${#names[@]} = 0 ]; then
	for s in tests/fuzz/fuzz_*.c; do
		n=${s##*/}
		names+=("${n%.c}")
	done
fi
bins=()
for n in "${names[@]}"; do bins+=("$B/$n"); done
make --no-print-directory -j"$(nproc)" FUZZ_B=$B \
	FUZZ_EXTRA='-fprofile-instr-generate -fcoverage-mapping' "${bins[@]}" || exit 1
mkdir -p $B/prof $B/report
srcs=(gw nat crypto)
for n in "${names[@]}"; do
	dirs=()
	for d in build/fuzz/corpus/$n tests/fuzz/corpus/$n; do
		[ -d "$d" ] && dirs+=("$d")
	done
	rm -f $B/prof/"$n".*.profraw
	# -runs=0: each input of the corpus once, no fuzzing
	LLVM_PROFILE_FILE="$B/prof/$n.%p.profraw" "$B/$n" -runs=0 "${dirs[@]}" \
		> "$B/report/$n.run" 2>&1
	llvm-profdata merge -sparse $B/prof/"$n".*.profraw -o "$B/prof/$n.profdata" || exit 1
	llvm-cov report "$B/$n" -instr-profile="$B/prof/$n.profdata" "${srcs[@]}" \
		> "$B/report/$n.txt"
	llvm-cov report -show-functions "$B/$n" -instr-profile="$B/prof/$n.profdata" \
		"${srcs[@]}" > "$B/report/$n.func" 2>/dev/null
	# the functions never entered in the files the harness reaches
	awk '/^File /{f=$2} f && $0 !~ /^File/ && $4 == "0.00%" { print f " " $1 }' \
		"$B/report/$n.func" > "$B/report/$n.miss"
	echo "== $n ($(ls "${dirs[@]}" 2>/dev/null | grep -vc ':$') inputs)"
	# the files it reaches: name, lines covered / lines, percent
	awk 'NF >= 13 && $1 ~ /\.c$/ && $(NF-3) != "0.00%" && $(NF-3) != "-" {
		printf "  %-28s lines %5d/%-5d %7s  functions %s\n", $1, $(NF-5) - $(NF-4),
			$(NF-5), $(NF-3), $(NF-6) }' "$B/report/$n.txt"
done
