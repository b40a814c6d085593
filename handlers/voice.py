"""The call webhooks: incoming call, menu keys, Twilio's fallback URL and the status callback."""

from __future__ import annotations

from flask import Blueprint, request
from werkzeug.wrappers import Response

from handlers.security import runtime
from handlers.twiml import apology, caller, clock, now, render_step, twiml, voice_webhook
from ivr.navigator import Navigator
from ivr.returning import returning_step
from ivr.state import BadState, CallState
from ivr.survey_flow import parts as survey_parts

bp = Blueprint("voice", __name__, url_prefix="/voice")

FINAL_STATUSES = {"completed", "busy", "no-answer", "failed", "canceled"}


@bp.post("/incoming")
@voice_webhook
def incoming() -> Response:
    """A new call: greet a returning caller, else start at the line's first menu."""
    rt, who = runtime(), caller()
    ms = rt.menus.current
    nav = Navigator(ms, now=clock())
    hours = rt.config.int("IVR_RETURNING_HOURS")
    step = nav.start()
    fields = {"caller": who.masked, "caller_hash": who.hash, "to": who.to, "version": ms.version,
              "lang": step.lang, "direction": request.form.get("Direction", "inbound")}
    commands = rt.calls.started(who.sid, now(), fields) + rt.calls.step(who.sid, 0, step.trail) \
        + route_commands(step, who)
    if not (who.hash and ms.line.returning and hours > 0):
        rt.writer.write(commands)
        return render_step(step, ms)
    # One round trip: read what we remember of the caller while recording the call's start.
    remembered = rt.writer.write_and_read(rt.calls.caller_read(who.hash), commands, {})
    welcome = returning_step(nav, remembered, now(), hours)
    if welcome is not None:  # a returning caller (the minority): correct the first step
        rt.writer.write(rt.calls.step(who.sid, 0, welcome.trail, {"lang": welcome.lang}))
        step = welcome
    return render_step(step, ms)


@bp.post("/menu")
@voice_webhook
def menu() -> Response:
    """The caller pressed keys (or stayed silent) in a menu whose state is in the URL."""
    rt, who = runtime(), caller()
    try:
        state = CallState.from_query(request.args.to_dict())
    except BadState:
        return apology(request.args.get("l"))
    ms = rt.menus.for_call(state.version)
    digits = request.form.get("Digits", "")[:32]
    step = Navigator(ms, now=clock()).press(state, digits or None)
    fields = {"lang": step.lang, "last_menu": state.node}
    after = step.gather or step.route
    if after is not None:  # digits the caller entered (order number...) are stored on the call
        fields.update({f"entered_{name}": value for name, value in after.state.vars.items()})
    commands = rt.calls.step(who.sid, state.step + 1, step.trail, fields)
    if step.route is None:
        rt.events.defer(commands)  # navigation only: batched when IVR_EVENT_BATCH_MS is set
    else:
        rt.events.write(commands + route_commands(step, who))
    return render_step(step, ms)


def route_commands(step, who) -> list:
    """Commands that record a route taken and remember it for the caller's next call."""
    rt = runtime()
    if step.route is None:
        return []
    route = f"{step.route.kind}:{step.route.target}"
    commands = rt.calls.update(who.sid, {"route": route, "routed_at": now(), "lang": step.lang})
    hours = rt.config.int("IVR_RETURNING_HOURS")
    if who.hash and hours > 0:
        commands += rt.calls.remember_caller(who.hash, {"lang": step.lang, "dest": route, "at": now()},
                                             hours * 3600)
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
    rt.writer.write(commands)
    return twiml('<?xml version="1.0" encoding="UTF-8"?><Response/>')
