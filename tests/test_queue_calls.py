"""Queues through the real webhooks: announcements, leaving by key, maximum wait, full queue."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from phone import Phone

NEW_YORK = ZoneInfo("America/New_York")
OPEN = datetime(2026, 6, 3, 10, 0, tzinfo=NEW_YORK)  # a Wednesday morning: billing is open


def open_clock():
    """A frozen clock while billing is open; the traveller lets a test move time on."""
    with time_machine.travel(OPEN, tick=False) as traveller:
        yield traveller


def surveyless_phone(make_app, menus_dir):
    """A caller on menus without post-call surveys, so a finished call ends with goodbye."""
    strip_surveys(menus_dir)
    return Phone(make_app().test_client())


# Every call here happens while the billing team is open.
office_open = pytest.fixture(autouse=True, name="office_open")(open_clock)


def enter_billing(phone, language_key: str = "1"):
    """Call, choose a language (1 English, 2 Spanish), press 1 for billing: the Enqueue TwiML."""
    phone.call()
    phone.press(language_key)
    return phone.press("1").first("Enqueue")


def wait(phone, enqueue, position: int, waited: int, average: int, size: int = 5):
    """Twilio requesting the Enqueue waitUrl for this caller."""
    return phone.post(enqueue.get("waitUrl"), {"QueuePosition": position, "QueueTime": waited,
                                               "AvgQueueTime": average, "CurrentQueueSize": size,
                                               "QueueSid": "QU" + "1" * 32})


def record(redis_client, phone) -> dict:
    """The call record of `phone`'s current call."""
    return redis_client.hgetall(f"ivr:call:{{{phone.sid}}}")


def strip_surveys(menus_dir) -> None:
    """Take post-call surveys out of a test's menus copy, so a finished call ends with goodbye."""
    routing = menus_dir / "routing.yaml"
    lines = routing.read_text().splitlines(keepends=True)
    routing.write_text("".join(x for x in lines if not x.lstrip().startswith(("survey:", "survey_rate:"))))


def test_billing_key_enqueues_with_wait_and_action_urls(phone, redis_client):
    enqueue = enter_billing(phone)
    assert enqueue.text == "billing"
    assert enqueue.get("waitUrl").startswith("/voice/queue/wait?")
    assert enqueue.get("action").startswith("/voice/queue/done?")
    assert record(redis_client, phone)["route"] == "queue:billing"


@pytest.mark.parametrize(("position", "waited", "average", "expected"), [
    (3, 60, 120, "Your estimated wait is about 5 minutes."),
    (2, 0, 30, "Your estimated wait is about one minute."),
    (1, 30, 40, "Your estimated wait is less than a minute."),
    (7, 0, 0, "Your estimated wait is less than a minute."),
])
def test_english_wait_announcements(phone, position, waited, average, expected):
    enqueue = enter_billing(phone)
    twiml = wait(phone, enqueue, position, waited, average)
    gather = twiml.first("Gather")
    assert twiml.said == [f"You are caller number {position}.", expected,
                          "To leave a message instead of waiting, press star."]
    assert "0 minutes" not in twiml.speech
    assert set(twiml.languages) == {"en-US"}
    assert gather.get("numDigits") == "1"
    assert gather.get("action").startswith("/voice/queue/key?")
    play = gather.find("Play")
    assert play.text == "/recordings/hold.wav"
    assert play.get("loop") == "3"  # 60 s between announcements, a 20 s clip


@pytest.mark.parametrize(("position", "waited", "average", "expected"), [
    (3, 60, 120, "Su tiempo de espera estimado es de unos 5 minutos."),
    (1, 0, 61, "Su tiempo de espera estimado es de unos 2 minutos."),
    (1, 50, 40, "Su tiempo de espera estimado es de menos de un minuto."),
])
def test_spanish_wait_announcements(phone, position, waited, average, expected):
    enqueue = enter_billing(phone, "2")
    twiml = wait(phone, enqueue, position, waited, average)
    assert twiml.said == [f"Usted es la persona número {position} en la fila.", expected,
                          "Para dejar un mensaje en lugar de esperar, oprima asterisco."]
    assert set(twiml.languages) == {"es-US"}
    assert twiml.first("Say").get("voice") == "Polly.Lupe-Neural"


def test_hold_music_never_runs_past_the_maximum_wait(phone):
    enqueue = enter_billing(phone)
    twiml = wait(phone, enqueue, 2, 590, 300)  # 10 s left of billing's 600 s
    assert twiml.first("Play").get("loop") == "1"
    assert not twiml.has("Leave")


