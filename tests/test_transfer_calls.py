"""Transfers through the real webhooks: the Dial, answered calls, and no answer going to voicemail."""

from __future__ import annotations

import pytest
from phone import Phone
from test_queue_calls import record, surveyless_phone

phone = pytest.fixture(name="phone")(surveyless_phone)


def ask_operator(phone: Phone):
    """Call, choose English, press 0 for the operator."""
    phone.call()
    phone.press("1")
    return phone.press("0")


def test_operator_key_dials_the_number_with_timeout(phone, redis_client):
    twiml = ask_operator(phone)
    assert twiml.verbs == ["Say", "Dial"]
    assert twiml.said == ["Please hold while we transfer your call."]
    dial = twiml.first("Dial")
    assert dial.get("timeout") == "25"
    assert dial.get("action").startswith("/voice/transfer/done?")
    assert twiml.first("Number").text == "+15555550100"
    assert record(redis_client, phone)["route"] == "transfer:operator"


@pytest.mark.parametrize("status", ["no-answer", "busy", "failed"])
def test_no_answer_busy_or_failure_goes_to_voicemail(phone, redis_client, status):
    dial = ask_operator(phone).first("Dial")
    after = phone.post(dial.get("action"), {"DialCallStatus": status})
    assert after.said[0] == "Sorry, nobody is available to take your call right now."
    assert after.said[1].startswith("Please leave your name, number and a short message")
    assert after.verbs == ["Say", "Say", "Record", "Redirect"]
    assert "box=general" in after.first("Record").get("action")
    fields = record(redis_client, phone)
    assert (fields["transfer"], fields["transfer_result"]) == ("operator", status)


def test_answered_transfer_records_talk_time_and_says_goodbye(phone, redis_client):
    dial = ask_operator(phone).first("Dial")
    after = phone.post(dial.get("action"), {"DialCallStatus": "completed", "DialCallDuration": 312})
    assert after.verbs == ["Say", "Hangup"]
    phone.post("/voice/status", {"CallStatus": "completed", "CallDuration": 340})
    fields = record(redis_client, phone)
    assert (fields["transfer_result"], fields["talk_time"]) == ("completed", "312")
    assert (fields["status"], fields["duration"]) == ("completed", "340")


def test_sip_transfer_with_caller_id(make_app, menus_dir):
    routing = menus_dir / "routing.yaml"
    routing.write_text(routing.read_text().replace(
        'to: "+15555550100"', 'to: sip:desk@pbx.example.com\n    caller_id: "+15550001111"'))
    phone = Phone(make_app().test_client())
    twiml = ask_operator(phone)
    assert twiml.first("Sip").text == "sip:desk@pbx.example.com"
    assert twiml.first("Dial").get("callerId") == "+15550001111"
    assert not twiml.has("Number")
