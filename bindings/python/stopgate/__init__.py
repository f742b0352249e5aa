# SPDX-License-Identifier: Apache-2.0
"""stopgate: the opt-out and consent check of libstopgate, in process.

    import stopgate
    with stopgate.Engine("/var/lib/stopgate") as sg:        # read-only by default
        v = sg.check("+14155550100", "+14155552671")
        if not v.allow:
            print("do not send:", v.reason)

An Engine may be shared by any number of threads for check, check_batch and
classify; close() must not race with them. Errors of the library raise
StopgateError subclasses carrying the library's code and its sg_strerror text.
A number that does not parse is not an error of check: it is a deny with
reason "invalid_number".
"""
from __future__ import annotations

import ctypes
import datetime as _dt
import errno as _errno
import os
import threading
from ctypes import byref, c_char_p, c_int, c_void_p
from enum import IntEnum
from typing import NamedTuple, Sequence

from . import _lib
from ._lib import LoadError

__all__ = [
    "Engine", "Verdict", "Classification", "Purpose", "Field", "normalize", "country_of",
    "library_version", "StopgateError", "NumberError", "NoCountryError", "StoreError",
    "CorruptError", "ReadOnlyError", "LockedError", "NotFoundError", "ConfigError",
    "KeywordsError", "VersionError", "NoStoreError", "NotSupportedError", "LoadError", "CATEGORIES",
]

_L: ctypes.CDLL | None = None
_load_lock = threading.Lock()


def _libc() -> ctypes.CDLL:
    global _L
    if _L is None:
        with _load_lock:
            if _L is None:
                _L = _lib.load()
    return _L


# ---- errors -----------------------------------------------------------------

class StopgateError(Exception):
    """An error code of libstopgate: .code (negative int), .name ("SG_ELOCKED",
    "ENOENT", ...), and the library's description as the message."""

    def __init__(self, code: int, context: str = ""):
        self.code = code
        self.name = _error_name(code)
        desc = _libc().sg_strerror(code).decode("utf-8", "replace")
        self.description = desc
        super().__init__(f"{context}: {desc}" if context else desc)


class NumberError(StopgateError, ValueError):
    """SG_ENUMBER: not a usable number, short code or sender ID."""


class NoCountryError(NumberError):
    """SG_ENOCOUNTRY: a national number and no default country to read it with."""


class StoreError(StopgateError):
    """SG_ESTORE (and -errno codes from the store): LMDB or the file system failed."""


class CorruptError(StoreError):
    """SG_ECORRUPT, SG_ETRUNCATED, SG_ECHAIN: the store is damaged; restore from a backup."""


class ReadOnlyError(StopgateError):
    """SG_ERDONLY: a write on a read-only engine."""


class LockedError(StopgateError):
    """SG_ELOCKED: another process holds the data directory for writing."""


class NotFoundError(StopgateError, LookupError):
    """SG_ENOTFOUND: no such campaign, sender or event."""


class ConfigError(StopgateError, ValueError):
    """SG_ECONFIG, SG_EJSON, -EINVAL: an invalid option or value."""


class KeywordsError(StopgateError):
    """SG_EKEYWORDS: a keyword file does not load."""


class VersionError(StopgateError):
    """SG_EVERSION: the data directory was written by an incompatible version."""


class NoStoreError(StopgateError, FileNotFoundError):
    """SG_ENOSTORE: no consent store in the data directory (stopgate init makes one)."""


class NotSupportedError(StopgateError, NotImplementedError):
    """The loaded library has no such feature."""

    def __init__(self, what: str):
        self.code = -_errno.ENOTSUP
        self.name = "ENOTSUP"
        self.description = what
        Exception.__init__(self, what)


_ERROR_CLASS = {
    "SG_ENUMBER": NumberError, "SG_ENOCOUNTRY": NoCountryError, "SG_EUTF8": ConfigError,
    "SG_ETOOLONG": ConfigError, "SG_ESTORE": StoreError, "SG_ECORRUPT": CorruptError,
    "SG_ETRUNCATED": CorruptError, "SG_ECHAIN": CorruptError, "SG_ERDONLY": ReadOnlyError,
    "SG_ELOCKED": LockedError, "SG_ENOTFOUND": NotFoundError, "SG_EJSON": ConfigError,
    "SG_ECONFIG": ConfigError, "SG_EKEYWORDS": KeywordsError, "SG_EVERSION": VersionError,
    "SG_ENOSTORE": NoStoreError, "EINVAL": ConfigError,
}


