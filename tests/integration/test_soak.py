# SPDX-License-Identifier: Apache-2.0
"""The short form of scripts/soak.sh (45 s, of which 20 s warm-up): a
bounded mixed load of checks, inbound feed, signed Twilio webhooks,
consent changes and exports; no errors, anonymous RSS growth below 5 %
after the warm-up, `stopgate verify` ok. Suite 'slow': the sanitizer pass
leaves it out (ASan's quarantine makes RSS meaningless). Skipped (exit 77)
without wrk (scripts/setup.sh installs it with SG_WITH_BENCH_TOOLS=1).
SG_SOAK_MINUTES overrides the length."""
import os
import shutil
import subprocess
import sys

root = os.environ.get("SG_SOURCE_ROOT", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
if not shutil.which("wrk"):
    print("SKIP: wrk is not installed", flush=True)
    sys.exit(77)
env = dict(os.environ)
env.setdefault("SG_KEYWORDS", os.path.join(root, "keywords"))
p = subprocess.run([os.path.join(root, "scripts", "soak.sh"), os.environ.get("SG_SOAK_MINUTES", "0.75")],
                   env=env, timeout=600)
sys.exit(p.returncode)
