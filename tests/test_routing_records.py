"""Call records: one per call, everything reporting needs, idempotent when Twilio repeats callbacks."""

from __future__ import annotations

import pytest
from phone import Phone
from test_queue_calls import OPEN, enter_billing, open_clock, record, surveyless_phone, wait

from ivr.calls import CallStore

CALLS = CallStore()
START = OPEN.timestamp()

# Calls start while billing is open; tests move the clock as the call goes on.
clock = pytest.fixture(name="clock")(open_clock)
phone = pytest.fixture(name="phone")(surveyless_phone)


def test_answered_queue_call_has_one_complete_record(phone, clock, redis_client):
    enqueue = enter_billing(phone, "2")
    clock.shift(5)
    wait(phone, enqueue, 1, 0, 60)
    clock.shift(90)
    agent = Phone(phone.client, number="client:bob", sid="CA" + "b" * 32)
    answered = agent.post("/voice/agent/billing").first("Queue").get("url")
    phone.post(answered, {"QueueTime": 95, "DequeingCallSid": agent.sid})
    clock.shift(240)
    phone.post(enqueue.get("action"), {"QueueResult": "bridged", "QueueTime": 95})
    clock.shift(2)
    phone.post("/voice/status", {"CallStatus": "completed", "CallDuration": 342})
    fields = record(redis_client, phone)
    assert float(fields["started"]) == START
    assert (fields["lang"], fields["caller"], fields["direction"]) == ("es-US", "+1******4567", "inbound")
    assert fields["caller_hash"] and fields["last_menu"] == "main"
    assert (fields["route"], float(fields["routed_at"])) == ("queue:billing", START)
    assert (fields["queue"], fields["queue_result"], fields["queue_time"]) == ("billing", "bridged", "95")
    assert (fields["agent"], float(fields["answered_at"])) == ("client:bob", START + 95)
    assert float(fields["left_queue_at"]) - float(fields["answered_at"]) == 240  # talk time
    assert (fields["status"], fields["duration"], float(fields["ended"])) == ("completed", "342", START + 337)
    assert CALLS.sids(redis_client, START - 1, START + 1) == [phone.sid]
    path = CALLS.path(redis_client, phone.sid)
    assert path[0] == "menu language"
    assert path[-1].endswith("route queue billing")
    assert not redis_client.exists(f"ivr:call:{{{agent.sid}}}")  # the agent's leg is no call record


def test_hang_up_in_the_menus_is_no_route_and_not_abandoned_in_a_queue(phone, clock, redis_client):
    phone.call()
    phone.press("1")
    phone.post("/voice/status", {"CallStatus": "completed", "CallDuration": 14})
    fields = record(redis_client, phone)
    assert "route" not in fields and "abandoned" not in fields and "queue" not in fields
    assert (fields["status"], fields["duration"]) == ("completed", "14")
    assert CALLS.path(redis_client, phone.sid)[-1].endswith("menu main")


def test_hang_up_in_the_queue_is_abandoned_there(phone, clock, redis_client):
    enqueue = enter_billing(phone)
    clock.shift(50)
    phone.post(enqueue.get("action"), {"QueueResult": "hangup", "QueueTime": 50})
    phone.post("/voice/status", {"CallStatus": "completed", "CallDuration": 58})
    fields = record(redis_client, phone)
    assert (fields["route"], fields["abandoned"], fields["queue_time"]) == ("queue:billing", "queue", "50")
    assert "agent" not in fields and "answered_at" not in fields


def test_repeated_webhooks_leave_one_unchanged_record(phone, clock, redis_client):
    phone.call()
    clock.shift(30)
    phone.call()  # Twilio repeats the incoming webhook
    phone.press("1")
    enqueue = phone.press("1").first("Enqueue")
    outcome = {"QueueResult": "leave", "QueueTime": 700}
    wait(phone, enqueue, 3, 700, 120)
    phone.post(enqueue.get("action"), outcome)
    first = record(redis_client, phone)
    clock.shift(60)
    phone.post(enqueue.get("action"), outcome)
    assert record(redis_client, phone) == first
    assert float(first["started"]) == START
    assert redis_client.zcard(CALLS.BY_TIME) == 1
    assert (first["queue_result"], first["leave_reason"]) == ("leave", "timeout")


def test_two_calls_from_one_number_are_two_records(new_phone, clock, redis_client):
    first, second = new_phone(), new_phone()
    first.call()
    clock.shift(600)
    second.call()
    assert CALLS.sids(redis_client, START, START + 3600) == [first.sid, second.sid]
    assert record(redis_client, first)["caller_hash"] == record(redis_client, second)["caller_hash"]
