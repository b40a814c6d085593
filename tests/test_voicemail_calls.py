"""Voicemail through the real webhooks and the staff CLI: messages, transcriptions, duplicates."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from phone import Phone

from ivr.cli import main
from ivr.voicemail import VoicemailStore

STORE = VoicemailStore()
# Twilio's recording and transcription callbacks carry the call id but no caller number.
NO_CALLER = {"From": "", "To": ""}


def leave_message(phone: Phone):
    """Call, choose English, press 9: the greeting and Record TwiML."""
    phone.call()
    phone.press("1")
    return phone.press("9")


def recording_done(phone: Phone, record, rid: str = "RE" + "1" * 32, seconds: int = 12,
                   status: str = "completed"):
    """Twilio's recording status callback for the Record in `record`."""
    form = {**NO_CALLER, "RecordingSid": rid, "RecordingStatus": status, "RecordingDuration": seconds,
            "RecordingUrl": f"https://api.twilio.com/recordings/{rid}"}
    return phone.post(record.get("recordingStatusCallback"), form)


def transcription_done(phone: Phone, record, rid: str = "RE" + "1" * 32, text: str = "Call me back"):
    """Twilio's transcription callback for the Record in `record`."""
    form = {**NO_CALLER, "RecordingSid": rid, "TranscriptionText": text,
            "TranscriptionStatus": "completed", "TranscriptionSid": "TR" + "1" * 32}
    return phone.post(record.get("transcribeCallback"), form)


def vm_cli(redis_url: str, *args: str):
    return CliRunner().invoke(main, ["voicemail", *args], env={"REDIS_URL": redis_url})


def test_greeting_then_record_with_transcription(phone):
    twiml = leave_message(phone)
    assert twiml.verbs == ["Say", "Record", "Redirect"]
    assert twiml.said[0].startswith("Please leave your name, number and a short message")
    record = twiml.first("Record")
    assert (record.get("maxLength"), record.get("finishOnKey"), record.get("playBeep")) == ("120", "#", "true")
    assert record.get("transcribe") == "true"
    assert record.get("transcribeCallback").startswith("/voice/voicemail/transcription?")
    assert "box=general" in record.get("recordingStatusCallback")


def test_message_is_stored_once_with_caller_masked(phone, redis_client):
    record = leave_message(phone).first("Record")
    thanks = phone.post(record.get("action"), {"RecordingUrl": "https://api.twilio.com/r", "RecordingDuration": 12})
    assert thanks.said == ["Thank you, your message has been recorded.", "Thank you for calling. Goodbye."]
    assert thanks.verbs[-1] == "Hangup"
    recording_done(phone, record)
    recording_done(phone, record)  # Twilio repeats the callback
    messages = STORE.list(redis_client)
    assert len(messages) == 1
    message = messages[0]
    assert (message["box"], message["status"], message["duration"], message["lang"]) == ("general", "new", "12", "en-US")
    assert message["caller"] == "+1******4567"
    assert message["caller_hash"] and message["call_sid"] == phone.sid
    call = redis_client.hgetall(f"ivr:call:{{{phone.sid}}}")
    assert (call["voicemail"], call["voicemail_id"]) == ("left", message["id"])


@pytest.mark.parametrize("transcription_first", [False, True])
def test_transcription_attaches_in_either_order(phone, redis_client, transcription_first):
    record = leave_message(phone).first("Record")
    steps = [lambda: recording_done(phone, record), lambda: transcription_done(phone, record)]
    for step in reversed(steps) if transcription_first else steps:
        step()
    transcription_done(phone, record)  # and a repeated transcription callback changes nothing
    messages = STORE.list(redis_client)
    assert len(messages) == 1
    assert messages[0]["transcription"] == "Call me back"
    assert messages[0]["duration"] == "12"
    assert messages[0]["caller"] == "+1******4567"


def test_a_repeated_callback_keeps_the_status_staff_set(phone, redis_client):
    record = leave_message(phone).first("Record")
    recording_done(phone, record)
    assert STORE.mark(redis_client, "RE" + "1" * 32, "handled")
    recording_done(phone, record)
    assert [m["status"] for m in STORE.list(redis_client)] == ["handled"]


def test_box_without_transcription(make_app, menus_dir, redis_client):
    routing = menus_dir / "routing.yaml"
    text = routing.read_text()
    routing.write_text(text.replace("    max_length: 120\n    transcribe: true", "    max_length: 120\n    transcribe: false"))
    phone = Phone(make_app().test_client())
    record = leave_message(phone).first("Record")
    assert record.get("transcribe") is None and record.get("transcribeCallback") is None
    recording_done(phone, record, seconds=7)
    [message] = STORE.list(redis_client)
    assert message["duration"] == "7" and "transcription" not in message


def test_empty_recording_is_recorded_as_such_and_not_listed(phone, redis_client):
    twiml = leave_message(phone)
    record = twiml.first("Record")
    # Record heard nothing: Twilio goes on to the Redirect after it, and reports an absent recording.
    said = phone.post(twiml.first("Redirect").text)
    assert said.said == ["We did not receive a message.", "Thank you for calling. Goodbye."]
    recording_done(phone, record, seconds=0, status="absent")
    assert STORE.list(redis_client) == []
    assert redis_client.zcard(STORE.EMPTY) == 1
    assert redis_client.hget(STORE.key("RE" + "1" * 32), "status") == "empty"
    assert redis_client.hget(f"ivr:call:{{{phone.sid}}}", "voicemail") == "empty"


def test_cli_lists_and_marks_messages(phone, redis_url):
    record = leave_message(phone).first("Record")
    recording_done(phone, record, rid="RE" + "2" * 32)
    transcription_done(phone, record, rid="RE" + "2" * 32, text="Please call me about my invoice")
    recording_done(phone, record, rid="RE" + "3" * 32, seconds=0, status="absent")
    listed = vm_cli(redis_url, "list")
    assert listed.exit_code == 0, listed.output
    assert "RE" + "2" * 32 in listed.output and "RE" + "3" * 32 not in listed.output
    assert "general" in listed.output and "+1******4567" in listed.output
    assert "Please call me about my invoice" in listed.output
    assert vm_cli(redis_url, "list", "--box", "billing").output.strip() == "no messages"
    marked = vm_cli(redis_url, "mark", "RE" + "2" * 32, "handled")
    assert marked.exit_code == 0 and "handled" in marked.output
    assert "RE" + "2" * 32 in vm_cli(redis_url, "list", "--status", "handled").output
    assert vm_cli(redis_url, "list", "--status", "new").output.strip() == "no messages"
    missing = vm_cli(redis_url, "mark", "RE" + "3" * 32, "heard")  # the empty one is no message
    assert missing.exit_code == 1
    assert vm_cli(redis_url, "mark", "RE" + "2" * 32, "deleted").exit_code == 2


def test_hang_up_during_the_greeting_leaves_no_message(phone, redis_client):
    leave_message(phone)
    # Twilio sends no recording callback at all; only the call's final status arrives.
    phone.post("/voice/status", {"CallStatus": "completed", "CallDuration": 9})
    assert STORE.list(redis_client) == []
    assert redis_client.zcard(STORE.EMPTY) == 0
    call = redis_client.hgetall(f"ivr:call:{{{phone.sid}}}")
    assert (call["route"], call["status"]) == ("voicemail:general", "completed")
    assert "voicemail_id" not in call
