"""Post-call surveys through the real webhooks: menu -> queue -> bridged -> survey, read back from Redis."""

from __future__ import annotations

import itertools
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from conftest import emptied_url

from ivr.survey_flow import sampled
from ivr.surveys import SurveyStore


@pytest.fixture(params=["single", "cluster"])
def redis_url(request: pytest.FixtureRequest) -> str:
    """Every survey test here runs on a single server and on a three-master cluster."""
    return emptied_url(request, request.param)

OPEN = datetime(2026, 6, 3, 10, 0, tzinfo=ZoneInfo("America/New_York"))  # a Wednesday: office open
KINDS = "csat:scale:1-5,resolved:yes_no,nps:nps:0-10"
_candidates = itertools.count(1)


@pytest.fixture(autouse=True)
def office_open():
    """Every call here happens while billing and support are open (frozen clock)."""
    with time_machine.travel(OPEN, tick=False) as traveller:
        yield traveller


def sid_sampled(inside: bool = True, rate: float = 0.3) -> str:
    """A fresh CallSid that the deterministic sampler puts inside (or outside) a `rate` sample."""
    while True:
        sid = f"CA{next(_candidates) + 7_000_000:032d}"
        if sampled(sid, rate) == inside:
            return sid


def to_support(phone, language_key: str = "1"):
    """Call, choose a language, press 2 for support and 1 for internet: the Enqueue element."""
    phone.call()
    phone.press(language_key)
    phone.press("2")
    return phone.press("1").first("Enqueue")


def bridge(phone, enqueue, agent: str = "alice", waited: int = 30):
    """An agent takes the caller, talks, hangs up: Twilio posts the Enqueue action as bridged."""
    phone.post(f"/voice/queue/answered?q={enqueue.text}&agent={agent}",
               {"QueueTime": waited, "DequeingCallSid": "CA" + "a" * 32})
    return phone.post(enqueue.get("action"), {"QueueResult": "bridged", "QueueTime": waited,
                                              "QueueSid": "QU" + "1" * 32})


def to_survey(phone, language_key: str = "1"):
    """A support call that ends with the agent hanging up, then the survey offer (its TwiML)."""
    after = bridge(phone, to_support(phone, language_key))
    redirect = after.first("Redirect").text
    assert redirect.startswith("/voice/survey/ask?"), after.text
    return phone.post(redirect)


def response(redis_client, phone) -> dict:
    """The survey response stored for `phone`'s call."""
    return SurveyStore().get(redis_client, phone.sid)


def hang_up(phone):
    """Twilio's status callback once the caller hangs up."""
    return phone.post("/voice/status", {"CallStatus": "completed", "CallDuration": 200})


def test_full_survey_is_stored_as_one_response(phone, redis_client):
    phone.sid = sid_sampled()
    offer = to_survey(phone)
    gather = offer.first("Gather")
    assert gather.get("numDigits") == "1" and gather.get("action").startswith("/voice/survey/key?")
    assert "To answer three quick questions, press 1" in offer.speech
    assert offer.verbs == ["Gather", "Redirect"]
    first = phone.press("1")
    assert first.said[0] == "Thank you. Here is the first question."
    assert "Press 1 for very dissatisfied" in first.speech
    nps = phone.press("4")
    assert "Press 1 for yes" in nps.speech
    nps = phone.press("1")
    gather = nps.first("Gather")
    assert gather.get("finishOnKey") == "#" and gather.get("numDigits") is None
    assert "For 10, press 1, 0, then pound" in nps.speech
    closing = phone.press("10")
    assert closing.said == ["Thank you for your feedback. Goodbye."] and closing.verbs == ["Say", "Hangup"]
    stored = response(redis_client, phone)
    assert {k: stored[k] for k in ("survey", "call_sid", "queue", "agent", "lang", "path", "kinds",
                                   "disposition", "a:csat", "a:resolved", "a:nps")} == {
        "survey": "csat", "call_sid": phone.sid, "queue": "support", "agent": "alice", "lang": "en-US",
        "path": "language>main>support", "kinds": KINDS, "disposition": "completed",
        "a:csat": "4", "a:resolved": "yes", "a:nps": "10"}
    assert "transfer" not in stored and len(stored["caller_hash"]) == 16
    assert "5551234567" not in str(stored)
    at = OPEN.timestamp()
    for name in ("offered_at", "started_at", "completed_at", "updated_at", "t:csat", "t:resolved", "t:nps"):
        assert at <= float(stored[name]) < at + 5, name
    assert float(stored["t:csat"]) < float(stored["t:resolved"]) < float(stored["t:nps"])
    assert redis_client.zscore("ivr:surveys:by_time", phone.sid) == float(stored["offered_at"])
    assert redis_client.zrange("ivr:surveys:queue:support", 0, -1) == [phone.sid]
    assert redis_client.zcard("ivr:alerts:by_time") == 0  # a 4 is no alert


def test_spanish_caller_answers_in_spanish(phone, redis_client):
    phone.sid = sid_sampled()
    offer = to_survey(phone, language_key="2")
    assert "Para responder tres preguntas rápidas, oprima 1" in offer.speech
    for key in ("1", "5", "2"):
        twiml = phone.press(key)
        assert set(twiml.languages) == {"es-US"}
    assert phone.press("0").said == ["Gracias por sus comentarios. Adiós."]
    stored = response(redis_client, phone)
    assert (stored["lang"], stored["a:csat"], stored["a:resolved"], stored["a:nps"]) == ("es-US", "5", "no", "0")


