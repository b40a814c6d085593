"""Business-hours schedules: opening decisions callers would notice, and ops-facing errors."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from ivr.schedule import Range, Schedule, parse_schedule
from ivr.yamlsrc import load_yaml

FILE = "menus/hours.yaml"
NY = ZoneInfo("America/New_York")

OFFICE = """
timezone: America/New_York
hours:
  mon-fri: "08:00-18:00"
  sat: "09:00-13:00"
  sun: closed
holidays: US
closed:
  - 2026-12-28: Staff party
  - 2026-12-29
special:
  2026-12-24: "08:00-12:00"
  2026-12-25: ["10:00-12:00"]
"""


def load(body: str, name: str = "office") -> tuple[Schedule | None, list[str]]:
    """Parse a schedule whose body starts on line 3 of the file (after 'schedules:' and name)."""
    text = f"schedules:\n  {name}:\n" + textwrap.indent(textwrap.dedent(body).strip(), "    ")
    data, problems = load_yaml(text + "\n", FILE)
    assert problems == []
    schedule, found = parse_schedule(name, data["schedules"][name], FILE)
    return schedule, [str(p) for p in found]


def schedule_of(body: str) -> Schedule:
    schedule, problems = load(body)
    assert problems == [] and schedule is not None
    return schedule


def local(text: str) -> datetime:
    """A New York wall-clock time (first occurrence when the clock repeats an hour)."""
    return datetime.fromisoformat(text).replace(tzinfo=NY)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def is_open_now(schedule: Schedule) -> bool:
    return schedule.is_open(datetime.now(UTC))


# --- opening decisions ---------------------------------------------------------------------


def test_parses_the_documented_example():
    office = schedule_of(OFFICE)
    assert office.timezone == "America/New_York"
    assert office.weekly[0] == (Range(8 * 60, 18 * 60),)
    assert office.weekly[5] == (Range(9 * 60, 13 * 60),)
    assert office.weekly[6] == ()
    assert office.holiday_country == "US"
    assert str(office.special[local("2026-12-25").date()][0]) == "10:00-12:00"


@pytest.mark.parametrize(("when", "expected"), [
    ("2026-06-01 07:59:59", False),  # Monday, one second before opening
    ("2026-06-01 08:00", True),
    ("2026-06-01 17:59:59", True),
    ("2026-06-01 18:00", False),  # the end of a range is already closed
    ("2026-06-05 12:00", True),  # Friday
    ("2026-06-06 12:59", True),  # Saturday half day
    ("2026-06-06 13:00", False),
    ("2026-06-07 12:00", False),  # Sunday closed
])
def test_weekly_hours_at_boundaries(when, expected):
    assert schedule_of(OFFICE).is_open(local(when)) is expected


def test_any_zone_of_the_moment_gives_the_same_answer():
    office = schedule_of(OFFICE)
    assert office.is_open(utc("2026-06-01 12:00"))  # 08:00 in New York (summer time)
    assert not office.is_open(utc("2026-06-01 11:59"))
    assert office.is_open(datetime(2026, 6, 1, 14, 0, tzinfo=ZoneInfo("Europe/Paris")))


def test_naive_time_is_refused():
    with pytest.raises(ValueError, match="aware"):
        schedule_of(OFFICE).is_open(datetime(2026, 6, 1, 12, 0))


def test_frozen_clock_weekday_open_and_sunday_closed():
    office = schedule_of(OFFICE)
    with time_machine.travel(utc("2026-06-01 15:00"), tick=False):  # Monday 11:00 in New York
        assert is_open_now(office)
    with time_machine.travel(utc("2026-06-07 15:00"), tick=False):  # Sunday
        assert not is_open_now(office)


def test_frozen_clock_thanksgiving_is_closed():
    office = schedule_of(OFFICE)
    with time_machine.travel(utc("2026-11-26 15:00"), tick=False):
        assert not office.is_open(datetime.now(UTC))
        assert office.status(datetime.now(UTC)).reason == "holiday: Thanksgiving Day"
    with time_machine.travel(utc("2026-11-25 15:00"), tick=False):  # the Wednesday before
        assert is_open_now(office)


def test_christmas_holiday_closes_but_special_hours_win():
    plain = schedule_of(OFFICE.replace('  2026-12-25: ["10:00-12:00"]\n', ""))
    assert not plain.is_open(local("2026-12-25 11:00"))
    assert plain.status(local("2026-12-25 11:00")).reason == "holiday: Christmas Day"
    office = schedule_of(OFFICE)
    assert office.is_open(local("2026-12-25 11:00"))
    assert not office.is_open(local("2026-12-25 12:00"))


def test_special_half_day_on_christmas_eve():
    office = schedule_of(OFFICE)
    assert office.is_open(local("2026-12-24 11:00"))
    assert not office.is_open(local("2026-12-24 13:00"))
    status = office.status(local("2026-12-24 13:00"))
    assert (status.is_open, status.reason) == (False, "special hours")
    assert status.next_change == local("2026-12-25 10:00")


def test_closed_dates_with_and_without_a_name():
    office = schedule_of(OFFICE)
    assert not office.is_open(local("2026-12-28 10:00"))
    assert office.status(local("2026-12-28 10:00")).reason == "closed date: Staff party"
    assert office.status(local("2026-12-29 10:00")).reason == "closed date: 2026-12-29"
    assert office.is_open(local("2026-12-30 10:00"))


def test_overnight_range_runs_into_the_next_day():
    night = schedule_of("""
        timezone: America/New_York
        hours:
          fri: "22:00-02:00"
          sat: "10:00-12:00"
    """)
    assert not night.is_open(local("2026-06-05 21:59"))
    assert night.is_open(local("2026-06-05 22:00"))
    assert night.is_open(local("2026-06-06 00:00"))  # midnight belongs to Friday's range
    assert night.is_open(local("2026-06-06 01:59:59"))
    assert not night.is_open(local("2026-06-06 02:00"))
    assert not night.is_open(local("2026-06-04 23:00"))  # Thursday night has no range


def test_holiday_keeps_the_previous_nights_spill_and_closes_its_own():
    late = schedule_of("""
        timezone: America/New_York
        hours:
          daily: "20:00-02:00"
        holidays: US
    """)
    assert late.is_open(local("2026-11-26 01:00"))  # Wednesday's night shift, on Thanksgiving
    assert late.status(local("2026-11-26 01:00")).reason == "weekly hours"
    assert late.status(local("2026-11-26 21:00")).reason == "holiday: Thanksgiving Day"
    assert not late.is_open(local("2026-11-26 21:00"))  # Thanksgiving's own range
    assert not late.is_open(local("2026-11-27 01:00"))  # ... including its spill into Friday
    assert late.is_open(local("2026-11-27 21:00"))


@pytest.mark.parametrize(("when", "expected"), [
    ("2026-06-05 23:59:59", True),  # fri 08:00-24:00
    ("2026-06-06 00:00", False),  # Saturday starts closed
    ("2026-06-07 00:00", True),  # sun 00:00-06:00 opens right at midnight
    ("2026-06-07 23:59:59", False),
])
def test_answers_right_at_midnight(when, expected):
    edges = schedule_of("""
        timezone: America/New_York
        hours:
          fri: "08:00-24:00"
          sun: "00:00-06:00"
    """)
    assert edges.is_open(local(when)) is expected


def test_spring_forward_day_range_lasts_two_real_hours():
    # On 2026-03-08 New York clocks jump from 02:00 EST to 03:00 EDT (07:00 UTC).
    early = schedule_of("timezone: America/New_York\nhours:\n  sun: '01:00-04:00'")
    assert not early.is_open(utc("2026-03-08 05:59"))
    assert early.is_open(utc("2026-03-08 06:00"))  # 01:00 EST
    assert early.is_open(utc("2026-03-08 07:59"))  # 03:59 EDT
    assert not early.is_open(utc("2026-03-08 08:00"))  # 04:00 EDT
    assert early.status(utc("2026-03-08 06:00")).next_change == utc("2026-03-08 08:00")


def test_spring_forward_start_in_the_skipped_hour_opens_at_the_jump():
    skipped = schedule_of("timezone: America/New_York\nhours:\n  sun: '02:30-05:00'")
    assert not skipped.is_open(utc("2026-03-08 06:59"))  # 01:59 EST
    assert skipped.is_open(utc("2026-03-08 07:00"))  # 03:00 EDT, the clock passed 02:30
    assert skipped.status(utc("2026-03-08 06:00")).next_change == local("2026-03-08 03:00")


def test_range_wholly_inside_the_skipped_hour_never_opens():
    ghost = schedule_of(
        "timezone: America/New_York\nhours:\n  sun: '02:10-02:50'\n  mon: '09:00-10:00'")
    assert not ghost.is_open(utc("2026-03-08 07:00"))
    assert ghost.status(utc("2026-03-08 06:00")).next_change == local("2026-03-09 09:00")


def test_fall_back_day_range_lasts_four_real_hours():
    # On 2026-11-01 New York clocks go back from 02:00 EDT to 01:00 EST (06:00 UTC).
    early = schedule_of("timezone: America/New_York\nhours:\n  sun: '01:00-04:00'")
    assert early.is_open(utc("2026-11-01 05:00"))  # 01:00 EDT
    assert early.is_open(utc("2026-11-01 06:30"))  # 01:30 EST, the repeated hour
    assert early.is_open(utc("2026-11-01 08:59"))  # 03:59 EST
    assert not early.is_open(utc("2026-11-01 09:00"))


def test_fall_back_end_in_the_repeated_hour_closes_at_its_first_occurrence():
    short = schedule_of("timezone: America/New_York\nhours:\n  sun: '00:00-01:30'")
    assert short.is_open(utc("2026-11-01 05:29"))  # 01:29 EDT
    assert not short.is_open(utc("2026-11-01 05:30"))  # 01:30 EDT
    assert not short.is_open(utc("2026-11-01 06:15"))  # 01:15 EST: no reopening


def test_weekday_hours_follow_the_clock_change():
    office = schedule_of(OFFICE)
    assert office.is_open(utc("2026-10-30 12:00"))  # Friday 08:00 EDT
    assert not office.is_open(utc("2026-11-02 12:00"))  # Monday 07:00 EST
    assert office.is_open(utc("2026-11-02 13:00"))  # Monday 08:00 EST


def test_status_reports_reason_and_next_change_in_the_schedule_zone():
    status = schedule_of(OFFICE).status(utc("2026-06-05 23:00"))  # Friday 19:00 in New York
    assert (status.is_open, status.reason) == (False, "weekly hours")
    assert status.next_change == local("2026-06-06 09:00")
    assert status.next_change.tzinfo == NY
    assert schedule_of(OFFICE).status(local("2026-06-01 09:00")).next_change == local(
        "2026-06-01 18:00")


def test_status_next_change_is_none_when_nothing_changes_within_eight_days():
    always = schedule_of("timezone: America/New_York\nhours:\n  daily: '00:00-24:00'")
    assert always.status(utc("2026-06-01 12:00")).next_change is None
    never = schedule_of("timezone: America/New_York\nhours:\n  daily: closed")
    assert never.status(utc("2026-06-01 12:00")).next_change is None
    soon = schedule_of("timezone: UTC\nhours:\n  mon: '10:00-11:00'")
    assert soon.status(utc("2026-06-02 12:00")).next_change == utc("2026-06-08 10:00")
    assert soon.status(utc("2026-06-01 10:30")).next_change == utc("2026-06-01 11:00")


def test_overnight_open_time_reports_the_range_end_across_midnight():
    night = schedule_of(
        "timezone: Europe/London\nhours:\n  fri: '22:00-02:00'\n  sat: '02:00-04:00'")
    status = night.status(datetime(2026, 6, 5, 23, 0, tzinfo=ZoneInfo("Europe/London")))
    assert status.is_open
    assert status.next_change == datetime(2026, 6, 6, 4, 0, tzinfo=ZoneInfo("Europe/London"))


def test_accepted_day_spellings():
    days = schedule_of("""
        timezone: UTC
        hours:
          Mon,WED: "09:00-10:00"
          fri-sun: "09:00-10:00, 11:00-12:00"
    """)
    assert [len(ranges) for ranges in days.weekly] == [1, 0, 1, 0, 2, 2, 2]
    weekend = schedule_of("timezone: UTC\nhours:\n  weekdays: '09:00-10:00'\n  weekend: closed")
    assert [len(ranges) for ranges in weekend.weekly] == [1, 1, 1, 1, 1, 0, 0]


def test_holiday_subdivision_adds_local_holidays():
    # Lincoln's Birthday (12 February) is a public holiday in New York state, not nationally.
    body = "timezone: America/New_York\nhours:\n  daily: '08:00-18:00'\nholidays: {}"
    national = schedule_of(body.format("US"))
    state = schedule_of(body.format("{country: US, subdivision: ny}"))
    assert national.is_open(local("2026-02-12 10:00"))
    assert not state.is_open(local("2026-02-12 10:00"))
    assert state.holiday_subdivision == "NY"


# --- problems reported to ops staff --------------------------------------------------------


def test_not_a_mapping():
    data, _ = load_yaml("schedules:\n  office: 9-5\n", FILE)
    schedule, problems = parse_schedule("office", data["schedules"]["office"], FILE, line=2)
    assert schedule is None
    assert [str(p) for p in problems] == [
        f"{FILE}:2: schedule 'office' must be a mapping with timezone: and hours: "
        "(see docs/schedules.md)"]


def test_unknown_fields_suggest_the_closest_name():
    schedule, problems = load("""
        timzone: America/New_York
        hours:
          mon: "08:00-18:00"
        colour: blue
    """)
    assert schedule is None
    assert problems == [
        f"{FILE}:3: unknown field 'timzone' (did you mean 'timezone'?)",
        f"{FILE}:6: unknown field 'colour'; valid fields are timezone, hours, holidays, closed, "
        "special",
        f"{FILE}:3: schedule 'office' has no timezone; add a line like timezone: America/New_York",
    ]


def test_unknown_timezone():
    _, problems = load("timezone: America/NewYork\nhours:\n  mon: '08:00-18:00'")
    assert problems == [
        f"{FILE}:3: unknown timezone 'America/NewYork' (did you mean 'America/New_York'?); use a "
        "name from the tz database such as America/New_York or Europe/London"]


def test_missing_hours():
    _, problems = load("timezone: UTC")
    assert problems == [
        f"{FILE}:3: schedule 'office' needs hours: with one line per day or group of days, "
        'for example  mon-fri: "08:00-18:00"']


def test_bad_day_names():
    _, problems = load("timezone: UTC\nhours:\n  mon-fir: '08:00-18:00'\n  holiday: closed")
    assert problems == [
        f"{FILE}:5: unknown day 'fir' in 'mon-fir' (did you mean 'fri'?); use mon, tue, wed, "
        "thu, fri, sat, sun, a range like mon-fri, a list like mon,wed,fri, or daily",
        f"{FILE}:6: unknown day 'holiday' in 'holiday'; use mon, tue, wed, thu, fri, sat, sun, "
        "a range like mon-fri, a list like mon,wed,fri, or daily",
    ]


def test_bad_time_formats():
    _, problems = load("""
        timezone: UTC
        hours:
          mon: "8am-5pm"
          tue: ["08:00-12:00", "13:00-25:00"]
          wed: "24:00-02:00"
          thu: 9
    """)
    fix = "write HH:MM-HH:MM, for example 08:00-18:00, or closed"
    limits = "(times go from 00:00 to 24:00, and 24:00 only as an end)"
    assert problems == [
        f"{FILE}:5: bad time range '8am-5pm'; {fix} {limits}",
        f"{FILE}:6: bad time range '13:00-25:00'; {fix} {limits}",
        f"{FILE}:7: bad time range '24:00-02:00'; {fix} {limits}",
        f"{FILE}:8: no opening hours given for 'thu'; {fix}",
    ]


def test_range_that_ends_when_it_starts():
    _, problems = load("timezone: UTC\nhours:\n  mon: '09:00-09:00'")
    assert problems == [
        f"{FILE}:5: time range '09:00-09:00' starts and ends at the same time; "
        "for the whole day write 00:00-24:00"]


def test_overlapping_ranges_on_one_day():
    _, problems = load("""
        timezone: UTC
        hours:
          mon:
            - "08:00-12:00"
            - "11:00-14:00"
    """)
    assert problems == [
        f"{FILE}:7: mon 11:00-14:00 overlaps mon 08:00-12:00; "
        "change or merge them so they do not overlap"]


def test_overnight_spill_overlapping_the_next_day():
    _, problems = load("""
        timezone: UTC
        hours:
          fri: "22:00-02:00"
          sat: "01:00-05:00"
          sun: "23:00-01:00"
          mon: "00:30-05:00"
    """)
    assert problems == [
        f"{FILE}:8: mon 00:30-05:00 overlaps sun 23:00-01:00 (which runs past midnight); "
        "change or merge them so they do not overlap",
        f"{FILE}:6: sat 01:00-05:00 overlaps fri 22:00-02:00 (which runs past midnight); "
        "change or merge them so they do not overlap",
    ]


def test_touching_ranges_are_fine():
    split = schedule_of("timezone: UTC\nhours:\n  mon: ['08:00-12:00', '12:00-17:00']")
    assert split.is_open(utc("2026-06-01 12:00"))


def test_day_named_twice():
    _, problems = load("""
        timezone: UTC
        hours:
          mon-fri: "08:00-18:00"
          wed: "08:00-12:00"
    """)
    assert problems == [
        f"{FILE}:6: wed already given by 'mon-fri' on line 5; name each day only once"]


def test_dates_that_do_not_exist():
    _, problems = load("""
        timezone: UTC
        hours:
          mon: "08:00-18:00"
        closed:
          - "2026-13-01"
          - 12/24/2026
          - 2026-12-24 10:00
          - 2026-12-24 10:00:00
        special:
          "2026-02-30": "08:00-12:00"
    """)
    assert problems == [
        f"{FILE}:7: date 2026-13-01 does not exist (there is no month 13); "
        "correct it, as YYYY-MM-DD",
        f"{FILE}:8: '12/24/2026' is not a date; write dates as YYYY-MM-DD, e.g. 2026-12-24",
        f"{FILE}:9: '2026-12-24 10:00' has a time of day; write only the date as YYYY-MM-DD",
        f"{FILE}:10: '2026-12-24 10:00:00' has a time of day; write only the date as YYYY-MM-DD",
        f"{FILE}:12: date 2026-02-30 does not exist (February 2026 has 28 days); "
        "correct it, as YYYY-MM-DD",
    ]


def test_unquoted_impossible_date_is_reported_not_raised():
    _, problems = load("timezone: UTC\nhours:\n  mon: closed\nclosed:\n  - 2026-02-30")
    assert problems == [
        f"{FILE}:7: date 2026-02-30 does not exist (February 2026 has 28 days); "
        "correct it, as YYYY-MM-DD"]


def test_unknown_holiday_country_and_subdivision():
    hint = "use a two-letter country code such as US, GB, DE or FR (see docs/schedules.md)"
    _, problems = load("timezone: UTC\nhours:\n  mon: closed\nholidays: XX")
    assert problems == [f"{FILE}:6: unknown holiday country 'XX'; {hint}"]
    _, problems = load("timezone: UTC\nhours:\n  mon: closed\nholidays: NO")
    assert problems == [
        f"{FILE}:6: holidays: was read as no; put the country code in quotes, e.g. \"NO\" for "
        "Norway, or remove the line for no holidays"]
    _, problems = load("""
        timezone: UTC
        hours:
          mon: closed
        holidays:
          country: FR
          subdivison: "75"
    """)
    assert problems == [f"{FILE}:8: unknown field 'subdivison' (did you mean 'subdivision'?)"]
    _, problems = load("""
        timezone: UTC
        hours:
          mon: closed
        holidays:
          country: US
          subdivision: ZZ
    """)
    assert len(problems) == 1
    assert problems[0].startswith(f"{FILE}:8: unknown subdivision 'ZZ' for US; use one of: AK, ")


def test_closed_date_with_special_hours_is_a_warning():
    schedule, problems = load("""
        timezone: UTC
        hours:
          mon: "08:00-18:00"
        closed:
          - 2026-12-24
        special:
          2026-12-24: "08:00-12:00"
    """)
    assert problems == [
        f"{FILE}:9: warning: 2026-12-24 is also listed under closed: but special hours win; "
        "remove it from closed: to avoid confusion"]
    assert schedule is not None and schedule.is_open(utc("2026-12-24 11:00"))


def test_every_problem_is_reported_at_once():
    _, problems = load("""
        timezone: Mars/Olympus
        hours:
          mon: "8-5"
          tues: "08:00-18:00"
        closed:
          - "2026-02-29"
        holidays: ZZ
    """)
    assert [p.split(":")[1] for p in problems] == ["3", "5", "6", "8", "9"]


def test_special_overlap_is_reported_with_the_date():
    _, problems = load("""
        timezone: UTC
        hours:
          mon: closed
        special:
          2026-12-24: ["08:00-12:00", "09:00-10:00"]
    """)
    assert problems == [
        f"{FILE}:7: 2026-12-24 09:00-10:00 overlaps 2026-12-24 08:00-12:00; "
        "change or merge them so they do not overlap"]


def test_results_do_not_drift_over_many_days():
    office = schedule_of(OFFICE)
    moment = utc("2026-01-05 13:30")  # a Monday, 08:30 EST
    closed = [(moment + timedelta(days=7 * week)).date().isoformat()
              for week in range(52) if not office.is_open(moment + timedelta(days=7 * week))]
    # US federal Monday holidays of 2026, and the closed date (staff party)
    assert closed == ["2026-01-19", "2026-02-16", "2026-05-25", "2026-09-07", "2026-10-12",
                      "2026-12-28"]
