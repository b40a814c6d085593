"""`/admin/simulator`: a keypad page that places simulated calls through the real signed webhooks."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, jsonify, render_template, request
from itsdangerous import BadSignature, URLSafeSerializer
from werkzeug.wrappers import Response

from handlers.admin.auth import login_required
from handlers.security import runtime
from ivr.simulate import ClientTransport, SimulatedCall, SimulationError, Turn

bp = Blueprint("simulator", __name__, url_prefix="/admin", template_folder="simulator_templates")


def _signer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key, salt="ivr-simulator")


def _call() -> SimulatedCall:
    """A simulated call on this very app, signed with its token and public base URL."""
    base = runtime().config.get("IVR_PUBLIC_URL").rstrip("/") or "http://localhost"
    return SimulatedCall(ClientTransport(current_app.test_client(), base), runtime().auth_token, base)


def _turn(turn: Turn) -> dict:
    shown = {k: v for k, v in turn.form.items() if k not in ("AccountSid", "CallSid", "From", "To",
                                                            "Direction", "CallStatus")}
    return {"path": turn.url.split("://", 1)[-1].partition("/")[2].partition("?")[0], "form": shown,
            "status": turn.status, "twiml": turn.xml,
            "heard": [{"text": h.text, "lang": h.lang, "play": h.play} for h in turn.heard]}


def _answer(call: SimulatedCall, done: int, error: str = "") -> Response:
    """The new steps since `done`, where the call is, and the signed state to go on with."""
    waiting = call.waiting
    gather = None
    if waiting is not None and waiting.tag == "Gather":
        gather = {"num_digits": int(waiting.get("numDigits") or 0), "finish_on": waiting.get("finishOnKey", "")}
    return jsonify({"steps": [_turn(t) for t in call.turns[done:]], "place": call.place,
                    "ended": call.ended, "waiting": waiting.tag if waiting is not None else "",
                    "gather": gather, "version": call.version or runtime().menus.current.version,
                    "destinations": call.destinations, "error": error,
                    "state": _signer().dumps(call.snapshot())})


@bp.get("/simulator")
@login_required()
def page() -> str:
    """The keypad page."""
    return render_template("simulator/page.html", version=runtime().menus.current.version)


@bp.post("/simulator/call")
@login_required()
def place_call() -> Response:
    """Place a new simulated call and answer what the caller hears first."""
    call = _call()
    number = str((request.get_json(silent=True) or {}).get("from") or "")[:20]
    if number:
        call.number = number
    try:
        call.start()
    except SimulationError as exc:
        return _answer(call, 0, str(exc))
    return _answer(call, 0)


@bp.post("/simulator/step")
@login_required()
def step() -> Response:
    """One event of a call in progress: keys, silence, or what the other side does."""
    data = request.get_json(silent=True) or {}
    try:
        snapshot = _signer().loads(str(data.get("state", "")))
    except BadSignature:
        abort(400, "the simulated call state is not valid: place a new call")
    call = _call().restore(snapshot)
    error = ""
    try:
        call.do(str(data.get("event", ""))[:40] or "silence")
    except SimulationError as exc:
        error = str(exc)
    return _answer(call, 0, error)
