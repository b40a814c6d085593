"""Business-hours schedules: weekly hours, closed dates, public holidays and special days.

Each local calendar day owns the ranges that start on it: a range past midnight belongs to the
day it starts on, so a holiday closes its own day's ranges but not the night spill of the day
before. Times are wall-clock times in the schedule's zone; a time skipped by a daylight-saving
jump means "when the clock jumps", a time that happens twice means its first occurrence.
"""

from __future__ import annotations

import calendar
import difflib
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import holidays

from ivr.problems import Problem

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_GROUPS = {"daily": range(7), "weekdays": range(5), "weekend": range(5, 7)}
FIELDS = ("timezone", "hours", "holidays", "closed", "special")
HOLIDAY_FIELDS = ("country", "subdivision")
DAY, WEEK = 24 * 60, 7 * 24 * 60
LOOKAHEAD = timedelta(days=8)
_RANGE = re.compile(r"(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})")
_DATE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})([ T]\d.*)?")
_DAYS_HELP = "use mon, tue, wed, thu, fri, sat, sun, a range like mon-fri, a list like mon,wed,fri"
_RANGE_HELP = "write HH:MM-HH:MM, for example 08:00-18:00, or closed"


class Range(NamedTuple):
    """Opening time as minutes after the day's midnight; an `end` above 1440 is the next day."""

    start: int
    end: int

    def __str__(self) -> str:
        return f"{_hhmm(self.start)}-{_hhmm(self.end)}"


@dataclass(frozen=True)
class ScheduleStatus:
    """Whether a schedule is open at a moment, the rule that decided it, and the next change."""

    is_open: bool
    reason: str
    next_change: datetime | None


@dataclass(frozen=True)
class Schedule:
    """Opening hours of one line, evaluated in its own time zone."""

    name: str
    timezone: str
    weekly: tuple[tuple[Range, ...], ...] = ((),) * 7
    closed: dict[date, str] = field(default_factory=dict, hash=False)
    special: dict[date, tuple[Range, ...]] = field(default_factory=dict, hash=False)
    holiday_country: str | None = None
    holiday_subdivision: str | None = None

    def is_open(self, at: datetime) -> bool:
        """True when the line is open at the aware moment `at`."""
        at = _to_utc(at)
        day = at.astimezone(ZoneInfo(self.timezone)).date()
        return any(start <= at < end for start, end, _ in self._periods(day, 2))

    def status(self, at: datetime) -> ScheduleStatus:
        """Open flag, deciding rule and next change (in the schedule's zone, within 8 days)."""
        at, zone = _to_utc(at), ZoneInfo(self.timezone)
        day = at.astimezone(zone).date()
        periods = self._periods(day, 11)
        current = next((p for p in periods if p[0] <= at < p[1]), None)
        reason = current[2] if current else self.rule_for(day)[1]
        change = _next_change(periods, at)
        return ScheduleStatus(current is not None, reason, change and change.astimezone(zone))

    def rule_for(self, day: date) -> tuple[tuple[Range, ...], str]:
        """The ranges that start on a local date and the rule that chose them."""
        if day in self.special:
            return self.special[day], "special hours"
        if day in self.closed:
            return (), f"closed date: {self.closed[day] or day.isoformat()}"
        holiday = self.holiday_name(day)
        if holiday:
            return (), f"holiday: {holiday}"
        return self.weekly[day.weekday()], "weekly hours"

    def holiday_name(self, day: date) -> str | None:
        """Name of the public holiday on `day`, if the schedule follows a holiday calendar."""
        if not self.holiday_country:
            return None
        return _holidays(self.holiday_country, self.holiday_subdivision, day.year).get(day)

    def _periods(self, day: date, count: int) -> list[tuple[datetime, datetime, str]]:
        """Open periods (UTC, with reason) of the ranges starting on the day before `day` on."""
        zone, periods = ZoneInfo(self.timezone), []
        for offset in range(-1, count - 1):
            origin = day + timedelta(days=offset)
            ranges, reason = self.rule_for(origin)
            for rng in ranges:
                start, end = _instant(origin, rng.start, zone), _instant(origin, rng.end, zone)
                if start < end:  # a range wholly inside a spring-forward gap never happens
                    periods.append((start, end, reason))
        return sorted(periods)


