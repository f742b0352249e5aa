# SPDX-License-Identifier: Apache-2.0
"""The Python binding against a real store made by the real stopgate binary."""
import datetime as dt
import os
import subprocess
import sys
import threading
import ctypes

import pytest

import stopgate
from conftest import GLOBAL, OTHER, OUT, ROOT, SENDER, sg


def test_version_is_the_library_s():
    assert stopgate.library_version().count(".") == 2


def test_opted_out_pair_is_denied_with_the_library_s_names(store):
    with stopgate.Engine(store) as e:
        v = e.check(SENDER, OUT)
    assert not v.allow and not v
    assert v.reason == "opted_out"
    assert v.scope == "sender" and v.scope_id == SENDER
    assert v.seq == 1 and v.since is not None
    assert abs(v.since - dt.datetime.now(dt.timezone.utc)) < dt.timedelta(days=1)


def test_national_recipient_is_read_with_the_sender_s_country(store):
    with stopgate.Engine(store) as e:
        assert e.check(SENDER, "(415) 555-2671").reason == "opted_out"


def test_pair_without_record_is_allowed(store):
    with stopgate.Engine(store) as e:
        v = e.check(SENDER, OTHER)
    assert v.allow and v and v.reason is None and v.scope is None and v.seq == 0


def test_global_block_denies_every_sender(store):
    with stopgate.Engine(store) as e:
        v = e.check("+14155550199", GLOBAL)
    assert (v.allow, v.reason, v.scope) == (False, "opted_out", "global")


def test_unparseable_number_is_a_deny_not_an_error(store):
    with stopgate.Engine(store) as e:
        v = e.check(SENDER, "not a number")
    assert (v.allow, v.reason) == (False, "invalid_number")


def test_read_only_engine_never_grants_the_confirmation(store):
    with stopgate.Engine(store) as e:
        v = e.check(SENDER, OUT, purpose="optout_confirm")
    assert not v.allow and v.reason in ("opted_out", "confirmation_needs_writer")


def test_batch_gives_one_verdict_per_recipient_in_order(store):
    with stopgate.Engine(store) as e:
        vs = e.check_batch(SENDER, [OTHER, OUT, "junk", GLOBAL])
        assert e.check_batch(SENDER, []) == []
    assert [v.reason for v in vs] == [None, "opted_out", "invalid_number", "opted_out"]
    assert vs[1] == stopgate.Engine(store).check(SENDER, OUT)


def test_bad_purpose_is_refused(store):
    with stopgate.Engine(store) as e, pytest.raises(stopgate.ConfigError, match="purpose"):
        e.check(SENDER, OUT, purpose="marketing")


UTC = dt.timezone.utc
FLORIDA = "+13055550123"          # Miami (305): US-FL, America/New_York
QH = str(ROOT / "quiet-hours")    # this checkout's rules, not whatever is installed
NIGHT = dt.datetime(2026, 12, 2, 3, 0, tzinfo=UTC)   # 22:00 EST on Dec 1 in Miami


def test_marketing_at_a_quiet_hour_is_held_until_the_window_opens(store):
    with stopgate.Engine(store, quiet_hours_dir=QH) as e:
        v = e.check(SENDER, FLORIDA, category="marketing", at=NIGHT)
        b = e.check_batch(SENDER, [FLORIDA, OTHER, OUT], category="marketing", at=NIGHT)
    assert not v.allow and v.reason == "quiet_hours" and v.category == "marketing"
    assert (v.region, v.tz) == ("US-FL", "America/New_York")
    assert v.next_allowed_at == dt.datetime(2026, 12, 2, 13, 0, tzinfo=UTC)   # 8:00 EST
    assert v.rule.startswith("us-fl.qh")
    assert b[0] == v
    # 19:00 in San Francisco is inside California's hours; the opt-out still comes first
    assert b[1].allow and b[1].region == "US-CA" and b[1].next_allowed_at is None
    assert b[2].reason == "opted_out" and b[2].rule == ""


def test_informational_at_the_same_hour_is_allowed(store):
    with stopgate.Engine(store, quiet_hours_dir=QH) as e:
        v = e.check(SENDER, FLORIDA, category="informational", at=NIGHT)
        plain = e.check(SENDER, FLORIDA)
    assert v.allow and v.reason is None and v.category == "informational" and v.region == "US-FL"
    assert v.next_allowed_at is None and v.rule == ""
    assert plain.allow and plain.category is None   # no option: sg_check, no category applies


