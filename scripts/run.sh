#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Quick start, command 1: set up, build and run the daemon on an embedded
# LMDB data directory under the checkout (./var) with the default keywords.
# Extra arguments go to 'stopgate serve' (e.g. --listen 127.0.0.1:9090).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh engine/stopgate # the daemon only: scripts/test.sh builds the rest
mkdir -p var
chmod 700 var
exec build/engine/stopgate serve --data ./var --keywords ./keywords "$@"
