"""Serves recordings (prompts, hold music) that TwiML asks Twilio to play."""

from __future__ import annotations

from flask import Blueprint, send_from_directory
from werkzeug.wrappers import Response

from handlers.security import runtime

bp = Blueprint("media", __name__)


@bp.get("/recordings/<path:name>")
def recording(name: str) -> Response:
    """One audio file from the recordings folder (404 when missing, never outside the folder)."""
    folder = runtime().config.path("IVR_RECORDINGS").resolve()
    return send_from_directory(folder, name, max_age=3600)