def _error_name(code: int) -> str:
    i = code - _lib.ERROR_MIN
    if 0 <= i < len(_lib.ERROR_NAMES):
        return _lib.ERROR_NAMES[i]
    if code < 0 and -code in _errno.errorcode:
        return _errno.errorcode[-code]
    return f"SG_ERROR({code})"


def _raise(code: int, context: str = "") -> None:
    name = _error_name(code)
    cls = _ERROR_CLASS.get(name)
    if cls is None:  # another -errno is the store's or the file system's; unknown codes are errors
        cls = StopgateError if name.startswith("SG_") else StoreError
    raise cls(code, context)


# ---- values -----------------------------------------------------------------

class Purpose(IntEnum):
    """What a message is for (sg_purpose)."""
    MESSAGE = 0
    OPTOUT_CONFIRM = 1
    HELP_REPLY = 2
    OPTIN_CONFIRM = 3


class Field(IntEnum):
    """What a field may hold (sg_field): how letters are read."""
    ANY = 0
    ADDRESS = 1
    NUMBER = 2


_PURPOSE: dict[object, int] = {p: int(p) for p in Purpose}
_PURPOSE.update({p.name.lower(): int(p) for p in Purpose})
_FIELD: dict[object, int] = {f: int(f) for f in Field}
_FIELD.update({f.name.lower(): int(f) for f in Field})

_UTC = _dt.timezone.utc
_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_UTC)


class Verdict(NamedTuple):
    """May this message be sent (sg_verdict). reason is the library's name
    ("opted_out", "invalid_number", "quiet_hours", "frequency_cap", ...) or
    None when allowed; scope the name of the scope that decided ("sender",
    "campaign", ...) or None.

    The last five fields are set by a check with category, at or campaign
    (sg_check_ex, as GET /v1/check answers): category is the category the
    check resolved (None: none applied); region ("US-FL") and tz
    ("America/New_York") when a quiet-hours rule covers the number;
    next_allowed_us and rule with reason "quiet_hours" or "frequency_cap"
    (next_allowed_us 0: no window opens within 400 days)."""
    allow: bool
    reason: str | None
    scope: str | None
    scope_id: str
    since_us: int
    seq: int
    confirmation: bool
    category: str | None = None
    region: str = ""
    tz: str = ""
    next_allowed_us: int = 0
    rule: str = ""

    @property
    def since(self) -> _dt.datetime | None:
        """When the deciding state began (UTC), None if none."""
        return _EPOCH + _dt.timedelta(microseconds=self.since_us) if self.since_us else None

    @property
    def next_allowed_at(self) -> _dt.datetime | None:
        """quiet_hours / frequency_cap: the earliest instant (UTC) the same
        check allows; None if none (or another reason)."""
        return _EPOCH + _dt.timedelta(microseconds=self.next_allowed_us) if self.next_allowed_us else None

    def __bool__(self) -> bool:  # `if verdict:` means "may send"
        return self.allow


class Classification(NamedTuple):
    """What an inbound text means (sg_classification)."""
    intent: str        # "opt_out", "opt_in", "help", "none"
    confidence: str    # "exact", "phrase", "probable", "none"
    lang: str
    rule: str
    reply: str


def _names(fn, n: int) -> list[str | None]:
    out: list[str | None] = []
    for i in range(n):
        s = fn(i)
        out.append(s.decode() if s else None)
    return out


_REASONS: list[str | None] = []
_SCOPES: list[str | None] = []


def _tables() -> None:
    if not _REASONS:
        L = _libc()
        _SCOPES.extend(_names(L.sg_scope_name, 6))
        _SCOPES[0] = None
        _REASONS.extend(_names(L.sg_reason_name, 32))


def _reason(i: int) -> str | None:
    if 0 <= i < len(_REASONS):
        return _REASONS[i]
    s = _libc().sg_reason_name(i)
    return s.decode() if s else f"reason_{i}"


def _scope(i: int) -> str | None:
    return _SCOPES[i] if 0 <= i < len(_SCOPES) else f"scope_{i}"


def _verdict(v: _lib.CVerdict) -> Verdict:
    r = v.reason
    s = v.scope
    return Verdict(v.allow, _REASONS[r] if 0 <= r < 32 else _reason(r),
                   _SCOPES[s] if 0 <= s < 6 else _scope(s), v.scope_id.decode(),
                   v.since_us, v.seq, v.confirmation)


_ALLOW = Verdict(True, None, None, "", 0, 0, False)

