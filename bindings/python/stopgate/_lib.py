# SPDX-License-Identifier: Apache-2.0
"""The C side: loading libstopgate and the structs of include/stopgate.h.

Only the public header is mirrored here. Structs the caller passes in
(sg_options, sg_policy) begin with their size, which is set to the size
declared below, so a newer library treats this binding as an older caller;
structs the library fills (sg_verdict, sg_classification) change only with
the soname, which is why the library is loaded as libstopgate.so.0.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
from ctypes import (POINTER, Structure, c_bool, c_char, c_char_p, c_int, c_int64, c_size_t,
                    c_uint, c_uint64, c_void_p)

SONAME = "libstopgate.so.0"
KEY_MAX = 80
REPLY_MAX = 640

# enum sg_error, in the header's order from SG_ERROR_MIN (-1000). New codes
# are appended there; a code not listed is still an error (sg_strerror
# describes it).
ERROR_NAMES = [
    "SG_ENUMBER", "SG_ENOCOUNTRY", "SG_EUTF8", "SG_ETOOLONG", "SG_ESTORE", "SG_ECORRUPT",
    "SG_ERDONLY", "SG_ELOCKED", "SG_ENOTFOUND", "SG_EJSON", "SG_ECONFIG", "SG_EKEYWORDS",
    "SG_EBADSIG", "SG_ECHAIN", "SG_EVERSION", "SG_ECONSENT", "SG_EFORBIDDEN", "SG_ENOSTORE",
    "SG_ETRUNCATED",
]
ERROR_MIN = -1000

OPEN_RDONLY = 0x1
OPEN_CREATE = 0x4


class Policy(Structure):
    _fields_ = [
        ("size", c_size_t),
        ("optout_scope", c_int),
        ("require_registered", c_bool),
        ("require_optin", c_bool),
        ("allow_inactive_campaigns", c_bool),
        ("forbid_optin_override", c_bool),
        ("probable", c_int),
        ("confirm_window_us", c_int64),
        ("dedup_ttl_us", c_int64),
    ]


class Options(Structure):
    _fields_ = [
        ("size", c_size_t),
        ("data_dir", c_char_p),
        ("flags", c_uint),
        ("keywords_dir", c_char_p),
        ("default_country", c_char_p),
        ("policy", POINTER(Policy)),
        ("initial_map_size", c_size_t),
        ("filter_capacity", c_size_t),
        ("quiet_hours_dir", c_char_p),
    ]


class CheckOpts(Structure):
    _fields_ = [
        ("size", c_size_t),
        ("purpose", c_int),
        ("category", c_int),
        ("at_us", c_int64),
        ("campaign", c_char_p),
    ]


class CQuiet(Structure):
    _fields_ = [
        ("category", c_int),
        ("evaluated", c_bool),
        ("next_allowed_us", c_int64),
        ("region", c_char * 8),
        ("tz", c_char * 96),
        ("rule", c_char * 224),
    ]


class CVerdict(Structure):
    _fields_ = [
        ("allow", c_bool),
        ("reason", c_int),
        ("scope", c_int),
        ("scope_id", c_char * KEY_MAX),
        ("since_us", c_int64),
        ("seq", c_uint64),
        ("confirmation", c_bool),
    ]


class CClassification(Structure):
    _fields_ = [
        ("intent", c_int),
        ("confidence", c_int),
        ("lang", c_char * 8),
        ("rule", c_char * 64),
        ("reply", c_char * REPLY_MAX),
    ]


def _find() -> str:
    explicit = os.environ.get("STOPGATE_LIBRARY")
    if explicit:
        return explicit
    found = ctypes.util.find_library("stopgate")
    return found or SONAME


class LoadError(OSError):
    """libstopgate could not be loaded: the message says which file was tried
    and how to point the binding at a library or install one."""


def load(path: str | None = None) -> ctypes.CDLL:
    """Load libstopgate (STOPGATE_LIBRARY, else the installed one) and declare
    the functions this binding calls."""
    name = path or _find()
    try:
        lib = ctypes.CDLL(name)
    except OSError as e:
        how = ("STOPGATE_LIBRARY names it" if os.environ.get("STOPGATE_LIBRARY") and not path
               else "STOPGATE_LIBRARY is not set, so the installed library was looked for")
        raise LoadError(
            f"stopgate: cannot load libstopgate from {name!r} ({how}): {e}. Set "
            "STOPGATE_LIBRARY to the path of libstopgate.so (a build tree has it at "
            "build/engine/libstopgate.so after scripts/setup.sh, or meson setup build && "
            "ninja -C build), or install the library (sudo ninja -C build install, or the "
            "libstopgate0 Debian package); see bindings/python/README.md") from e
    sig = {
        "sg_version": (c_char_p, []),
        "sg_strerror": (c_char_p, [c_int]),
        "sg_engine_open": (c_int, [POINTER(Options), POINTER(c_void_p)]),
        "sg_engine_close": (None, [c_void_p]),
        "sg_engine_readonly": (c_bool, [c_void_p]),
        "sg_engine_default_country": (c_char_p, [c_void_p]),
        "sg_engine_reload": (c_int, [c_void_p]),
        "sg_engine_check_readers": (c_int, [c_void_p, POINTER(c_int)]),
        "sg_check": (c_int, [c_void_p, c_char_p, c_char_p, c_int, POINTER(CVerdict)]),
        "sg_check_batch": (c_int, [c_void_p, c_char_p, POINTER(c_char_p), c_size_t, c_int,
                                   POINTER(CVerdict)]),
        "sg_check_ex": (c_int, [c_void_p, c_char_p, POINTER(c_char_p), c_size_t, POINTER(CheckOpts),
                                POINTER(CVerdict), POINTER(CQuiet)]),
        "sg_check_opts_init": (None, [POINTER(CheckOpts), c_size_t]),
        "sg_category_name": (c_char_p, [c_int]),
        "sg_reason_name": (c_char_p, [c_int]),
        "sg_scope_name": (c_char_p, [c_int]),
        "sg_intent_name": (c_char_p, [c_int]),
        "sg_confidence_name": (c_char_p, [c_int]),
        "sg_classify": (c_int, [c_void_p, c_char_p, c_char_p, c_size_t, POINTER(CClassification)]),
        "sg_number_normalize": (c_int, [c_char_p, c_size_t, c_char_p, c_int, c_void_p,
                                        POINTER(c_int)]),
        "sg_number_country": (c_int, [c_char_p, c_void_p]),
    }
    for name, (res, args) in sig.items():
        fn = getattr(lib, name)
        fn.restype = res
        fn.argtypes = args
    return lib


def raw(lib: ctypes.CDLL) -> ctypes.CDLL:
    """A second handle on the same library whose functions have no argtypes
    (for the hot path; callers pass exact C types). sg_check returns int."""
    return ctypes.CDLL(lib._name)
