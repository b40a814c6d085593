"""Returning callers: welcomed back in their language, offered their last queue, numbers never stored."""

from __future__ import annotations

from datetime import timedelta

import pytest
from appfixtures import ROOT
from phone import Phone
from test_hours_calls import local
from test_queue_calls import enter_billing, open_clock, wait
from test_survey_options import edit

from ivr.navigator import Navigator
from ivr.registry import MenuRegistry
from ivr.returning import returning_step

NUMBER = "+15551234567"
WELCOME_ES = "Bienvenido de nuevo. Para volver a Facturación, oprima 1. Para el menú principal, oprima 2."

# The first call happens while billing is open; tests move the clock on for the next one.
clock = pytest.fixture(name="clock")(open_clock)


def spanish_billing_call(new_phone) -> Phone:
    """A caller who chose Spanish and went to billing, then hung up while waiting."""
    phone = new_phone(NUMBER)
    enqueue = enter_billing(phone, "2")
    wait(phone, enqueue, 2, 30, 60)
    phone.post(enqueue.get("action"), {"QueueResult": "hangup", "QueueTime": 40})
    phone.post("/voice/status", {"CallStatus": "completed", "CallDuration": 75})
    return phone


def test_spanish_caller_is_welcomed_back_and_returns_to_billing(new_phone, clock, redis_client):
    spanish_billing_call(new_phone)
    clock.shift(timedelta(hours=3))
    again = new_phone(NUMBER)
    welcome = again.call()
    assert welcome.said == [WELCOME_ES]
    assert welcome.languages == ["es-US"]
    assert welcome.first("Gather").get("numDigits") == "1"
    back = again.press("1")
    enqueue = back.first("Enqueue")
    assert enqueue.text == "billing"
    assert "l=es-US" in enqueue.get("waitUrl")
    assert wait(again, enqueue, 1, 0, 30).said[0] == "Usted es la persona número 1 en la fila."
    call = redis_client.hgetall(f"ivr:call:{{{again.sid}}}")
    assert (call["route"], call["lang"]) == ("queue:billing", "es-US")
    path = " | ".join(redis_client.hvals(f"ivr:call:{{{again.sid}}}:path"))
    assert "returning caller" in path and "returned" in path


def test_returning_caller_may_choose_the_main_menu_instead(new_phone, clock):
    spanish_billing_call(new_phone)
    clock.shift(timedelta(hours=1))
    again = new_phone(NUMBER)
    again.call()
    main = again.press("2")
    assert main.said[0].startswith("Para facturación, oprima 1.")
    assert main.first("Gather").get("action").startswith("/voice/menu?")


def test_silence_on_the_welcome_goes_to_the_main_menu(new_phone, clock):
    spanish_billing_call(new_phone)
    again = new_phone(NUMBER)
    again.call()
    assert again.silence().said[0].startswith("Para facturación")


def test_after_the_window_the_caller_starts_afresh(new_phone, clock):
    spanish_billing_call(new_phone)
    clock.shift(timedelta(hours=24, seconds=1))
    fresh = new_phone(NUMBER).call()
    assert fresh.said[0] == "Thank you for calling Acme. For English, press 1."


def test_just_inside_the_window_is_still_welcomed(new_phone, clock):
    spanish_billing_call(new_phone)
    clock.shift(timedelta(hours=23, minutes=59))
    assert new_phone(NUMBER).call().said == [WELCOME_ES]


def test_another_number_is_a_new_caller(new_phone, clock):
    spanish_billing_call(new_phone)
    assert new_phone("+15559876543").call().said[0].startswith("Thank you for calling Acme.")


def test_window_setting_zero_turns_the_welcome_off(make_app, clock):
    app = make_app(IVR_RETURNING_HOURS=0)
    first = Phone(app.test_client(), number=NUMBER)
    enter_billing(first, "2")
    again = Phone(app.test_client(), number=NUMBER).call()
    assert again.said[0].startswith("Thank you for calling Acme.")


