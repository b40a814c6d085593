"""Twilio request signatures: the public URL Twilio called, and the check itself."""

from __future__ import annotations

from flask import abort, current_app, request
from twilio.request_validator import RequestValidator

from ivr.runtime import Runtime


def runtime() -> Runtime:
    """The engine runtime of the current app."""
    return current_app.extensions["ivr"]


def public_url() -> str:
    """The URL Twilio requested: IVR_PUBLIC_URL as base when set, else the (proxy-fixed) host URL."""
    base = runtime().config.get("IVR_PUBLIC_URL").rstrip("/") or request.host_url.rstrip("/")
    query = request.query_string.decode("latin-1")
    return base + request.script_root + request.path + ("?" + query if query else "")


def verify_signature() -> None:
    """Abort with 403 unless X-Twilio-Signature matches the URL and form with our auth token."""
    signature = request.headers.get("X-Twilio-Signature", "")
    if not signature:
        abort(403, "missing X-Twilio-Signature header")
    validator = RequestValidator(runtime().auth_token)
    params = request.form.to_dict(flat=True) if request.method == "POST" else {}
    if not validator.validate(public_url(), params, signature):
        abort(403, "invalid X-Twilio-Signature")
