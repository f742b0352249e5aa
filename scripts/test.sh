#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Quick start, command 2: set up, build and run every test suite (unit,
# integration against the real daemon, fuzz corpus replay), then print one
# summary line "N passed, N failed". Exit status 0 only if nothing failed.
set -uo pipefail
cd "$(dirname "$0")/.."
SG_WITH_SANITIZERS=${SG_WITH_SANITIZERS:-1} scripts/setup.sh || { echo "0 passed, 1 failed"; exit 1; }

logs=()
meson test -C build --print-errorlogs --num-processes 2 ${SG_TEST_ARGS:-}
logs+=(build/meson-logs/testlog.json)

python3 scripts/summary.py "${logs[@]}"
