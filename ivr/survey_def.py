"""The `surveys:` section: post-call keypad surveys, read into a model with `file:line` problems."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ivr.fields import NAME_RE, Reader, suggest
from ivr.model import Prompt, Where
from ivr.yamlsrc import YDict, YList

QUESTION_TYPES = ("scale", "nps", "yes_no", "comment")
ASK_MODES = ("after_call", "at_start")
SURVEY_FIELDS = ("title", "ask", "offer", "intro", "questions", "closing", "invalid", "timeout",
                 "once_per_days", "alert")
QUESTION_FIELDS = ("id", "type", "prompt", "range", "max_length")
ALERT_FIELDS = ("threshold", "questions")
RANGE_RE = re.compile(r"^\s*(\d{1,2})\s*-\s*(\d{1,2})\s*$")
YES_NO = {"1": "yes", "2": "no"}
MAX_QUESTIONS = 5


@dataclass(frozen=True)
class Question:
    """One survey question: a keypad score, a yes/no, or a spoken comment."""

    id: str
    kind: str  # scale, nps, yes_no, comment
    prompt: Prompt
    where: Where
    low: int = 0
    high: int = 0
    max_length: int = 60

    @property
    def describe(self) -> str:
        """`id:type[:low-high]` as stored in a response's `kinds` field."""
        scored = self.kind in ("scale", "nps")
        return f"{self.id}:{self.kind}" + (f":{self.low}-{self.high}" if scored else "")

    @property
    def two_digits(self) -> bool:
        """True when answers may need two keys (10), entered with a final pound."""
        return self.kind in ("scale", "nps") and self.high >= 10

    def answer(self, digits: str) -> str | None:
        """The stored answer for the keys pressed, or None when they are not a valid answer."""
        digits = digits.rstrip("#")
        if self.kind == "yes_no":
            return YES_NO.get(digits)
        if self.kind in ("scale", "nps") and digits.isdigit() and len(digits) <= 2:
            value = int(digits)
            return str(value) if self.low <= value <= self.high else None
        return None


@dataclass(frozen=True)
class Survey:
    """A survey: how it is offered, its questions, closing words and low-score alert."""

    name: str
    where: Where
    questions: tuple[Question, ...]
    closing: Prompt
    intro: Prompt | None = None
    offer: Prompt | None = None
    invalid: Prompt | None = None
    ask: str = "after_call"
    timeout: int = 6
    once_per_days: int = 0
    alert_threshold: int | None = None
    alert_questions: tuple[str, ...] = ()

    @property
    def kinds(self) -> str:
        """Every question as `id:type[:range]` in order, e.g. `csat:scale:1-5,resolved:yes_no`."""
        return ",".join(q.describe for q in self.questions)

    def alerts_on(self, question: Question, answer: str) -> bool:
        """True when `answer` to `question` is a score at or below the alert threshold."""
        return (self.alert_threshold is not None and question.id in self.alert_questions
                and answer.isdigit() and int(answer) <= self.alert_threshold)


def parse_survey(reader: Reader, name: str, node: Any, line: int) -> Survey | None:
    """Read one survey declaration, recording every problem at its line."""
    what = f"survey '{name}'"
    node = reader.mapping(node, what, line, SURVEY_FIELDS)
    if node is None:
        return None
    ask = reader.text(node, "ask", "after_call")
    if ask not in ASK_MODES:
        reader.problem(node.line_of("ask"), f"'ask' of {what} must be one of {', '.join(ASK_MODES)}"
                       f"{suggest(ask, ASK_MODES)}, not {ask!r}")
        ask = "after_call"
    prompts = {key: _prompt(reader, node, key, what) for key in ("offer", "intro", "closing", "invalid")}
    if ask == "after_call" and prompts["offer"] is None and "offer" not in node:
        reader.problem(line, f"{what} is offered after the call but has no 'offer' prompt: add one "
                       "such as \"To answer a short survey about your call, press 1.\"")
    if prompts["closing"] is None and "closing" not in node:
        reader.problem(line, f"{what} needs a 'closing' prompt, for example \"Thank you, goodbye.\"")
    questions = _questions(reader, node, what)
    if not questions or prompts["closing"] is None:
        return None
    threshold, alert_ids = _alert(reader, node, what, questions)
    return Survey(name=name, where=Where(reader.file, line), questions=questions,
                  closing=prompts["closing"], intro=prompts["intro"], offer=prompts["offer"],
                  invalid=prompts["invalid"], ask=ask,
                  timeout=reader.integer(node, "timeout", 6, 2, 30),
                  once_per_days=reader.integer(node, "once_per_days", 0, 0, 365),
                  alert_threshold=threshold, alert_questions=alert_ids)


def _prompt(reader: Reader, node: YDict, key: str, what: str) -> Prompt | None:
    if key not in node:
        return None
    return reader.prompt(node[key], node.line_of(key), f"{key} of {what}")


