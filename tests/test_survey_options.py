"""Survey options through the real webhooks: opt-in at the start, spoken comments, after a transfer."""

from __future__ import annotations

import pytest
import time_machine
from conftest import emptied_url
from phone import Phone
from test_survey_flow import OPEN, bridge, response, sid_sampled, to_support


@pytest.fixture(params=["single", "cluster"])
def redis_url(request: pytest.FixtureRequest) -> str:
    """Every survey test here runs on a single server and on a three-master cluster."""
    return emptied_url(request, request.param)

OPT_IN_MENU = """
menus:
  survey_optin:
    prompt:
      en-US: To take a short survey after your call, press 1. Otherwise, press 2.
      es-US: Para responder una breve encuesta después de su llamada, oprima 1. Si no, oprima 2.
    collect: {name: survey, digits: 1}
    otherwise: language
    attempts: 1
    fallback: language
"""

COMMENT = """\
      - id: comment
        type: comment
        max_length: 30
        prompt:
          en-US: After the tone, tell us how we could do better, then press pound.
          es-US: Después del tono, díganos cómo mejorar y luego oprima numeral.
"""


@pytest.fixture(autouse=True)
def office_open():
    """Support is open (frozen clock)."""
    with time_machine.travel(OPEN, tick=False) as traveller:
        yield traveller


def edit(path, old: str, new: str) -> None:
    """Replace `old` by `new` in a menu file of the test's copy (which must contain it)."""
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


@pytest.fixture
def opt_in_app(make_app, menus_dir):
    """Menus whose survey is asked at the start of the call, from an opt-in menu."""
    (menus_dir / "optin.yaml").write_text(OPT_IN_MENU)
    edit(menus_dir / "line.yaml", "start: language", "start: survey_optin")
    edit(menus_dir / "surveys.yaml", "ask: after_call", "ask: at_start")
    return make_app()


@pytest.mark.parametrize(("key", "disposition"), [("1", "completed"), ("2", "declined"), (None, None)])
def test_opt_in_at_the_start_of_the_call(opt_in_app, redis_client, key, disposition):
    phone = Phone(opt_in_app.test_client(), sid=sid_sampled())
    assert "To take a short survey after your call, press 1" in phone.call().speech
    if key:
        phone.press(key)
    else:
        phone.silence()  # silence at the opt-in: no survey, nothing recorded
    phone.press("1")
    phone.press("2")
    enqueue = phone.press("1").first("Enqueue")
    after = bridge(phone, enqueue)
    if key != "1":
        assert after.said == ["Thank you for calling. Goodbye."]
        stored = response(redis_client, phone)
        assert stored.get("disposition") == disposition
        return
    assert after.said == ["Thank you. Here is the first question."]  # no offer: they already said yes
    first = phone.post(after.first("Redirect").text)
    assert "How satisfied were you" in first.speech
    for digits in ("5", "1", "9"):
        phone.press(digits)
    stored = response(redis_client, phone)
    assert stored["disposition"] == "completed" and stored["started_at"] == stored["offered_at"]
    assert (stored["a:csat"], stored["a:resolved"], stored["a:nps"]) == ("5", "yes", "9")


@pytest.fixture
def comment_phone(make_app, menus_dir):
    """A caller on menus whose survey ends with a spoken comment."""
    edit(menus_dir / "surveys.yaml", "    invalid:\n", COMMENT + "    invalid:\n")
    return Phone(make_app().test_client(), sid=sid_sampled())


def through_nps(phone: Phone):
    """Accept the survey and answer the three keypad questions: the comment's TwiML."""
    after = bridge(phone, to_support(phone))
    phone.post(after.first("Redirect").text)
    for digits in ("1", "4", "1"):
        phone.press(digits)
    return phone.press("8")


def test_spoken_comment_is_recorded_and_transcribed(comment_phone, redis_client):
    phone = comment_phone
    twiml = through_nps(phone)
    assert twiml.verbs == ["Say", "Record", "Redirect"]
    assert "tell us how we could do better" in twiml.speech
    record = twiml.first("Record")
    assert (record.get("transcribe"), record.get("maxLength"), record.get("finishOnKey")) == ("true", "30", "#")
    transcription_url = record.get("transcribeCallback")
    url = "https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE1"
    closing = phone.post(record.get("action"), {"RecordingUrl": url, "RecordingDuration": 7})
    assert closing.said == ["Thank you for your feedback. Goodbye."]
    phone.post(transcription_url, {"TranscriptionText": "Shorter hold times please",
                                   "TranscriptionStatus": "completed"})
    stored = response(redis_client, phone)
    assert stored["kinds"].endswith(",comment:comment")
    assert (stored["a:comment"], stored["x:comment"]) == (url, "Shorter hold times please")
    assert stored["disposition"] == "completed"


