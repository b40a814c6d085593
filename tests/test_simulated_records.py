"""Calls placed by the simulators are recorded (the simulator reads them) but never reported."""

from __future__ import annotations

import time_machine
from phone import Phone
from test_survey_flow import OPEN, bridge, to_support

from ivr.alerts import AlertStore
from ivr.calls import CallStore
from ivr.simulate import SimulatedCall
from ivr.simulated import is_simulated, new_sid
from ivr.survey_flow import sampled
from ivr.surveys import SurveyStore
from ivr.voicemail import VoicemailStore


def simulated_sid_in_sample() -> str:
    while not sampled(sid := new_sid(), 0.3):
        pass
    return sid


def test_simulated_sids_never_look_like_twilio_ones():
    sid = new_sid()
    assert is_simulated(sid) and len(sid) == 34 and not is_simulated("CA" + "0123456789abcdef" * 2)
    assert is_simulated(SimulatedCall(transport=None, token="t").sid)


def test_a_simulated_call_with_a_low_survey_score_is_kept_out_of_reports(make_app, redis_client):
    app = make_app(IVR_ALERT_WEBHOOK_URL="http://127.0.0.1:9/never")
    phone = Phone(app.test_client(), sid=simulated_sid_in_sample())
    with time_machine.travel(OPEN, tick=False):
        after = bridge(phone, to_support(phone))
        phone.post(after.first("Redirect").text)  # the offer
        for keys in ("1", "1", "2", "0#"):  # accept; CSAT 1 (a low score); not resolved; NPS 0
            phone.press(keys)
        phone.post("/voice/status", {"CallStatus": "completed", "CallDuration": 200})
    calls, surveys = CallStore(), SurveyStore()
    assert calls.get(redis_client, phone.sid)["route"] == "queue:support"  # the record is there
    assert surveys.get(redis_client, phone.sid)["disposition"] == "completed"
    assert calls.sids(redis_client, 0, 2e9) == [] and surveys.sids(redis_client, 0, 2e9) == []
    assert AlertStore().list(redis_client) == [] and redis_client.zcard(AlertStore.OUTBOX) == 0
    assert not list(redis_client.scan_iter(match="ivr:surveyed:*"))  # the caller may be surveyed for real


def test_a_simulated_voicemail_is_not_listed_for_staff(redis_client):
    commands = VoicemailStore().recorded("RE1", 1.0e9, {"call_sid": new_sid(), "box": "general"}, 12)
    assert [c.op for c in commands] == ["HSET", "HSETNX", "HSETNX", "EXPIRE"]
    real = VoicemailStore().recorded("RE2", 1.0e9, {"call_sid": "CA" + "1" * 32, "box": "general"}, 12)
    assert real[-1].op == "ZADD"