# sg_category: the names the library parses (sg_category_parse); "none" is
# the default (the sender's campaign's usecase, else the policy's).
CATEGORIES = ("marketing", "informational", "transactional", "conversational")
_CATEGORY = {name: i + 1 for i, name in enumerate(CATEGORIES)}
_CATEGORY["none"] = 0
_HELD = {9, 10}
_ONE = ctypes.c_size_t(1)  # SG_REASON_QUIET_HOURS, SG_REASON_FREQUENCY_CAP


def _category_name(i: int) -> str | None:
    if 1 <= i <= len(CATEGORIES):
        return CATEGORIES[i - 1]
    s = _libc().sg_category_name(i) if i else None
    return s.decode() if s else None


def _verdict_ex(v: _lib.CVerdict, q: _lib.CQuiet) -> Verdict:
    cat = q.category
    if cat == 0:
        return _verdict(v)
    r, s = v.reason, v.scope
    region = tz = rule = ""
    nxt = 0
    if q.evaluated:
        region, tz = q.region.decode(), q.tz.decode()
    if not v.allow and r in _HELD and (q.evaluated or r != 9):
        nxt, rule = q.next_allowed_us, q.rule.decode("utf-8", "replace")
    return Verdict(v.allow, _REASONS[r] if 0 <= r < 32 else _reason(r),
                   _SCOPES[s] if 0 <= s < 6 else _scope(s), v.scope_id.decode(), v.since_us, v.seq,
                   v.confirmation, _category_name(cat), region, tz, nxt, rule)


def _at_us(at: object) -> int:
    if not isinstance(at, _dt.datetime):
        raise TypeError(f"at must be a datetime.datetime, not {type(at).__name__}")
    if at.tzinfo is None or at.utcoffset() is None:
        raise ConfigError(-_errno.EINVAL, f"at {at.isoformat()!r} has no time zone: give an aware "
                          "datetime, e.g. datetime(2026, 12, 2, 3, 0, tzinfo=timezone.utc)")
    us = (at - _EPOCH) // _dt.timedelta(microseconds=1)
    if us <= 0:
        raise ConfigError(-_errno.EINVAL, f"at {at.isoformat()!r} is not after 1970-01-01T00:00:00Z")
    return us


def _check_opts(o: _lib.CheckOpts, p: int, category: str | None, at: _dt.datetime | None,
                campaign: str | None) -> bytes | None:
    """Fill every option of o (made by sg_check_opts_init at this binding's
    size); returns the campaign's bytes, to be kept alive for the call."""
    o.purpose = p
    c = 0
    if category is not None:
        c = _CATEGORY.get(category) if isinstance(category, str) else None
        if c is None:
            raise ConfigError(-_errno.EINVAL, f"category {category!r}: one of {', '.join(CATEGORIES)} "
                              "(or none: the sender's campaign's usecase decides)")
    o.category = c
    o.at_us = _at_us(at) if at is not None else 0
    camp = None
    if campaign is not None:
        if not isinstance(campaign, str) or not campaign:
            raise ConfigError(-_errno.EINVAL, f"campaign {campaign!r}: a campaign id (e.g. 'CAMP001')")
        camp = campaign.encode()
    o.campaign = camp
    return camp


def _new_opts() -> _lib.CheckOpts:
    o = _lib.CheckOpts()
    _libc().sg_check_opts_init(byref(o), ctypes.sizeof(_lib.CheckOpts))
    return o


def _bytes(s: str | bytes, what: str) -> bytes:
    if isinstance(s, bytes):
        return s
    if isinstance(s, str):
        return s.encode("utf-8", "surrogateescape")
    raise TypeError(f"{what} must be str or bytes, not {type(s).__name__}")


def _country(cc: str | None) -> bytes | None:
    if cc is None or cc == "":
        return None
    if len(cc) != 2 or not cc.isascii() or not cc.isalpha():
        raise ConfigError(-_errno.EINVAL, f"country {cc!r} is not an ISO 3166 alpha-2 code (e.g. 'US')")
    return cc.upper().encode()


# ---- module functions ---------------------------------------------------------

def library_version() -> str:
    """The version of the libstopgate loaded, e.g. "0.1.0"."""
    return _libc().sg_version().decode()


def normalize(number: str | bytes, country: str | None = None, field: Field | str = Field.ANY) -> str:
    """The canonical key of a number, short code or sender ID ("+14155552671",
    "sc:US:72345", "aid:mybrand"). country reads national numbers. Raises
    NumberError / NoCountryError when no key can be made; never guesses."""
    b = _bytes(number, "number")
    out = ctypes.create_string_buffer(_lib.KEY_MAX)
    try:
        f = _FIELD[field]
    except KeyError:
        raise ConfigError(-_errno.EINVAL, f"field {field!r}: one of any, address, number") from None
    rc = _libc().sg_number_normalize(b, len(b), _country(country), f, out, None)
    if rc:
        _raise(rc, f"number {number!r}")
    return out.value.decode()


