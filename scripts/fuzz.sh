#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Run libFuzzer targets one after the other, each for SECONDS (default 600),
# and print one line per target: executions, exec/s, coverage, findings.
#
#   scripts/fuzz.sh [-b BUILD_DIR] [-o OUT_DIR] [SECONDS] [TARGET...]
#
# BUILD_DIR (default build-fuzz) must be configured with
# `CC=clang meson setup -Dfuzz=true BUILD_DIR`; targets default to every
# tests/fuzz/corpus/<name>. New inputs go to OUT_DIR/<name>/corpus (the seed
# corpus in tests/fuzz/corpus stays read-only), findings to
# OUT_DIR/<name>/artifacts, the log to OUT_DIR/<name>/log. One fuzzer at a
# time (-jobs=1, whose worker writes fuzz-0.log in the current directory:
# each fuzzer runs inside its OUT_DIR/<name>). Exit status 1 if any target
# found something.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
build=build-fuzz
out=/tmp/stopgate-fuzz
while getopts b:o: opt; do
	case $opt in
	b) build=$OPTARG ;;
	o) out=$OPTARG ;;
	*) exit 2 ;;
	esac
done
shift $((OPTIND - 1))
mkdir -p "$out" && out=$(cd "$out" && pwd)
secs=${1:-600}
[ $# -gt 0 ] && shift
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
	for d in tests/fuzz/corpus/*/; do targets+=("$(basename "$d")"); done
fi

found=0
printf '%-10s %8s %12s %9s %7s %7s %6s  %s\n' target seconds executions exec/s cov ft corpus result
for t in "${targets[@]}"; do
	bin=$root/$build/tests/fuzz/fuzz_$t
	if ! ninja -C "$root/$build" "tests/fuzz/fuzz_$t" >/dev/null; then
		echo "$t: build failed" >&2
		found=1
		continue
	fi
	dir=$out/$t
	mkdir -p "$dir/corpus" "$dir/artifacts"
	args=(-max_total_time="$secs" -jobs=1 -print_final_stats=1 -timeout=10 -rss_limit_mb=2048
		-artifact_prefix="$dir/artifacts/")
	[ -f "tests/fuzz/$t.dict" ] && args+=(-dict="$root/tests/fuzz/$t.dict")
	[ -f "tests/fuzz/$t.options" ] && read -r -a extra <"tests/fuzz/$t.options" && args+=("${extra[@]}")
	rm -f "$dir/fuzz-0.log"
	(cd "$dir" && "$bin" "${args[@]}" "$dir/corpus" "$root/tests/fuzz/corpus/$t" >"$dir/main.log" 2>&1)
	rc=$?
	cat "$dir/main.log" "$dir/fuzz-0.log" >"$dir/log" 2>/dev/null
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log" | tail -1)
	last=$(grep -E '^#[0-9]+' "$dir/log" | tail -1)
	cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
	ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
	corp=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"$last")
	n=$(find "$dir/artifacts" -type f | wc -l)
	result=ok
	if [ "$rc" -ne 0 ] || [ "$n" -gt 0 ]; then
		result="FOUND $n (exit $rc): $dir/artifacts"
		found=1
	fi
	printf '%-10s %8s %12s %9s %7s %7s %6s  %s\n' "$t" "$secs" "${execs:-?}" \
		"$(( ${execs:-0} / (secs > 0 ? secs : 1) ))" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$result"
done
exit $found
