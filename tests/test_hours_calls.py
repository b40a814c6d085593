"""Business hours through the real webhooks, with the clock frozen: holidays, half days, DST, midnight."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from appfixtures import ROOT
from phone import Phone
from test_queue_calls import record
from test_survey_options import edit

NEW_YORK = ZoneInfo("America/New_York")
CLOSED_BILLING = "Our billing team is available Monday to Friday, 8 AM to 6 PM."


def local(text: str) -> datetime:
    """A New York wall-clock time."""
    return datetime.fromisoformat(text).replace(tzinfo=NEW_YORK)


def utc(text: str) -> datetime:
    """A UTC time (unambiguous on daylight-saving days)."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def billing_at(phone: Phone, when: datetime, language_key: str = "1"):
    """Call at `when`, choose a language, press 1 for billing."""
    with time_machine.travel(when, tick=False):
        phone.call()
        phone.press(language_key)
        return phone.press("1")


def is_open(twiml) -> bool:
    """True when billing took the caller into its queue, False when it said it was closed."""
    if twiml.has("Enqueue"):
        return True
    assert twiml.said[0] in (CLOSED_BILLING, "Nuestro equipo de facturación atiende de lunes a viernes, de 8 a 18 horas.")
    return False


def test_closed_on_christmas_day_then_voicemail(phone, redis_client):
    twiml = billing_at(phone, local("2026-12-25 10:00"))  # a Friday, a US public holiday
    assert not is_open(twiml)
    assert twiml.verbs == ["Say", "Say", "Record", "Redirect"]
    assert "box=billing" in twiml.first("Record").get("action")
    assert "closed office" in " ".join(redis_client.hvals(f"ivr:call:{{{phone.sid}}}:path"))
    assert record(redis_client, phone)["route"] == "voicemail:billing"


def test_closed_on_christmas_day_in_spanish(phone):
    twiml = billing_at(phone, local("2026-12-25 10:00"), language_key="2")
    assert not is_open(twiml)
    assert set(twiml.languages) == {"es-US"}
    assert "Ha llamado a facturación" in twiml.speech


@pytest.mark.parametrize(("when", "expected"), [
    ("2026-12-24 08:00", True),  # Christmas Eve: special hours 08:00-12:00
    ("2026-12-24 11:59", True),
    ("2026-12-24 12:00", False),
    ("2026-12-24 15:00", False),  # a normal Thursday would be open
    ("2026-12-23 15:00", True),
    ("2026-12-26 10:00", False),  # a Saturday listed under closed:
])
def test_half_day_and_closed_dates(phone, when, expected):
    assert is_open(billing_at(phone, local(when))) is expected


@pytest.fixture
def night_phone(make_app, menus_dir):
    """Office hours with a Sunday night shift across the DST change and a Friday late shift."""
    routing = menus_dir / "routing.yaml"
    text = routing.read_text()
    assert 'mon-fri: "08:00-18:00"' in text and 'sat: "09:00-13:00"' in text
    text = text.replace('mon-fri: "08:00-18:00"', 'mon-thu: "08:00-18:00"\n      fri: "08:00-01:00"')
    routing.write_text(text.replace('sat: "09:00-13:00"', 'sat: "09:00-13:00"\n      sun: "01:00-04:00"'))
    return Phone(make_app().test_client())


@pytest.mark.parametrize(("when", "expected"), [
    # Spring forward, 2026-03-08: 01:00-04:00 local lasts two real hours (06:00-08:00 UTC).
    ("2026-03-08 05:59", False),
    ("2026-03-08 06:00", True),   # 01:00 EST
    ("2026-03-08 06:59", True),   # 01:59 EST; the next minute is 03:00 EDT
    ("2026-03-08 07:30", True),   # 03:30 EDT
    ("2026-03-08 08:00", False),  # 04:00 EDT
    # Fall back, 2026-11-01: 01:00-04:00 local lasts four real hours (05:00-09:00 UTC).
    ("2026-11-01 04:59", False),
    ("2026-11-01 05:00", True),   # 01:00 EDT, the first time
    ("2026-11-01 06:30", True),   # 01:30 EST, the second time
    ("2026-11-01 08:59", True),   # 03:59 EST
    ("2026-11-01 09:00", False),  # 04:00 EST
])
def test_dst_change_days(night_phone, when, expected):
    assert is_open(billing_at(night_phone, utc(when))) is expected


