"""A lean WSGI layer for the two webhooks every call hits most (incoming call, menu key press).

Each key press of every call lands on `/voice/menu`, so its cost bounds how many calls an
instance carries. Flask's per-request machinery (request context, session, URL map, response
object) costs more than the menu step itself; this layer serves well-formed, correctly signed
Twilio requests for those two paths straight from the WSGI environ with the same handler
functions the Flask routes use. Anything else (another path or method, a body that is not a
plain url-encoded form of acceptable size, a missing or wrong signature) goes to Flask untouched,
so every refusal and error answer stays in one place.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from io import BytesIO

from flask import Flask
from werkzeug.wsgi import ClosingIterator

from handlers.security import signature_for
from handlers.twiml import apology_twiml, clock_of
from handlers.voice import Webhook, incoming_twiml, menu_twiml
from handlers.webhook_request import form_pairs, query_pairs
from ivr.runtime import Runtime

log = logging.getLogger("ivr.voice")

Handler = Callable[[Runtime, Webhook], str]
ROUTES: dict[str, Handler] = {"/voice/incoming": incoming_twiml, "/voice/menu": menu_twiml}
FORM = "application/x-www-form-urlencoded"
DEFAULT_PORTS = {"http": ":80", "https": ":443"}


def first_values(pairs: list[tuple[str, str]]) -> dict[str, str]:
    """Name -> first value, as werkzeug's MultiDict.get answers."""
    values = dict(pairs)
    if len(values) < len(pairs):  # a name given twice (never from Twilio): keep the first
        values = {}
        for name, value in pairs:
            values.setdefault(name, value)
    return values


class Answer:
    """A response body that, once the server has sent it and closes it, lets the events that
    wait for their batch be written (`Batcher.after_response`): no caller waits for that."""

    __slots__ = ("data", "close")

    def __init__(self, data: bytes, close: Callable[[], None]):
        self.data, self.close = data, close

    def __iter__(self):
        return iter((self.data,))


class VoiceFastPath:
    """WSGI middleware: serves signed `ROUTES` requests itself and hands the rest to `wsgi_app`."""

    def __init__(self, app: Flask, wsgi_app: Callable, max_body: int):
        self.app, self.wsgi_app, self.max_body = app, wsgi_app, max_body
        self.rt: Runtime = app.extensions["ivr"]
        self.base = self.rt.config.get("IVR_PUBLIC_URL").rstrip("/")
        self.after_response = self.rt.events.after_response

    def __call__(self, env: dict, start_response: Callable) -> Iterable[bytes]:
        path = env.get("PATH_INFO", "")
        handler = ROUTES.get(path)
        length = env.get("CONTENT_LENGTH", "")
        if (handler is None or env.get("REQUEST_METHOD") != "POST"
                or not env.get("HTTP_X_TWILIO_SIGNATURE") or not length.isdigit()
                or int(length) > self.max_body
                or env.get("CONTENT_TYPE", "").partition(";")[0].strip().lower() != FORM):
            if path.startswith("/voice/"):  # Twilio's other webhooks also carry waiting events
                return ClosingIterator(self.wsgi_app(env, start_response), self.after_response)
            return self.wsgi_app(env, start_response)
        body = env["wsgi.input"].read(int(length))
        pairs = form_pairs(body)
        url = self.public_url(env)
        if not url or not signature_for(self.rt.auth_token).valid_pairs(
                url, pairs, env["HTTP_X_TWILIO_SIGNATURE"]):
            env["wsgi.input"] = BytesIO(body)  # Flask gives the refusal its usual answer
            return self.wsgi_app(env, start_response)
        hook = Webhook(form=first_values(pairs), args=first_values(query_pairs(
            env.get("QUERY_STRING", ""))), clock=clock_of(self.app.config))
        try:
            xml = handler(self.rt, hook)
        except Exception:  # the caller still hears an apology and the fallback, never silence
            log.exception("voice webhook %s failed for call %s", env["PATH_INFO"],
                          hook.form.get("CallSid", "?")[:64])
            xml = apology_twiml(self.rt, hook.args.get("l"), hook.clock)
        data = xml.encode("utf-8")
        start_response("200 OK", [("Content-Type", "text/xml; charset=utf-8"),
                                  ("Content-Length", str(len(data)))])
        return Answer(data, self.after_response)

    def public_url(self, env: Mapping) -> str:
        """The URL Twilio signed, built as `handlers.security.public_url` builds it ("" if unknown)."""
        base = self.base
        if not base:
            scheme, host = env.get("wsgi.url_scheme", "http"), env.get("HTTP_HOST", "")
            if not host:
                return ""
            base = scheme + "://" + host.removesuffix(DEFAULT_PORTS.get(scheme, "\0"))
        query = env.get("QUERY_STRING", "")
        return (base + env.get("SCRIPT_NAME", "") + env["PATH_INFO"]
                + ("?" + query if query else ""))
