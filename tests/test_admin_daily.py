"""Daily aggregates behind the dashboard agree with the metrics module and are cached once settled."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from admin_seed import seed

from ivr.daily import DAY_KEY, day_bounds, figures, forget_days
from ivr.metrics import Filters, MetricSettings, breakdown, kpis

SETTINGS = MetricSettings()
NOW = datetime(2024, 4, 1).timestamp()  # every seeded day is long settled


@pytest.mark.parametrize("tz", ["UTC", "America/New_York", "Asia/Kolkata"])
@pytest.mark.parametrize("filters", [Filters(), Filters(queue="billing"), Filters(language="es")])
def test_figures_match_the_metrics_module(redis_client, tz, filters):
    seed(redis_client)
    first, last = date(2024, 3, 3), date(2024, 3, 7)
    zone = ZoneInfo(tz)
    since, until = datetime(2024, 3, 3, tzinfo=zone), datetime(2024, 3, 8, tzinfo=zone)
    shown = figures(redis_client, first, last, tz, filters, SETTINGS, now=NOW)
    assert asdict(shown.total) == asdict(kpis(redis_client, since, until, filters, tz, SETTINGS, now=NOW))
    assert [(d, asdict(k)) for d, k in shown.per_day] == \
        [(d, asdict(k)) for d, k in breakdown(redis_client, since, until, filters, tz, SETTINGS, "day", NOW)]
    assert [(q, asdict(k)) for q, k in shown.per_queue] == \
        [(q, asdict(k)) for q, k in breakdown(redis_client, since, until, filters, tz, SETTINGS, "queue",
                                               NOW)]


def test_settled_days_are_cached_and_can_be_forgotten(redis_client):
    seed(redis_client)
    day = date(2024, 3, 4)
    assert figures(redis_client, day, day, "UTC", Filters(), SETTINGS, now=NOW).total.calls == 2
    assert len(list(redis_client.scan_iter(match=DAY_KEY % "*"))) == 1
    redis_client.delete("ivr:calls:by_time")  # the cached day no longer reads raw records
    assert figures(redis_client, day, day, "UTC", Filters(), SETTINGS, now=NOW).total.calls == 2
    assert forget_days(redis_client) == 1
    redis_client.delete(*redis_client.keys("ivr:rollup:*"))
    assert figures(redis_client, day, day, "UTC", Filters(), SETTINGS, now=NOW).total.calls == 0


def test_a_day_still_settling_is_not_cached(redis_client):
    seed(redis_client)
    day = date(2024, 3, 6)
    end_of_day = day_bounds(day, "UTC")[1]
    figures(redis_client, day, day, "UTC", Filters(), SETTINGS, now=end_of_day + 3600)
    assert list(redis_client.scan_iter(match=DAY_KEY % "*")) == []


def test_days_follow_daylight_saving_time():
    start, end = day_bounds(date(2024, 3, 10), "America/New_York")  # clocks go forward
    assert end - start == 23 * 3600
    start, end = day_bounds(date(2024, 11, 3), "America/New_York")  # clocks go back
    assert end - start == 25 * 3600
