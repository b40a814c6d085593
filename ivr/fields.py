"""Reading YAML sections into model values, collecting `file:line` problems with fixes in words."""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ivr.model import DTMF_KEYS, Action, Prompt, Speech, Where
from ivr.problems import Problem
from ivr.yamlsrc import YDict, YList

KEY_ALIASES = {"star": "*", "pound": "#", "hash": "#"}
NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")
KEYWORD_ACTIONS = ("repeat", "back", "main", "hangup")
ACTION_KINDS = ("menu", "language", "say", "queue", "voicemail", "transfer", *KEYWORD_ACTIONS)
ACTION_MODIFIERS = ("then", "hours", "closed", "label")
_ACTION_KIND_SET = frozenset(ACTION_KINDS)
_ACTION_MODIFIER_SET = frozenset(ACTION_MODIFIERS)
_FIELD_SETS: dict[tuple[str, ...], frozenset[str]] = {}  # allowed fields, as sets
_KEYWORD_SET = frozenset(KEYWORD_ACTIONS)
TARGET_KINDS = frozenset(("menu", "language", "queue", "voicemail", "transfer"))


def suggest(word: str, choices: Any) -> str:
    """A ` (did you mean 'x'?)` hint when a close match exists."""
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _dtmf_key(raw: Any) -> str | None:
    if isinstance(raw, bool):
        return None
    key = KEY_ALIASES.get(str(raw).strip().lower(), str(raw).strip())
    return key if key in DTMF_KEYS else None


#: Option keys as written (`1`, `"*"`, `star`...) and their DTMF character, for `dtmf_key` and hot loops.
DTMF_BY_WORD = {raw: _dtmf_key(raw) for raw in (*DTMF_KEYS, *KEY_ALIASES, *range(10))}


def dtmf_key(raw: Any) -> str | None:
    """Normalise an option key (`1`, `"*"`, `star`) to its DTMF character, or None if invalid."""
    if type(raw) is int or type(raw) is str:  # bool and 1.0 hash like 1: never look them up
        key = DTMF_BY_WORD.get(raw)
        if key is not None:
            return key
    return _dtmf_key(raw)


