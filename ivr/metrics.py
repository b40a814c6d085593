"""Supervisor KPIs: one definition per metric, computed from call records and survey responses.

Every formula and exclusion is documented in docs/metrics.md; keep the two in step.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from ivr.rollup import HOUR, SEP, Cells, Tally, tally_range

FINAL_STATUSES = {"completed", "busy", "no-answer", "failed", "canceled"}
DISPOSITIONS = ("completed", "partial", "declined", "no_input", "offered")
DIMENSIONS = ("queue", "language", "agent", "path")
PERIODS = ("day", "hour")


@dataclass(frozen=True)
class Filters:
    """Which calls and responses count: None means any; `path` also matches deeper paths."""

    queue: str | None = None
    language: str | None = None
    agent: str | None = None
    path: str | None = None

    def matches(self, cell: tuple[str, ...]) -> bool:
        """True when a cell (queue, language, agent, path) passes every filter."""
        queue, lang, agent, path = cell
        return ((not self.queue or queue == self.queue)
                and (not self.language or lang == self.language)
                and (not self.agent or agent == self.agent)
                and (not self.path or path == self.path or path.startswith(self.path + ">")))


@dataclass(frozen=True)
class MetricSettings:
    """Thresholds the formulas use (see docs/metrics.md)."""

    abandon_grace_seconds: int = 5
    service_level_seconds: int = 20
    settled_hours: float = 6
    retention_days: int = 395

    @classmethod
    def from_config(cls, config: Any) -> MetricSettings:
        """Settings from an ivr.settings.Config."""
        return cls(abandon_grace_seconds=config.int("IVR_ABANDON_GRACE_SECONDS"),
                   service_level_seconds=config.int("IVR_SERVICE_LEVEL_SECONDS"),
                   retention_days=config.int("IVR_RETENTION_DAYS"))


@dataclass
class Kpis:
    """The KPIs of one range and selection; None wherever a ratio or mean is undefined."""

    calls: int = 0
    answered: int = 0
    csat_pct: float | None = None
    csat_mean: float | None = None
    nps: float | None = None
    fcr_pct: float | None = None
    offered: int = 0
    response_rate: float | None = None
    dispositions: dict[str, int] = field(default_factory=dict)
    asa_mean: float | None = None
    asa_median: float | None = None
    asa_p90: float | None = None
    aht_mean: float | None = None
    handling_mean: float | None = None
    abandon_menu: int = 0
    abandon_menu_pct: float | None = None
    abandon_queue: int = 0
    abandon_queue_pct: float | None = None
    service_level_pct: float | None = None
    by_option: dict[str, int] = field(default_factory=dict)
    by_route: dict[str, int] = field(default_factory=dict)
    csat_by_path: dict[str, dict[str, float | None]] = field(default_factory=dict)
    queued: int = 0
    csat_responses: int = 0
    nps_responses: int = 0
    tz: str = "UTC"


# -- what each record contributes ----------------------------------------------------------------
def fold_call(record: dict[str, str], events: list[str]) -> tuple[tuple[str, ...], Tally]:
    """The cell and counters of one call record and its path events."""
    t = Tally()
    t.add("calls")
    menus, options = walk_path(events)
    for option in options:
        t.add("option", option)
    if record.get("route"):
        t.add("route", record["route"])
    if record.get("ended") or record.get("status") in FINAL_STATUSES:
        t.add("ended")
        if _abandoned_in_menu(record, events):
            t.add("abandon_menu")
    _fold_queue(t, record)
    talk = _talk_seconds(record)
    if talk is not None:
        t.add("talk", n=talk)
        t.add("talked")
    if _number(record.get("duration")) is not None:
        t.add("duration", n=_number(record["duration"]))
        t.add("timed")
    cell = (call_queue(record), record.get("lang", ""), record.get("agent", ""), ">".join(menus))
    return cell, t


def _fold_queue(t: Tally, record: dict[str, str]) -> None:
    """Queue outcome, time to answer of bridged calls and waiting time of callers who hung up."""
    result = record.get("queue_result")
    if not result:
        return
    wait = str(int(_number(record.get("queue_time")) or 0))
    t.add("queued", result)
    if result == "bridged":
        t.add("answer_wait", wait)
    elif result == "hangup" or record.get("abandoned") == "queue":
        t.add("abandon_wait", wait)


def fold_survey(record: dict[str, str]) -> tuple[tuple[str, ...], Tally]:
    """The cell and counters of one survey response."""
    t = Tally()
    t.add("offered")
    t.add("disposition", record.get("disposition") or "offered")
    kinds = [part.split(":") for part in record.get("kinds", "").split(",") if part]
    csat = next((q[0] for q in kinds if q[1:] == ["scale", "1-5"]), None)
    nps = next((q[0] for q in kinds if len(q) > 1 and q[1] == "nps"), None)
    fcr = next((q[0] for q in kinds if len(q) > 1 and q[1] == "yes_no"), None)
    answer = record.get(f"a:{csat}", "")
    if csat and answer in ("1", "2", "3", "4", "5"):
        t.add("csat", answer)
    answer = record.get(f"a:{nps}", "")
    if nps and answer.isdigit() and int(answer) <= 10:
        t.add("nps", answer)
    answer = record.get(f"a:{fcr}", "")
    if fcr and answer in ("yes", "no"):
        t.add("fcr", answer)
    queue = record.get("queue") or record.get("transfer") or ""
    return (queue, record.get("lang", ""), record.get("agent", ""), record.get("path", "")), t


def walk_path(events: list[str]) -> tuple[list[str], set[str]]:
    """Menus visited (repeats in a row collapsed) and the options pressed as `menu:key`."""
    menus: list[str] = []
    options: set[str] = set()
    for event in events:
        word, _, rest = event.partition(" ")
        if word == "menu" and (not menus or menus[-1] != rest):
            menus.append(rest)
        elif word == "key" and menus:
            options.add(f"{menus[-1]}:{rest}")
    return menus, options


def _abandoned_in_menu(record: dict[str, str], events: list[str]) -> bool:
    """An ended call that never left the menus and was not hung up by the IVR itself."""
    routed = any(record.get(f) for f in ("route", "queue_result", "transfer", "voicemail"))
    return not routed and (not events or events[-1] != "hangup")


def call_queue(record: dict[str, str]) -> str:
    """The queue or transfer a call went to ("" when none)."""
    if record.get("queue") or record.get("transfer"):
        return record.get("queue") or record.get("transfer", "")
    kind, _, target = record.get("route", "").partition(":")
    return target if kind in ("queue", "transfer") else ""


def _talk_seconds(record: dict[str, str]) -> float | None:
    """Agent talk time: queue bridge to queue exit, or a completed transfer's dial duration."""
    if record.get("queue_result") == "bridged":
        answered, left = _number(record.get("answered_at")), _number(record.get("left_queue_at"))
        if answered is not None and left is not None and left >= answered:
            return left - answered
    if record.get("transfer_result") == "completed":
        return _number(record.get("talk_time"))
    return None


