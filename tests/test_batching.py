"""Batched navigation events: no round trip per key press, nothing lost, order kept; fast form parsing."""

from __future__ import annotations

import time
from urllib.parse import parse_qsl, urlencode

import pytest
from phone import Phone

from handlers.webhook_request import form_pairs
from ivr import batcher
from ivr.calls import CallStore


def test_key_presses_wait_for_the_batch_and_a_route_writes_them_first(make_app, redis_client):
    app = make_app(IVR_EVENT_BATCH_MS=60_000)  # a window long enough that only our calls flush
    rt = app.extensions["ivr"]
    phone = Phone(app.test_client())
    phone.call()
    before = rt.writer.round_trips()
    phone.press("1")  # language -> main: navigation only
    phone.press("2")  # main -> support
    assert rt.writer.round_trips() == before  # no Redis round trip for navigation
    assert CallStore().path(redis_client, phone.sid) == ["menu language"]
    phone.press("*")  # back to main
    phone.press("0")  # transfer to the operator: a route is written at once, after the waiting events
    assert rt.writer.round_trips() == before + 1
    assert CallStore().path(redis_client, phone.sid) == [
        "menu language", "key 1 | language en-US | menu main", "key 2 | menu support",
        "key * | menu main", "key 0 | route transfer operator"]
    record = CallStore().get(redis_client, phone.sid)
    assert record["route"] == "transfer:operator" and record["last_menu"] == "main"


def test_flush_writes_waiting_events(make_app, redis_client):
    app = make_app(IVR_EVENT_BATCH_MS=60_000)
    phone = Phone(app.test_client())
    phone.call()
    phone.press("2")
    assert app.extensions["ivr"].events.flush() is True
    assert CallStore().path(redis_client, phone.sid)[-1] == "key 2 | language es-US | menu main"
    assert CallStore().get(redis_client, phone.sid)["lang"] == "es-US"


def test_the_first_webhook_after_a_window_writes_the_waiting_events_after_its_response(
        make_app, redis_client, monkeypatch):
    monkeypatch.setattr(batcher, "FALLBACK_WINDOWS", 10_000.0)  # the events thread stays out of it
    app = make_app(IVR_EVENT_BATCH_MS=50)
    rt = app.extensions["ivr"]
    assert rt.recent.load()  # new callers' incoming calls are batched too
    phone = Phone(app.test_client())
    phone.call()
    phone.press("1")  # inside the window: nothing written yet
    assert CallStore().path(redis_client, phone.sid) == []
    time.sleep(0.06)
    before = rt.writer.round_trips()
    other = Phone(app.test_client())
    assert other.call().said[0].startswith("Thank you")  # its response first, then the batch
    assert rt.writer.round_trips() == before + 1
    assert CallStore().path(redis_client, phone.sid) == ["menu language", "key 1 | language en-US | menu main"]
    assert CallStore().path(redis_client, other.sid) == ["menu language"]  # taken along


def test_events_of_a_quiet_line_are_written_by_the_events_thread(make_app, redis_client):
    app = make_app(IVR_EVENT_BATCH_MS=10)
    phone = Phone(app.test_client())
    phone.call()
    deadline = time.monotonic() + 10
    while CallStore().path(redis_client, phone.sid) != ["menu language"] and time.monotonic() < deadline:
        time.sleep(0.01)
    assert CallStore().path(redis_client, phone.sid) == ["menu language"]


def test_an_older_step_never_overwrites_a_newer_one(app, redis_client):
    store, writer = CallStore(), app.extensions["ivr"].writer
    writer.write(store.step("CAx", 5, ("menu support",), {"last_menu": "support", "lang": "es-US"}))
    writer.write(store.step("CAx", 3, ("menu main",), {"last_menu": "main", "lang": "en-US"}))  # late
    record = store.get(redis_client, "CAx")
    assert record["last_menu"] == "support" and record["lang"] == "es-US"
    assert store.path(redis_client, "CAx") == ["menu main", "menu support"]


@pytest.mark.parametrize("fields", [
    {"CallSid": "CA1", "From": "+15551234567", "Digits": "1#", "Empty": ""},
    {"TranscriptionText": "Hola, mi número es 5 5 5 & más = todo", "a b": "c+d%"},
])
def test_form_parser_agrees_with_the_standard_library(fields):
    body = urlencode(fields).encode()
    assert form_pairs(body) == parse_qsl(body.decode(), keep_blank_values=True)


def test_form_parser_refuses_too_many_fields():
    assert form_pairs(b"&".join(b"f%d=1" % i for i in range(1000))) == []
