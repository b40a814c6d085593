"""The menu model: immutable dataclasses that the loader builds and the navigator reads."""

from __future__ import annotations

from dataclasses import FrozenInstanceError, dataclass, field
from types import MappingProxyType
from typing import Any

from ivr.frozen import frozen

#: Option keys a caller can press, in the order menus list them.
DTMF_KEYS = ("1", "2", "3", "4", "5", "6", "7", "8", "9", "0", "*", "#")

#: Action kinds that end the menu part of a call (a destination).
DESTINATIONS = frozenset({"queue", "voicemail", "transfer", "hangup", "say"})


@frozen
class Where:
    """A place in a menu file, for error messages and drawings."""

    file: str
    line: int


@frozen
class Speech:
    """One thing to say or play: text spoken by the TTS voice, or an audio file or URL."""

    text: str | None = None
    play: str | None = None
    lang: str | None = None  # speak in this language's voice rather than the caller's


@frozen
class Prompt:
    """What the caller hears, per language code (a recording may serve every language)."""

    by_lang: MappingProxyType

    def speech(self, lang: str) -> Speech:
        """The speech for `lang`, falling back to any language rather than silence."""
        found = self.by_lang.get(lang)
        if found is None and self.by_lang:
            found = next(iter(self.by_lang.values()))
        return found or Speech(text="")


@frozen
class Action:
    """What happens after a key press, a pattern match, a timeout or a closed schedule."""

    kind: str  # menu, language, back, main, repeat, say, hangup, queue, voicemail, transfer
    target: str | None = None
    message: Prompt | None = None
    then: Action | None = None
    hours: str | None = None
    closed: Action | None = None
    label: str | None = None
    where: Where = Where("", 0)

    def describe(self) -> str:
        """A short text such as `queue billing` used by reports, the simulator and drawings."""
        return f"{self.kind} {self.target}" if self.target else self.kind


class _PlaceOnRead:
    """`Action.where`, which the loader may give as a `(file, line)` tuple: made a Where when first read.

    A load makes tens of thousands of actions whose place is read only to report a problem or
    draw an edge; a tuple is much quicker to make (and free) than a Where. Reads always see a Where.
    """

    def __get__(self, action: Action | None, owner: type | None = None) -> Where:
        if action is None:
            return _NOWHERE
        values = action.__dict__
        where = values["where"]
        if type(where) is tuple:
            where = values["where"] = Where(*where)  # the same Where for every later read
        return where

    def __set__(self, action: Action, value: Any) -> None:
        raise FrozenInstanceError("cannot assign to field 'where'")


_NOWHERE = Action.where
Action.where = _PlaceOnRead()  # type: ignore[assignment]


@frozen
class Collect:
    """Digit entry on an input menu: fixed length, or up to a maximum ended by the finish key."""

    name: str
    digits: int | None = None
    max_digits: int = 20
    min_digits: int = 1
    finish_on: str = "#"


@frozen
class Branch:
    """One rule of an input menu: digits matching a prefix or regular expression lead to an action."""

    action: Action
    prefix: str | None = None
    pattern: str | None = None
    regex: Any = None

    def matches(self, digits: str) -> bool:
        """True when the entered digits satisfy this rule."""
        if self.prefix is not None:
            return digits.startswith(self.prefix)
        return bool(self.regex.fullmatch(digits))


@frozen
class Menu:
    """A menu (options keyed by DTMF) or an input node (collects digits and branches)."""

    id: str
    prompt: Prompt
    short_prompt: Prompt | None
    options: MappingProxyType  # key -> Action
    timeout: int
    attempts: int
    no_input: tuple[Prompt, ...]
    invalid: tuple[Prompt, ...]
    fallback: Action
    where: Where
    title: str | None = None
    collect: Collect | None = None
    branches: tuple[Branch, ...] = ()
    otherwise: Action | None = None
    all_languages: bool = False  # a language-choice prompt: each language in its own voice

    @property
    def is_input(self) -> bool:
        """True for a node that collects several digits rather than one key."""
        return self.collect is not None


@frozen
class Language:
    """A declared language: its code, TTS voice and name."""

    code: str
    voice: str
    name: str


@frozen
class Queue:
    """A Twilio queue callers wait in, with hold music, announcements and a way out."""

    name: str
    where: Where
    title: Prompt | None = None
    hold_music: str | None = None
    announce_every: int = 60
    max_wait: int = 600
    max_size: int | None = None
    leave_key: str | None = "*"
    voicemail: str | None = None
    on_timeout: Action | None = None
    survey: str | None = None
    survey_rate: float = 1.0
    survey_ask: str | None = None  # overrides the survey's `ask` for this queue
    survey_once_per_days: int | None = None  # overrides the survey's `once_per_days`
    hours: str | None = None
    closed: Action | None = None


@frozen
class VoicemailBox:
    """A voicemail box: greeting, length limit, finish key and transcription."""

    name: str
    where: Where
    greeting: Prompt | None = None
    max_length: int = 120
    finish_on: str = "#"
    transcribe: bool = False


@frozen
class Transfer:
    """A transfer to a phone number or SIP address, with what to do when nobody answers."""

    name: str
    where: Where
    to: str
    timeout: int = 20
    caller_id: str | None = None
    on_fail: Action | None = None
    survey: str | None = None
    survey_rate: float = 1.0
    survey_ask: str | None = None  # overrides the survey's `ask` for this transfer
    survey_once_per_days: int | None = None  # overrides the survey's `once_per_days`
    hours: str | None = None
    closed: Action | None = None


@frozen
class Line:
    """Settings for the whole phone line: where calls start, the main menu, hours."""

    start: str
    main: str
    where: Where
    hours: str | None = None
    closed: Action | None = None
    returning: bool = True


@dataclass(frozen=True)
class MenuSet:
    """Everything loaded from `menus/`, immutable and identified by a content hash."""

    version: str
    languages: MappingProxyType  # code -> Language
    line: Line
    menus: MappingProxyType  # id -> Menu
    messages: MappingProxyType  # message name -> Prompt
    queues: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))
    voicemail: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))
    transfers: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))
    schedules: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))
    surveys: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))
    sources: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))  # file -> text

    @property
    def default_language(self) -> str:
        """The first declared language: used until the caller chooses one."""
        return next(iter(self.languages))

    def message(self, name: str) -> Prompt:
        """A system message (goodbye, apology...) by name."""
        return self.messages[name]
