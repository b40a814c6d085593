"""Daily aggregates for the dashboard: one small cached tally per local day, built from the rollups.

The metrics module caches hourly cells per (queue, language, agent, path). A dashboard over a
year would merge 8,760 of those on every view, so this module keeps one more level: for each
settled local day (in a time zone, for a selection), the day's cells with the language and agent
collapsed (they were already filtered on), which leaves a handful of cells per day. A page then
merges at most a few hundred small tallies. Days still open (ending within the settling delay)
are computed fresh every time, like the hours they are made of.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import time as clock
from typing import Any
from zoneinfo import ZoneInfo

from ivr.metrics import Filters, Kpis, MetricSettings, fold_call, fold_survey, kpis_from
from ivr.rollup import HOUR, SEP, Cells, Tally, delete_scanned, merge_cells, tally_range

DAY_KEY = "ivr:daily:v1:%s"


@dataclass
class Figures:
    """What the dashboard shows for a range: totals, one entry per day, one per queue."""

    total: Kpis
    per_day: list[tuple[str, Kpis]]
    per_queue: list[tuple[str, Kpis]]


def day_bounds(day: date, tz: str) -> tuple[float, float]:
    """The UNIX seconds of the local midnight starting `day` and the one ending it (DST-aware)."""
    zone = ZoneInfo(tz)
    start = datetime.combine(day, clock(), zone).timestamp()
    return start, datetime.combine(day + timedelta(days=1), clock(), zone).timestamp()


def cache_key(day: date, tz: str, filters: Filters, settings: MetricSettings) -> str:
    """The Redis key of one day's cells for a zone, a selection and the thresholds."""
    what = json.dumps([day.isoformat(), tz, filters.queue, filters.language, filters.agent,
                       filters.path, settings.abandon_grace_seconds, settings.service_level_seconds])
    return DAY_KEY % hashlib.sha1(what.encode()).hexdigest()


def collapse(cells: Cells, filters: Filters) -> Cells:
    """The cells that pass the filters, merged per (queue, path): language and agent set aside."""
    out: Cells = {}
    for key, tally in cells.items():
        queue, lang, agent, path = key.split(SEP)
        if filters.matches((queue, lang, agent, path)):
            merge_cells(out, {SEP.join((queue, "", "", path)): tally})
    return out


def day_cells(client: Any, day: date, tz: str, filters: Filters, settings: MetricSettings,
              now: float) -> Cells:
    """One local day's collapsed cells: from the cache once the day is settled, else computed."""
    start, end = day_bounds(day, tz)
    settled = end <= now - settings.settled_hours * HOUR
    key = cache_key(day, tz, filters, settings)
    if settled and (cached := client.get(key)) is not None:
        return {k: Tally(v) for k, v in json.loads(cached).items()}
    cells = collapse(tally_range(client, start, end, fold_call, fold_survey, now,
                                 settings.settled_hours * HOUR, settings.retention_days * 86400),
                     filters)
    if settled:
        client.set(key, json.dumps({k: t.counts for k, t in cells.items()}),
                   ex=settings.retention_days * 86400)
    return cells


def figures(client: Any, first: date, last: date, tz: str, filters: Filters,
            settings: MetricSettings, now: float | None = None) -> Figures:
    """KPIs of the days first..last (inclusive, local to `tz`): in total, per day and per queue."""
    now = time.time() if now is None else now
    total: Cells = {}
    per_day = []
    day = first
    while day <= last:
        cells = day_cells(client, day, tz, filters, settings, now)
        per_day.append((day.isoformat(), kpis_from(cells, settings, tz)))
        merge_cells(total, cells)
        day += timedelta(days=1)
    queues: dict[str, Cells] = {}
    for key, tally in total.items():
        queues.setdefault(key.split(SEP)[0], {})[key] = tally
    per_queue = [(name, kpis_from(queues[name], settings, tz)) for name in sorted(queues)]
    return Figures(kpis_from(total, settings, tz), per_day, per_queue)


def forget_days(client: Any) -> int:
    """Drop every cached day (after late data or a metrics change); returns how many."""
    return delete_scanned(client, DAY_KEY % "*")
