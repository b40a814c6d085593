"""Nothing lost: Redis stops in the middle of a survey, the caller notices nothing, every answer lands once."""

from __future__ import annotations

import time

import pytest
import time_machine
from phone import Phone
from test_survey_flow import OPEN, bridge, sid_sampled, to_support

from ivr.surveys import SurveyStore

ANSWERS = {"a:csat": "1", "a:resolved": "no", "a:nps": "3"}


@pytest.fixture(autouse=True)
def office_open():
    """Support is open (frozen clock)."""
    with time_machine.travel(OPEN, tick=False) as traveller:
        yield traveller


def survey_with_outage(phone: Phone, server=None) -> list[list[str]]:
    """Walk a survey answering 1, no, 3; with `server`, stop it after the first answer and restart at the end."""
    after = bridge(phone, to_support(phone))
    phone.post(after.first("Redirect").text)
    heard = [phone.press("1").said, phone.press("1").said]  # accept, then CSAT 1 (an alert)
    if server is not None:
        server.stop()
    heard += [phone.press("2").said, phone.press("3").said]  # resolved: no, NPS 3, closing
    phone.post("/voice/status", {"CallStatus": "completed", "CallDuration": 240})
    if server is not None:
        server.start()
    return heard


def test_redis_outage_mid_survey_loses_nothing_and_duplicates_nothing(make_app, stoppable_redis, redis_url,
                                                                     tmp_path):
    app = make_app(REDIS_URL=stoppable_redis.url, IVR_ALERT_WEBHOOK_URL="")
    rt = app.extensions["ivr"]
    phone = Phone(app.test_client(), sid=sid_sampled())
    heard = survey_with_outage(phone, stoppable_redis)
    assert rt.writer.spool.pending() > 0  # the answers and the call's end waited on disk
    reference_app = make_app(REDIS_URL=redis_url, IVR_DATA_DIR=tmp_path / "other")  # its own spool
    reference = Phone(reference_app.test_client(), sid=sid_sampled())
    assert heard == survey_with_outage(reference)  # the caller heard exactly what they would have
    while not rt.writer.healthy:  # the writer retries Redis a moment after the failure
        time.sleep(0.05)
    rt.writer.replay()
    rt.writer.replay()  # a second replay finds nothing left to do
    assert rt.writer.spool.pending() == 0
    with stoppable_redis.client() as client:
        stored = SurveyStore().get(client, phone.sid)
        assert {k: stored[k] for k in ANSWERS} == ANSWERS
        assert stored["disposition"] == "completed" and "completed_at" in stored
        assert client.zrange("ivr:surveys:by_time", 0, -1) == [phone.sid]
        assert client.zrange("ivr:surveys:queue:support", 0, -1) == [phone.sid]
        assert client.zrange("ivr:alerts:by_time", 0, -1) == [f"{phone.sid}:csat"]
        call = client.hgetall(f"ivr:call:{{{phone.sid}}}")
        assert call["status"] == "completed" and call["queue_result"] == "bridged"
