#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The ABI of the built shared library (issue 12): libstopgate.so exports the
SG_EXPORT functions of include/stopgate.h and nothing else (no sg__
internals, no symbol of a dependency), as `nm -D --defined-only` shows."""
import ctypes
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

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


def sanitized():
    """A -Db_sanitize build: its library needs the sanitizer runtime loaded
    first, so it is not dlopen()ed into python and consumers link it too."""
    out = subprocess.run(["readelf", "-d", LIB], capture_output=True, text=True, check=True).stdout
    return "libasan" in out or "libubsan" in out


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


REVIEW_QUEUE = {"sg_review_decision_name", "sg_review_decision_parse", "sg_reviews_pending", "sg_reviews_pending_count", "sg_review_state",
                "sg_review_prepare", "sg_review_request_event", "sg_review_request_free", "sg_review_resolve",
                "sg_review_resolution_read"}


@case
def review_queue_api_is_exported():
    """Issue 13's review queue, additive: declared and exported."""
    missing = sorted(REVIEW_QUEUE - (declared() & exported()))
    assert not missing, f"review queue functions not declared and exported: {missing}"


@case
def public_enums_have_no_max_sentinel():
    bodies = re.findall(r"enum\s+\w*\s*\{(.*?)\}", header_text(), flags=re.S)
    assert len(bodies) > 10, f"only {len(bodies)} enums found in {HEADER}"
    names = [m for b in bodies for m in re.findall(r"\b(SG_\w+)\s*(?:=[^,]*)?,?", b)]
    sentinels = [n for n in names if n.endswith("_MAX") or n.endswith("_COUNT") or n.endswith("_END")]
    assert not sentinels, f"sentinels in public enums: {sentinels}"


@case
def caller_filled_structs_begin_with_their_size():
    text = header_text()
    for name in ("sg_policy", "sg_options"):
        assert re.search(r"typedef struct %s \{\s*size_t size;" % name, text), f"{name} has no size first"


def project_version():
    with open(os.path.join(SRC, "meson.build")) as f:
        return re.search(r"project\([^)]*?version:\s*'([^']+)'", f.read(), flags=re.S).group(1)


@case
def version_comes_from_meson_build():
    want = project_version()
    assert not re.search(r'#define\s+SG_VERSION\s+"', header_text()), "stopgate.h spells the version itself"
    with open(os.path.join(BUILD, "include", "stopgate_version.h")) as f:
        gen = f.read()
    assert f'#define SG_VERSION "{want}"' in gen, gen
    if sanitized():
        return  # sg_version() is called by the consumer program below
    lib = ctypes.CDLL(os.path.abspath(LIB))
    lib.sg_version.restype = ctypes.c_char_p
    assert lib.sg_version().decode() == want, (lib.sg_version(), want)



CONSUMER = r"""
#include <stdio.h>
#include <string.h>
#include <stopgate.h>
int main(void)
{
	sg_options o;
	sg_options_default(&o);
	printf("%s %s %d\n", SG_VERSION, sg_version(), strcmp(SG_VERSION, sg_version()) == 0);
	return 0;
}
"""


@case
def installed_library_header_and_pc_file_work_for_a_consumer():
    """meson install into a temporary root, then build and run a program
    against it the way a user does: pkg-config, the installed headers and
    the installed libstopgate.so (nm -D checked on that copy too)."""
    root = tempfile.mkdtemp(prefix="sg-abi-")
    try:
        subprocess.run(["meson", "install", "-C", BUILD, "--no-rebuild", "--quiet", "--destdir", root],
                       check=True, capture_output=True, text=True)
        pcs = glob.glob(os.path.join(root, "**", "pkgconfig", "stopgate.pc"), recursive=True)
        assert len(pcs) == 1, pcs
        with open(pcs[0]) as f:
            pc = f.read()
        req = re.search(r"^Requires.private:(.*)$", pc, flags=re.M)
        assert req, pc
        for name in ("libpcre2-8", "libcjson", "libcrypto"):
            assert name in req.group(1), (name, req.group(1))
        assert "lmdb" in req.group(1) or re.search(r"^Libs.private:.*-llmdb", pc, flags=re.M), pc
        libdir = os.path.dirname(os.path.dirname(pcs[0]))
        so = os.path.join(libdir, "libstopgate.so")
        out = subprocess.run(["nm", "-D", "--defined-only", so], capture_output=True, text=True,
                             check=True).stdout
        names = {line.split()[-1].split("@")[0] for line in out.splitlines() if line.strip()}
        assert names == exported(), sorted(names ^ exported())
        env = dict(os.environ, PKG_CONFIG_SYSROOT_DIR=root, PKG_CONFIG_PATH=os.path.dirname(pcs[0]))
        flags = subprocess.run(["pkg-config", "--cflags", "--libs", "stopgate"], env=env, check=True,
                               capture_output=True, text=True).stdout.split()
        src = os.path.join(root, "consumer.c")
        with open(src, "w") as f:
            f.write(CONSUMER)
        exe = os.path.join(root, "consumer")
        san = ["-fsanitize=address,undefined"] if sanitized() else []
        subprocess.run(["cc", "-std=c11", "-Wall", "-Werror", *san, "-o", exe, src, *flags], check=True,
                       capture_output=True, text=True)
        run = subprocess.run([exe], env=dict(os.environ, LD_LIBRARY_PATH=libdir), check=True,
                             capture_output=True, text=True)
        v = project_version()
        assert run.stdout.strip() == f"{v} {v} 1", run.stdout
    finally:
        shutil.rmtree(root, True)



def sources(*dirs):
    for d in dirs:
        for base, _, files in os.walk(os.path.join(SRC, d)):
            for name in files:
                if name.endswith((".c", ".h")):
                    path = os.path.join(base, name)
                    with open(path, errors="replace") as f:
                        yield os.path.relpath(path, SRC), f.read()


@case
def lmdb_is_included_only_under_engine_store():
    """Layering: <lmdb.h> and LMDB calls stay inside engine/store/."""
    bad = [p for p, text in sources("engine", "include")
           if not p.startswith("engine/store/")
           and (re.search(r"#\s*include\s*<lmdb\.h>", text) or re.search(r"\bmdb_\w+\s*\(", text))]
    assert not bad, f"LMDB outside engine/store/: {bad}"



@case
def cli_and_daemon_do_not_include_each_other():
    """Layering: engine/cli/ and engine/daemon/ share only engine/config/;
    engine/config/ includes neither."""
    inc = re.compile(r'#\s*include\s*"([^"]+)"')
    bad = []
    for p, text in sources("engine/cli", "engine/daemon", "engine/config"):
        own = p.split("/")[1]
        for h in inc.findall(text):
            top = h.split("/")[0] if "/" in h else None
            if top in ("cli", "daemon", "config") and top != own and not (top == "config" and own != "config"):
                bad.append(f"{p} includes {h}")
    assert not bad, bad
    assert os.path.exists(os.path.join(SRC, "engine", "config", "config.c"))


@case
def internal_names_do_not_use_the_public_prefix():
    """Every sg_ identifier in the sources is declared by stopgate.h (or is
    SG_EXPORT'ed there); internals are sg__."""
    public = set(re.findall(r"\bsg_[a-z][a-z0-9_]*", header_text()))
    bad = set()
    for p, text in sources("engine"):
        bad |= {n for n in re.findall(r"\bsg_[a-z][a-z0-9_]*", re.sub(r"/\*.*?\*/", " ", text, flags=re.S))
                if n not in public}
    assert not bad, sorted(bad)


_cases.finish()