def _number(text: str | None) -> float | None:
    try:
        return float(text) if text not in (None, "") else None
    except ValueError:
        return None


# -- formulas: one definition per metric ---------------------------------------------------------
def _ratio(part: float, whole: float) -> float | None:
    return 100.0 * part / whole if whole else None


def csat_pct(t: Tally) -> float | None:
    """Share of CSAT answers that are 4 or 5 on the 1-5 scale, in %."""
    h = t.get("csat")
    return _ratio(h.get("4", 0) + h.get("5", 0), sum(h.values()))


def csat_mean(t: Tally) -> float | None:
    """Mean CSAT score (1-5)."""
    return hist_mean(t.get("csat"))


def nps(t: Tally) -> float | None:
    """% promoters (9-10) minus % detractors (0-6), from -100 to 100."""
    h = t.get("nps")
    promoters = sum(n for k, n in h.items() if int(k) >= 9)
    detractors = sum(n for k, n in h.items() if int(k) <= 6)
    total = sum(h.values())
    return _ratio(promoters - detractors, total)


def fcr_pct(t: Tally) -> float | None:
    """First contact resolution: share of "yes" among yes/no answers, in %."""
    h = t.get("fcr")
    return _ratio(h.get("yes", 0), h.get("yes", 0) + h.get("no", 0))


