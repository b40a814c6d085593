"""Caller numbers: keyed hashes for storage, masks for display and logs."""

from __future__ import annotations

import functools
import hashlib
import hmac


def caller_hash(number: str, key: str) -> str:
    """A keyed hash (HMAC-SHA256) that identifies a caller without storing the number."""
    digest = _keyed(key).copy()  # the key's pads are hashed once, not on every call
    digest.update((number or "").strip().encode())
    return digest.hexdigest()[:32]


@functools.lru_cache(maxsize=8)
def _keyed(key: str) -> hmac.HMAC:
    """An HMAC-SHA256 keyed with `key`, to copy for each number."""
    return hmac.new(key.encode(), digestmod=hashlib.sha256)


def mask_number(number: str | None, keep: int = 4) -> str:
    """A number with all but the country code and the last `keep` digits hidden (+1******4567)."""
    number = (number or "").strip()
    if number[:1] == "+" and len(number) > 5 and 0 <= keep <= 4 and number[1:].isdigit():
        return number[:2] + "*" * (len(number) - 2 - keep) + number[len(number) - keep:]  # E.164
    if not number:
        return ""
    if number.startswith("client:"):
        return number  # a Twilio Client identity (an agent's name), not a phone number
    if number.startswith("sip:"):
        user, _, host = number[4:].partition("@")
        return "sip:" + mask_number(user, keep) + ("@" + host if host else "")
    keep = max(0, min(keep, 4))
    if len(number) <= 5:
        return "*" * len(number)
    head = 2 if number.startswith("+") else 0
    return number[:head] + "*" * (len(number) - head - keep) + number[len(number) - keep:]
