"""Parsing of the `queues:`, `voicemail:` and `transfers:` sections."""

from __future__ import annotations

import re
from typing import Any

from ivr.fields import Reader, dtmf_key, suggest
from ivr.model import Queue, Transfer, VoicemailBox, Where
from ivr.survey_def import ASK_MODES

QUEUE_FIELDS = ("title", "hold_music", "announce_every", "max_wait", "max_size", "leave_key",
                "voicemail", "on_timeout", "survey", "survey_rate", "survey_ask",
                "survey_once_per_days", "hours", "closed")
BOX_FIELDS = ("greeting", "max_length", "finish_on", "transcribe")
TRANSFER_FIELDS = ("to", "timeout", "caller_id", "on_fail", "survey", "survey_rate", "survey_ask",
                   "survey_once_per_days", "hours", "closed")
PHONE_RE = re.compile(r"^\+[1-9][0-9]{6,14}$")
SIP_RE = re.compile(r"^sip:[^@\s]+@[^\s]+$")


def _optional_action(reader: Reader, node: Any, key: str, what: str):
    if key not in node:
        return None
    return reader.action(node[key], node.line_of(key), f"'{key}' of {what}")


def survey_options(reader: Reader, node: Any, what: str) -> dict[str, Any]:
    """The survey fields a queue or transfer may set: which survey, sampling, and overrides."""
    ask = reader.text(node, "survey_ask")
    if ask is not None and ask not in ASK_MODES:
        reader.problem(node.line_of("survey_ask"), f"'survey_ask' of {what} must be one of "
                       f"{', '.join(ASK_MODES)}{suggest(ask, ASK_MODES)}, not {ask!r}")
        ask = None
    once = reader.integer(node, "survey_once_per_days", 0, 0, 365) \
        if "survey_once_per_days" in node else None
    return {"survey": reader.text(node, "survey"),
            "survey_rate": reader.number(node, "survey_rate", 1.0, 0, 1),
            "survey_ask": ask, "survey_once_per_days": once}


def parse_queue(reader: Reader, name: str, node: Any, line: int) -> Queue | None:
    """Read one queue declaration."""
    what = f"queue '{name}'"
    node = reader.mapping(node, what, line, QUEUE_FIELDS)
    if node is None:
        return None
    title = reader.prompt(node["title"], node.line_of("title"), f"title of {what}") if "title" in node else None
    hold = reader.recording(node["hold_music"], node.line_of("hold_music")) if "hold_music" in node else None
    leave_key = None
    if node.get("leave_key") is not None:
        leave_key = dtmf_key(node["leave_key"])
        if leave_key is None:
            reader.problem(node.line_of("leave_key"), "leave_key must be one of 0-9, * or #")
    elif "leave_key" not in node:
        leave_key = "*"
    return Queue(
        name=name, where=Where(reader.file, line), title=title, hold_music=hold,
        announce_every=reader.integer(node, "announce_every", 60, 15, 3600),
        max_wait=reader.integer(node, "max_wait", 600, 30, 14400),
        max_size=reader.integer(node, "max_size", 100, 1, 1000) if "max_size" in node else None,
        leave_key=leave_key, voicemail=reader.text(node, "voicemail"),
        on_timeout=_optional_action(reader, node, "on_timeout", what),
        **survey_options(reader, node, what),
        hours=reader.text(node, "hours"), closed=_optional_action(reader, node, "closed", what),
    )


def parse_box(reader: Reader, name: str, node: Any, line: int) -> VoicemailBox | None:
    """Read one voicemail box declaration."""
    what = f"voicemail box '{name}'"
    node = reader.mapping(node, what, line, BOX_FIELDS)
    if node is None:
        return None
    greeting = None
    if "greeting" in node:
        greeting = reader.prompt(node["greeting"], node.line_of("greeting"), f"greeting of {what}")
    finish = dtmf_key(node.get("finish_on", "#"))
    if finish is None:
        reader.problem(node.line_of("finish_on"), "finish_on must be one of 0-9, * or #")
        finish = "#"
    return VoicemailBox(
        name=name, where=Where(reader.file, line), greeting=greeting,
        max_length=reader.integer(node, "max_length", 120, 5, 3600), finish_on=finish,
        transcribe=reader.flag(node, "transcribe", False),
    )


def parse_transfer(reader: Reader, name: str, node: Any, line: int) -> Transfer | None:
    """Read one transfer declaration (a phone number in E.164 form or a SIP address)."""
    what = f"transfer '{name}'"
    node = reader.mapping(node, what, line, TRANSFER_FIELDS)
    if node is None:
        return None
    to = reader.text(node, "to") or ""
    if not (PHONE_RE.match(to) or SIP_RE.match(to)):
        reader.problem(node.line_of("to"), f"'to' of {what} must be a phone number in international "
                       "form like \"+15551234567\" (in quotes) or a SIP address like sip:desk@example.com")
    caller_id = reader.text(node, "caller_id")
    if caller_id and not PHONE_RE.match(caller_id):
        reader.problem(node.line_of("caller_id"), "caller_id must be a phone number like \"+15551234567\"")
    return Transfer(
        name=name, where=Where(reader.file, line), to=to,
        timeout=reader.integer(node, "timeout", 20, 5, 120), caller_id=caller_id,
        on_fail=_optional_action(reader, node, "on_fail", what), **survey_options(reader, node, what),
        hours=reader.text(node, "hours"),
        closed=_optional_action(reader, node, "closed", what),
    )
