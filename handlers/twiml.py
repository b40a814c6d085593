"""Shared pieces of the voice webhooks: signed-request guard, call context, safe TwiML answers."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from flask import Response, current_app, request
from werkzeug.exceptions import HTTPException

from handlers.security import runtime, verify_signature
from ivr.navigator import Navigator
from ivr.privacy import caller_hash, mask_number
from ivr.render import Urls, render
from ivr.render_routes import RouteRenderer
from ivr.runtime import Runtime
from ivr.state import CallState
from ivr.steps import Step

log = logging.getLogger("ivr.voice")

LAST_RESORT = ('<?xml version="1.0" encoding="UTF-8"?><Response><Say>We are sorry, we are having '
               'a technical problem. Please call again later.</Say><Hangup/></Response>')


class Caller:
    """Who is calling, as the webhook tells it: call id now; keyed hash and masked numbers when asked."""

    __slots__ = ("_form", "_rt", "sid", "_hash", "_masked", "_to")

    def __init__(self, form: Mapping[str, str], rt: Runtime):
        self._form, self._rt = form, rt
        self.sid = form.get("CallSid", "")[:64] or "unknown"
        self._hash = self._masked = self._to = None

    @property
    def hash(self) -> str:
        """The caller's keyed hash ("" when the webhook names no caller), worked out once."""
        if self._hash is None:
            number = self._form.get("From", "")
            self._hash = caller_hash(number, self._rt.hash_key) if number else ""
        return self._hash

    @property
    def masked(self) -> str:
        """The caller's number as records keep it (IVR_CALLER_DIGITS_SHOWN last digits)."""
        if self._masked is None:
            self._masked = mask_number(self._form.get("From", ""),
                                       self._rt.config.int("IVR_CALLER_DIGITS_SHOWN"))
        return self._masked

    def known_as(self, masked: str, hashed: str) -> None:
        """Take the caller's masked number and hash from the call record (a webhook without From)."""
        self._masked, self._hash = masked, hashed

    @property
    def to(self) -> str:
        """The number called, masked."""
        if self._to is None:
            self._to = mask_number(self._form.get("To", ""))
        return self._to


def caller() -> Caller:
    """The caller of the current webhook (numbers never kept in clear)."""
    return Caller(request.form, runtime())


def twiml(xml: str) -> Response:
    """A TwiML response."""
    return Response(xml, mimetype="text/xml")


def urls(rt: Runtime | None = None) -> Urls:
    """URL builder for TwiML (relative URLs, or absolute under IVR_PUBLIC_URL)."""
    return Urls(base=(rt or runtime()).config.get("IVR_PUBLIC_URL").rstrip("/"))


def step_twiml(rt: Runtime, step: Step, ms) -> str:
    """The TwiML document of an engine step, routes included."""
    u = urls(rt)
    return render(step, ms, u, RouteRenderer(ms, u))


def render_step(step: Step, ms) -> Response:
    """Render an engine step, routes included, as a TwiML response."""
    return twiml(step_twiml(runtime(), step, ms))


def apology_twiml(rt: Runtime, lang: str | None, when: datetime) -> str:
    """Apologise and send the caller to the main menu's fallback; static TwiML if even that fails."""
    try:
        ms = rt.menus.current
        lang = lang if lang in ms.languages else ms.default_language
        main = ms.menus[ms.line.main]
        state = CallState(node=main.id, lang=lang, version=ms.version)
        said = (ms.message("apology").speech(lang),)
        step = Navigator(ms, now=when).run(state, main.fallback, said, ("apology",), fallback=True)
        return step_twiml(rt, step, ms)
    except Exception:  # the very last line of defence: the caller must hear something
        log.exception("apology failed; answering static TwiML")
        return LAST_RESORT


def apology(lang: str | None = None) -> Response:
    """The apology TwiML as a response of the current webhook."""
    return twiml(apology_twiml(runtime(), lang, clock()))


def voice_webhook(fn: Callable[..., Response]) -> Callable[..., Response]:
    """Verify the Twilio signature, then run `fn`; any unexpected error still answers TwiML."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs) -> Response:
        verify_signature()
        try:
            return fn(*args, **kwargs)
        except HTTPException:
            raise
        except Exception:
            sid = request.form.get("CallSid", "?")[:64]
            log.exception("voice webhook %s failed for call %s", request.path, sid)
            return apology(request.args.get("l"))

    return wrapper


def now() -> float:
    """Current time as a UNIX timestamp (UTC)."""
    return time.time()


def clock_of(config: Mapping) -> datetime:
    """The moment menus see for schedules: now, or the time `ivr simulate --at` set in IVR_CLOCK."""
    fixed = config.get("IVR_CLOCK")
    return fixed() if callable(fixed) else datetime.now(UTC)


def clock() -> datetime:
    """The moment menus see in the current webhook."""
    return clock_of(current_app.config)