@pytest.mark.parametrize(("when", "expected"), [
    ("2026-06-04 23:59:59", False),  # Thursday closes at 18:00
    ("2026-06-05 00:00", False),     # Friday opens at 08:00
    ("2026-06-05 23:59:59", True),   # Friday's late shift ...
    ("2026-06-06 00:00", True),      # ... runs past midnight
    ("2026-06-06 00:59:59", True),
    ("2026-06-06 01:00", False),
    ("2026-06-06 09:00", True),      # Saturday's own hours
])
def test_around_midnight(night_phone, when, expected):
    assert is_open(billing_at(night_phone, local(when))) is expected


def test_open_schedule_lets_the_menu_option_through_unchanged(phone, redis_client):
    twiml = billing_at(phone, local("2026-06-03 17:59"))
    assert twiml.first("Enqueue").text == "billing"
    assert record(redis_client, phone)["route"] == "queue:billing"


def test_ivr_check_reports_schedule_mistakes_as_file_and_line(menus_dir):
    from click.testing import CliRunner

    from ivr.cli import main

    routing = menus_dir / "routing.yaml"
    head = routing.read_text().partition("schedules:")[0]
    routing.write_text(head + """schedules:
  office:
    timezone: America/NewYork
    hours:
      mon-fri: "08:00-18:00"
      wed: "09:00-10:00"
      sat: ["09:00-12:00", "11:00-13:00"]
      sun: "10:00-10:00"
    closed:
      - 2026-02-30
    special:
      2026-12-24: "8am-12pm"
""")
    lines = routing.read_text().splitlines()

    def at(fragment: str) -> str:
        """`file:line:` of the only line holding `fragment`."""
        [number] = [i + 1 for i, text in enumerate(lines) if fragment in text]
        return f"{routing}:{number}: "

    result = CliRunner().invoke(main, ["check", str(menus_dir), "--recordings", str(ROOT / "recordings")])
    assert result.exit_code == 1
    out = result.output.splitlines()
    expected = [
        at("America/NewYork") + "unknown timezone 'America/NewYork' (did you mean 'America/New_York'?)",
        at("wed:") + "wed already given by 'mon-fri' on line " + at("mon-fri").split(":")[-2],
        at("11:00-13:00") + "sat 11:00-13:00 overlaps sat 09:00-12:00",
        at("10:00-10:00") + "time range '10:00-10:00' starts and ends at the same time",
        at("2026-02-30") + "date 2026-02-30 does not exist (February 2026 has 28 days)",
        at("8am-12pm") + "bad time range '8am-12pm'; write HH:MM-HH:MM",
    ]
    for message in expected:
        assert any(line.startswith(message) for line in out), (message, result.output)
    assert out[-1].endswith("error(s), 0 warning(s): the menus would not be loaded")


def test_a_whole_line_closed_on_a_holiday_goes_to_voicemail(make_app, menus_dir, redis_client):
    edit(menus_dir / "line.yaml", "  main: main               # where",
          "  hours: office\n  closed:\n    say: {en-US: We are closed today., es-US: Hoy estamos cerrados.}\n"
          "    then: {voicemail: general}\n  main: main               # where")
    phone = Phone(make_app().test_client())
    with time_machine.travel(local("2026-12-25 10:00"), tick=False):  # Christmas: the line is closed
        closed = phone.call()
    assert closed.said[0] == "We are closed today." and closed.has("Record")
    assert "box=general" in closed.first("Record").get("action")
    assert "closed line" in " ".join(redis_client.hvals(f"ivr:call:{{{phone.sid}}}:path"))
    with time_machine.travel(local("2026-12-22 10:00"), tick=False):  # a Tuesday morning: open
        other = Phone(make_app().test_client(), number="+15557654321")
        assert other.call().first("Gather").get("action").startswith("/voice/menu?n=language")


def test_a_single_menu_option_with_hours(make_app, menus_dir):
    edit(menus_dir / "main.yaml", "      9: {voicemail: general, label: Leave a message}",
          "      9: {voicemail: general, label: Leave a message, hours: office,\n"
          "          closed: {say: {en-US: Messages are taken in office hours., "
          "es-US: Los mensajes se toman en horario de oficina.}, then: repeat}}")
    app = make_app()
    for when, expect_record, number in (("2026-12-22 10:00", True, "+15550000001"),
                                        ("2026-12-25 10:00", False, "+15550000002")):
        phone = Phone(app.test_client(), number=number)
        with time_machine.travel(local(when), tick=False):
            phone.call()
            phone.press("1")
            answer = phone.press("9")
        if expect_record:
            assert answer.has("Record"), answer.text
        else:  # closed: the message, then the main menu again (repeat)
            assert answer.said[0] == "Messages are taken in office hours." and not answer.has("Record")
            assert answer.first("Gather").get("action").startswith("/voice/menu?n=main")