def country_of(key: str) -> str | None:
    """The ISO country of a canonical key ("+44..." -> "GB"), None if unknown."""
    cc = ctypes.create_string_buffer(3)
    rc = _libc().sg_number_country(_bytes(key, "key"), cc)
    return cc.value.decode() if rc == 0 else None


# ---- the engine -----------------------------------------------------------------

class Engine:
    """An open consent store (sg_engine).

    Engine(data_dir) opens it read-only: any number of processes may, beside
    the daemon that writes. readonly=False takes the data directory's writer
    lock (LockedError if another process holds it); create=True (read-write
    only) makes a new store when the directory holds none.
    """

    def __init__(self, data_dir: str | bytes | os.PathLike, readonly: bool = True, *, create: bool = False,
                 keywords_dir: str | os.PathLike | None = None, default_country: str | None = None,
                 quiet_hours_dir: str | os.PathLike | None = None):
        L = _libc()
        _tables()
        if create and readonly:
            raise ConfigError(-_errno.EINVAL, "create=True needs readonly=False")
        self._h: int | None = None
        self._L = L
        self.data_dir = os.fsdecode(data_dir)
        opts = _lib.Options()
        opts.size = ctypes.sizeof(_lib.Options)
        opts.data_dir = os.fsencode(data_dir)
        opts.flags = (_lib.OPEN_RDONLY if readonly else 0) | (_lib.OPEN_CREATE if create else 0)
        opts.keywords_dir = os.fsencode(keywords_dir) if keywords_dir else None
        opts.default_country = _country(default_country)
        opts.quiet_hours_dir = os.fsencode(quiet_hours_dir) if quiet_hours_dir is not None else None
        h = c_void_p()
        rc = L.sg_engine_open(byref(opts), byref(h))
        if rc:
            _raise(rc, f"open {self.data_dir}")
        self._h = h.value
        self._hv = h
        self._tls = threading.local()
        # The hot path calls sg_check without ctypes' argtypes conversion (a
        # third of a call's cost): the arguments are exactly bytes, bytes,
        # int and a pointer, built here and in check().
        self._check = _lib.raw(L).sg_check
        self._batch = L.sg_check_batch
        self._check_ex = _lib.raw(L).sg_check_ex
        self._batch_ex = L.sg_check_ex

    # lifetime
    def close(self) -> None:
        """Close the engine; a no-op when closed. Must not race with other calls."""
        h, self._h, self._hv = self._h, None, None
        if h is not None:
            self._L.sg_engine_close(h)

    def __enter__(self) -> "Engine":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass

    def _handle(self) -> int:
        h = self._h
        if h is None:
            raise ValueError("stopgate.Engine is closed")
        return h

    @property
    def closed(self) -> bool:
        return self._h is None

    @property
    def readonly(self) -> bool:
        return bool(self._L.sg_engine_readonly(self._handle()))

    # the check
    def check(self, from_: str | bytes, to: str | bytes, purpose: Purpose | str = Purpose.MESSAGE, *,
              category: str | None = None, at: _dt.datetime | None = None,
              campaign: str | None = None) -> Verdict:
        """May from_ send to to now? Both raw, normalized by the library.

        purpose: "message" (default), "optout_confirm", "help_reply",
        "optin_confirm". category: "marketing", "informational",
        "transactional", "conversational" (default: the sender's campaign's
        usecase, else the policy's); at: the aware datetime the message would
        be sent (default now); campaign: the frequency cap's subject (default
        the sender's campaign). A marketing message outside the recipient's
        quiet hours is denied "quiet_hours", one past its cap
        "frequency_cap", both with next_allowed_at and rule.
        """
        if category is not None or at is not None or campaign is not None:
            return self._check_with(from_, to, purpose, category, at, campaign)
        h = self._h
        if h is None:
            raise ValueError("stopgate.Engine is closed")
        p = _PURPOSE.get(purpose)
        if p is None:
            p = _purpose(purpose)
        tls = self._tls
        try:
            v, ref = tls.v
        except AttributeError:  # first check of this thread: its own verdict buffer
            v = _lib.CVerdict()
            ref = byref(v)
            tls.v = (v, ref)
        rc = self._check(self._hv, from_.encode() if type(from_) is str else _bytes(from_, "from_"),
                         to.encode() if type(to) is str else _bytes(to, "to"), p, ref)
        if rc:
            _raise(rc, "check")
        if v.allow and not v.confirmation:
            return _ALLOW
        return _verdict(v)

    def _check_with(self, from_, to, purpose, category, at, campaign) -> Verdict:
        p = _PURPOSE.get(purpose)
        if p is None:
            p = _purpose(purpose)
        hv = self._hv
        if hv is None:
            raise ValueError("stopgate.Engine is closed")
        tls = self._tls
        try:
            o, v, q, arr, refs = tls.ex
        except AttributeError:  # first such check of this thread: its own buffers
            o, v, q, arr = _new_opts(), _lib.CVerdict(), _lib.CQuiet(), (c_char_p * 1)()
            refs = (byref(o), byref(v), byref(q))
            tls.ex = (o, v, q, arr, refs)
        _keep = _check_opts(o, p, category, at, campaign)
        arr[0] = to.encode() if type(to) is str else _bytes(to, "to")
        # sg_check_ex without argtypes conversion, as for check(): exact C types
        rc = self._check_ex(hv, from_.encode() if type(from_) is str else _bytes(from_, "from_"), arr,
                            _ONE, refs[0], refs[1], refs[2])
        if rc:
            _raise(rc, "check")
        return _verdict_ex(v, q)

    def check_batch(self, from_: str | bytes, to: Sequence[str | bytes],
                    purpose: Purpose | str = Purpose.MESSAGE, *, category: str | None = None,
                    at: _dt.datetime | None = None, campaign: str | None = None) -> list[Verdict]:
        """One sender, many recipients, one snapshot: a verdict per recipient, in order.
        A batch never grants the one confirmation (use check). category, at
        and campaign as for check (one sg_check_ex call for the batch)."""
        h = self._handle()
        p = _purpose(purpose)
        ex = category is not None or at is not None or campaign is not None
        if ex:
            o = _new_opts()
            _keep = _check_opts(o, p, category, at, campaign)
        n = len(to)
        if n == 0:
            return []
        arr = (c_char_p * n)(*[_bytes(t, "to") for t in to])
        out = (_lib.CVerdict * n)()
        f = _bytes(from_, "from_")
        if not ex:
            rc = self._batch(h, f, arr, n, p, out)
            if rc:
                _raise(rc, "check_batch")
            return [_verdict(v) for v in out]
        qs = (_lib.CQuiet * n)()
        rc = self._batch_ex(h, f, arr, n, byref(o), out, qs)
        if rc:
            _raise(rc, "check_batch")
        return [_verdict_ex(v, q) for v, q in zip(out, qs)]

    # classification and numbers
    def classify(self, text: str | bytes, campaign: str | None = None) -> Classification:
        """What an inbound text means: intent, confidence, language, the rule
        that matched and the reply to send (campaign: its own keywords and
        messages count). Bytes that are not UTF-8 raise ConfigError (SG_EUTF8)."""
        b = _bytes(text, "text")
        out = _lib.CClassification()
        L = self._L
        rc = L.sg_classify(self._handle(), campaign.encode() if campaign else None, b, len(b), byref(out))
        if rc:
            _raise(rc, "classify")
        return Classification(L.sg_intent_name(out.intent).decode(),
                              L.sg_confidence_name(out.confidence).decode(),
                              out.lang.decode(), out.rule.decode(),
                              out.reply.decode("utf-8", "replace"))

    def normalize(self, number: str | bytes, country: str | None = None,
                  field: Field | str = Field.ANY) -> str:
        """normalize() with this engine's default country when none is given."""
        if country is None:
            cc = self._L.sg_engine_default_country(self._handle())
            country = cc.decode() if cc else None
        else:
            self._handle()
        return normalize(number, country, field)

    def reload(self) -> None:
        """Reload the keyword set and campaign registry; on failure the old ones stay."""
        rc = self._L.sg_engine_reload(self._handle())
        if rc:
            _raise(rc, "reload")

    def check_readers(self) -> int:
        """Free reader slots of dead processes; returns how many."""
        dead = c_int(0)
        rc = self._L.sg_engine_check_readers(self._handle(), byref(dead))
        if rc:
            _raise(rc, "check_readers")
        return dead.value



def _purpose(purpose: object) -> int:
    p = _PURPOSE.get(purpose)
    if p is None:
        raise ConfigError(-_errno.EINVAL, f"purpose {purpose!r}: one of message, optout_confirm, "
                          "help_reply, optin_confirm")
    return p