def test_leaving_the_queue_by_key_goes_to_the_queue_voicemail(phone, redis_client):
    enqueue = enter_billing(phone)
    waiting = wait(phone, enqueue, 4, 95, 120)
    other_key = phone.post(waiting.first("Gather").get("action"), {"Digits": "5"})
    assert other_key.verbs == []  # any other key: keep waiting
    left = phone.post(waiting.first("Gather").get("action"), {"Digits": "*"})
    assert left.verbs == ["Leave"]
    done = phone.post(enqueue.get("action"), {"QueueResult": "leave", "QueueTime": 97})
    assert done.verbs == ["Say", "Record", "Redirect"]
    assert "You have reached billing" in done.speech
    assert "box=billing" in done.first("Record").get("action")
    fields = record(redis_client, phone)
    assert (fields["queue"], fields["queue_result"], fields["queue_time"]) == ("billing", "leave", "97")
    assert fields["leave_reason"] == "voicemail"
    assert "abandoned" not in fields


def test_maximum_wait_takes_the_caller_out_to_the_timeout_action(phone, redis_client):
    enqueue = enter_billing(phone)
    assert wait(phone, enqueue, 2, 600, 300).verbs == ["Leave"]
    assert record(redis_client, phone)["leave_reason"] == "timeout"
    done = phone.post(enqueue.get("action"), {"QueueResult": "leave", "QueueTime": 601})
    assert done.said[0] == "Sorry, all our agents are still busy."
    assert done.has("Record") and "box=billing" in done.first("Record").get("action")
    fields = record(redis_client, phone)
    assert (fields["queue_result"], fields["leave_reason"]) == ("leave", "timeout")


def test_twilio_queue_full_sends_the_caller_to_the_timeout_action(phone, redis_client):
    enqueue = enter_billing(phone)
    done = phone.post(enqueue.get("action"), {"QueueResult": "queue-full", "QueueTime": 0})
    assert done.said[0] == "Sorry, we are receiving too many calls right now."
    assert done.has("Record")
    assert record(redis_client, phone)["queue_result"] == "queue-full"


def test_our_max_size_takes_the_caller_out_as_full(make_app, menus_dir, redis_client):
    routing = menus_dir / "routing.yaml"
    routing.write_text(routing.read_text().replace("    leave_key: \"*\"\n",
                                                   "    leave_key: \"*\"\n    max_size: 2\n", 1))
    phone = Phone(make_app().test_client())
    enqueue = enter_billing(phone)
    assert wait(phone, enqueue, 2, 5, 60).has("Gather")  # within the limit: waits
    assert wait(phone, enqueue, 3, 5, 60).verbs == ["Leave"]
    done = phone.post(enqueue.get("action"), {"QueueResult": "leave", "QueueTime": 6})
    assert done.said[0] == "Sorry, we are receiving too many calls right now."
    assert done.has("Record")
    assert record(redis_client, phone)["leave_reason"] == "full"


def test_hang_up_while_waiting_is_abandoned_in_the_queue(phone, redis_client):
    enqueue = enter_billing(phone)
    wait(phone, enqueue, 1, 0, 30)
    done = phone.post(enqueue.get("action"), {"QueueResult": "hangup", "QueueTime": 42})
    assert done.verbs == []
    phone.post("/voice/status", {"CallStatus": "completed", "CallDuration": 70})
    fields = record(redis_client, phone)
    assert (fields["abandoned"], fields["queue_result"], fields["queue_time"]) == ("queue", "hangup", "42")
    assert (fields["status"], fields["duration"]) == ("completed", "70")


def test_a_redirected_queue_call_answers_nothing_more(phone, redis_client):
    enqueue = enter_billing(phone)
    done = phone.post(enqueue.get("action"), {"QueueResult": "redirected", "QueueTime": 12})
    assert done.status == 200 and done.verbs == []  # the call is already elsewhere
    assert record(redis_client, phone)["queue_result"] == "redirected"


def test_a_queue_error_still_gives_the_caller_the_timeout_action(phone, redis_client):
    enqueue = enter_billing(phone)
    done = phone.post(enqueue.get("action"), {"QueueResult": "error", "QueueTime": 0})
    assert done.said and done.has("Record")  # an apology-like message, then billing's voicemail
    assert "box=billing" in done.first("Record").get("action")
    assert record(redis_client, phone)["queue_result"] == "error"
