#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Split the one man page source (stopgate.scd: pages begin with
'%page NAME SECTION') and render each page with scdoc into OUTDIR/NAME.SECTION.
usage: gen.py SCDOC SOURCE OUTDIR [--list]   (--list: print the page file names)"""
import os
import subprocess
import sys


def pages(src):
    out, name, body = [], None, []
    for line in open(src, encoding="utf-8"):
        if line.startswith("%page "):
            if name:
                out.append((name, "".join(body)))
            _, n, sec = line.split()
            name, body = f"{n}.{sec}", []
        elif name:
            body.append(line)
    if name:
        out.append((name, "".join(body)))
    return out


def main():
    scdoc, src, outdir = sys.argv[1:4]
    ps = pages(src)
    if "--list" in sys.argv:
        print("\n".join(n for n, _ in ps))
        return
    for name, body in ps:
        r = subprocess.run([scdoc], input=body.encode(), capture_output=True)
        if r.returncode:
            sys.exit(f"{src}: page {name}: scdoc: {r.stderr.decode().strip()}")
        with open(os.path.join(outdir, name), "wb") as f:
            f.write(r.stdout)


main()
