"""Navigation: from a call's state and the key pressed (or silence) to the next Step."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime

from ivr.memo import keep
from ivr.model import Action, Menu, MenuSet, Prompt, Speech
from ivr.state import CallState
from ivr.steps import Gather, RouteTo, Step

WELCOME = "_welcome"

_VAR = re.compile(r"\{([A-Za-z][A-Za-z0-9_-]*)\}")
MAX_CHAIN = 16
# The first step of a call while the line is open depends only on the menus, the language and
# the trail so far: worked out once per menu version (every incoming call needs it).
_OPEN_STARTS: dict[tuple, Step] = {}
_OPEN_STARTS_KEPT = 512
# Likewise the step after a key press, as long as no schedule was consulted on the way (then it
# depends on the time too, and is worked out each time) and no digits were entered (account
# numbers and the like are one caller's): by menu version, call state and key.
_PRESSED: dict[tuple, Step] = {}
_PRESSED_KEPT = 4096


class Navigator:
    """Takes calls through one MenuSet; pure: no I/O, time passed in."""

    def __init__(self, ms: MenuSet, now: datetime | None = None):
        self.ms = ms
        self.now = now or datetime.now(UTC)
        self.timed = False  # set once a schedule was consulted: the answer depends on the time

    # -- entry points ----------------------------------------------------------------------
    def start(self, lang: str | None = None, trail: tuple[str, ...] = ()) -> Step:
        """The first step of a new call: line hours, then the start menu."""
        lang = lang if lang in self.ms.languages else self.ms.default_language
        line = self.ms.line
        if line.hours and not self.is_open(line.hours):
            closed = line.closed or Action(kind="say", message=self.ms.message("closed"),
                                           then=self._goodbye())
            return self.run(self._first_state(lang), closed, (), trail + ("closed line",))
        key = (id(self.ms), self.ms.version, lang, trail)
        step = _OPEN_STARTS.get(key)
        if step is None:  # the state is built only here: most calls take the kept step
            step = keep(_OPEN_STARTS, key, self.enter(self._first_state(lang), line.start, (), trail,
                                                      push=False), _OPEN_STARTS_KEPT)
        return step

    def _first_state(self, lang: str) -> CallState:
        """A new call's state, at the line's start menu."""
        return CallState(node=self.ms.line.start, lang=lang, version=self.ms.version)

    def press(self, state: CallState, digits: str | None) -> Step:
        """The step after the caller pressed `digits` (None or empty: silence) in `state`."""
        key = (id(self.ms), self.ms.version, state, digits)
        step = _PRESSED.get(key)
        if step is None:
            self.timed = False
            step = self._press(state, digits)
            if not self.timed and not state.vars and len(digits or "") <= 1 \
                    and not _carries_values(step):  # entered digits are one caller's
                keep(_PRESSED, key, step, _PRESSED_KEPT)
        return step

    def _press(self, state: CallState, digits: str | None) -> Step:
        state = state.evolve(step=state.step + 1)
        if state.node == WELCOME and state.ret:
            return welcome_choice(self, state, digits)
        menu = self.ms.menus.get(state.node)
        if menu is None or state.lang not in self.ms.languages:
            lang = state.lang if state.lang in self.ms.languages else self.ms.default_language
            state = state.evolve(lang=lang, stack=())
            return self.enter(state, self.ms.line.main, (self.ms.message("menu_changed").speech(lang),),
                              (f"menu gone {state.node}",), push=False)
        if not digits:
            return self._retry(state, menu, menu.no_input, ("silence",))
        if menu.collect is not None:
            return self._collected(state, menu, digits)
        action = menu.options.get(digits[0])
        if action is None:
            return self._retry(state, menu, menu.invalid, (f"invalid {digits[0]}",))
        return self.run(state, action, (), (f"key {digits[0]}",))

    # -- menus -----------------------------------------------------------------------------
    def enter(self, state: CallState, menu_id: str, pre: tuple[Speech, ...], trail: tuple[str, ...],
              push: bool = True) -> Step:
        """Enter a menu anew: counters reset, full prompt (short one if already heard)."""
        heard = menu_id == state.node and state.heard
        state = state.enter(menu_id, push=push)
        return self._prompt(state.evolve(heard=heard), self.ms.menus[menu_id], pre,
                            trail + (f"menu {menu_id}",))

    def _prompt(self, state: CallState, menu: Menu, pre: tuple[Speech, ...],
                trail: tuple[str, ...]) -> Step:
        prompt = menu.short_prompt if state.heard and menu.short_prompt else menu.prompt
        if menu.all_languages:
            speech = tuple(replace(prompt.speech(lang), lang=lang) for lang in self.ms.languages)
        else:
            speech = (self._speech(prompt, state),)
        collect = menu.collect
        gather = Gather(state=state.evolve(heard=True), timeout=menu.timeout,
                        num_digits=(collect.digits if collect else 1),
                        finish_on=(collect.finish_on if collect and not collect.digits else ""))
        return Step(lang=state.lang, say=pre + speech, gather=gather, trail=trail)

    def _retry(self, state: CallState, menu: Menu, prompts: tuple[Prompt, ...],
               trail: tuple[str, ...]) -> Step:
        attempt = state.attempt + 1
        if attempt >= menu.attempts:
            return self.run(state.evolve(attempt=attempt), menu.fallback, (),
                            trail + (f"attempts exhausted {menu.id}",), fallback=True)
        prompt = prompts[min(attempt - 1, len(prompts) - 1)]
        if menu.all_languages:  # the caller has not chosen yet: say it in every language
            said = tuple(replace(prompt.speech(lang), lang=lang) for lang in self.ms.languages)
        else:
            said = (self._speech(prompt, state),)
        return self._prompt(state.evolve(attempt=attempt), menu, said, trail)

    def _collected(self, state: CallState, menu: Menu, digits: str) -> Step:
        collect = menu.collect
        digits = digits.rstrip(collect.finish_on)
        longest = collect.digits or collect.max_digits
        if not digits.isdigit() or not collect.min_digits <= len(digits) <= longest:
            return self._retry(state, menu, menu.invalid, ("invalid entry",))
        state = state.with_var(collect.name, digits)
        trail = (f"entered {collect.name}",)
        for branch in menu.branches:
            if branch.matches(digits):
                return self.run(state, branch.action, (), trail)
        if menu.otherwise is None:
            return self._retry(state, menu, menu.invalid, trail + ("no branch matched",))
        return self.run(state, menu.otherwise, (), trail + ("otherwise",))

    # -- actions ---------------------------------------------------------------------------
    def run(self, state: CallState, action: Action, pre: tuple[Speech, ...], trail: tuple[str, ...],
            fallback: bool = False, depth: int = 0) -> Step:
        """Carry out an action: move to a menu, say something, route or hang up."""
        if depth > MAX_CHAIN:  # cannot happen in validated menus; never loop on a phone line
            return Step(lang=state.lang, say=pre + self._goodbye_speech(state), hangup=True,
                        trail=trail + ("hangup",))
        if action.hours and not self.is_open(action.hours):
            closed = action.closed or Action(kind="say", message=self.ms.message("closed"), then=
                                             Action(kind="repeat") if not fallback else self._goodbye())
            return self.run(state, closed, pre, trail + (f"closed {action.hours}",), fallback, depth + 1)
        kind = action.kind
        if kind == "menu":
            return self.enter(state, action.target, pre, trail)
        if kind == "repeat":
            return self.enter(state.evolve(heard=True), state.node, pre, trail, push=False)
        if kind == "main":
            return self.enter(state.evolve(stack=()), self.ms.line.main, pre, trail, push=False)
        if kind == "back":
            if not state.stack:
                return self.enter(state, self.ms.line.main, pre, trail, push=False)
            back = state.evolve(stack=state.stack[:-1])
            return self.enter(back, state.stack[-1], pre, trail, push=False)
        if kind == "language":
            state = state.evolve(lang=action.target)
            then = action.then or Action(kind="main")
            return self.run(state, then, pre, trail + (f"language {action.target}",), fallback, depth + 1)
        if kind == "say":
            pre = pre + (self._speech(action.message, state),)
            return self.run(state, action.then or Action(kind="hangup"), pre, trail, fallback, depth + 1)
        if kind in ("queue", "voicemail", "transfer"):
            return self._route(state, action, pre, trail, depth)
        return Step(lang=state.lang, say=pre, hangup=True, trail=trail + ("hangup",))

    def _route(self, state: CallState, action: Action, pre: tuple[Speech, ...],
               trail: tuple[str, ...], depth: int) -> Step:
        table = {"queue": self.ms.queues, "transfer": self.ms.transfers}.get(action.kind, {})
        item = table.get(action.target)
        if item is not None and item.hours and not self.is_open(item.hours):
            closed = item.closed or Action(kind="say", message=self.ms.message("closed"),
                                           then=self._goodbye())
            return self.run(state, closed, pre, trail + (f"closed {item.hours}",), True, depth + 1)
        route = RouteTo(kind=action.kind, target=action.target, state=state)
        return Step(lang=state.lang, say=pre, route=route,
                    trail=trail + (f"route {action.kind} {action.target}",))

    # -- helpers ---------------------------------------------------------------------------
    def is_open(self, schedule_name: str) -> bool:
        """True when the named schedule is open now (an unknown schedule counts as open)."""
        self.timed = True
        schedule = self.ms.schedules.get(schedule_name)
        return schedule is None or schedule.is_open(self.now)

    def _goodbye(self) -> Action:
        return Action(kind="say", message=self.ms.message("goodbye"), then=Action(kind="hangup"))

    def _goodbye_speech(self, state: CallState) -> tuple[Speech, ...]:
        return (self._speech(self.ms.message("goodbye"), state),)

    def _speech(self, prompt: Prompt, state: CallState) -> Speech:
        speech = prompt.speech(state.lang)
        if speech.text and "{" in speech.text:
            return Speech(text=fill(speech.text, state.vars))
        return speech


def _carries_values(step: Step) -> bool:
    """True when a step holds values a caller entered (in the state it posts back or routes with)."""
    return bool((step.gather is not None and step.gather.state.vars)
                or (step.route is not None and step.route.state.vars))


def fill(text: str, values: dict[str, str]) -> str:
    """Put collected values into a text, digits spaced so the voice reads them one by one."""
    return _VAR.sub(lambda m: " ".join(values.get(m.group(1), "")) or m.group(0), text)


def welcome_choice(nav: Navigator, state: CallState, digits: str | None) -> Step:
    """A returning caller's answer: 1 goes back to the last destination, anything else to main."""
    kind, _, target = state.ret.partition(":")
    table = {"queue": nav.ms.queues, "voicemail": nav.ms.voicemail, "transfer": nav.ms.transfers,
             "menu": nav.ms.menus}[kind]
    state = state.evolve(node=nav.ms.line.main, ret="")
    if digits == "1" and target in table:
        return nav.run(state, Action(kind=kind, target=target), (), ("key 1", "returned"))
    trail = (f"key {digits[0]}",) if digits else ("silence",)
    return nav.enter(state, nav.ms.line.main, (), trail, push=False)