def parse_schedule(
    name: str, node: object, filename: str, line: int = 1
) -> tuple[Schedule | None, list[Problem]]:
    """Parse one schedule mapping; report every problem at its line (`line` places scalars)."""
    report = _Report(filename)
    if not isinstance(node, dict):
        report.add(getattr(node, "line", line), f"schedule '{name}' must be a mapping with "
                   "timezone: and hours: (see docs/schedules.md)")
        return None, list(report)
    _check_fields(node, FIELDS, report)
    zone = _parse_timezone(node, name, report)
    weekly = _parse_weekly(node, name, report)
    closed = _parse_closed(node.get("closed"), _line(node, "closed"), report)
    special = _parse_special(node.get("special"), _line(node, "special"), report, closed)
    country, subdivision = _parse_holidays(node.get("holidays"), _line(node, "holidays"), report)
    if zone is None or any(p.is_error for p in report):
        return None, list(report)
    return Schedule(name, zone, weekly, closed, special, country, subdivision), list(report)


class _Report(list):
    """The problems found in one file."""

    def __init__(self, filename: str):
        super().__init__()
        self.filename = filename

    def add(self, line: int, message: str, severity: str = "error") -> None:
        self.append(Problem(self.filename, line, message, severity))


def _line(node: Any, key: Any) -> int:
    """Line of a key or item, tolerating plain dicts and lists."""
    return node.line_of(key) if hasattr(node, "line_of") else getattr(node, "line", 1)


def _hint(word: str, choices: Any, otherwise: str = "") -> str:
    """A ' (did you mean ...?)' suggestion, or `otherwise` when nothing is close."""
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean '{close[0]}'?)" if close else otherwise


def _check_fields(node: dict, allowed: tuple[str, ...], report: _Report) -> None:
    for key in node:
        if key not in allowed:
            fix = _hint(str(key), allowed, f"; valid fields are {', '.join(allowed)}")
            report.add(_line(node, key), f"unknown field '{key}'{fix}")


def _parse_timezone(node: dict, name: str, report: _Report) -> str | None:
    value = str(node.get("timezone") or "").strip()
    if not value:
        report.add(_line(node, "timezone"), f"schedule '{name}' has no timezone; "
                   "add a line like timezone: America/New_York")
        return None
    try:
        ZoneInfo(value)
        return value
    except (ZoneInfoNotFoundError, ValueError):
        report.add(_line(node, "timezone"), f"unknown timezone '{value}'"
                   f"{_hint(value, available_timezones())}; use a name from the tz database "
                   "such as America/New_York or Europe/London")
        return None


def _parse_days(key: Any) -> tuple[list[int], str | None]:
    """Day indexes (Monday is 0) named by a key like 'mon-fri', 'sat,sun' or 'daily'."""
    text = str(key).strip().lower()
    if text in DAY_GROUPS:
        return list(DAY_GROUPS[text]), None
    days: list[int] = []
    for part in text.split(","):
        words = [word.strip() for word in part.split("-")]
        bad = next((word for word in words if word not in DAY_NAMES), None)
        if bad is not None or len(words) > 2:
            bad = part.strip() if bad is None else bad
            return [], (f"unknown day '{bad}' in '{key}'{_hint(bad, (*DAY_NAMES, *DAY_GROUPS))}; "
                        f"{_DAYS_HELP}, or daily")
        first, last = DAY_NAMES.index(words[0]), DAY_NAMES.index(words[-1])
        days += [(first + k) % 7 for k in range((last - first) % 7 + 1)]
    return days, None


