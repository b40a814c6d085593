"""Post-call surveys: deciding whether to survey a call once the agent leg ends."""

from __future__ import annotations

from typing import Any

from ivr.model import MenuSet
from ivr.state import CallState
from ivr.steps import Step


def survey_after_call(rt: Any, ms: MenuSet, state: CallState, holder: Any, who: Any) -> Step | None:
    """The first survey step when the queue or transfer has a survey for this call, else None."""
    return None
