"""Simulated calls (`ivr simulate`, the web simulator) are recorded but never counted in reports."""

from __future__ import annotations

import secrets

#: Twilio's CallSids are "CA" and 32 lowercase hex digits; ours add letters Twilio never uses.
PREFIX = "CAsim"


def new_sid() -> str:
    """A CallSid for a simulated call, never equal to a real one."""
    return PREFIX + secrets.token_hex(16)[: 34 - len(PREFIX)]


def is_simulated(sid: str | None) -> bool:
    """True for the CallSid of a simulated call: its records stay out of every index and alert."""
    return bool(sid) and sid.startswith(PREFIX)
