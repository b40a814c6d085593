"""Each webhook of a whole call costs at most one Redis round trip (what the webhook's thread sends)."""

from __future__ import annotations

from contextlib import contextmanager

import pytest
import time_machine
from phone import Phone
from roundtrip_count import RoundTrips
from test_returning_calls import WELCOME_ES
from test_survey_flow import OPEN, sid_sampled

from ivr.surveys import SurveyStore


@pytest.fixture(autouse=True)
def office_open():
    with time_machine.travel(OPEN, tick=False):
        yield


class Trips(RoundTrips):
    """Round trips per named webhook."""

    def __init__(self, costs: dict):
        super().__init__()
        self.costs = costs

    @contextmanager
    def webhook(self, name: str):
        """Count the round trips of the block as webhook `name`."""
        before = self.count
        with self.counting():
            yield
        self.costs[name] = self.count - before


def test_a_whole_call_costs_at_most_one_round_trip_per_webhook(make_app, redis_client):
    app = make_app()
    Phone(app.test_client(), number="+15550009999").call()  # connections and scripts warmed up
    phone = Phone(app.test_client(), sid=sid_sampled())
    trips = Trips(costs := {})
    with trips.webhook("incoming"):
        phone.call()
    for keys in ("1", "2"):
        with trips.webhook(f"key {keys}"):
            phone.press(keys)
    with trips.webhook("to queue"):
        enqueue = phone.press("1").first("Enqueue")
    with trips.webhook("agent answers"):
        phone.post(f"/voice/queue/answered?q={enqueue.text}&agent=alice", {"QueueTime": 30})
    with trips.webhook("queue done"):
        after = phone.post(enqueue.get("action"), {"QueueResult": "bridged", "QueueTime": 30})
    with trips.webhook("survey offer"):
        phone.post(after.first("Redirect").text)
    for name, keys in (("accept", "1"), ("csat", "4"), ("resolved", "1"), ("nps", "10")):
        with trips.webhook(name):
            phone.press(keys)
    with trips.webhook("status"):
        phone.post("/voice/status", {"CallStatus": "completed", "CallDuration": 200})
    assert max(costs.values()) == 1, costs
    assert SurveyStore().get(redis_client, phone.sid)["disposition"] == "completed"


def test_batched_key_presses_and_incoming_calls_new_or_returning_cost_no_round_trip(make_app):
    app = make_app(IVR_EVENT_BATCH_MS=20)
    assert app.extensions["ivr"].recent.load()  # the index of recent routes, loaded now
    Phone(app.test_client(), number="+15550009999").call()
    first = Phone(app.test_client(), number="+15550001234")
    first.call()
    first.press("2")  # Spanish
    assert first.press("1").first("Enqueue").text == "billing"  # a route, remembered
    trips = Trips(costs := {})
    returning = Phone(app.test_client(), number="+15550001234")
    with trips.webhook("returning incoming"):
        welcome = returning.call()
    assert welcome.said == [WELCOME_ES]
    with trips.webhook("key"):
        returning.press("9")  # not a choice on the welcome menu: a navigation-only step
    with trips.webhook("new caller incoming"):
        assert Phone(app.test_client(), number="+15550004321").call().said[0].startswith("Thank you")
    assert costs == {"returning incoming": 0, "key": 0, "new caller incoming": 0}