def _questions(reader: Reader, node: YDict, what: str) -> tuple[Question, ...]:
    raw = node.get("questions")
    if not isinstance(raw, YList) or not raw:
        reader.problem(node.line_of("questions"), f"{what} needs 'questions': a list such as\n"
                       "  - {id: csat, type: scale, range: 1-5, prompt: {...}}")
        return ()
    if len(raw) > MAX_QUESTIONS:
        reader.problem(raw.line, f"{what} has {len(raw)} questions; callers hang up on long "
                       f"surveys: keep it to {MAX_QUESTIONS} or fewer", "warning")
    found: dict[str, Question] = {}
    for index, item in enumerate(raw):
        question = _question(reader, item, raw.line_of(index), f"question #{index + 1} of {what}")
        if question and question.id in found:
            reader.problem(question.where.line, f"{what} already has a question '{question.id}' "
                           f"(line {found[question.id].where.line}); question ids must be unique")
        elif question:
            found[question.id] = question
    return tuple(found.values())


def _question(reader: Reader, raw: Any, line: int, what: str) -> Question | None:
    node = reader.mapping(raw, what, line, QUESTION_FIELDS)
    if node is None:
        return None
    qid, kind = reader.text(node, "id"), reader.text(node, "type")
    if not qid or not NAME_RE.match(qid):
        reader.problem(node.line_of("id"), f"{what} needs an 'id' of letters, digits, _ or -, "
                       "starting with a letter (for example csat)")
    if kind not in QUESTION_TYPES:
        reader.problem(node.line_of("type"), f"'type' of {what} must be one of "
                       f"{', '.join(QUESTION_TYPES)}{suggest(kind or '', QUESTION_TYPES)}, not {kind!r}")
    prompt = _prompt(reader, node, "prompt", what)
    if "prompt" not in node:
        reader.problem(line, f"{what} needs a 'prompt' in every language that says which keys to press")
    low, high = _range(reader, node, kind, what)
    if "max_length" in node and kind != "comment":
        reader.problem(node.line_of("max_length"), f"'max_length' of {what} only applies to comment questions")
    if not qid or not NAME_RE.match(qid) or kind not in QUESTION_TYPES or prompt is None:
        return None
    return Question(id=qid, kind=kind, prompt=prompt, where=Where(reader.file, line), low=low,
                    high=high, max_length=reader.integer(node, "max_length", 60, 5, 300))


def _range(reader: Reader, node: YDict, kind: str | None, what: str) -> tuple[int, int]:
    """The answer range: `range: 1-5` on scale questions, 0-10 for nps, none otherwise."""
    if kind == "nps":
        if "range" in node:
            reader.problem(node.line_of("range"), f"{what} is an nps question, always 0-10: remove 'range'")
        return 0, 10
    if kind != "scale":
        if "range" in node:
            reader.problem(node.line_of("range"), f"'range' of {what} only applies to scale questions")
        return 0, 0
    match = RANGE_RE.match(str(node.get("range", "1-5")))
    low, high = (int(match.group(1)), int(match.group(2))) if match else (-1, -1)
    if not 0 <= low < high <= 10:
        reader.problem(node.line_of("range"), f"'range' of {what} must be like 1-5: two whole numbers "
                       f"from 0 to 10, the first smaller, not {node.get('range')!r}")
        return 1, 5
    return low, high


def _alert(reader: Reader, node: YDict, what: str,
           questions: tuple[Question, ...]) -> tuple[int | None, tuple[str, ...]]:
    """The low-score alert: a threshold and the scored questions it watches (default: all)."""
    if "alert" not in node:
        return None, ()
    alert = reader.mapping(node["alert"], f"alert of {what}", node.line_of("alert"), ALERT_FIELDS)
    if alert is None:
        return None, ()
    scored = {q.id: q for q in questions if q.kind in ("scale", "nps")}
    ids = alert.get("questions", list(scored))
    if not isinstance(ids, list) or not ids:
        reader.problem(alert.line_of("questions"), f"'questions' of the alert of {what} must be a "
                       f"list of scale or nps question ids, such as [{', '.join(scored) or 'csat'}]")
        return None, ()
    for qid in ids:
        if qid not in scored:
            reader.problem(alert.line_of("questions"), f"the alert of {what} watches '{qid}', which is "
                           f"not a scale or nps question of this survey{suggest(qid, scored)}")
    if "threshold" not in alert:
        reader.problem(alert.line, f"the alert of {what} needs a 'threshold': scores at or below it alert")
        return None, ()
    watched = [scored[q] for q in ids if q in scored]
    low = max((q.low for q in watched), default=0)
    high = min((q.high for q in watched), default=10)
    threshold = reader.integer(alert, "threshold", low, low, max(low, high - 1))
    return threshold, tuple(q.id for q in watched)