class Reader:
    """Reads one file's sections, knows the declared languages, and records problems."""

    def __init__(self, file: str, languages: list[str], recordings: Path, problems: list[Problem]):
        self.file = file
        self.languages = languages
        self._language_set = frozenset(languages)
        self.recordings = recordings
        self.problems = problems

    def problem(self, line: int, message: str, severity: str = "error") -> None:
        """Record one problem at `line` of this file."""
        self.problems.append(Problem(self.file, line, message, severity))

    def where(self, node: Any, key: Any = None, parent: Any = None) -> Where:
        """The place of `node` (or of `key` in `parent`) in the file."""
        if parent is not None and isinstance(parent, YDict | YList):
            return Where(self.file, parent.line_of(key))
        return Where(self.file, getattr(node, "line", 0))

    def mapping(self, node: Any, what: str, line: int, allowed: tuple[str, ...]) -> YDict | None:
        """Check that `node` is a mapping with only `allowed` fields; return it or None."""
        if not isinstance(node, YDict):
            self.problem(line, f"{what} must be a mapping of fields ({', '.join(allowed)})")
            return None
        known = _FIELD_SETS.get(allowed)
        if known is None:
            known = _FIELD_SETS[allowed] = frozenset(allowed)
        if known.issuperset(node):
            return node
        for key in node:
            if key not in known:
                self.problem(node.line_of(key), f"unknown field '{key}' in {what}"
                             f"{suggest(key, allowed)}; allowed fields: {', '.join(allowed)}")
        return node

    def integer(self, node: YDict, key: str, default: int, low: int, high: int) -> int:
        """An integer field within [low, high], or the default with a problem."""
        value = node.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            self.problem(node.line_of(key), f"'{key}' must be a whole number from {low} to {high}, "
                         f"not {value!r}")
            return default
        return value

    def number(self, node: YDict, key: str, default: float, low: float, high: float) -> float:
        """A number field within [low, high] (percentages such as `30%` accepted)."""
        value = node.get(key, default)
        if isinstance(value, str) and value.strip().endswith("%"):
            try:
                value = float(value.strip()[:-1]) / 100
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
            self.problem(node.line_of(key), f"'{key}' must be a number from {low} to {high}, "
                         f"not {value!r}")
            return default
        return float(value)

    def text(self, node: YDict, key: str, default: str | None = None) -> str | None:
        """A text field (numbers are accepted and turned into text)."""
        value = node.get(key, default)
        if value is None or type(value) is str or isinstance(value, str):
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        self.problem(node.line_of(key), f"'{key}' must be a text, not {type(value).__name__}")
        return default

    def flag(self, node: YDict, key: str, default: bool) -> bool:
        """A yes/no field."""
        value = node.get(key, default)
        if not isinstance(value, bool):
            self.problem(node.line_of(key), f"'{key}' must be true or false, not {value!r}")
            return default
        return value

    def name(self, raw: Any, line: int, what: str) -> str | None:
        """A menu, queue or box name: letters, digits, `_` and `-`, starting with a letter."""
        if type(raw) is str and raw.isalnum() and raw.isascii() and raw[0].isalpha() and len(raw) <= 64:
            return raw  # the usual name, as NAME_RE would accept it
        if isinstance(raw, str) and NAME_RE.match(raw):
            return raw
        self.problem(line, f"{what} name {raw!r} is not valid: use letters, digits, _ or -, "
                     "starting with a letter (for example billing_menu)")
        return None

    # -- prompts ---------------------------------------------------------------------------
    def speech(self, raw: Any, line: int, what: str) -> Speech | None:
        """One language's speech: a text, or a mapping with `play` (file or https URL) or `say`."""
        if isinstance(raw, str):
            return Speech(text=raw.strip())
        if isinstance(raw, YDict) and set(raw) <= {"play", "say"} and len(raw) == 1:
            if "say" in raw:
                return Speech(text=str(raw["say"]).strip())
            return Speech(play=self.recording(raw["play"], raw.line_of("play")))
        self.problem(line, f"{what} must be a text to speak, or {{play: file.mp3}}")
        return None

    def recording(self, raw: Any, line: int) -> str | None:
        """Check a recording reference: an https URL, or a file that exists under recordings/."""
        ref = str(raw or "").strip()
        if ref.startswith("https://"):
            return ref
        if ref.startswith("http://"):
            self.problem(line, f"recording URL {ref!r} must use https://")
            return None
        name = ref.removeprefix("recordings/")
        if not name or ".." in Path(name).parts or not (self.recordings / name).is_file():
            self.problem(line, f"recording file '{ref}' not found in {self.recordings}/: "
                         "add the file there or fix the name")
            return None
        return "recordings/" + name

    def prompt(self, raw: Any, line: int, what: str) -> Prompt | None:
        """A prompt: a text per declared language, or one recording for all languages."""
        if isinstance(raw, str) and len(self.languages) == 1:
            raw_map: dict = {self.languages[0]: raw}
        elif isinstance(raw, YDict) and len(raw) == 1 and "play" in raw:
            speech = self.speech(raw, line, what)
            return Prompt(MappingProxyType({lang: speech for lang in self.languages})) if speech else None
        elif isinstance(raw, YDict):
            raw_map = raw
        else:
            langs = ", ".join(self.languages)
            self.problem(line, f"{what} must give a text for each language ({langs}), "
                         "for example\n    en-US: Hello\n    es-US: Hola")
            return None
        return self._prompt_by_lang(raw_map, line, what)

    def _prompt_by_lang(self, raw: dict, line: int, what: str) -> Prompt | None:
        by_lang: dict[str, Speech] = {}
        languages = self.languages
        for lang, value in raw.items():
            if type(value) is str and lang in languages:  # the usual plain text
                by_lang[lang] = Speech(value.strip())  # positional: Speech(text, play, lang)
                continue
            key_line = raw.line_of(lang) if isinstance(raw, YDict) else line
            if lang not in self.languages:
                self.problem(key_line, f"{what} has text for '{lang}', which is not a declared "
                             f"language{suggest(lang, self.languages)}; declared: {', '.join(self.languages)}")
                continue
            speech = self.speech(value, key_line, f"{what} ({lang})")
            if speech:
                by_lang[lang] = speech
        missing = [] if raw.keys() >= self._language_set else [lang for lang in languages if lang not in raw]
        if missing:
            self.problem(line, f"{what} is missing its text in {', '.join(missing)}: "
                         "every prompt must be given in every declared language")
        return Prompt(MappingProxyType(by_lang)) if by_lang else None

    def prompt_list(self, raw: Any, line: int, what: str) -> tuple[Prompt, ...] | None:
        """A list of prompts (first attempt, second attempt...); a single prompt is a list of one."""
        items = raw if isinstance(raw, YList) else [raw]
        lines = raw.item_lines if isinstance(raw, YList) else [line]
        prompts = [self.prompt(item, ln, f"{what} #{i + 1}") for i, (item, ln) in
                   enumerate(zip(items, lines, strict=False))]
        return tuple(p for p in prompts if p) or None

    # -- actions ---------------------------------------------------------------------------
    def plain_action(self, raw: Any, line: int) -> Action | None:
        """The usual action, which cannot be wrong: a word, or `{kind: name}`; None for anything else."""
        # positional, as quicker: Action(kind, target, message, then, hours, closed, label, where)
        # and the place as (file, line), made a Where when first read (see model._PlaceOnRead)
        if type(raw) is str:
            word = raw.strip()
            if word in _KEYWORD_SET:
                return Action(word, None, None, None, None, None, None, (self.file, line))
            return Action("menu", word, None, None, None, None, None, (self.file, line))
        if type(raw) is YDict and len(raw) == 1:
            for kind, target in raw.items():
                if kind in TARGET_KINDS and type(target) is str:
                    return Action(kind, target, None, None, None, None, None, (self.file, raw.key_lines[kind]))
        return None

    def action(self, raw: Any, line: int, what: str) -> Action | None:
        """An action: a keyword (`repeat`, `back`, `main`, `hangup`), a menu name, or a mapping."""
        plain = self.plain_action(raw, line)
        if plain is not None:
            return plain
        if isinstance(raw, str):
            word = raw.strip()
            if word in KEYWORD_ACTIONS:
                return Action(kind=word, where=Where(self.file, line))
            return Action(kind="menu", target=word, where=Where(self.file, line))
        if not isinstance(raw, YDict):
            self.problem(line, f"{what} must be a menu name, one of {', '.join(KEYWORD_ACTIONS)}, "
                         "or a mapping such as {queue: billing}")
            return None
        return self._action_mapping(raw, what)

    def _action_mapping(self, raw: YDict, what: str) -> Action | None:
        kinds = []
        for key in raw:
            if key in _ACTION_KIND_SET:
                kinds.append(key)
            elif key not in _ACTION_MODIFIER_SET:
                self.problem(raw.line_of(key), f"unknown field '{key}' in {what}"
                             f"{suggest(key, ACTION_KINDS + ACTION_MODIFIERS)}")
        if len(kinds) != 1:
            self.problem(raw.line, f"{what} must name exactly one of: {', '.join(ACTION_KINDS)} "
                         f"(found {', '.join(kinds) or 'none'})")
            return None
        kind = kinds[0]
        where = Where(self.file, raw.line_of(kind))
        target, message = None, None
        if kind == "say":
            message = self.prompt(raw["say"], where.line, f"message in {what}")
        elif kind in TARGET_KINDS:
            target = self.text(raw, kind)
        if len(raw) == 1 and kind != "say":  # the usual {menu: billing}
            return Action(kind=kind, target=target, where=where)
        then = closed = hours = label = None
        if len(raw) > 1:  # modifiers present
            if "then" in raw:
                then = self.action(raw["then"], raw.line_of("then"), f"'then' of {what}")
            if "closed" in raw:
                closed = self.action(raw["closed"], raw.line_of("closed"), f"'closed' of {what}")
            hours, label = self.text(raw, "hours"), self.text(raw, "label")
        if kind == "say" and then is None:
            then = Action(kind="hangup", where=where)
        return Action(kind=kind, target=target, message=message, then=then,
                      hours=hours, closed=closed, label=label, where=where)