def _parse_weekly(node: dict, name: str, report: _Report) -> tuple[tuple[Range, ...], ...]:
    hours = node.get("hours")
    if not isinstance(hours, dict):
        report.add(_line(node, "hours"), f"schedule '{name}' needs hours: with one line per "
                   'day or group of days, for example  mon-fri: "08:00-18:00"')
        return ((),) * 7
    seen: dict[int, tuple[Any, int]] = {}
    slots: list[tuple[int, Range, int]] = []
    for key, value in hours.items():
        line = _line(hours, key)
        days, bad_days = _parse_days(key)
        if bad_days:
            report.add(line, bad_days)
        ranges = _parse_ranges(value, hours, key, report)
        again = [d for i, d in enumerate(days) if d in seen or d in days[:i]]
        seen.update({d: (key, line) for d in days if d not in seen})
        if again:
            report.add(line, f"{', '.join(DAY_NAMES[d] for d in again)} already given by "
                       "'{}' on line {}; name each day only once".format(*seen[again[0]]))
        slots += [(d, r, rl) for d in days if d not in again for r, rl in ranges or ()]
    _check_overlaps(slots, report, wrap=True)
    return tuple(tuple(sorted(r for d, r, _ in slots if d == day)) for day in range(7))


def _parse_ranges(value: Any, parent: Any, key: Any, report: _Report) -> list | None:
    """(Range, line) pairs from 'closed', 'HH:MM-HH:MM', a comma list or a YAML list."""
    line = _line(parent, key)
    if isinstance(value, str) and value.strip().lower() == "closed":
        return []
    if isinstance(value, str):
        items = [(text, line) for text in value.split(",")]
    elif isinstance(value, list) and value:
        items = [(item, _line(value, i)) for i, item in enumerate(value)]
    else:
        report.add(line, f"no opening hours given for '{key}'; {_RANGE_HELP}")
        return None
    ranges = [(_parse_range(text, report, item_line), item_line) for text, item_line in items]
    return None if any(r is None for r, _ in ranges) else ranges


def _parse_range(text: Any, report: _Report, line: int) -> Range | None:
    text = str(text).strip()
    match = _RANGE.fullmatch(text)
    h1, m1, h2, m2 = (int(n) for n in match.groups()) if match else (-1, 0, 0, 0)
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if max(m1, m2) > 59 or not 0 <= start < DAY or end > DAY:
        report.add(line, f"bad time range '{text}'; {_RANGE_HELP} "
                   "(times go from 00:00 to 24:00, and 24:00 only as an end)")
        return None
    if start == end:
        report.add(line, f"time range '{text}' starts and ends at the same time; "
                   "for the whole day write 00:00-24:00")
        return None
    return Range(start, end if end > start else end + DAY)


def _check_overlaps(slots: list, report: _Report, wrap: bool, label: str = "") -> None:
    """Report ranges sharing a moment; `wrap` lets Sunday's night spill into Monday."""
    items = sorted((d * DAY + r.start, d * DAY + r.end, d, r, line) for d, r, line in slots)
    if wrap:
        items = sorted(items + [(s - WEEK, e - WEEK, *rest) for s, e, *rest in items if e > WEEK])
    widest = None
    for item in items:
        if widest and item[0] < widest[1]:
            night = " (which runs past midnight)" if widest[3].end > DAY else ""
            report.add(item[4], f"{label or DAY_NAMES[item[2]]} {item[3]} overlaps "
                       f"{label or DAY_NAMES[widest[2]]} {widest[3]}{night}; "
                       "change or merge them so they do not overlap")
        if widest is None or item[1] > widest[1]:
            widest = item


