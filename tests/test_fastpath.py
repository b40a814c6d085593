"""The lean WSGI layer for the hot webhooks answers exactly what the Flask routes answer."""

from __future__ import annotations

import pytest
from phone import Phone

from handlers.fastpath import VoiceFastPath


class FlaskCount:
    """Wraps the Flask WSGI app under the fast path and counts the requests that reach it."""

    def __init__(self, app):
        self.fast: VoiceFastPath = app.wsgi_app
        self.inner, self.count = self.fast.wsgi_app, 0
        self.fast.wsgi_app = self

    def __call__(self, environ, start_response):
        self.count += 1
        return self.inner(environ, start_response)


@pytest.fixture
def flask_count(app) -> FlaskCount:
    return FlaskCount(app)


def serve_by_flask(app):
    """The same app with the fast path taken out (every request through the Flask routes)."""
    app.wsgi_app = app.wsgi_app.wsgi_app
    return app


def walk(phone: Phone) -> list[str]:
    """A call through language choice, a submenu, a wrong key, silence and an order number."""
    phone.call()
    for keys in ("1", "2", "9", None, "*", "3", "12345#"):
        phone.silence() if keys is None else phone.press(keys)
    return [t.text for t in phone.history]


def test_fast_path_serves_signed_webhooks_without_flask(app, flask_count):
    phone = Phone(app.test_client())
    walk(phone)
    assert flask_count.count == 0
    assert phone.history[-1].status == 200


def test_fast_path_and_flask_routes_answer_the_same_twiml(make_app):
    fast = Phone(make_app().test_client(), sid="CA" + "1" * 32, number="+15550000001")
    slow = Phone(serve_by_flask(make_app()).test_client(), sid="CA" + "2" * 32, number="+15550000002")
    fast_texts, slow_texts = walk(fast), walk(slow)
    assert fast_texts == slow_texts
    assert [t.response.headers["Content-Type"] for t in fast.history] == \
        [t.response.headers["Content-Type"] for t in slow.history]


def test_call_records_are_the_same_whichever_layer_served(make_app, redis_client):
    from ivr.calls import CallStore

    calls = CallStore()
    fast = Phone(make_app().test_client(), sid="CA" + "3" * 32, number="+15550000003")
    slow = Phone(serve_by_flask(make_app()).test_client(), sid="CA" + "4" * 32, number="+15550000004")
    walk(fast), walk(slow)
    volatile = {"started", "updated", "caller", "caller_hash", "routed_at", "step_at"}
    fast_record = {k: v for k, v in redis_client.hgetall(calls.key(fast.sid)).items() if k not in volatile}
    slow_record = {k: v for k, v in redis_client.hgetall(calls.key(slow.sid)).items() if k not in volatile}
    assert fast_record and fast_record == slow_record
    fast_path, slow_path = (redis_client.hgetall(calls.path_key(p.sid)) for p in (fast, slow))
    assert len(fast_path) == 8 and fast_path == slow_path


def test_bad_signature_is_refused_by_flask_with_403(app, flask_count):
    phone = Phone(app.test_client(), token="not-the-token")
    response = phone.post("/voice/incoming", raw=True)
    assert response.status_code == 403
    assert response.mimetype == "text/plain" and "X-Twilio-Signature" in response.get_data(as_text=True)
    assert flask_count.count == 1


@pytest.mark.parametrize("tweak", ["get", "json", "no signature", "repeated field"])
def test_other_requests_go_to_flask(app, flask_count, tweak):
    phone = Phone(app.test_client())
    client = app.test_client()
    form = {"CallSid": "CA9", "From": "+15550001234"}
    headers = {"X-Twilio-Signature": phone.sign("http://localhost/voice/incoming", form)}
    if tweak == "get":
        response = client.get("/voice/incoming", headers=headers)
        assert response.status_code == 405
    elif tweak == "json":
        response = client.post("/voice/incoming", json=form, headers=headers)
        assert response.status_code == 403
    elif tweak == "no signature":
        response = client.post("/voice/incoming", data=form)
        assert response.status_code == 403
    else:  # a field given twice: served (by either layer) with the first value, as werkzeug reads it
        body = "CallSid=CA9&From=%2B15550001234&From=%2B15559999999"
        from werkzeug.datastructures import MultiDict

        signature = phone.sign("http://localhost/voice/incoming", MultiDict(
            [("CallSid", "CA9"), ("From", "+15550001234"), ("From", "+15559999999")]))
        response = client.post("/voice/incoming", data=body, headers={
            "X-Twilio-Signature": signature, "Content-Type": "application/x-www-form-urlencoded"})
        assert response.status_code == 200 and flask_count.count == 0
        return
    assert flask_count.count == 1


def test_unexpected_error_on_the_fast_path_still_answers_twiml(phone, app, flask_count, monkeypatch):
    from ivr import navigator

    def broken(self, state, digits):
        raise RuntimeError("boom")

    phone.call()
    monkeypatch.setattr(navigator.Navigator, "press", broken)
    answer = phone.press("1")
    assert answer.status == 200 and flask_count.count == 0
    assert answer.said[0] == "We are sorry, we are having a technical problem."
    assert answer.has("Gather") or answer.has("Enqueue") or answer.has("Hangup")
    assert "boom" not in answer.text


def test_fast_path_honours_trusted_proxies_and_public_url(make_app):
    for settings, url, headers in (
            ({"IVR_TRUSTED_PROXIES": 1}, "https://ivr.example.com/voice/incoming",
             {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "ivr.example.com"}),
            ({"IVR_PUBLIC_URL": "https://public.example.com/"}, "https://public.example.com/voice/incoming", {})):
        app = make_app(**settings)
        counted = FlaskCount(app if "IVR_PUBLIC_URL" in settings else _unwrap_proxy(app))
        form = {"CallSid": "CA9", "From": "+15550001234"}
        headers = {**headers, "X-Twilio-Signature": Phone(None).sign(url, form)}
        assert app.test_client().post("/voice/incoming", data=form, headers=headers).status_code == 200
        assert counted.count == 0, settings


def _unwrap_proxy(app):
    """A stand-in app object whose wsgi_app is the fast path under ProxyFix."""

    class Inner:
        wsgi_app = app.wsgi_app.app

    return Inner
