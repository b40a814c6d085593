"""Route webhooks: queue wait and outcome, agents taking calls, voicemail and transfer results."""

from __future__ import annotations

from flask import Blueprint, abort, request
from twilio.twiml.voice_response import VoiceResponse
from werkzeug.wrappers import Response

from handlers.security import runtime
from handlers.twiml import apology, caller, clock, now, render_step, twiml, urls, voice_webhook
from ivr.model import Action, MenuSet, Speech
from ivr.navigator import Navigator
from ivr.privacy import mask_number
from ivr.queueing import WaitingList, once_per_event, wait_twiml
from ivr.render import speak
from ivr.state import BadState, CallState
from ivr.steps import Step

bp = Blueprint("routing", __name__, url_prefix="/voice")
EMPTY = '<?xml version="1.0" encoding="UTF-8"?><Response/>'
WAITING = WaitingList()



def one_verb(verb: str) -> str:
    """A TwiML document holding a single verb such as `<Hangup/>` (inside its `<Response>`)."""
    response = VoiceResponse()
    getattr(response, verb)()
    return str(response)

def call_state() -> tuple[CallState, MenuSet]:
    """The call state in the URL and the menu version it runs on (400 when malformed)."""
    try:
        state = CallState.from_query(request.args.to_dict())
    except BadState as exc:
        abort(400, str(exc))
    return state, runtime().menus.for_call(state.version)


def _int(name: str) -> int:
    value = request.form.get(name, "")
    return int(value) if value.isdigit() else 0


def after_agent(ms: MenuSet, state: CallState, holder, pending: list) -> Step:
    """What a caller hears once the agent leg ends: the post-call survey when one applies, else
    goodbye. `pending`: this webhook's writes, sent in the survey's round trip (or alone)."""
    from ivr.survey_flow import survey_after_call

    if request.form.get("CallStatus", "in-progress") not in ("in-progress", "ringing"):
        # The caller hung up with the agent: nobody to survey (and no survey to count as offered).
        runtime().events.write(pending)
        return Step(lang=state.lang, hangup=True)
    step = survey_after_call(runtime(), ms, state, holder, caller(), pending)
    if step is not None:
        return step
    return Step(lang=state.lang, say=(ms.message("goodbye").speech(state.lang),), hangup=True)


# -- queues ------------------------------------------------------------------------------------
@bp.post("/queue/wait")
@voice_webhook
def queue_wait() -> Response:
    """Twilio's wait URL: announcements, hold music, and taking the caller out when needed."""
    state, ms = call_state()
    queue = ms.queues.get(request.args.get("q", ""))
    if queue is None:
        return twiml(one_verb("leave"))
    rt, sid = runtime(), caller().sid
    xml, reason = wait_twiml(ms, queue, state, request.form.to_dict(), urls(), rt.config.path("IVR_RECORDINGS"))
    if reason:
        rt.events.write(rt.calls.update(sid, {"leave_reason": reason}) + WAITING.left(queue.name, sid))
    else:
        rt.events.write(WAITING.joined(queue.name, sid, now() - _int("QueueTime"), queue.max_wait + 3600))
    return twiml(xml)


@bp.post("/queue/key")
@voice_webhook
def queue_key() -> Response:
    """A key pressed while waiting: the leave key takes the caller to voicemail."""
    state, ms = call_state()
    queue = ms.queues.get(request.args.get("q", ""))
    response = VoiceResponse()
    if queue and queue.voicemail and request.form.get("Digits", "")[:1] == queue.leave_key:
        rt = runtime()
        rt.events.write(rt.calls.update(caller().sid, {"leave_reason": "voicemail"}))
        response.leave()
    return twiml(str(response))


