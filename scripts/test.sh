#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Quick start, command 2: set up, build and run every test suite, then print
# one summary line "N passed, N failed". Exit status 0 only if nothing failed.
#   1. the regular build: unit (cmocka on real LMDB), integration (the real
#      daemon over real HTTP), fuzz corpus replay;
#   2. the unit tests again under valgrind memcheck (leaks are errors);
#   3. everything again in an ASan+UBSan build (-fno-sanitize-recover=all),
#      except suite 'slow' (the short soak: memory figures mean nothing there;
#      the console's browser test, whose browser is not the code under test)
#      and suites 'bindings' (python, go and node load the regular library)
#      and 'package' (the Debian packages are built from the tree, not the build);
#      the crash sweeps (integrity_store, crash_consistency) sample their
#      crash points there, having run every one in step 1.
# The full run also installs Chromium and playwright-core (SG_WITH_BROWSER=1)
# for the console's browser test (tests/browser) and fails if it cannot run.
# SG_QUICK=1 runs step 1 only.
set -uo pipefail
cd "$(dirname "$0")/.."
if [ "${SG_QUICK:-0}" != 1 ]; then
	# the full run installs the browser test's Chromium and playwright-core and
	# requires it to run (otherwise it is skipped when they are not there)
	export SG_WITH_BROWSER=1 SG_REQUIRE_BROWSER=1
fi
SG_WITH_SANITIZERS=1 scripts/setup.sh || { echo "0 passed, 1 failed"; exit 1; }

logs=()
echo "== tests (build/)"
meson test -C build --print-errorlogs --num-processes 2 ${SG_TEST_ARGS:-}
logs+=(build/meson-logs/testlog.json)

if [ "${SG_QUICK:-0}" != 1 ]; then
	echo "== unit tests under valgrind memcheck"
	meson test -C build --setup valgrind --suite unit --no-suite skip_valgrind --print-errorlogs --num-processes 2
	logs+=(build/meson-logs/testlog-valgrind.json)

	echo "== tests (build-asan/: AddressSanitizer + UndefinedBehaviorSanitizer)"
	if [ ! -f build-asan/build.ninja ]; then
		meson setup build-asan --buildtype=debug -Db_sanitize=address,undefined \
			-Dc_args=-fno-sanitize-recover=all -Dbench=false >/dev/null
	fi
	if ninja -C build-asan >/dev/null; then
		# SG_SANITIZED=1: the crash sweeps sample their points (the regular
		# pass above runs every one); fewer SIGKILL rounds for the same reason
		SG_SANITIZED=1 SG_CRASH_ROUNDS=8 \
		ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
			meson test -C build-asan --no-suite slow --no-suite bindings --no-suite package --print-errorlogs --num-processes 2
		logs+=(build-asan/meson-logs/testlog.json)
	else
		echo "build-asan failed to build"
		logs+=(/nonexistent/build-asan-failed)
	fi
fi

python3 scripts/summary.py "${logs[@]}"
