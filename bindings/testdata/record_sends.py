#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Record marketing sends in a store through libstopgate's sg_sends_record,
for the Go and Node bindings' frequency-cap tests (those bindings record no
sends themselves). Standard library only; loads STOPGATE_LIBRARY, else the
build tree's libstopgate.

usage: record_sends.py DIR FROM TO CAMPAIGN AT_RFC3339...   (one send per AT)
Prints the ordinals recorded; exits 1 with the library's error otherwise.
"""
import ctypes
import datetime as dt
import os
import pathlib
import sys


class Options(ctypes.Structure):  # sg_options, up to the fields this script sets
    _fields_ = [("size", ctypes.c_size_t), ("data_dir", ctypes.c_char_p), ("flags", ctypes.c_uint),
                ("keywords_dir", ctypes.c_char_p), ("default_country", ctypes.c_char_p),
                ("policy", ctypes.c_void_p), ("initial_map_size", ctypes.c_size_t),
                ("filter_capacity", ctypes.c_size_t), ("quiet_hours_dir", ctypes.c_char_p)]


class SendIn(ctypes.Structure):  # sg_send_in
    _fields_ = [("size", ctypes.c_size_t), ("id", ctypes.c_char_p), ("sender", ctypes.c_char_p),
                ("recipient", ctypes.c_char_p), ("at_us", ctypes.c_int64), ("campaign", ctypes.c_char_p),
                ("category", ctypes.c_int), ("source", ctypes.c_int)]


class SendOut(ctypes.Structure):  # sg_send_out
    _fields_ = [("status", ctypes.c_int), ("duplicate", ctypes.c_bool), ("ordinal", ctypes.c_uint64)]


def main() -> int:
    if len(sys.argv) < 6:
        print(__doc__, file=sys.stderr)
        return 2
    data, frm, to, campaign, ats = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]
    lib_path = os.environ.get("STOPGATE_LIBRARY") or str(
        pathlib.Path(__file__).resolve().parents[2] / "build" / "engine" / "libstopgate.so")
    L = ctypes.CDLL(lib_path)
    L.sg_strerror.restype = ctypes.c_char_p
    o = Options(size=ctypes.sizeof(Options), data_dir=data.encode(), keywords_dir=b"none",
                quiet_hours_dir=b"none")
    h = ctypes.c_void_p()
    rc = L.sg_engine_open(ctypes.byref(o), ctypes.byref(h))
    if rc:
        print(f"open {data}: {L.sg_strerror(rc).decode()}", file=sys.stderr)
        return 1
    sends = (SendIn * len(ats))()
    for i, at in enumerate(ats):
        t = dt.datetime.fromisoformat(at.replace("Z", "+00:00"))
        us = (t - dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)) // dt.timedelta(microseconds=1)
        sends[i] = SendIn(ctypes.sizeof(SendIn), f"SM{i}-{at}".encode(), frm.encode(), to.encode(), us,
                          campaign.encode(), 1, 0)  # SG_SEND_MARKETING, SG_SEND_REPORTED
    out = (SendOut * len(ats))()
    rc = L.sg_sends_record(h, sends, ctypes.c_size_t(len(ats)), out)
    L.sg_engine_close(h)
    if rc or any(x.status for x in out):
        print(f"sg_sends_record: {L.sg_strerror(rc or next(x.status for x in out if x.status)).decode()}",
              file=sys.stderr)
        return 1
    print(" ".join(str(x.ordinal) for x in out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