@bp.post("/queue/done")
@voice_webhook
def queue_done() -> Response:
    """Enqueue's action: record the outcome and time to answer, then survey, voicemail or goodbye."""
    state, ms = call_state()
    rt, who = runtime(), caller()
    queue = ms.queues.get(request.args.get("q", ""))
    result = request.form.get("QueueResult", "")[:32]
    fields = {"queue": request.args.get("q", ""), "queue_result": result, "queue_time": _int("QueueTime"),
              "left_queue_at": now()}
    reason = ""
    if result == "leave":
        reason = rt.writer.read(lambda c: c.hget(rt.calls.key(who.sid), "leave_reason"), None) or \
            ("timeout" if queue and _int("QueueTime") >= queue.max_wait else "voicemail")
        fields["leave_reason"] = reason
    if result == "hangup":
        fields["abandoned"] = "queue"
    mark = ("queue_event", f"{fields['queue']}:{result}:{fields['queue_time']}")
    commands = once_per_event(rt.calls.key(who.sid), mark, fields, rt.calls.retention_seconds) \
        + WAITING.left(fields["queue"], who.sid)
    if queue is not None and result == "bridged":  # these writes go with the survey's lookup
        return render_step(after_agent(ms, state, queue, commands), ms)
    rt.events.write(commands)
    if queue is None or result in ("hangup", "redirected"):
        return twiml(EMPTY)
    nav = Navigator(ms, now=clock())
    if reason == "voicemail" and queue.voicemail:
        return render_step(nav.run(state, Action(kind="voicemail", target=queue.voicemail), (), ("left queue",)), ms)
    message = "queue_full" if result == "queue-full" or reason == "full" else "queue_timeout"
    then = queue.on_timeout or Action(kind="say", message=ms.message("goodbye"))
    said = (ms.message(message).speech(state.lang),)
    return render_step(nav.run(state, then, said, (f"queue {reason or result}",), fallback=True), ms)


# -- agents ------------------------------------------------------------------------------------
@bp.post("/agent/<queue_name>")
@voice_webhook
def agent(queue_name: str) -> Response:
    """An agent takes the next caller of a queue, first hearing which queue and how long they waited."""
    rt = runtime()
    ms = rt.menus.current
    queue = ms.queues.get(queue_name)
    if queue is None:
        abort(404, f"no queue named {queue_name!r}")
    # A named agent (?agent=alice, or a Twilio Client identity); a phone number is kept masked.
    identity = (request.args.get("agent") or mask_number(request.form.get("From")) or "agent")[:64]
    waited = rt.writer.read(lambda c: WAITING.longest_wait(c, queue_name, now(), queue.max_wait + 3600), None)
    u = urls()
    response = VoiceResponse()
    if waited is not None:
        speak(response, Speech(text=whisper_text(ms, queue, waited)), ms.default_language, ms, u)
    dial = response.dial(action=u.path("/voice/queue/agent-done", {"q": queue_name}), method="POST")
    dial.queue(queue_name, url=u.path("/voice/queue/answered", {"q": queue_name, "agent": identity}),
               method="POST")
    return twiml(str(response))


def whisper_text(ms: MenuSet, queue, waited: float) -> str:
    """What the agent hears before the bridge, such as "Billing call, waited 2 minutes."."""
    lang = ms.default_language
    title = (queue.title.speech(lang).text if queue.title else None) or queue.name
    minutes = round(waited / 60)
    name = "whisper_short" if waited < 60 else "whisper_one" if minutes == 1 else "whisper"
    text = ms.message(name).speech(lang).text or ""
    return text.replace("{queue}", title).replace("{minutes}", str(minutes))


@bp.post("/queue/answered")
@voice_webhook
def queue_answered() -> Response:
    """Queue's url, run on the caller's leg as an agent takes them: record who answered and when."""
    rt = runtime()
    sid = request.form.get("CallSid", "")[:64]
    fields = {"agent": request.args.get("agent", "")[:64], "answered_at": now(),
              "queue_time": _int("QueueTime")}
    mark = ("answer_event", request.form.get("DequeingCallSid", "")[:64] or fields["agent"])
    rt.events.write(once_per_event(rt.calls.key(sid), mark, fields, rt.calls.retention_seconds)
                    + WAITING.left(request.args.get("q", ""), sid))
    return twiml(EMPTY)


