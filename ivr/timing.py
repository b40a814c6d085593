"""Time to destination: the fewest keys to each queue, box, transfer or message, and the seconds of
prompts a first-time caller listens to on that way (words at a speaking rate, or real WAV lengths)."""

from __future__ import annotations

import heapq
import wave
from dataclasses import dataclass, field
from pathlib import Path

from ivr.model import Action, Menu, MenuSet, Prompt, Speech

DEFAULT_WPM = 150.0


@dataclass(frozen=True)
class Route:
    """The quickest way to one destination in one language."""

    destination: str
    lang: str
    keys: tuple[str, ...]
    seconds: float
    notes: tuple[str, ...] = ()
    unknown_audio: int = 0  # recordings whose length could not be read (URLs, non-WAV files)


@dataclass
class Speaker:
    """Estimates how long speech lasts: words at a rate per language, or a recording's real length."""

    recordings: Path
    wpm: dict[str, float] = field(default_factory=dict)
    default_wpm: float = DEFAULT_WPM

    def seconds(self, speech: Speech, lang: str) -> tuple[float, int]:
        """(seconds, 1 when the length of a recording is unknown else 0)."""
        if speech.play:
            length = wav_seconds(self.recordings / speech.play.removeprefix("recordings/"))
            return (0.0, 1) if length is None else (length, 0)
        words = len((speech.text or "").split())
        return words * 60.0 / self.wpm.get(speech.lang or lang, self.default_wpm), 0


def wav_seconds(path: Path) -> float | None:
    """The length of a WAV file in seconds, or None when it cannot be read."""
    try:
        with wave.open(str(path)) as audio:
            return audio.getnframes() / audio.getframerate()
    except (OSError, wave.Error, EOFError, ZeroDivisionError):
        return None


