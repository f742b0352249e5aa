#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The ABI of the built shared library (issue 12): libstopgate.so exports the
SG_EXPORT functions of include/stopgate.h and nothing else (no sg__
internals, no symbol of a dependency), as `nm -D --defined-only` shows."""
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sgtest import CaseFunctions  # noqa: E402

SRC = os.environ.get("SG_SOURCE_ROOT", ".")
BUILD = os.environ.get("SG_BUILD_ROOT", "build")
LIB = os.path.join(BUILD, "engine", "libstopgate.so")
HEADER = os.path.join(SRC, "include", "stopgate.h")

_cases = CaseFunctions()
case = _cases.case


def exported():
    out = subprocess.run(["nm", "-D", "--defined-only", LIB], capture_output=True, text=True,
                         check=True).stdout
    names = set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 2:
            names.add(parts[-1].split("@")[0])
    return names


def header_text():
    with open(HEADER) as f:
        text = f.read()
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)  # comments
    return text


def declared():
    """Every function the public header declares with SG_EXPORT."""
    return set(re.findall(r"SG_EXPORT\s[^;{]*?\b(sg_\w+)\s*\(", header_text()))


@case
def library_exports_only_public_sg_symbols():
    bad = sorted(n for n in exported() if not n.startswith("sg_") or n.startswith("sg__"))
    assert not bad, f"{len(bad)} symbols exported that are not public sg_ names: {bad[:20]}"


@case
def every_exported_symbol_is_declared_in_the_header():
    extra = sorted(exported() - declared())
    assert not extra, f"exported but not SG_EXPORT in stopgate.h: {extra}"


@case
def every_header_function_is_exported():
    decl = declared()
    assert len(decl) > 40, f"only {len(decl)} SG_EXPORT functions found in {HEADER}"
    missing = sorted(decl - exported())
    assert not missing, f"SG_EXPORT in stopgate.h but not exported: {missing}"


@case
def public_enums_have_no_max_sentinel():
    bodies = re.findall(r"enum\s+\w*\s*\{(.*?)\}", header_text(), flags=re.S)
    assert len(bodies) > 10, f"only {len(bodies)} enums found in {HEADER}"
    names = [m for b in bodies for m in re.findall(r"\b(SG_\w+)\s*(?:=[^,]*)?,?", b)]
    sentinels = [n for n in names if n.endswith("_MAX") or n.endswith("_COUNT") or n.endswith("_END")]
    assert not sentinels, f"sentinels in public enums: {sentinels}"


_cases.finish()