def response_rate(t: Tally) -> float | None:
    """Completed plus partial responses over surveys offered, in %."""
    h = t.get("disposition")
    return _ratio(h.get("completed", 0) + h.get("partial", 0), t.total("offered"))


def short_abandons(t: Tally, s: MetricSettings) -> int:
    """Callers who hung up in a queue before the grace period: excluded from queue metrics."""
    return int(sum(n for k, n in t.get("abandon_wait").items() if int(k) < s.abandon_grace_seconds))


def abandon_queue(t: Tally, s: MetricSettings) -> int:
    """Callers who hung up while waiting in a queue, after the grace period."""
    return int(t.total("abandon_wait")) - short_abandons(t, s)


def queue_offered(t: Tally, s: MetricSettings) -> int:
    """Calls that reached a queue and left it (any outcome), minus short abandons."""
    return int(t.total("queued")) - short_abandons(t, s)


def service_level_pct(t: Tally, s: MetricSettings) -> float | None:
    """Calls answered within the service level threshold over queue_offered, in %."""
    within = sum(n for k, n in t.get("answer_wait").items() if int(k) <= s.service_level_seconds)
    return _ratio(within, queue_offered(t, s))


def hist_mean(h: dict[str, float]) -> float | None:
    """Mean of a histogram (value -> count)."""
    total = sum(h.values())
    return sum(float(k) * n for k, n in h.items()) / total if total else None


def hist_percentile(h: dict[str, float], q: float) -> float | None:
    """Nearest-rank percentile: the smallest value with at least q% of values at or below it."""
    total = sum(h.values())
    if not total:
        return None
    rank, seen = max(1, math.ceil(q / 100 * total)), 0
    for value in sorted(h, key=float):
        seen += h[value]
        if seen >= rank:
            return float(value)
    return None