def parse_wpm(text: str) -> tuple[float, dict[str, float]]:
    """Read `150` or `150,es-US=170` into (default rate, rate per language)."""
    default, per_lang = DEFAULT_WPM, {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        lang, _, rate = part.rpartition("=")
        try:
            value = float(rate)
        except ValueError:
            raise ValueError(f"speaking rate {part!r}: write words per minute, e.g. 150 or es-US=170") \
                from None
        if value <= 0:
            raise ValueError(f"speaking rate {part!r} must be above 0")
        if lang:
            per_lang[lang] = value
        else:
            default = value
    return default, per_lang


@dataclass(order=True)
class _Way:
    cost: tuple[int, float]
    node: str = field(compare=False)
    lang: str = field(compare=False)
    keys: tuple[str, ...] = field(compare=False)
    seconds: float = field(compare=False)
    notes: tuple[str, ...] = field(compare=False)
    unknown: int = field(compare=False)


class TimingWalk:
    """Dijkstra over (menu, language): fewest keys first, then fewest seconds of listening."""

    def __init__(self, ms: MenuSet, speaker: Speaker):
        self.ms, self.speaker = ms, speaker
        self.best: dict[tuple[str, str], Route] = {}

    def run(self) -> list[Route]:
        """The quickest way to every destination in every language reached."""
        start = _Way((0, 0.0), self.ms.line.start, self.ms.default_language, (), 0.0, (), 0)
        queue, done = [start], set()
        while queue:
            way = heapq.heappop(queue)
            if (way.node, way.lang) in done:
                continue
            done.add((way.node, way.lang))
            for nxt in self.ways_out(self.ms.menus[way.node], way):
                heapq.heappush(queue, nxt)
        return sorted(self.best.values(), key=lambda r: (r.destination, r.lang))

    def ways_out(self, menu: Menu, way: _Way) -> list[_Way]:
        """Every key, branch and the silence fallback leaving a menu, after its full prompt."""
        heard = self.prompt(menu.prompt, way.lang, all_languages=menu.all_languages)
        way = _step(way, (), heard)
        found = []
        for key, action in menu.options.items():
            found += self.follow(action, _step(way, (key,), (0.0, 0)))
        for branch in menu.branches:
            entry = f"{branch.prefix}…{menu.collect.finish_on}" if branch.prefix is not None \
                else f"<{menu.collect.name}>"
            found += self.follow(branch.action, _step(way, (entry,), (0.0, 0)))
        found += self.follow(menu.fallback, self.silences(menu, way))
        return found

    def silences(self, menu: Menu, way: _Way) -> _Way:
        """Staying silent until the fallback: each timeout, then the no-input prompt and the menu again."""
        again = menu.short_prompt or menu.prompt
        for attempt in range(1, menu.attempts):
            no_input = menu.no_input[min(attempt - 1, len(menu.no_input) - 1)]
            spoken = _add(self.prompt(no_input, way.lang), self.prompt(again, way.lang, menu.all_languages))
            way = _step(way, ("silence",), _add((float(menu.timeout), 0), spoken))
        return _step(way, ("silence",), (float(menu.timeout), 0))

    def follow(self, action: Action, way: _Way, depth: int = 0) -> list[_Way]:
        """Where an action leads: a menu to explore further, or a destination recorded."""
        if depth > 16:
            return []
        found = []
        if action.hours:
            note = (f"{action.hours} open",)
            found += self.follow(Action(kind=action.kind, target=action.target, message=action.message,
                                        then=action.then), _note(way, note), depth + 1)
            closed = action.closed or Action(kind="say", message=self.ms.message("closed"))
            return found + self.follow(closed, _note(way, (f"{action.hours} closed",)), depth + 1)
        kind = action.kind
        if kind in ("menu", "main"):  # back and repeat lead nowhere new
            target = action.target if kind == "menu" else self.ms.line.main
            return [_Way(_cost(way), target, way.lang, way.keys, way.seconds, way.notes, way.unknown)]
        if kind == "language":
            way = _Way(way.cost, way.node, action.target, way.keys, way.seconds, way.notes, way.unknown)
            return self.follow(action.then or Action(kind="main"), way, depth + 1)
        if kind == "say":
            way = _step(way, (), self.prompt(action.message, way.lang))
            then = action.then or Action(kind="hangup")
            if then.kind == "hangup":
                self.record(f"message: {_first_words(action.message, way.lang)}", way)
                return []
            return self.follow(then, way, depth + 1)
        if kind in ("queue", "voicemail", "transfer"):
            return self.route(kind, action.target, way, depth)
        return []

    def route(self, kind: str, name: str, way: _Way, depth: int) -> list[_Way]:
        """A destination: its own hours first, then what the caller hears before service."""
        item = {"queue": self.ms.queues, "voicemail": self.ms.voicemail,
                "transfer": self.ms.transfers}[kind].get(name)
        hours = getattr(item, "hours", None)
        if hours:
            found = self.follow(item.closed or Action(kind="say", message=self.ms.message("closed")),
                                _note(way, (f"{hours} closed",)), depth + 1)
            way = _note(way, (f"{hours} open",))
        else:
            found = []
        if kind == "voicemail":
            way = _step(way, (), self.prompt(item.greeting or self.ms.message("voicemail_greeting"), way.lang))
        if kind == "transfer":
            way = _step(way, (), self.prompt(self.ms.message("transferring"), way.lang))
        self.record(f"{kind} {name}", way)
        return found

    def record(self, destination: str, way: _Way) -> None:
        """Keep the way if it is the quickest yet to this destination in this language."""
        route = Route(destination, way.lang, way.keys, round(way.seconds, 1), way.notes, way.unknown)
        known = self.best.get((destination, way.lang))
        if known is None or (len(route.keys), route.seconds) < (len(known.keys), known.seconds):
            self.best[(destination, way.lang)] = route

    def prompt(self, prompt: Prompt, lang: str, all_languages: bool = False) -> tuple[float, int]:
        """Seconds of one prompt in `lang` (every language's text for a language-choice menu)."""
        langs = list(self.ms.languages) if all_languages else [lang]
        total = (0.0, 0)
        for code in langs:
            speech = prompt.speech(code)
            total = _add(total, self.speaker.seconds(speech, code))
        return total


def _add(a: tuple[float, int], b: tuple[float, int]) -> tuple[float, int]:
    return a[0] + b[0], a[1] + b[1]


def _cost(way: _Way) -> tuple[int, float]:
    return len(way.keys), way.seconds


def _step(way: _Way, keys: tuple[str, ...], heard: tuple[float, int]) -> _Way:
    keys = way.keys + keys
    seconds = way.seconds + heard[0]
    return _Way((len(keys), seconds), way.node, way.lang, keys, seconds, way.notes, way.unknown + heard[1])


def _note(way: _Way, notes: tuple[str, ...]) -> _Way:
    return _Way(way.cost, way.node, way.lang, way.keys, way.seconds, way.notes + notes, way.unknown)


def _first_words(prompt: Prompt, lang: str, count: int = 6) -> str:
    words = (prompt.speech(lang).text or prompt.speech(lang).play or "").split()
    return " ".join(words[:count]) + ("…" if len(words) > count else "")


def time_to_destinations(ms: MenuSet, speaker: Speaker) -> list[Route]:
    """The quickest way to every destination, per language."""
    return TimingWalk(ms, speaker).run()


def timing_lines(routes: list[Route], budget: float) -> tuple[list[str], int]:
    """A table of routes for the terminal, and how many are above the budget (in seconds)."""
    lines, over = [], 0
    width = max((len(r.destination) for r in routes), default=10)
    for route in routes:
        flag = ""
        if route.seconds > budget:
            over += 1
            flag = f"  warning: above the {budget:g} s budget"
        notes = f"  ({', '.join(route.notes)})" if route.notes else ""
        unknown = f"  + {route.unknown_audio} recording(s) of unknown length" if route.unknown_audio else ""
        lines.append(f"{route.destination:<{width}}  {route.lang:<6} {route.seconds:6.1f} s  keys: "
                     f"{' '.join(route.keys) or '(none)'}{notes}{unknown}{flag}")
    return lines, over