def test_no_comment_is_a_skipped_question(comment_phone, redis_client):
    twiml = through_nps(comment_phone)
    closing = comment_phone.post(twiml.first("Redirect").text)  # Record heard nothing
    assert closing.said == ["Thank you for your feedback. Goodbye."]
    assert response(redis_client, comment_phone)["a:comment"] == ""


def test_survey_after_a_completed_transfer(make_app, menus_dir, redis_client):
    edit(menus_dir / "routing.yaml", "    on_fail: {voicemail: general}\n",
         "    on_fail: {voicemail: general}\n    survey: csat\n")
    phone = Phone(make_app().test_client(), sid=sid_sampled(rate=1.0))
    phone.call()
    phone.press("1")
    dial = phone.press("0").first("Dial")
    after = phone.post(dial.get("action"), {"DialCallStatus": "completed", "DialCallDuration": 95})
    phone.post(after.first("Redirect").text)
    for digits in ("1", "2", "2", "6"):
        phone.press(digits)
    stored = response(redis_client, phone)
    assert stored["transfer"] == "operator" and "queue" not in stored
    assert (stored["a:csat"], stored["a:resolved"], stored["a:nps"]) == ("2", "no", "6")
    assert redis_client.zrange("ivr:surveys:queue:operator", 0, -1) == [phone.sid]
    alert = redis_client.hgetall(f"ivr:alert:{{{phone.sid}:csat}}")
    assert (alert["queue"], alert["score"]) == ("operator", "2")


def test_a_queue_overrides_how_often_a_caller_is_surveyed(make_app, menus_dir, redis_client):
    # support asks the same caller again at once (the survey itself rests 30 days)
    edit(menus_dir / "routing.yaml", "    survey: csat\n    survey_rate: 30%\n  orders:",
         "    survey: csat\n    survey_rate: 30%\n    survey_once_per_days: 0\n  orders:")
    client = make_app(IVR_RETURNING_HOURS=0).test_client()
    first, second = (Phone(client, sid=sid_sampled()) for _ in range(2))
    for phone in (first, second):
        after = bridge(phone, to_support(phone))
        assert after.first("Redirect").text.startswith("/voice/survey/ask?"), after.text
        phone.post(after.first("Redirect").text)
        assert response(redis_client, phone)["disposition"] == "offered"


def test_a_queue_can_ask_at_the_start_a_survey_asked_after_the_call(make_app, menus_dir, redis_client):
    (menus_dir / "optin.yaml").write_text(OPT_IN_MENU)
    edit(menus_dir / "line.yaml", "start: language", "start: survey_optin")
    edit(menus_dir / "routing.yaml", "    survey: csat\n    survey_rate: 30%\n  orders:",
         "    survey: csat\n    survey_rate: 30%\n    survey_ask: at_start\n  orders:")
    phone = Phone(make_app().test_client(), sid=sid_sampled())
    assert "To take a short survey after your call, press 1" in phone.call().speech
    phone.press("2")  # no survey, thanks
    phone.press("1")
    phone.press("2")
    after = bridge(phone, phone.press("1").first("Enqueue"))
    assert after.said == ["Thank you for calling. Goodbye."] and not after.has("Redirect")
    assert response(redis_client, phone)["disposition"] == "declined"


def test_survey_overrides_are_checked(tmp_path):
    import shutil

    from appfixtures import ROOT

    from ivr.loader import check_menus

    menus = tmp_path / "menus"
    shutil.copytree(ROOT / "menus", menus)
    edit(menus / "routing.yaml", "    survey: csat\n    survey_rate: 30%\n  orders:",
         "    survey: csat\n    survey_rate: 30%\n    survey_ask: later\n    survey_once_per_days: -1\n  orders:")
    _, problems = check_menus(menus, ROOT / "recordings")
    messages = [str(p) for p in problems if p.is_error]
    text = (menus / "routing.yaml").read_text().splitlines()
    ask_line = next(i for i, line in enumerate(text, 1) if "survey_ask: later" in line)
    assert f"{menus / 'routing.yaml'}:{ask_line}: 'survey_ask' of queue 'support' must be one of " \
           "after_call, at_start, not 'later'" in messages
    assert f"{menus / 'routing.yaml'}:{ask_line + 1}: 'survey_once_per_days' must be a whole number " \
           "from 0 to 365, not -1" in messages