@bp.post("/queue/agent-done")
@voice_webhook
def agent_done() -> Response:
    """The agent's leg ended: hang up the agent side."""
    return twiml(one_verb("hangup"))


# -- voicemail ---------------------------------------------------------------------------------
@bp.post("/voicemail/done")
@voice_webhook
def voicemail_done() -> Response:
    """Record's action: thank the caller, or say nothing was recorded; then goodbye."""
    state, ms = call_state()
    recorded = _int("RecordingDuration") > 0 and request.form.get("RecordingUrl")
    message = "voicemail_saved" if recorded else "voicemail_empty"
    rt = runtime()
    rt.events.write(rt.calls.update(caller().sid, {"voicemail": "left" if recorded else "empty"}))
    said = (ms.message(message).speech(state.lang), ms.message("goodbye").speech(state.lang))
    return render_step(Step(lang=state.lang, say=said, hangup=True), ms)


@bp.post("/voicemail/recording")
@voice_webhook
def voicemail_recording() -> Response:
    """Recording status callback: store the message (once, however often Twilio repeats it)."""
    state, ms = call_state()
    rt, who = runtime(), caller()
    rid = request.form.get("RecordingSid", "")[:64]
    if not rid:
        abort(400, "RecordingSid is missing")
    ok = request.form.get("RecordingStatus", "completed") == "completed"
    duration = _int("RecordingDuration") if ok else 0
    if not who.hash:  # recording callbacks carry no From: take the caller from the call record
        known = rt.writer.read(lambda c: c.hmget(rt.calls.key(who.sid), "caller", "caller_hash"), [])
        if known:
            who.known_as(known[0] or "", known[1] or "")
    fields = {"box": request.args.get("box", ""), "call_sid": who.sid, "caller": who.masked,
              "caller_hash": who.hash, "lang": state.lang, "url": request.form.get("RecordingUrl", "")}
    rt.events.write(rt.voicemail.recorded(rid, now(), fields, duration)
                    + rt.calls.update(who.sid, {"voicemail_id": rid}))
    return twiml(EMPTY)


@bp.post("/voicemail/transcription")
@voice_webhook
def voicemail_transcription() -> Response:
    """Transcription callback: attach the text to the message."""
    rt = runtime()
    rid = request.form.get("RecordingSid", "")[:64]
    if not rid:
        abort(400, "RecordingSid is missing")
    text = request.form.get("TranscriptionText", "")[:10_000]
    rt.events.write(rt.voicemail.transcribed(rid, text, request.form.get("TranscriptionStatus", "")[:32]))
    return twiml(EMPTY)


# -- transfers ---------------------------------------------------------------------------------
@bp.post("/transfer/done")
@voice_webhook
def transfer_done() -> Response:
    """Dial's action: after a completed call the survey; on no answer, busy or failure the fallback."""
    state, ms = call_state()
    rt, who = runtime(), caller()
    transfer = ms.transfers.get(request.args.get("t", ""))
    status = request.form.get("DialCallStatus", "")[:32]
    commands = rt.calls.update(who.sid, {"transfer": request.args.get("t", ""), "transfer_result": status,
                                         "talk_time": _int("DialCallDuration")})
    if transfer is not None and status == "completed":  # these writes go with the survey's lookup
        return render_step(after_agent(ms, state, transfer, commands), ms)
    rt.events.write(commands)
    if transfer is None:
        return apology(state.lang)
    then = transfer.on_fail or Action(kind="say", message=ms.message("goodbye"))
    said = (ms.message("transfer_failed").speech(state.lang),)
    return render_step(Navigator(ms, now=clock()).run(state, then, said, (f"transfer {status}",), fallback=True), ms)