def test_bad_category_and_naive_at_are_refused(store):
    with stopgate.Engine(store, quiet_hours_dir=QH) as e:
        with pytest.raises(stopgate.ConfigError, match="marketing, informational, transactional, conversational"):
            e.check(SENDER, FLORIDA, category="promo")
        with pytest.raises(stopgate.ConfigError, match="category 'promo'"):
            e.check_batch(SENDER, [FLORIDA], category="promo")
        with pytest.raises(stopgate.ConfigError, match="time zone"):
            e.check(SENDER, FLORIDA, category="marketing", at=dt.datetime(2026, 12, 2, 3, 0))


class _SendIn(ctypes.Structure):  # sg_send_in: the binding does not record sends; the test does
    _fields_ = [("size", ctypes.c_size_t), ("id", ctypes.c_char_p), ("sender", ctypes.c_char_p),
                ("recipient", ctypes.c_char_p), ("at_us", ctypes.c_int64), ("campaign", ctypes.c_char_p),
                ("category", ctypes.c_int), ("source", ctypes.c_int)]


class _SendOut(ctypes.Structure):
    _fields_ = [("status", ctypes.c_int), ("duplicate", ctypes.c_bool), ("ordinal", ctypes.c_uint64)]


def test_fourth_marketing_send_in_a_day_to_florida_is_capped_per_campaign(tmp_path):
    sends = (_SendIn * 3)()
    for i, s in enumerate(sends):
        at = dt.datetime(2026, 11, 3, 14 + i, 0, tzinfo=UTC)
        s.size, s.id, s.sender, s.recipient = ctypes.sizeof(_SendIn), f"SM{i}".encode(), SENDER.encode(), FLORIDA.encode()
        s.at_us, s.campaign, s.category = int(at.timestamp()) * 1_000_000, b"CAMP001", 1
    noon = dt.datetime(2026, 11, 3, 17, 0, tzinfo=UTC)   # 12:00 EST: not quiet
    with stopgate.Engine(tmp_path, readonly=False, create=True, quiet_hours_dir=QH) as e:
        out = (_SendOut * 3)()
        assert e._L.sg_sends_record(ctypes.c_void_p(e._h), sends, 3, out) == 0
        assert [o.status for o in out] == [0, 0, 0]
        v = e.check(SENDER, FLORIDA, category="marketing", at=noon, campaign="CAMP001")
        other = e.check(SENDER, FLORIDA, category="marketing", at=noon, campaign="CAMP002")
        info = e.check(SENDER, FLORIDA, category="informational", at=noon, campaign="CAMP001")
        [b] = e.check_batch(SENDER, [FLORIDA], category="marketing", at=noon, campaign="CAMP001")
    assert not v.allow and v.reason == "frequency_cap" and v.rule == "FL"
    assert v.next_allowed_at == dt.datetime(2026, 11, 4, 14, 0, tzinfo=UTC)   # the first send + 24 h
    assert b == v
    assert other.allow and info.allow


def test_classify_names_intent_rule_and_reply(store, kw_dir):
    with stopgate.Engine(store, keywords_dir=kw_dir) as e:
        c = e.classify("STOP")
        assert (c.intent, c.confidence, c.lang) == ("opt_out", "exact", "en")
        assert c.rule and c.reply
        assert e.classify("see you at 5").intent == "none"
        with pytest.raises(stopgate.StopgateError) as ei:
            e.classify(b"\xff\xfe stop")
        assert ei.value.name == "SG_EUTF8"


def test_normalize_and_its_errors():
    assert stopgate.normalize("(415) 555-2671", "US") == "+14155552671"
    assert stopgate.normalize("MyBrand", field="address") == "aid:mybrand"
    assert stopgate.country_of("+442071838750") == "GB"
    with pytest.raises(stopgate.NoCountryError) as ei:
        stopgate.normalize("4155552671")
    assert ei.value.name == "SG_ENOCOUNTRY" and ei.value.code == -999
    with pytest.raises(stopgate.NumberError):
        stopgate.normalize("hello there")
    with pytest.raises(stopgate.ConfigError):
        stopgate.normalize("4155552671", "USA")


