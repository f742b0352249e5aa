#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Install what stopgate needs from Debian 12 (only what is missing), then
# configure and build with meson into ./build. Safe to run again.
# usage: scripts/setup.sh [NINJA_TARGET...]   (default: everything)
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(meson ninja-build pkg-config gcc python3 liblmdb-dev lmdb-utils libpcre2-dev libuv1-dev
	libcjson-dev libssl-dev libcmocka-dev libhttp-parser-dev curl
	nats-server libnats-dev
	python3-pytest golang-go scdoc debhelper dpkg-dev fakeroot adduser man-db
	prometheus tzdata python3-phonenumbers) # tzdata: zone rules; phonenumbers: scripts/gen-nanp-zones.py
# the Node binding's addon builds against the system's Node headers: the
# machine's own Node when it has one, else Debian's (headers in libnode-dev)
if ! command -v node >/dev/null || [ ! -f /usr/include/node/node_api.h ]; then
	command -v node >/dev/null || packages+=(nodejs)
	[ -f /usr/include/node/node_api.h ] || packages+=(libnode-dev)
fi
if [ "${SG_WITH_BENCH_TOOLS:-0}" = 1 ]; then
	packages+=(wrk nginx-light sqlite3 libsqlite3-dev)
fi
if [ "${SG_WITH_SANITIZERS:-0}" = 1 ]; then
	# the full test run: sanitizers, valgrind, and wrk for the short soak
	packages+=(clang libclang-rt-14-dev valgrind wrk)
fi
if [ "${SG_WITH_BROWSER:-0}" = 1 ]; then
	# the console's browser test (tests/browser): Debian's Chromium, and
	# Node.js + npm for playwright-core (pinned in tests/browser/package-lock.json)
	packages+=(chromium)
	command -v npm >/dev/null 2>&1 || packages+=(nodejs npm)
fi
missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "setup: installing ${missing[*]}"
	if [ "$(id -u)" != 0 ]; then SUDO=sudo; else SUDO=; fi
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [ "${SG_WITH_BROWSER:-0}" = 1 ] &&
	{ [ ! -d tests/browser/node_modules/playwright-core ] ||
	  [ tests/browser/package-lock.json -nt tests/browser/node_modules/.package-lock.json ]; }; then
	echo "setup: npm ci in tests/browser"
	(cd tests/browser && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi

if [ ! -f build/build.ninja ]; then
	meson setup build --buildtype=debugoptimized >/dev/null
fi
if [ ! -x build/engine/stopgate ]; then
	echo "setup: building${*:+ $*} (the first build takes a few minutes)"
fi
ninja -C build "$@" >/dev/null
echo "setup: built ./build/engine/stopgate"
