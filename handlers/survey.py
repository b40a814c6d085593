"""Survey webhooks: the offer and questions, keys pressed, spoken comments and their transcriptions."""

from __future__ import annotations

from flask import Blueprint, abort, request
from werkzeug.wrappers import Response

from handlers.security import runtime
from handlers.twiml import caller, now, twiml, urls, voice_webhook
from ivr.state import BadState
from ivr.survey_flow import SurveyFlow, SurveyState, Turn, holder_of, parts, survey_twiml

bp = Blueprint("survey", __name__, url_prefix="/voice/survey")
EMPTY = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


def _flow() -> tuple[SurveyState, SurveyFlow | None]:
    """The survey state in the URL and a flow on the survey it names (None when it is gone)."""
    try:
        st = SurveyState.from_query(request.args.to_dict())
    except BadState as exc:
        abort(400, str(exc))
    ms = runtime().menus.for_call(st.version)
    survey = ms.surveys.get(st.survey)
    return st, SurveyFlow(survey, parts(runtime()), caller().sid, now()) if survey else None


def _answer(turn: Turn, flow: SurveyFlow | None, version: str) -> Response:
    """Write the turn's commands in one round trip, wake the alert sender, and render the TwiML."""
    rt = runtime()
    if turn.commands:
        rt.events.write(turn.commands)
    if turn.alert:
        parts(rt).sender.kick()
    ms = rt.menus.for_call(version)
    return twiml(survey_twiml(turn, flow.survey if flow else None, ms, urls()))


def _gone(st: SurveyState) -> Response:
    """The survey was removed from the menus mid-call: say goodbye rather than fail."""
    ms = runtime().menus.for_call(st.version)
    return _answer(Turn(lang=st.lang, say=(ms.message("goodbye").speech(st.lang),)), None, st.version)


@bp.post("/ask")
@voice_webhook
def ask() -> Response:
    """Ask the offer or a question (reached by a Redirect after the agent leg ends)."""
    st, flow = _flow()
    if flow is None:
        return _gone(st)
    holder = holder_of(runtime().menus.for_call(st.version), st)
    return _answer(flow.ask(st, caller().hash, holder), flow, st.version)


@bp.post("/key")
@voice_webhook
def key() -> Response:
    """The caller pressed keys (or stayed silent) for the offer or a question."""
    st, flow = _flow()
    if flow is None:
        return _gone(st)
    return _answer(flow.press(st, request.form.get("Digits", "")[:8] or None), flow, st.version)


@bp.post("/comment")
@voice_webhook
def comment() -> Response:
    """Record's action for a spoken comment: keep the recording URL, then go on."""
    st, flow = _flow()
    if flow is None:
        return _gone(st)
    seconds = request.form.get("RecordingDuration", "0")
    url = request.form.get("RecordingUrl", "")[:500]
    return _answer(flow.recorded(st, url, int(seconds) if seconds.isdigit() else 0), flow, st.version)


@bp.post("/transcription")
@voice_webhook
def transcription() -> Response:
    """Transcription callback for a spoken comment: attach the text to the response."""
    st, flow = _flow()
    if flow is not None and 0 <= st.index < len(flow.survey.questions):
        text = request.form.get("TranscriptionText", "")[:5000]
        runtime().events.write(parts(runtime()).store.transcribed(caller().sid, st.index, text))
    return twiml(EMPTY)