def test_remembered_caller_is_a_keyed_hash_with_a_retention(new_phone, clock, redis_client):
    spanish_billing_call(new_phone)
    [key] = redis_client.keys("ivr:caller:*")
    assert 23 * 3600 < redis_client.ttl(key) <= 24 * 3600
    remembered = redis_client.hgetall(key)
    assert (remembered["lang"], remembered["dest"]) == ("es-US", "queue:billing")


def every_stored_text(client) -> str:
    """Every key, field, member and value in Redis, as one text."""
    parts = []
    for key in client.scan_iter(count=1000):
        kind = client.type(key)
        parts.append(key)
        if kind == "string":
            parts.append(client.get(key))
        elif kind == "hash":
            parts += [x for pair in client.hgetall(key).items() for x in pair]
        elif kind == "zset":
            parts += client.zrange(key, 0, -1)
        elif kind == "set":
            parts += client.smembers(key)
        elif kind == "list":
            parts += client.lrange(key, 0, -1)
        else:
            parts.append(f"<{kind}>")
    return "\n".join(parts)


def test_caller_numbers_appear_nowhere_in_redis(new_phone, clock, redis_client):
    spanish_billing_call(new_phone)
    again = new_phone(NUMBER)
    again.call()
    again.press("1")
    voicemail = new_phone(NUMBER)
    voicemail.call()
    voicemail.press("2")
    record = voicemail.press("9").first("Record")
    voicemail.post(record.get("recordingStatusCallback"),
                   {"RecordingSid": "RE" + "4" * 32, "RecordingDuration": 9, "RecordingStatus": "completed",
                    "RecordingUrl": "https://api.twilio.com/r/RE4"})
    stored = every_stored_text(redis_client)
    assert "ivr:caller:" in stored and "ivr:vm:" in stored  # the scan did see the caller's data
    for digits in ("5551234567", "15551234567", "5550001111"):
        assert digits not in stored
    assert "+1******4567" in stored


def test_a_welcome_is_worked_out_once_unless_it_depends_on_the_time(menus_dir):
    edit(menus_dir / "line.yaml", "  returning_callers: true", "  returning_callers: true\n  hours: office")
    ms = MenuRegistry(menus_dir, ROOT / "recordings", check_every=0).current
    open_at, closed_at = local("2026-12-07 10:00"), local("2026-12-07 22:00")  # a Monday
    billing = {"lang": "es-US", "dest": "queue:billing", "at": open_at.timestamp()}
    first = returning_step(Navigator(ms, now=open_at), billing, open_at.timestamp(), 24)
    again = returning_step(Navigator(ms, now=closed_at), billing, open_at.timestamp(), 24)
    assert first is again and first.say[0].text == WELCOME_ES  # the same step: rendered once
    # a destination that cannot be offered: the first menu in the caller's language, which on a
    # line with hours depends on the time, so it is worked out on every call
    voicemail = dict(billing, dest="voicemail:billing")
    opened = returning_step(Navigator(ms, now=open_at), voicemail, open_at.timestamp(), 24)
    assert opened is not None and opened.gather.state.node == "main" and opened.lang == "es-US"
    assert returning_step(Navigator(ms, now=closed_at), voicemail, open_at.timestamp(), 24) is None


def test_a_returning_caller_hears_the_line_closed_rather_than_the_welcome(make_app, menus_dir, clock):
    edit(menus_dir / "line.yaml", "  returning_callers: true", "  returning_callers: true\n  hours: office")
    app = make_app()
    assert enter_billing(Phone(app.test_client(), number=NUMBER), "2").text == "billing"
    clock.move_to(local("2026-06-03 22:00"))  # the same evening: the whole line is closed
    closed = Phone(app.test_client(), number=NUMBER).call()
    assert WELCOME_ES not in closed.said and closed.said[0].startswith("We are currently closed")
