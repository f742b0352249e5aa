#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Instructions per classified message, counted by callgrind: a figure a
# shared, noisy machine does not move (bench_classify's rates are CPU time).
# Usage: bench/instructions.sh [BUILD_DIR] [KEYWORDS_DIR]
set -eu
build=${1:-build}
kw=${2:-$(dirname "$0")/../keywords}
for pass in one_pass rules_pass hits_pass; do
	n=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null --toggle-collect=$pass \
		"$build/bench/bench_classify" --once --keywords "$kw" 2>&1 | sed -n 's/.*Collected : \([0-9]*\).*/\1/p')
	case $pass in
	one_pass) what="the mix (90 % conversation), rules and intent model" ;;
	rules_pass) what="the mix, the rules alone" ;;
	hits_pass) what="every message a keyword or phrase, rules and model" ;;
	esac
	echo "instructions per message: $((n / 1000))	$what"
done