def test_engine_normalize_uses_the_engine_s_default_country(store):
    with stopgate.Engine(store, default_country="GB") as e:
        assert e.normalize("020 7183 8750") == "+442071838750"
        assert e.normalize("(415) 555-2671", "US") == "+14155552671"
    with stopgate.Engine(store) as e, pytest.raises(stopgate.NoCountryError):
        e.normalize("020 7183 8750")


def test_missing_store_raises_no_store_with_the_library_s_text(tmp_path):
    with pytest.raises(stopgate.NoStoreError) as ei:
        stopgate.Engine(tmp_path / "none")
    assert ei.value.name == "SG_ENOSTORE"
    assert "stopgate init" in str(ei.value) and str(tmp_path) in str(ei.value)


def test_create_makes_a_store_read_write(tmp_path):
    d = tmp_path / "new"
    with stopgate.Engine(d, readonly=False, create=True) as e:
        assert not e.readonly
        assert e.check(SENDER, OUT).allow
    with stopgate.Engine(d) as e:
        assert e.readonly
    with pytest.raises(stopgate.ConfigError):
        stopgate.Engine(d, create=True)


def test_second_writer_is_locked_out(tmp_path):
    d = tmp_path / "w"
    sg(d, "init")
    code = ("import stopgate, sys; e = stopgate.Engine(sys.argv[1], readonly=False); "
            "print('open', flush=True); sys.stdin.read()")
    holder = subprocess.Popen([sys.executable, "-c", code, str(d)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, env=os.environ)
    try:
        assert holder.stdout.readline().strip() == "open"
        with pytest.raises(stopgate.LockedError) as ei:
            stopgate.Engine(d, readonly=False)
        assert ei.value.name == "SG_ELOCKED"
        with stopgate.Engine(d) as ro:  # readers are welcome beside the writer
            assert ro.check(SENDER, OTHER).allow
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)


def test_reader_sees_an_opt_out_recorded_after_it_opened(tmp_path):
    d = tmp_path / "live"
    sg(d, "init")
    with stopgate.Engine(d) as e:
        assert e.check(SENDER, OTHER).allow
        sg(d, "optout", SENDER, OTHER)
        assert e.check(SENDER, OTHER).reason == "opted_out"


def test_closed_engine_refuses_calls(store):
    e = stopgate.Engine(store)
    with e:
        pass
    assert e.closed
    e.close()  # again: a no-op
    for call in (lambda: e.check(SENDER, OUT), lambda: e.check_batch(SENDER, [OUT]),
                 lambda: e.classify("STOP")):
        with pytest.raises(ValueError, match="closed"):
            call()


def test_threads_share_one_engine(store):
    e = stopgate.Engine(store)
    bad = []

    def run():
        for i in range(2000):
            a, b = e.check(SENDER, OUT), e.check(SENDER, OTHER)
            if a.allow or a.reason != "opted_out" or not b.allow:
                bad.append((a, b))
    ts = [threading.Thread(target=run) for _ in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    e.close()
    assert bad == []


def test_error_codes_map_to_classes():
    assert isinstance(stopgate.StopgateError(-1000), stopgate.StopgateError)
    assert stopgate.StopgateError(-993).name == "SG_ELOCKED"
    e = stopgate.StopgateError(-2)
    assert e.name == "ENOENT" and str(e)
    assert stopgate.StopgateError(-1500).name == "SG_ERROR(-1500)"


def test_readme_example_runs_as_written(store, tmp_path):
    """The README's example, with its data directory pointed at the test store,
    prints what its comments say."""
    import pathlib
    import re
    text = (pathlib.Path(__file__).parents[1] / "README.md").read_text()
    code = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    assert len(code.strip().splitlines()) <= 10
    want = [m.group(1).strip() for m in re.finditer(r"print\(.*?#\s*(.*)$", code, re.M)]
    script = tmp_path / "example.py"
    script.write_text(code.replace("/var/lib/stopgate", str(store)))
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=os.environ)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == want


def test_a_library_that_does_not_load_says_how_to_fix_it(tmp_path):
    code = ("import stopgate\n"
            "try:\n    stopgate.library_version()\n"
            "except stopgate.LoadError as e:\n    assert isinstance(e, OSError); print(e)\n")
    env = dict(os.environ, STOPGATE_LIBRARY=str(tmp_path / "libstopgate.so"))
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert str(tmp_path / "libstopgate.so") in r.stdout
    assert "STOPGATE_LIBRARY" in r.stdout and "ninja -C build" in r.stdout and "README" in r.stdout
