"""Twilio request signatures: the public URL Twilio called, and the check itself."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
from collections.abc import Iterable

from flask import abort, current_app, request
from twilio.request_validator import RequestValidator
from werkzeug.datastructures import MultiDict

from ivr.runtime import Runtime


def runtime() -> Runtime:
    """The engine runtime of the current app."""
    return current_app.extensions["ivr"]


def public_url() -> str:
    """The URL Twilio requested: IVR_PUBLIC_URL as base when set, else the (proxy-fixed) host URL."""
    base = runtime().config.get("IVR_PUBLIC_URL").rstrip("/") or request.host_url.rstrip("/")
    query = request.query_string.decode("latin-1")
    return base + request.script_root + request.path + ("?" + query if query else "")


class Signature:
    """Twilio's HMAC-SHA1 request signature, keyed once per auth token (RequestValidator's algorithm)."""

    def __init__(self, token: str):
        self._mac = hmac.new(token.encode("utf-8"), digestmod=hashlib.sha1)
        self.validator = RequestValidator(token)

    def compute(self, url: str, form: MultiDict) -> str:
        """The signature of `url` and `form`: URL, then each name+value, names and values sorted."""
        return self.compute_pairs(url, form.items(multi=True))

    def compute_pairs(self, url: str, pairs: Iterable[tuple[str, str]]) -> str:
        """The signature of `url` and the form fields `pairs` (in any order, repeats allowed)."""
        ordered = sorted(pairs)  # Twilio posts its fields sorted: a cheap sort
        if len(set(ordered)) < len(ordered):  # a repeated name=value counts once (RequestValidator)
            ordered = sorted(set(ordered))
        mac = self._mac.copy()
        mac.update((url + "".join([name + value for name, value in ordered])).encode())
        return base64.b64encode(mac.digest()).decode("ascii")

    def valid(self, url: str, form: MultiDict, signature: str) -> bool:
        """True when `signature` signs this request (the URL as requested first, then with and
        without the default port, as RequestValidator accepts)."""
        return self.valid_pairs(url, form.items(multi=True), signature, form)

    def valid_pairs(self, url: str, pairs: Iterable[tuple[str, str]], signature: str,
                    form: MultiDict | None = None) -> bool:
        """`valid` for form fields given as (name, value) pairs."""
        pairs = list(pairs)
        if hmac.compare_digest(self.compute_pairs(url, pairs).encode(), signature.encode("utf-8", "replace")):
            return True
        return self.validator.validate(url, form if form is not None else MultiDict(pairs), signature)


@functools.lru_cache(maxsize=4)
def signature_for(token: str) -> Signature:
    """The Signature keyed with `token`, built once."""
    return Signature(token)


def verify_signature() -> None:
    """Abort with 403 unless X-Twilio-Signature matches the URL and form with our auth token."""
    signature = request.headers.get("X-Twilio-Signature", "")
    if not signature:
        abort(403, "missing X-Twilio-Signature header")
    form = request.form if request.method == "POST" else MultiDict()
    if not signature_for(runtime().auth_token).valid(public_url(), form, signature):
        abort(403, "invalid X-Twilio-Signature")
