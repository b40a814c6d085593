"""The call webhooks: incoming call, menu keys, Twilio's fallback URL and the status callback."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from flask import Blueprint, request
from werkzeug.wrappers import Response

from handlers.security import runtime
from handlers.twiml import (
    Caller,
    apology,
    apology_twiml,
    caller,
    clock,
    now,
    step_twiml,
    twiml,
    voice_webhook,
)
from ivr.model import MenuSet
from ivr.navigator import Navigator
from ivr.returning import returning_step
from ivr.runtime import Runtime
from ivr.state import BadState, CallState
from ivr.steps import Step
from ivr.survey_flow import parts as survey_parts

bp = Blueprint("voice", __name__, url_prefix="/voice")

FINAL_STATUSES = {"completed", "busy", "no-answer", "failed", "canceled"}


@dataclass(frozen=True, slots=True)
class Webhook:
    """One voice webhook's inputs, whichever layer received it (Flask, or the fast path)."""

    form: Mapping[str, str]
    args: Mapping[str, str]
    clock: datetime


def flask_webhook() -> Webhook:
    """The current Flask request as a Webhook."""
    return Webhook(form=request.form, args=request.args, clock=clock())


@bp.post("/incoming")
@voice_webhook
def incoming() -> Response:
    """A new call (requests the fast path did not take: see handlers/fastpath.py)."""
    return twiml(incoming_twiml(runtime(), flask_webhook()))


@bp.post("/menu")
@voice_webhook
def menu() -> Response:
    """Keys pressed in a menu (requests the fast path did not take)."""
    return twiml(menu_twiml(runtime(), flask_webhook()))


def incoming_twiml(rt: Runtime, hook: Webhook) -> str:
    """A new call: greet a returning caller, else start at the line's first menu."""
    who = Caller(hook.form, rt)
    ms = rt.menus.current
    nav = Navigator(ms, now=hook.clock)
    hours = rt.config.int("IVR_RETURNING_HOURS")
    step = nav.start()
    window = hours * 3600
    # a welcome back only when the line is open (its first step a menu, not a closed message)
    returning = bool(who.hash and ms.line.returning and hours > 0 and step.gather is not None)
    catch_up, trim = rt.recent.catch_up(window) if returning else (None, [])
    if not returning:
        remembered: dict | None = {}
    elif catch_up:  # the catch-up's round trip is due: it reads the caller too
        remembered = None
    else:
        remembered = rt.recent.remembered(who.hash, now() - window)
    if remembered is not None:
        # no welcome-back on this line, or this process's index of recent routes knows the
        # caller is new or where it was routed last (see ivr/recent_callers.py): no read
        step = returning_step(nav, remembered, now(), hours) or step
        commands = start_commands(rt, hook, who, step, ms)
        if step.route is None:
            rt.events.defer(commands)  # batched and journalled (IVR_EVENT_BATCH_MS)
        else:  # a route straight away (a closed line...): written at once
            rt.events.write(commands)
        return step_twiml(rt, step, ms)
    # One round trip: read what we remember of the caller (and, once a second, the routes other
    # processes took since the index last looked) while recording the call's start (and the
    # events waiting for the next batch).
    reads = [rt.calls.caller_read(who.hash)] + ([catch_up] if catch_up else [])
    answers = rt.events.write_and_read_all(reads, start_commands(rt, hook, who, step, ms) + trim, None)
    if catch_up:
        rt.recent.absorb(None if answers is None else answers[1])
    welcome = returning_step(nav, answers[0] if answers is not None else {}, now(), hours)
    if welcome is not None:  # a returning caller: correct the first step, a navigation event
        # like a key press's (batched when IVR_EVENT_BATCH_MS is set)
        rt.events.defer(rt.calls.step(who.sid, 0, welcome.trail, {"lang": welcome.lang}))
        step = welcome
    return step_twiml(rt, step, ms)


def start_commands(rt: Runtime, hook: Webhook, who: Caller, step: Step, ms: MenuSet) -> list:
    """Commands recording a call's start with its first step (and a route taken at once)."""
    fields = {"caller": who.masked, "caller_hash": who.hash, "to": who.to, "version": ms.version,
              "lang": step.lang, "direction": hook.form.get("Direction", "inbound")}
    return rt.calls.started(who.sid, now(), fields) + rt.calls.step(who.sid, 0, step.trail) \
        + route_commands(rt, step, who)


def menu_twiml(rt: Runtime, hook: Webhook) -> str:
    """The caller pressed keys (or stayed silent) in a menu whose state is in the URL."""
    try:
        state = CallState.from_query(hook.args)
    except BadState:
        return apology_twiml(rt, hook.args.get("l"), hook.clock)
    ms = rt.menus.for_call(state.version)
    digits = hook.form.get("Digits", "")[:32]
    step = Navigator(ms, now=hook.clock).press(state, digits or None)
    who = Caller(hook.form, rt)  # the caller's hash and numbers are worked out only for a route
    fields = {"lang": step.lang, "last_menu": state.node}
    after = step.gather or step.route
    if after is not None and after.state.vars:  # digits the caller entered (order number...)
        fields.update({f"entered_{name}": value for name, value in after.state.vars.items()})
    commands = rt.calls.step(who.sid, state.step + 1, step.trail, fields)
    if step.route is None:
        rt.events.defer(commands)  # navigation only: batched when IVR_EVENT_BATCH_MS is set
    else:
        rt.events.write(commands + route_commands(rt, step, who))
    return step_twiml(rt, step, ms)


def route_commands(rt: Runtime, step, who: Caller) -> list:
    """Commands that record a route taken and remember it for the caller's next call."""
    if step.route is None:
        return []
    route = f"{step.route.kind}:{step.route.target}"
    commands = rt.calls.update(who.sid, {"route": route, "routed_at": now(), "lang": step.lang})
    hours = rt.config.int("IVR_RETURNING_HOURS")
    if who.hash and hours > 0:
        at = now()
        commands += rt.calls.remember_caller(who.hash, {"lang": step.lang, "dest": route, "at": at},
                                             hours * 3600)
        rt.recent.routed(who.hash, at, step.lang, route)  # known here at once
    return commands


@bp.post("/fallback")
@voice_webhook
def fallback() -> Response:
    """Twilio's fallback URL (our primary URL failed): apologise and route to the fallback."""
    return apology(request.args.get("l"))


@bp.post("/status")
@voice_webhook
def status() -> Response:
    """Twilio's call status callback: record the final status and duration."""
    rt, who = runtime(), caller()
    call_status = request.form.get("CallStatus", "")[:32]
    fields = {"status": call_status}
    duration = request.form.get("CallDuration", "")
    if duration.isdigit():
        fields["duration"] = duration
    commands = rt.calls.update(who.sid, fields)
    if call_status in FINAL_STATUSES:
        commands = rt.calls.ended(who.sid, now(), fields)
        commands += survey_parts(rt).store.call_ended(who.sid, now())  # settles a survey left midway
    rt.events.write(commands)
    return twiml('<?xml version="1.0" encoding="UTF-8"?><Response/>')
