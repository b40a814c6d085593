"""KPIs against hand-computed values on records written in the data contract's format."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from ivr.metrics import Filters, Kpis, MetricSettings, breakdown, kpis
from ivr.redisconn import connect
from ivr.surveys import SurveyStore

T = datetime(2026, 3, 2, 10, 0, tzinfo=UTC).timestamp()
DAY = (datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 3, 3, tzinfo=UTC))
KINDS = "csat:scale:1-5,resolved:yes_no,nps:nps:0-10,comment:comment"
LATER = T + 30 * 86400  # "now" a month later: every hour of the day is settled and cached
NY = ZoneInfo("America/New_York")


def put_call(client, sid: str, started: float, path: tuple[str, ...] = ("menu main",), **fields) -> None:
    """A call record, its path and its index entry, as ivr/calls.py writes them."""
    record = {"started": repr(started), "ended": repr(started + 60), "status": "completed",
              "lang": "en", **{k: str(v) for k, v in fields.items()}}
    client.hset(f"ivr:call:{{{sid}}}", mapping=record)
    client.hset(f"ivr:call:{{{sid}}}:path", mapping={str(i): e for i, e in enumerate(path)})
    client.zadd("ivr:calls:by_time", {sid: started})


def put_survey(client, sid: str, offered: float, disposition: str, answers: dict | None = None,
               **fields) -> None:
    """A survey response hash and its indexes, as ivr/surveys.py writes them."""
    record = {"survey": "csat", "call_sid": sid, "offered_at": repr(offered), "lang": "en",
              "disposition": disposition, "kinds": KINDS, "queue": "", "transfer": "", "agent": "",
              "path": "main", **fields}
    record.update({f"a:{q}": a for q, a in (answers or {}).items()})
    SurveyStore().save(client, sid, record)


def bridged(wait: int, talk: int, at: float = T) -> dict:
    """Fields of a queue call answered after `wait` s that talked `talk` s."""
    return {"queue_result": "bridged", "queue_time": wait, "answered_at": at + 30 + wait,
            "left_queue_at": at + 30 + wait + talk}


BILLING = ("menu main", "key 1 | route queue billing")
SUPPORT = ("menu main", "key 2 | menu support", "key 1 | route queue support")


@pytest.fixture
def seeded(redis_client):
    """Nine calls and six survey responses on 2026-03-02 (UTC), values worked out by hand below."""
    c = redis_client
    put_call(c, "C1", T, BILLING, route="queue:billing", queue="billing", agent="ann", duration=300,
             **bridged(10, 120))
    put_call(c, "C2", T + 60, BILLING, route="queue:billing", queue="billing", agent="bob",
             lang="es", duration=200, **bridged(30, 60))
    put_call(c, "C3", T + 120, BILLING, route="queue:billing", queue="billing", queue_result="hangup",
             queue_time=3, abandoned="queue", duration=20)
    put_call(c, "C4", T + 180, BILLING, route="queue:billing", queue="billing", queue_result="hangup",
             queue_time=40, abandoned="queue", duration=60)
    put_call(c, "C5", T + 240, SUPPORT, route="queue:support", queue="support", agent="ann",
             duration=150, **bridged(20, 100))
    put_call(c, "C6", T + 300, ("menu main",), duration=15)
    put_call(c, "C7", T + 360, ("menu main", "silence", "attempts exhausted main | hangup"),
             duration=40)
    put_call(c, "C8", T + 420, ("menu main", "key 0 | route transfer operator"),
             route="transfer:operator", transfer="operator", transfer_result="completed",
             talk_time=90, duration=100)
    put_call(c, "C9", T + 480, SUPPORT, route="queue:support", queue="support", queue_result="leave",
             queue_time=120, leave_reason="timeout", duration=130)
    put_survey(c, "C1", T + 400, "completed", {"csat": "5", "resolved": "yes", "nps": "10"},
               queue="billing", agent="ann")
    put_survey(c, "C2", T + 300, "completed", {"csat": "3", "resolved": "no", "nps": "6"},
               queue="billing", agent="bob", lang="es")
    put_survey(c, "C5", T + 500, "partial", {"csat": "4", "resolved": ""}, queue="support",
               agent="ann", path="main>support")
    put_survey(c, "C8", T + 600, "completed", {"csat": "1", "resolved": "yes", "nps": "8"},
               transfer="operator")
    put_survey(c, "CX", T + 700, "declined", queue="support")
    put_survey(c, "CY", T + 800, "no_input", queue="support")
    return c


def test_every_metric_matches_hand_computed_values(seeded):
    k = kpis(seeded, *DAY, Filters(), "UTC", MetricSettings(), now=LATER)
    assert (k.calls, k.answered, k.queued) == (9, 3, 5)  # 6 left a queue, minus 1 short abandon
    assert (k.asa_mean, k.asa_median, k.asa_p90) == (20.0, 20.0, 30.0)  # waits 10, 30, 20
    assert k.service_level_pct == pytest.approx(40.0)  # 10 s and 20 s are within 20 s: 2 of 5
    assert (k.abandon_queue, k.abandon_queue_pct) == (1, pytest.approx(20.0))  # C4; C3 < 5 s
    assert (k.abandon_menu, k.abandon_menu_pct) == (1, pytest.approx(100 / 9))  # C6 only, not C7
    assert k.aht_mean == pytest.approx((120 + 60 + 100 + 90) / 4)
    assert k.handling_mean == pytest.approx(1015 / 9)
    assert k.by_route == {"queue:billing": 4, "queue:support": 2, "transfer:operator": 1}
    assert k.by_option == {"main:1": 4, "main:2": 2, "support:1": 2, "main:0": 1}
    assert k.offered == 6
    assert k.dispositions == {"completed": 3, "partial": 1, "declined": 1, "no_input": 1,
                              "offered": 0}
    assert k.response_rate == pytest.approx(100 * 4 / 6)
    assert (k.csat_pct, k.csat_mean) == (50.0, 3.25)  # 5, 3, 4, 1
    assert k.nps == 0.0  # 10, 6, 8: one promoter, one detractor, three answers
    assert k.fcr_pct == pytest.approx(100 * 2 / 3)  # yes, no, yes (the skipped one is left out)
    assert k.csat_by_path == {
        "main": {"responses": 3, "csat_pct": pytest.approx(100 / 3), "csat_mean": 3.0},
        "main>support": {"responses": 1, "csat_pct": 100.0, "csat_mean": 4.0}}
    assert k.tz == "UTC"


def test_settings_move_service_level_and_abandon_grace(seeded):
    k = kpis(seeded, *DAY, Filters(), "UTC", MetricSettings(abandon_grace_seconds=0,
                                                             service_level_seconds=10), now=LATER)
    assert (k.queued, k.abandon_queue) == (6, 2)
    assert k.service_level_pct == pytest.approx(100 / 6)


def test_per_queue_breakdown_and_filters(seeded):
    rows = dict(breakdown(seeded, *DAY, Filters(), "UTC", MetricSettings(), by="queue", now=LATER))
    assert sorted(rows) == ["", "billing", "operator", "support"]
    billing = rows["billing"]
    assert (billing.calls, billing.answered, billing.queued, billing.abandon_queue) == (4, 2, 3, 1)
    assert billing.service_level_pct == pytest.approx(100 / 3)
    assert (billing.asa_mean, billing.asa_p90, billing.csat_pct, billing.csat_mean) == (20, 30, 50, 4)
    assert rows["support"].service_level_pct == 50.0
    assert rows["support"].offered == 3 and rows["support"].response_rate == pytest.approx(100 / 3)
    assert rows["operator"].aht_mean == 90 and rows["operator"].csat_mean == 1
    assert rows[""].abandon_menu == 1 and rows[""].offered == 0
    assert kpis(seeded, *DAY, Filters(queue="billing"), now=LATER) == billing


def test_language_agent_and_path_breakdowns(seeded):
    by_lang = dict(breakdown(seeded, *DAY, by="language", now=LATER))
    assert by_lang["es"].calls == 1 and by_lang["es"].csat_mean == 3 and by_lang["es"].nps == -100
    by_agent = dict(breakdown(seeded, *DAY, by="agent", now=LATER))
    assert by_agent["ann"].answered == 2 and by_agent["ann"].csat_pct == 100
    assert by_agent["ann"].aht_mean == 110
    by_path = dict(breakdown(seeded, *DAY, by="path", now=LATER))
    assert by_path["main>support"].calls == 2 and by_path["main>support"].csat_mean == 4
    deeper = kpis(seeded, *DAY, Filters(path="main"), now=LATER)
    assert deeper.calls == 9  # "main" also selects main>support
    assert kpis(seeded, *DAY, Filters(agent="bob", language="es"), now=LATER).answered == 1


def test_no_data_gives_none_not_a_crash(redis_client):
    k = kpis(redis_client, *DAY, Filters(), "UTC", MetricSettings(), now=LATER)
    assert k == Kpis(dispositions={d: 0 for d in ("completed", "partial", "declined", "no_input",
                                                  "offered")})
    assert k.csat_pct is None and k.nps is None and k.asa_p90 is None and k.response_rate is None
    days = breakdown(redis_client, *DAY, by="hour", now=LATER)
    assert len(days) == 24 and all(r.calls == 0 and r.service_level_pct is None for _, r in days)


def test_a_queue_without_calls_or_responses(seeded):
    empty = kpis(seeded, *DAY, Filters(queue="sales"), now=T)  # T: nothing cached yet
    assert (empty.calls, empty.offered, empty.csat_pct, empty.service_level_pct) == (0, 0, None, None)
    put_call(seeded, "C10", T + 900, BILLING, route="queue:sales", queue="sales", agent="cy",
             **bridged(5, 50))
    calls_only = kpis(seeded, *DAY, Filters(queue="sales"), now=T)
    assert calls_only.calls == 1 and calls_only.csat_pct is None and calls_only.response_rate is None


def local(*args) -> float:
    return datetime(*args, tzinfo=NY).timestamp()


@pytest.mark.parametrize("day, hours", [((2026, 3, 8), 23), ((2026, 11, 1), 25)])
def test_dst_days_in_the_report_zone(redis_client, day, hours):
    start = datetime(*day, tzinfo=NY)
    end = datetime.combine(start.date() + timedelta(days=1), datetime.min.time(), NY)
    at = start.timestamp()
    for n in range(hours):  # one call at the start of every real hour of the local day
        put_call(redis_client, f"H{n}", at + n * 3600)
    put_call(redis_client, "before", at - 1)
    put_call(redis_client, "after", end.timestamp())
    days = breakdown(redis_client, start - timedelta(days=1), end + timedelta(days=1),
                     tz="America/New_York", by="day", now=LATER)
    assert [(label, k.calls) for label, k in days] == [
        ((start - timedelta(days=1)).date().isoformat(), 1), (start.date().isoformat(), hours),
        (end.date().isoformat(), 1)]
    per_hour = breakdown(redis_client, start, end, tz="America/New_York", by="hour", now=LATER)
    assert len(per_hour) == hours and all(k.calls == 1 for _, k in per_hour)
    labels = [label for label, _ in per_hour]
    assert len(set(labels)) == hours  # the repeated 01:00 of November carries its offset
    if hours == 25:
        assert "2026-11-01T01:00-04:00" in labels and "2026-11-01T01:00-05:00" in labels
    else:
        assert not any("T02:" in label for label in labels)


def test_a_response_at_local_midnight_belongs_to_that_day(redis_client):
    midnight = local(2026, 6, 15)
    put_survey(redis_client, "M1", midnight, "completed", {"csat": "5"})
    put_survey(redis_client, "M0", midnight - 0.001, "completed", {"csat": "1"})
    days = dict(breakdown(redis_client, datetime(2026, 6, 14), datetime(2026, 6, 16),
                          tz="America/New_York", by="day", now=LATER))
    assert days["2026-06-15"].csat_mean == 5 and days["2026-06-14"].csat_mean == 1
    naive = kpis(redis_client, datetime(2026, 6, 15), datetime(2026, 6, 16), tz="America/New_York",
                 now=LATER)
    assert naive.offered == 1 and naive.tz == "America/New_York"


def test_settled_hours_are_cached_and_never_rescanned(seeded):
    fresh = kpis(seeded, *DAY, now=T)  # nothing settled yet: all raw
    first = kpis(seeded, *DAY, now=LATER)
    assert seeded.keys("ivr:rollup:*") and first == fresh
    SurveyStore().save(seeded, "C2", {**SurveyStore().get(seeded, "C2"), "a:csat": "5"})  # a change
    # to an already settled hour
    assert kpis(seeded, *DAY, now=LATER).csat_mean == 3.25  # served from the hourly rollup
    assert kpis(seeded, *DAY, now=T + 3600).csat_mean == 3.75  # recent hours are read raw


def test_partial_hours_and_half_hour_zones_agree_with_raw(seeded):
    since, until = datetime(2026, 3, 2, 10, 2, 30, tzinfo=UTC), datetime(2026, 3, 2, 16, tzinfo=UTC)
    assert kpis(seeded, since, until, now=LATER) == kpis(seeded, since, until, now=T)
    assert kpis(seeded, since, until, now=LATER).calls == 6  # C1-C3 started before 10:02:30
    india = breakdown(seeded, *DAY, tz="Asia/Kolkata", by="day", now=LATER)
    assert india == breakdown(seeded, *DAY, tz="Asia/Kolkata", by="day", now=T)
    assert sum(k.calls for _, k in india) == 9


def test_same_results_on_redis_cluster(any_redis_url):
    client = connect(any_redis_url)
    put_call(client, "C1", T, BILLING, route="queue:billing", queue="billing", **bridged(10, 120))
    put_survey(client, "C1", T + 400, "completed", {"csat": "4", "nps": "9"}, queue="billing")
    k = kpis(client, *DAY, now=LATER)
    assert (k.calls, k.asa_mean, k.csat_pct, k.nps, k.aht_mean) == (1, 10, 100, 100, 120)
    assert kpis(client, *DAY, now=LATER) == k
