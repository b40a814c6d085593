"""Returning callers: greeted in their last language and offered their last destination."""

from __future__ import annotations

from ivr.memo import keep
from ivr.model import Speech
from ivr.navigator import WELCOME, Navigator
from ivr.state import CallState
from ivr.steps import Gather, Step

_WELCOMES: dict[tuple, Step | None] = {}  # (menus, version, language, destination) -> step
_WELCOMES_KEPT = 4096
_UNKNOWN = object()


def destination_name(nav: Navigator, dest: str, lang: str) -> str | None:
    """How to name a destination to the caller (a queue's title), or None when it cannot be offered."""
    kind, _, target = dest.partition(":")
    if kind != "queue" or target not in nav.ms.queues:
        return None
    title = nav.ms.queues[target].title
    speech = title.speech(lang) if title else None
    return speech.text if speech and speech.text else target.replace("_", " ")


def returning_step(nav: Navigator, remembered: dict, now: float, window_hours: int) -> Step | None:
    """The welcome-back menu for a caller seen within the window, or None for a new caller."""
    try:
        at = float(remembered.get("at", 0))
    except ValueError:
        return None
    lang = remembered.get("lang", "")
    if not remembered or lang not in nav.ms.languages or now - at > window_hours * 3600:
        return None
    dest = remembered.get("dest", "")
    key = (id(nav.ms), nav.ms.version, lang, dest)
    step = _WELCOMES.get(key, _UNKNOWN)
    if step is _UNKNOWN:  # worked out once per menu version, language and destination
        nav.timed = False
        step = _welcome(nav, lang, dest)
        if not nav.timed:  # unless a schedule was consulted: then the answer depends on the time
            keep(_WELCOMES, key, step, _WELCOMES_KEPT)
    return step


def _welcome(nav: Navigator, lang: str, dest: str) -> Step | None:
    """The welcome-back menu offering `dest`, else the first menu in `lang` (None without one)."""
    name = destination_name(nav, dest, lang)
    if name is None:
        step = _start_in_language(nav, lang)
        return None if step.gather is None else Step(lang=lang, say=step.say, gather=step.gather,
                                                     trail=("returning caller",) + step.trail)
    text = nav.ms.message("welcome_back").speech(lang).text or ""
    state = CallState(node=WELCOME, lang=lang, version=nav.ms.version, ret=dest)
    return Step(lang=lang, say=(Speech(text=text.replace("{destination}", name)),),
                gather=Gather(state=state, timeout=5), trail=("returning caller", f"offered {dest}"))


def _start_in_language(nav: Navigator, lang: str) -> Step:
    """The call's first step in the caller's known language, skipping a language-choice menu."""
    step = nav.start(lang)
    first = nav.ms.menus.get(nav.ms.line.start)
    if step.gather is None or first is None or not first.all_languages \
            or step.gather.state.node != first.id:
        return step
    state = CallState(node=nav.ms.line.main, lang=lang, version=nav.ms.version)
    return nav.enter(state, nav.ms.line.main, (), (), push=False)