def test_wrong_key_gets_one_reprompt(phone, redis_client):
    phone.sid = sid_sampled()
    to_survey(phone)
    phone.press("1")
    again = phone.press("9")
    assert again.said[0] == "Sorry, that is not one of the answers."
    assert "Press 1 for very dissatisfied" in again.speech
    assert "a=1" in again.first("Gather").get("action")
    assert "Press 1 for yes" in phone.press("0").speech  # a second wrong key moves on
    assert response(redis_client, phone)["a:csat"] == ""
    assert "Press 1 for yes" in phone.press("7").speech
    assert "recommend" in phone.press("2").speech  # a valid answer after the reprompt
    assert response(redis_client, phone)["a:resolved"] == "no"


def test_silence_skips_a_question_and_all_silence_is_no_input(phone, redis_client, new_phone):
    phone.sid = sid_sampled()
    to_survey(phone)
    phone.press("1")
    assert "Press 1 for yes" in phone.silence().speech
    phone.press("1")
    phone.silence()
    stored = response(redis_client, phone)
    assert (stored["a:csat"], stored["a:resolved"], stored["a:nps"]) == ("", "yes", "")
    assert stored["disposition"] == "completed"
    other = new_phone("+15557654321")
    other.sid = sid_sampled()
    to_survey(other)
    other.press("1")
    for _ in range(3):
        other.silence()
    assert other.last.said == ["Thank you for your feedback. Goodbye."]
    assert response(redis_client, other)["disposition"] == "no_input"


def test_hang_up_mid_survey_keeps_a_partial_response(phone, redis_client):
    phone.sid = sid_sampled()
    to_survey(phone)
    phone.press("1")
    phone.press("2")
    hang_up(phone)
    stored = response(redis_client, phone)
    assert stored["disposition"] == "partial" and stored["a:csat"] == "2"
    assert "a:resolved" not in stored and "completed_at" not in stored
    hang_up(phone)  # Twilio repeating the status callback changes nothing
    assert response(redis_client, phone) == stored


@pytest.mark.parametrize(("keys", "disposition"), [((), "declined"), (("1",), "no_input"),
                                                     (("2",), "declined")])
def test_offer_turned_down_or_left_unanswered(phone, redis_client, keys, disposition):
    phone.sid = sid_sampled()
    to_survey(phone)
    for key in keys:
        twiml = phone.press(key)
        if key == "2":
            assert twiml.said == ["Thank you for your feedback. Goodbye."] and twiml.has("Hangup")
    hang_up(phone)
    stored = response(redis_client, phone)
    assert stored["disposition"] == disposition
    assert not any(name.startswith("a:") for name in stored)


def test_repeated_webhooks_change_nothing(phone, redis_client):
    phone.sid = sid_sampled()
    to_survey(phone)
    sent = [(phone.last.first("Gather").get("action"), "1")]
    phone.press("1")
    before_answers = response(redis_client, phone)
    for key in ("3", "1", "8"):
        sent.append((phone.last.first("Gather").get("action"), key))
        phone.press(key)
    done = response(redis_client, phone)
    assert done["disposition"] == "completed" and before_answers["disposition"] == "offered"
    for url, key in sent:  # Twilio delivering every answer webhook a second time
        phone.post(url, {"Digits": key})
    hang_up(phone)
    assert response(redis_client, phone) == done
    assert redis_client.zcard("ivr:surveys:by_time") == 1


def test_late_duplicate_never_overwrites_a_newer_answer(phone, redis_client):
    phone.sid = sid_sampled()
    to_survey(phone)
    phone.press("1")
    first_try = phone.last.first("Gather").get("action")
    phone.press("9")  # wrong key: the reprompt is a newer prompt of the same question
    phone.press("5")
    late = phone.post(first_try, {"Digits": "4"})  # an older delivery arriving afterwards
    assert "Press 1 for yes" in late.speech  # the caller side is unaffected either way
    assert response(redis_client, phone)["a:csat"] == "5"


def test_sampling_by_callsid(phone, redis_client, new_phone):
    phone.sid = sid_sampled(inside=False)
    after = bridge(phone, to_support(phone))
    assert after.said == ["Thank you for calling. Goodbye."] and after.has("Hangup")
    assert response(redis_client, phone) == {}
    share = sum(sampled(f"CA{n:032x}", 0.3) for n in range(10_000)) / 10_000
    assert 0.28 < share < 0.32
    assert sampled("CA1", 1.0) and not sampled("CA1", 0.0)


def test_a_caller_is_surveyed_once_in_thirty_days(make_app, redis_client, office_open):
    from phone import Phone

    client = make_app(IVR_RETURNING_HOURS=0).test_client()
    first, second, later = (Phone(client, sid=sid_sampled()) for _ in range(3))
    to_survey(first)
    after = bridge(second, to_support(second))
    assert after.said == ["Thank you for calling. Goodbye."]
    assert response(redis_client, second) == {}
    office_open.shift(35 * 86400)  # five weeks on: a Wednesday again
    to_survey(later)
    assert response(redis_client, later)["disposition"] == "offered"
    [surveyed] = list(redis_client.scan_iter(match=f"ivr:surveyed:{{{response(redis_client, later)['caller_hash']}*"))
    assert redis_client.ttl(surveyed) > 29 * 86400


def test_queue_done_delivered_twice_offers_the_same_survey(phone, redis_client):
    phone.sid = sid_sampled()
    enqueue = to_support(phone)
    bridge(phone, enqueue)
    offered = response(redis_client, phone)
    again = phone.post(enqueue.get("action"), {"QueueResult": "bridged", "QueueTime": 30})
    assert again.first("Redirect").text.startswith("/voice/survey/ask?")
    assert response(redis_client, phone) == offered
