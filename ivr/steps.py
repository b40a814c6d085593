"""What the engine decides for one webhook: things to say, then gather, route or hang up."""

from __future__ import annotations

from dataclasses import dataclass, field

from ivr.model import Speech
from ivr.state import CallState


@dataclass(frozen=True)
class Gather:
    """Wait for keys, then post them with `state` back to the menu webhook."""

    state: CallState
    timeout: int
    num_digits: int | None = 1
    finish_on: str = ""


@dataclass(frozen=True)
class RouteTo:
    """Hand the call to a queue, voicemail box or transfer."""

    kind: str  # queue, voicemail, transfer
    target: str
    state: CallState


@dataclass(frozen=True)
class Step:
    """The engine's answer to one webhook: speech, then one of gather / route / hang up / redirect."""

    lang: str
    say: tuple[Speech, ...] = ()
    gather: Gather | None = None
    route: RouteTo | None = None
    hangup: bool = False
    redirect: str | None = None
    trail: tuple[str, ...] = field(default=())

    @property
    def outcome(self) -> str:
        """Where this step leaves the caller, in words such as `queue billing` or `menu main`."""
        if self.route:
            return f"{self.route.kind} {self.route.target}"
        if self.gather:
            return f"menu {self.gather.state.node}"
        return "hangup" if self.hangup else "redirect"
