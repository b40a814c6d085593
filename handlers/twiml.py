"""Shared pieces of the voice webhooks: signed-request guard, call context, safe TwiML answers."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from flask import Response, current_app, request
from werkzeug.exceptions import HTTPException

from handlers.security import runtime, verify_signature
from ivr.navigator import Navigator
from ivr.privacy import caller_hash, mask_number
from ivr.render import Urls, render
from ivr.render_routes import RouteRenderer
from ivr.steps import Step

log = logging.getLogger("ivr.voice")

LAST_RESORT = ('<?xml version="1.0" encoding="UTF-8"?><Response><Say>We are sorry, we are having '
               'a technical problem. Please call again later.</Say><Hangup/></Response>')


@dataclass(frozen=True)
class Caller:
    """Who is calling, as the webhook tells it: call id, keyed hash and masked number."""

    sid: str
    hash: str
    masked: str
    to: str


def caller() -> Caller:
    """The caller of the current webhook (numbers never kept in clear)."""
    rt = runtime()
    number = request.form.get("From", "")
    sid = request.form.get("CallSid", "")[:64] or "unknown"
    return Caller(sid=sid, hash=caller_hash(number, rt.hash_key) if number else "",
                  masked=mask_number(number, rt.config.int("IVR_CALLER_DIGITS_SHOWN")),
                  to=mask_number(request.form.get("To", "")))


def twiml(xml: str) -> Response:
    """A TwiML response."""
    return Response(xml, mimetype="text/xml")


def urls() -> Urls:
    """URL builder for TwiML (relative URLs, or absolute under IVR_PUBLIC_URL)."""
    return Urls(base=runtime().config.get("IVR_PUBLIC_URL").rstrip("/"))


def render_step(step: Step, ms) -> Response:
    """Render an engine step, routes included, as a TwiML response."""
    return twiml(render(step, ms, urls(), RouteRenderer(ms, urls())))


def apology(lang: str | None = None) -> Response:
    """Apologise and send the caller to the main menu's fallback; static TwiML if even that fails."""
    try:
        ms = runtime().menus.current
        lang = lang if lang in ms.languages else ms.default_language
        nav = Navigator(ms, now=clock())
        main = ms.menus[ms.line.main]
        from ivr.state import CallState

        state = CallState(node=main.id, lang=lang, version=ms.version)
        said = (ms.message("apology").speech(lang),)
        return render_step(nav.run(state, main.fallback, said, ("apology",), fallback=True), ms)
    except Exception:  # the very last line of defence: the caller must hear something
        log.exception("apology failed; answering static TwiML")
        return twiml(LAST_RESORT)


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


def clock() -> datetime:
    """The moment menus see for schedules: now, or the time `ivr simulate --at` set in IVR_CLOCK."""
    fixed = current_app.config.get("IVR_CLOCK")
    return fixed() if callable(fixed) else datetime.now(UTC)
