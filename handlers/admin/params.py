"""Read the dashboard's query parameters (date range, time zone, filters) and format times."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import abort, current_app, g, request

DEFAULT_DAYS = 7
MAX_DAYS = 731  # two years: beyond the retention period there is nothing left to show
FILTER_NAMES = ("queue", "language", "agent")


@dataclass(frozen=True)
class DateRange:
    """Whole days first..last (inclusive) in a time zone, as the [since, until) instants they span."""

    first: date
    last: date
    tz: str

    @property
    def zone(self) -> ZoneInfo:
        """The time zone reports are given in."""
        return ZoneInfo(self.tz)

    @property
    def since(self) -> datetime:
        """Midnight starting the first day, in the zone."""
        return datetime.combine(self.first, time(), self.zone)

    @property
    def until(self) -> datetime:
        """Midnight ending the last day, in the zone (exclusive)."""
        return datetime.combine(self.last + timedelta(days=1), time(), self.zone)


def read_tz() -> str:
    """The `tz` parameter (an IANA zone such as Europe/Paris), IVR_REPORT_TZ by default; 400 if unknown."""
    default = current_app.extensions["ivr"].config.get("IVR_REPORT_TZ")
    name = (request.args.get("tz") or default or "UTC").strip()
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        abort(400, f"unknown time zone {name!r}: use an IANA name such as UTC or Europe/Paris")
    g.admin_tz = name
    return name


def read_range() -> DateRange:
    """The `since`/`until` dates (YYYY-MM-DD, both included); the last 7 days by default."""
    tz = read_tz()
    today = datetime.now(ZoneInfo(tz)).date()
    last = _date("until") or today
    first = _date("since") or last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        abort(400, f"since ({first}) is after until ({last}): swap them")
    if (last - first).days >= MAX_DAYS:
        abort(400, f"choose at most {MAX_DAYS} days (from {first} to {last} is {(last - first).days + 1})")
    return DateRange(first, last, tz)


def _date(name: str) -> date | None:
    text = (request.args.get(name) or "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        abort(400, f"{name} must be a date like 2024-03-31, not {text!r}")


def read_filters() -> dict[str, str]:
    """The queue/language/agent filters that are set (empty ones left out)."""
    return {n: request.args[n].strip() for n in FILTER_NAMES if (request.args.get(n) or "").strip()}


def local_time(epoch: str | float | None, with_zone: bool = True) -> str:
    """An epoch (seconds, UTC) shown in the page's time zone, e.g. 2024-03-05 14:03:07 CET."""
    if epoch in (None, ""):
        return ""
    try:
        moment = datetime.fromtimestamp(float(epoch), ZoneInfo(g.get("admin_tz", "UTC")))
    except (TypeError, ValueError, OverflowError):
        return str(epoch)
    return moment.strftime("%Y-%m-%d %H:%M:%S" + (" %Z" if with_zone else ""))
