"""SurveyStore and AlertStore on a single server and on a Redis Cluster: idempotent writes, order, purge."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from ivr.alerts import AlertStore
from ivr.calls import CallStore
from ivr.cli import main
from ivr.redisconn import connect
from ivr.spool import Spool
from ivr.surveys import SurveyStore
from ivr.voicemail import VoicemailStore
from ivr.writer import Writer

DAY = 86400
T0 = datetime(2026, 1, 10, tzinfo=UTC).timestamp()
FIELDS = {"survey": "csat", "queue": "billing", "agent": "alice", "lang": "en-US",
          "path": "language>main", "caller_hash": "ab" * 16, "kinds": "csat:scale:1-5"}


@pytest.fixture
def store_writer(any_redis_url: str, tmp_path: Path):
    """A survey store and a writer on an emptied single server, then on an emptied cluster."""
    client = connect(any_redis_url)
    yield SurveyStore(retention_seconds=30 * DAY), Writer(client, Spool(tmp_path / "spool")), client
    client.close()


def survey_call(store: SurveyStore, writer: Writer, sid: str, at: float, score: str = "4") -> None:
    """One survey call: offered, accepted, one answer, finished: each step one write."""
    for commands in (store.offered(sid, at, FIELDS, "billing", FIELDS["caller_hash"], 30),
                     store.started(sid, at + 1), store.answered(sid, 0, score, at + 1, at + 4),
                     store.finished(sid, at + 5)):
        assert writer.write(commands)


def test_a_response_is_written_in_one_round_trip_per_answer(store_writer):
    store, writer, client = store_writer
    survey_call(store, writer, "CA1", T0)
    assert writer.round_trips() == 4
    stored = store.get(client, "CA1")
    assert stored == {**FIELDS, "caller_hash": FIELDS["caller_hash"][:16], "call_sid": "CA1", "offered_at": f"{T0:.1f}", "started_at": f"{T0 + 1:.1f}",
                      "a:csat": "4", "t:csat": f"{T0 + 1:.1f}", "disposition": "completed",
                      "updated_at": f"{T0 + 5:.1f}", "completed_at": f"{T0 + 5:.1f}"}
    assert 29 * DAY < client.ttl(store.key("CA1")) <= 30 * DAY
    assert store.sids(client, T0, T0 + 1) == ["CA1"] == store.sids(client, T0, T0 + 1, "billing")
    assert store.last_surveyed(client, FIELDS["caller_hash"]) == pytest.approx(T0)


def test_late_and_repeated_answers(store_writer):
    store, writer, client = store_writer
    writer.write(store.offered("CA2", T0, FIELDS, "billing"))
    writer.write(store.answered("CA2", 0, "5", T0 + 20, T0 + 22))
    before = store.get(client, "CA2")
    writer.write(store.answered("CA2", 0, "2", T0 + 10, T0 + 30))  # asked earlier, delivered later
    writer.write(store.answered("CA2", 0, "5", T0 + 20, T0 + 40))  # the same webhook again
    writer.write(store.skipped("CA2", 0, T0 + 50))  # a silence never erases an answer
    writer.write(store.offered("CA2", T0 + 60, FIELDS, "billing"))  # the offer repeated
    assert store.get(client, "CA2") == before
    assert before["disposition"] == "partial"
    writer.write(store.answered("CA2", 0, "3", T0 + 25, T0 + 45))  # a newer prompt's answer wins
    assert store.get(client, "CA2")["a:csat"] == "3"


def test_an_answer_without_an_offer_creates_nothing(store_writer):
    store, writer, client = store_writer
    writer.write(store.answered("CA3", 0, "5", T0, T0) + store.call_ended("CA3", T0))
    assert store.get(client, "CA3") == {}


def test_responses_read_in_batches(store_writer):
    store, writer, client = store_writer
    for n in range(5):
        survey_call(store, writer, f"CA{n}", T0 + n * DAY, score=str(n + 1))
    found = list(store.responses(client, T0 + DAY, T0 + 4 * DAY))
    assert [r["a:csat"] for r in found] == ["2", "3", "4"]


def test_purge_before_a_date_on_the_command_line(store_writer, any_redis_url, monkeypatch):
    store, writer, client = store_writer
    alerts = AlertStore()
    for n in range(4):
        survey_call(store, writer, f"CA{n}", T0 + n * DAY)
        fields = {"id": f"CA{n}:csat", "call_sid": f"CA{n}", "survey": "csat", "question": "csat",
                  "score": "1", "queue": "billing", "agent": "", "lang": "en-US"}
        writer.write(alerts.raised(fields, T0 + n * DAY, deliver=True))
        writer.write(CallStore().started(f"CA{n}", T0 + n * DAY, {"lang": "en-US"})
                     + CallStore().step(f"CA{n}", 0, ("menu main",))
                     + VoicemailStore().recorded(f"RE{n}", T0 + n * DAY, {"box": "general"}, n))
    from ivr.daily import DAY_KEY
    from ivr.rollup import ROLLUP_KEY

    old_hour, new_hour = int(T0 // 3600 * 3600), int((T0 + 3 * DAY) // 3600 * 3600)
    for key in (ROLLUP_KEY % old_hour, ROLLUP_KEY % new_hour, DAY_KEY % "2026-01-10"):
        client.set(key, "cached")
    monkeypatch.setenv("REDIS_URL", any_redis_url)
    result = CliRunner().invoke(main, ["purge", "--before", "2026-01-12"])
    assert result.exit_code == 0, result.output
    assert ("deleted 2 survey response(s), 2 alert(s), 2 call record(s) and 2 voicemail record(s) "
            "from before 2026-01-12 00:00 UTC") in result.output
    assert [CallStore().get(client, f"CA{n}") != {} for n in range(4)] == [False, False, True, True]
    assert CallStore().path(client, "CA1") == [] and CallStore().path(client, "CA2") == ["menu main"]
    assert CallStore().sids(client, 0, T0 + 10 * DAY) == ["CA2", "CA3"]
    assert [VoicemailStore().get(client, f"RE{n}") != {} for n in range(4)] == [False, False, True, True]
    assert [store.get(client, f"CA{n}") != {} for n in range(4)] == [False, False, True, True]
    assert store.sids(client, 0, T0 + 10 * DAY, "billing") == ["CA2", "CA3"]
    assert [a["id"] for a in alerts.list(client)] == ["CA3:csat", "CA2:csat"]
    assert client.zrange(alerts.OUTBOX, 0, -1) == ["CA2:csat", "CA3:csat"]
    # cached figures that counted purged data are dropped; later hours stay cached
    assert client.get(ROLLUP_KEY % old_hour) is None and client.get(DAY_KEY % "2026-01-10") is None
    assert client.get(ROLLUP_KEY % new_hour) == "cached"


def test_purge_without_a_date_uses_the_retention_period(store_writer, any_redis_url, monkeypatch):
    store, writer, client = store_writer
    now = time.time()
    survey_call(store, writer, "CAold", now - 40 * DAY)
    survey_call(store, writer, "CAnew", now - DAY)
    monkeypatch.setenv("REDIS_URL", any_redis_url)
    monkeypatch.setenv("IVR_RETENTION_DAYS", "30")
    result = CliRunner().invoke(main, ["purge"])
    assert result.exit_code == 0, result.output
    assert "deleted 1 survey response(s)" in result.output
    assert store.sids(client, 0, now) == ["CAnew"] and store.get(client, "CAold") == {}