def _parse_date(value: Any, line: int, report: _Report) -> date | None:
    """A date from a YAML date or a 'YYYY-MM-DD' text, explaining impossible ones."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    match = _DATE.fullmatch(str(value).strip())
    if isinstance(value, datetime) or (match and match[4]):
        report.add(line, f"'{value}' has a time of day; write only the date as YYYY-MM-DD")
        return None
    if not match:
        report.add(line, f"'{value}' is not a date; write dates as YYYY-MM-DD, e.g. 2026-12-24")
        return None
    year, month, day = (int(n) for n in match.groups()[:3])
    try:
        return date(year, month, day)
    except ValueError:
        why = (f"{calendar.month_name[month]} {year} has {calendar.monthrange(year, month)[1]} "
               "days" if 1 <= month <= 12 else f"there is no month {month}")
        report.add(line, f"date {value} does not exist ({why}); correct it, as YYYY-MM-DD")
        return None


def _parse_closed(node: Any, line: int, report: _Report) -> dict[date, str]:
    if node is None:
        return {}
    if not isinstance(node, list):
        report.add(line, "closed: must be a list of dates, one per line like - 2026-12-26")
        return {}
    result: dict[date, str] = {}
    for i, item in enumerate(node):
        if isinstance(item, dict) and len(item) != 1:
            report.add(_line(node, i), "write one date per line, like - 2026-12-24: Christmas Eve")
            continue
        value, name = next(iter(item.items())) if isinstance(item, dict) else (item, "")
        if day := _parse_date(value, _line(node, i), report):
            result[day] = "" if name is None else str(name)
    return result


def _parse_special(
    node: Any, line: int, report: _Report, closed: dict[date, str]
) -> dict[date, tuple[Range, ...]]:
    if node is None:
        return {}
    if not isinstance(node, dict):
        report.add(line, 'special: must list dates with hours, like 2026-12-24: "08:00-12:00"')
        return {}
    result: dict[date, tuple[Range, ...]] = {}
    for key, value in node.items():
        day = _parse_date(key, _line(node, key), report)
        ranges = _parse_ranges(value, node, key, report)
        if day is None or ranges is None:
            continue
        if day in closed:
            report.add(_line(node, key), f"{day} is also listed under closed: but special hours "
                       "win; remove it from closed: to avoid confusion", "warning")
        _check_overlaps([(0, r, rl) for r, rl in ranges], report, wrap=False, label=str(day))
        result[day] = tuple(sorted(r for r, _ in ranges))
    return result


def _parse_holidays(node: Any, line: int, report: _Report) -> tuple[str | None, str | None]:
    if node is None:
        return None, None
    country, subdivision, sub_line = node, None, line
    if isinstance(node, dict):
        _check_fields(node, HOLIDAY_FIELDS, report)
        country, subdivision = node.get("country"), node.get("subdivision")
        line, sub_line = _line(node, "country"), _line(node, "subdivision")
    supported = holidays.list_supported_countries()
    code = str(country).strip().upper()
    if isinstance(country, bool):  # YAML reads NO (Norway) as false
        report.add(line, f"holidays: was read as {'yes' if country else 'no'}; put the country "
                   'code in quotes, e.g. "NO" for Norway, or remove the line for no holidays')
    elif not isinstance(country, str) or code not in supported:
        report.add(line, f"unknown holiday country '{country}'; use a two-letter country "
                   "code such as US, GB, DE or FR (see docs/schedules.md)")
    elif subdivision is None:
        return code, None
    elif (sub := str(subdivision).strip().upper()) in supported[code]:
        return code, sub
    else:
        report.add(sub_line, f"unknown subdivision '{subdivision}' for {code}; use one of: "
                   f"{', '.join(supported[code]) or 'none (remove subdivision:)'}")
    return None, None


@lru_cache(maxsize=64)
def _holidays(country: str, subdivision: str | None, year: int) -> dict[date, str]:
    """Public holidays of one year, observed days included; cached because calls are hot."""
    return dict(holidays.country_holidays(country, subdiv=subdivision, years=year))


def _to_utc(at: datetime) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("schedule times must be aware datetimes, e.g. datetime.now(UTC)")
    return at.astimezone(UTC)


def _instant(day: date, minute: int, zone: ZoneInfo) -> datetime:
    """First UTC moment the local clock reaches `minute` after midnight of `day`."""
    wall = datetime.combine(day, time()) + timedelta(minutes=minute)
    while True:
        moment = wall.replace(tzinfo=zone).astimezone(UTC)  # fold=0: first of a repeated time
        if moment.astimezone(zone).replace(tzinfo=None) == wall:
            return moment
        wall += timedelta(minutes=1)  # skipped by a spring-forward jump: wait for the clock


def _next_change(periods: list[tuple[datetime, datetime, str]], at: datetime) -> datetime | None:
    """The first moment after `at` when open turns closed or closed turns open, within 8 days."""
    merged: list[list[datetime]] = []
    for start, end, _ in periods:
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    moments = [m for pair in merged for m in pair if m > at]
    return moments[0] if moments and moments[0] <= at + LOOKAHEAD else None


def _hhmm(minutes: int) -> str:
    return "24:00" if minutes == DAY else f"{minutes % DAY // 60:02d}:{minutes % 60:02d}"
