"""Agents taking queued callers: whisper, who answered, time to answer, bridged then hang-up."""

from __future__ import annotations

import time

import pytest
from phone import Phone
from test_queue_calls import enter_billing, open_clock, record, surveyless_phone, wait

# Billing is open (frozen clock); tests may move the clock on.
clock = pytest.fixture(autouse=True, name="clock")(open_clock)
phone = pytest.fixture(name="phone")(surveyless_phone)


def agent_phone(phone: Phone) -> Phone:
    """An agent's softphone (a Twilio client) on the same app."""
    return Phone(phone.client, number="client:alice", sid="CA" + "a" * 32)


def test_agent_hears_the_queue_and_the_longest_wait_then_dials_the_queue(phone):
    enqueue = enter_billing(phone)
    wait(phone, enqueue, 1, 125, 60)  # the caller joined 125 s ago
    agent = agent_phone(phone).post("/voice/agent/billing")
    assert agent.verbs == ["Say", "Dial"]
    assert agent.said == ["Billing call, waited 2 minutes."]
    dial = agent.first("Dial")
    assert dial.get("action").startswith("/voice/queue/agent-done?")
    queue = agent.first("Queue")
    assert queue.text == "billing"
    assert queue.get("url").startswith("/voice/queue/answered?")
    assert "agent=client%3Aalice" in queue.get("url")


def test_agent_on_an_empty_queue_just_waits_for_the_next_caller(phone):
    agent = agent_phone(phone).post("/voice/agent/billing")
    assert agent.verbs == ["Dial"]
    assert agent.first("Queue").text == "billing"


def test_agent_named_by_the_url_wins_over_the_from_number(phone):
    agent = agent_phone(phone).post("/voice/agent/support?agent=desk-7")
    assert "agent=desk-7" in agent.first("Queue").get("url")


def test_unknown_queue_is_404(phone):
    assert agent_phone(phone).post("/voice/agent/nope", raw=True).status_code == 404


def test_bridged_then_hang_up_records_agent_wait_and_talk_time(phone, redis_client):
    enqueue = enter_billing(phone)
    wait(phone, enqueue, 1, 0, 60)
    agent = agent_phone(phone).post("/voice/agent/billing")
    answered_url = agent.first("Queue").get("url")
    # Twilio runs the Queue url on the caller's leg (CallSid = the queued caller).
    bridge = phone.post(answered_url, {"QueueTime": 130, "DequeingCallSid": "CA" + "a" * 32})
    assert bridge.verbs == []  # the caller hears nothing extra; the bridge follows
    assert redis_client.zcard("ivr:queue:{billing}:waiting") == 0
    done = phone.post(enqueue.get("action"), {"QueueResult": "bridged", "QueueTime": 130})
    assert done.verbs == ["Say", "Hangup"]
    assert done.said == ["Thank you for calling. Goodbye."]
    phone.post("/voice/status", {"CallStatus": "completed", "CallDuration": 480})
    fields = record(redis_client, phone)
    assert fields["agent"] == "client:alice"
    assert (fields["queue_result"], fields["queue_time"]) == ("bridged", "130")
    assert float(fields["left_queue_at"]) >= float(fields["answered_at"])
    assert (fields["status"], fields["duration"]) == ("completed", "480")
    assert "abandoned" not in fields


def test_repeated_queue_callbacks_keep_the_first_times(phone, redis_client, clock):
    enqueue = enter_billing(phone)
    answered_url = agent_phone(phone).post("/voice/agent/billing").first("Queue").get("url")
    answer = {"QueueTime": 30, "DequeingCallSid": "CA" + "a" * 32}
    phone.post(answered_url, answer)
    done = {"QueueResult": "bridged", "QueueTime": 30}
    phone.post(enqueue.get("action"), done)
    first = record(redis_client, phone)
    clock.shift(300)  # Twilio repeats both callbacks five minutes later
    phone.post(answered_url, answer)
    phone.post(enqueue.get("action"), done)
    again = record(redis_client, phone)
    assert again["answered_at"] == first["answered_at"]
    assert again["left_queue_at"] == first["left_queue_at"]
    assert again == first
    assert time.time() > float(first["left_queue_at"]) + 299


def test_agent_leg_ends_with_a_valid_hangup(phone):
    ended = phone.post("/voice/queue/agent-done?q=billing", {"DialCallStatus": "completed"})
    assert ended.verbs == ["Hangup"]


def test_wait_url_for_a_queue_that_vanished_leaves_the_queue(phone):
    phone.call()
    state = "n=main&l=en-US&v=0123456789&s=2"
    left = phone.post(f"/voice/queue/wait?{state}&q=nosuchqueue", {"QueuePosition": "1"})
    assert left.verbs == ["Leave"]


def test_an_agent_phone_number_is_masked(phone, redis_client):
    agent = phone.post("/voice/agent/billing", {"From": "+15559998888"})
    url = agent.first("Queue").get("url")
    assert "5559998888" not in url and "%2B1%2A%2A%2A%2A%2A%2A8888" in url


def test_no_survey_when_the_caller_hung_up_with_the_agent(make_app, menus_dir, redis_client):
    routing = menus_dir / "routing.yaml"
    routing.write_text(routing.read_text().replace("survey_rate: 30%", "survey_rate: 100%"))
    phone = Phone(make_app().test_client())
    first = phone.call()
    version = first.first("Gather").get("action").split("v=")[1].split("&")[0]
    action = f"/voice/queue/done?n=main&l=en-US&v={version}&s=3&q=support"
    done = phone.post(action, {"QueueResult": "bridged", "QueueTime": "30", "CallStatus": "completed"})
    assert done.verbs == ["Hangup"]
    assert not redis_client.exists(f"ivr:survey:{{{phone.sid}}}")
    assert redis_client.hget(f"ivr:call:{{{phone.sid}}}", "queue_result") == "bridged"
    still_there = phone.post(action, {"QueueResult": "bridged", "QueueTime": "30", "CallStatus": "in-progress"})
    assert "survey" in still_there.text  # the same call still on the line is offered the survey
