# SPDX-License-Identifier: Apache-2.0
"""Stores for the tests, made by the real stopgate binary (STOPGATE_BIN, else
the build tree's or the installed one); the binding loads STOPGATE_LIBRARY,
else the build tree's libstopgate, else the installed one."""
import os
import pathlib
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[3]
BUILD = pathlib.Path(os.environ.get("SG_BUILD_ROOT", ROOT / "build"))

if "STOPGATE_LIBRARY" not in os.environ and (BUILD / "engine" / "libstopgate.so").exists():
    os.environ["STOPGATE_LIBRARY"] = str(BUILD / "engine" / "libstopgate.so")
# child pythons (the README example, a second writer) import this checkout's package
PKG = str(pathlib.Path(__file__).resolve().parents[1])
sys.path.insert(0, PKG)
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (PKG, os.environ.get("PYTHONPATH")) if p)


def stopgate_bin() -> str:
    b = os.environ.get("STOPGATE_BIN") or str(BUILD / "engine" / "stopgate")
    if not os.path.exists(b):
        b = shutil.which("stopgate") or b
    return b


def keywords() -> list[str]:
    k = os.environ.get("SG_KEYWORDS") or str(ROOT / "keywords")
    return ["--keywords", k] if os.path.isdir(k) else []


def sg(data: pathlib.Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run([stopgate_bin(), *args, "--data", str(data), *keywords()],
                          capture_output=True, text=True, check=check)


SENDER = "+14155550100"
OUT = "+14155552671"       # opted out of SENDER
OTHER = "+14155552672"     # no record
GLOBAL = "+442071838750"   # blocked at global scope


@pytest.fixture(scope="session")
def store(tmp_path_factory) -> pathlib.Path:
    d = tmp_path_factory.mktemp("store")
    sg(d, "init")
    sg(d, "optout", SENDER, OUT)
    sg(d, "optout", "--scope", "global", "-", GLOBAL)
    return d


@pytest.fixture
def kw_dir() -> str | None:
    k = keywords()
    return k[1] if k else None