def hist_median(h: dict[str, float]) -> float | None:
    """Median of a histogram: the middle value, or the mean of the two middle values."""
    total = int(sum(h.values()))
    if not total:
        return None
    ordered = sorted(h, key=float)

    def nth(i: int) -> float:
        seen = 0
        for value in ordered:
            seen += h[value]
            if seen > i:
                return float(value)
        raise IndexError(i)

    return (nth((total - 1) // 2) + nth(total // 2)) / 2


def _mean(total: float, count: float) -> float | None:
    return total / count if count else None


def kpis_from(cells: Cells, settings: MetricSettings, tz: str = "UTC") -> Kpis:
    """The KPIs of a set of cells."""
    t = Tally()
    for tally in cells.values():
        t.merge(tally)
    waits = t.get("answer_wait")
    dispositions = {d: int(t.get("disposition").get(d, 0)) for d in DISPOSITIONS}
    dispositions.update({k: int(n) for k, n in t.get("disposition").items()})
    return Kpis(
        calls=int(t.total("calls")), answered=int(sum(waits.values())),
        csat_pct=csat_pct(t), csat_mean=csat_mean(t), nps=nps(t), fcr_pct=fcr_pct(t),
        offered=int(t.total("offered")), response_rate=response_rate(t),
        dispositions=dispositions,
        asa_mean=hist_mean(waits), asa_median=hist_median(waits),
        asa_p90=hist_percentile(waits, 90),
        aht_mean=_mean(t.total("talk"), t.total("talked")),
        handling_mean=_mean(t.total("duration"), t.total("timed")),
        abandon_menu=int(t.total("abandon_menu")),
        abandon_menu_pct=_ratio(t.total("abandon_menu"), t.total("ended")),
        abandon_queue=abandon_queue(t, settings),
        abandon_queue_pct=_ratio(abandon_queue(t, settings), queue_offered(t, settings)),
        service_level_pct=service_level_pct(t, settings),
        by_option=_counts(t.get("option")), by_route=_counts(t.get("route")),
        csat_by_path=csat_by_path(cells), queued=queue_offered(t, settings),
        csat_responses=int(t.total("csat")), nps_responses=int(t.total("nps")), tz=tz)


def csat_by_path(cells: Cells) -> dict[str, dict[str, float | None]]:
    """CSAT per menu path (responses, csat_pct, csat_mean), lowest CSAT first."""
    by_path: dict[str, Tally] = {}
    for key, tally in cells.items():
        if tally.get("csat"):
            by_path.setdefault(key.split(SEP)[3], Tally()).merge(Tally({"csat": tally.get("csat")}))
    rows = {path: {"responses": int(t.total("csat")), "csat_pct": csat_pct(t),
                   "csat_mean": csat_mean(t)} for path, t in by_path.items()}
    return dict(sorted(rows.items(), key=lambda item: (item[1]["csat_pct"], item[0])))


def _counts(h: dict[str, float]) -> dict[str, int]:
    """A histogram as whole counts, largest first."""
    return {k: int(n) for k, n in sorted(h.items(), key=lambda item: (-item[1], item[0]))}


# -- ranges, zones and groupings -----------------------------------------------------------------
def kpis(client: Any, since: datetime, until: datetime, filters: Filters | None = None,
         tz: str = "UTC", settings: MetricSettings | None = None, now: float | None = None) -> Kpis:
    """The KPIs of calls started and surveys offered in [since, until) (naive times are in `tz`)."""
    settings = settings or MetricSettings()
    cells = _cells(client, epoch(since, tz), epoch(until, tz), filters or Filters(), settings, now)
    return kpis_from(cells, settings, tz)


def breakdown(client: Any, since: datetime, until: datetime, filters: Filters | None = None,
              tz: str = "UTC", settings: MetricSettings | None = None, by: str = "queue",
              now: float | None = None) -> list[tuple[str, Kpis]]:
    """KPIs per queue, language, agent or menu path (labels sorted), or per day or hour in `tz`."""
    settings, filters = settings or MetricSettings(), filters or Filters()
    start, end = epoch(since, tz), epoch(until, tz)
    if by in PERIODS:
        return [(label, kpis_from(_cells(client, a, b, filters, settings, now), settings, tz))
                for label, a, b in periods(start, end, tz, by)]
    if by not in DIMENSIONS:
        raise ValueError(f"by must be one of {', '.join(DIMENSIONS + PERIODS)}, not {by!r}")
    groups: dict[str, Cells] = {}
    for key, tally in _cells(client, start, end, filters, settings, now).items():
        groups.setdefault(key.split(SEP)[DIMENSIONS.index(by)], {})[key] = tally
    return [(label, kpis_from(groups[label], settings, tz)) for label in sorted(groups)]


def _cells(client: Any, start: float, end: float, filters: Filters, settings: MetricSettings,
           now: float | None) -> Cells:
    """The cells of [start, end) that pass the filters."""
    cells = tally_range(client, start, end, fold_call, fold_survey,
                        time.time() if now is None else now, settings.settled_hours * HOUR,
                        settings.retention_days * 86400)
    return {k: t for k, t in cells.items() if filters.matches(tuple(k.split(SEP)))}


def epoch(moment: datetime, tz: str = "UTC") -> float:
    """UNIX seconds of a datetime; a naive one is read as wall time in `tz`."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(tz))
    return moment.timestamp()


def periods(start: float, end: float, tz: str, by: str) -> Iterable[tuple[str, float, float]]:
    """(label, start, end) of each local day or hour overlapping [start, end), in order."""
    zone = ZoneInfo(tz)
    at = start
    while at < end:
        local = datetime.fromtimestamp(at, zone)
        if by == "day":
            label = local.date().isoformat()
            nxt = epoch(datetime.combine(local.date() + timedelta(days=1), datetime.min.time()), tz)
        else:
            top = local.replace(minute=0, second=0, microsecond=0)
            label = top.isoformat(timespec="minutes")
            nxt = top.timestamp() + HOUR
        yield label, at, min(nxt, end)
        at = min(nxt, end)
