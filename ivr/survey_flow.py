"""Post-call surveys: whether to survey a call, and each answer's writes and next prompt."""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from ivr.alerts import AlertSender, AlertStore
from ivr.model import MenuSet, Speech, Transfer
from ivr.render import Urls
from ivr.state import BadState, CallState
from ivr.steps import Step
from ivr.survey_def import Question, Survey
from ivr.surveys import SurveyStore
from ivr.writer import Command

OPT_IN_VAR = "survey"  # an input menu collecting `survey` (1 = yes) records an opt-in at the start
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_HOLDER = re.compile(r"^(queue|transfer):[A-Za-z0-9_-]{1,64}$")
_AGENT = re.compile(r"^[A-Za-z0-9_.:@+*-]{0,64}$")  # names, client:ids, masked numbers
_PATH = re.compile(r"^[A-Za-z0-9_.>-]{0,400}$")
_TIME = re.compile(r"^[0-9]{1,12}(\.[0-9])?$")


@dataclass(frozen=True)
class SurveyState:
    """Where a caller is in a survey, carried in the signed URL so any instance serves the next answer."""

    survey: str
    version: str
    lang: str
    holder: str  # queue:billing or transfer:operator
    agent: str = ""
    index: int = -1  # -1: the offer; 0, 1...: the questions
    attempt: int = 0
    asked: float = 0.0  # when this prompt was issued: orders answers, so late duplicates lose
    offered: float = 0.0
    path: str = ""  # menus the call went through (language>main>support), recorded with the offer

    @property
    def holder_name(self) -> str:
        """The queue or transfer name alone."""
        return self.holder.partition(":")[2]

    def to_query(self) -> dict[str, str]:
        """The URL query parameters that carry this state."""
        query = {"sv": self.survey, "v": self.version, "l": self.lang, "h": self.holder,
                 "i": str(self.index), "t": f"{self.asked:.1f}", "o": f"{self.offered:.1f}"}
        if self.agent:
            query["ag"] = self.agent
        if self.attempt:
            query["a"] = str(self.attempt)
        if self.path:
            query["p"] = self.path
        return query

    @classmethod
    def from_query(cls, args: dict[str, str]) -> SurveyState:
        """Parse state from URL parameters; raise BadState when it is not well formed."""
        try:
            values = (args["sv"], args["v"], args["l"], args["h"], args.get("ag", ""))
            index, attempt, path = int(args["i"]), int(args.get("a", "0")), args.get("p", "")
            asked, offered = args["t"], args["o"]
        except (KeyError, ValueError) as exc:
            raise BadState(f"missing or bad survey state in the URL: {exc}") from None
        if not (all(_NAME.match(x) for x in values[:3]) and _HOLDER.match(values[3])
                and _AGENT.match(values[4]) and _TIME.match(asked) and _TIME.match(offered)
                and _PATH.match(path) and -1 <= index < 100 and 0 <= attempt < 10):
            raise BadState("survey state in the URL is not valid")
        return cls(*values, index=index, attempt=attempt, asked=float(asked), offered=float(offered),
                   path=path)

    def later(self, now: float, **changes: Any) -> SurveyState:
        """The state for the next prompt, asked strictly after this one (answers stay ordered)."""
        return replace(self, asked=round(max(now, self.asked + 0.1), 1), **changes)


@dataclass(frozen=True)
class Turn:
    """What one survey webhook does: writes, then speech and the next prompt (or goodbye)."""

    lang: str
    commands: tuple[Command, ...] = ()
    say: tuple[Speech, ...] = ()
    ask: SurveyState | None = None  # None: say, then hang up
    alert: bool = False


@dataclass
class SurveyParts:
    """The survey and alert stores and the alert sender of one runtime."""

    store: SurveyStore
    alerts: AlertStore
    sender: AlertSender
    webhook: bool = field(default=False)


def parts(rt: Any) -> SurveyParts:
    """The survey parts of a runtime, made once from its settings."""
    found = rt.__dict__.get("_survey_parts")
    if found is None:
        config = rt.config
        retention = config.int("IVR_RETENTION_DAYS") * 86400
        alerts = AlertStore(retention_seconds=retention)
        url = config.get("IVR_ALERT_WEBHOOK_URL")
        sender = AlertSender(rt.redis, url, alerts, timeout=config.float("IVR_ALERT_TIMEOUT"),
                             retry_after=config.float("IVR_ALERT_RETRY_SECONDS"),
                             attempts=config.int("IVR_ALERT_ATTEMPTS"))
        found = rt.__dict__.setdefault("_survey_parts", SurveyParts(
            SurveyStore(retention_seconds=retention), alerts, sender, webhook=bool(url)))
    return found


def sampled(sid: str, rate: float) -> bool:
    """True when call `sid` falls in a `rate` sample (a stable hash of the CallSid, so tests can choose)."""
    share = int(hashlib.sha256(sid.encode()).hexdigest()[:8], 16) / 0x1_0000_0000
    return share < rate


def survey_after_call(rt: Any, ms: MenuSet, state: CallState, holder: Any, who: Any,
                      pending: Sequence[Command] = ()) -> Step | None:
    """The first survey step when the queue or transfer has a survey for this call, else None.

    `pending` are this webhook's writes not yet sent: they share the survey's first round trip.
    """
    survey = ms.surveys.get(getattr(holder, "survey", None) or "")
    ask, quiet_days = holder_settings(holder, survey)
    if survey is None or not sampled(who.sid, holder.survey_rate) \
            or (ask == "at_start" and OPT_IN_VAR not in state.vars):
        rt.events.write(pending)
        return None
    kind = "transfer" if isinstance(holder, Transfer) else "queue"
    p = parts(rt)
    answers = rt.events.write_and_read_all(_lookup_reads(p.store, rt.calls, who), pending, None)
    seen, agent, path = (False, "", "") if answers is None else _looked_up(answers, who, quiet_days)
    if seen:
        return None
    path = path or ">".join(state.stack + (state.node,))  # no recorded path: where the URL says
    now = round(time.time(), 1)
    st = SurveyState(survey.name, ms.version, state.lang, f"{kind}:{holder.name}",
                     _AGENT.match(agent) and agent or "", asked=now, offered=now,
                     path=path if _PATH.match(path) else "")
    if ask == "at_start":
        commands = offer_commands(p.store, survey, st, who.sid, who.hash, quiet_days)
        if state.vars.get(OPT_IN_VAR) != "1":
            rt.events.write(commands + p.store.declined(who.sid, now))
            return None
        rt.events.write(commands + p.store.started(who.sid, now))
        return Step(lang=state.lang, say=_said(survey.intro, state.lang), redirect=_ask_url(rt, st, 0))
    # The offer webhook records the offer (see SurveyFlow.ask): this webhook stays one round trip.
    return Step(lang=state.lang, redirect=_ask_url(rt, st, -1))


def holder_settings(holder: Any, survey: Survey | None) -> tuple[str, int]:
    """How `survey` is asked and how many days a caller rests after it, for this queue or transfer
    (its `survey_ask` and `survey_once_per_days` first, then the survey's own)."""
    if survey is None:
        return "after_call", 0
    once = getattr(holder, "survey_once_per_days", None)
    return (getattr(holder, "survey_ask", None) or survey.ask,
            survey.once_per_days if once is None else once)


def holder_of(ms: MenuSet, st: SurveyState) -> Any:
    """The queue or transfer a survey state names (None when it is gone from the menus)."""
    kind, _, name = st.holder.partition(":")
    return (ms.transfers if kind == "transfer" else ms.queues).get(name)


def offer_commands(store: SurveyStore, survey: Survey, st: SurveyState, sid: str,
                   caller_hash: str, quiet_days: int) -> list[Command]:
    """Commands opening the response of call `sid` when `survey` is offered (idempotent)."""
    kind, _, name = st.holder.partition(":")
    fields = {"survey": survey.name, kind: name, "agent": st.agent, "lang": st.lang,
              "path": st.path, "caller_hash": caller_hash, "kinds": survey.kinds}
    return store.offered(sid, st.offered, fields, name, caller_hash, quiet_days)


def _lookup_reads(store: SurveyStore, calls: Any, who: Any) -> list[Command]:
    """Reads telling whether this caller was surveyed recently (by another call), agent, menu path."""
    return [Command("GET", store.SURVEYED % (who.hash or "-")),
            Command("HGET", calls.key(who.sid), ("agent",)),
            Command("EXISTS", store.key(who.sid)),  # a repeated webhook of this very call is not a second survey
            Command("HGETALL", calls.path_key(who.sid))]


def _looked_up(answers: list[Any], who: Any, quiet_days: int) -> tuple[bool, str, str]:
    """(surveyed recently, agent, menus visited) from the answers of `_lookup_reads`."""
    last, agent, this_call, steps = answers
    recent = bool(last and who.hash) and time.time() - float(last) < quiet_days * 86400
    return recent and not this_call, agent or "", menus_visited(steps or {})


def menus_visited(steps: dict[str, str]) -> str:
    """The menus a call went through, from its recorded path, as `language>main>support`."""
    menus: list[str] = []
    for number in sorted(steps, key=lambda n: int(n) if n.isdigit() else 0):
        for event in steps[number].split(" | "):
            if event.startswith("menu ") and (not menus or menus[-1] != event[5:]):
                menus.append(event[5:])
    return ">".join(menus)


def _ask_url(rt: Any, st: SurveyState, index: int) -> str:
    return Urls(rt.config.get("IVR_PUBLIC_URL").rstrip("/")).path("/voice/survey/ask",
                                                                    replace(st, index=index, path=st.path if index < 0 else "").to_query())


def _said(prompt: Any, lang: str) -> tuple[Speech, ...]:
    return (prompt.speech(lang),) if prompt is not None else ()


class SurveyFlow:
    """Takes one caller through one survey: pure, the stores only build commands."""

    def __init__(self, survey: Survey, p: SurveyParts, sid: str, now: float | None = None):
        self.survey, self.p, self.sid = survey, p, sid
        self.now = round(time.time() if now is None else now, 1)

    def ask(self, st: SurveyState, caller_hash: str = "", holder: Any = None) -> Turn:
        """Ask the prompt `st` points at; the offer (index -1) also records that it was offered
        (`holder`: the queue or transfer named in `st`, for its survey settings)."""
        if st.index < 0:
            quiet_days = holder_settings(holder, self.survey)[1]
            commands = offer_commands(self.p.store, self.survey, st, self.sid, caller_hash, quiet_days)
            return Turn(lang=st.lang, commands=tuple(commands), ask=st)
        return Turn(lang=st.lang, ask=st)

    def press(self, st: SurveyState, digits: str | None) -> Turn:
        """The caller's keys (None: silence) for the offer or a question."""
        if st.index < 0:
            return self._offer(st, digits)
        if st.index >= len(self.survey.questions):
            return self._end(st, ())
        question = self.survey.questions[st.index]
        if not digits:
            return self._next(st, self.p.store.skipped(self.sid, st.index, st.asked))
        value = question.answer(digits)
        if value is None and st.attempt == 0:
            invalid = self.survey.invalid
            return Turn(lang=st.lang, say=_said(invalid, st.lang), ask=st.later(self.now, attempt=1))
        if value is None:  # a second wrong key: move on rather than reprompt forever
            return self._next(st, self.p.store.skipped(self.sid, st.index, st.asked))
        return self._answered(st, question, value)

    def recorded(self, st: SurveyState, url: str, seconds: int) -> Turn:
        """A spoken comment: its recording URL is the answer; an empty recording is a skip."""
        if not 0 <= st.index < len(self.survey.questions):
            return self._end(st, ())
        question = self.survey.questions[st.index]
        if seconds <= 0 or not url:
            return self._next(st, self.p.store.skipped(self.sid, st.index, st.asked))
        return self._answered(st, question, url)

    def _offer(self, st: SurveyState, digits: str | None) -> Turn:
        store = self.p.store
        if digits and digits[0] == "1":
            return Turn(lang=st.lang, commands=tuple(store.started(self.sid, self.now)),
                        say=_said(self.survey.intro, st.lang),
                        ask=st.later(self.now, index=0, attempt=0, path=""))
        return Turn(lang=st.lang, commands=tuple(store.declined(self.sid, self.now)),
                    say=_said(self.survey.closing, st.lang))

    def _answered(self, st: SurveyState, question: Question, value: str) -> Turn:
        commands = self.p.store.answered(self.sid, st.index, value, st.asked, self.now)
        alert = self.survey.alerts_on(question, value)
        if alert:
            fields = {"id": f"{self.sid}:{question.id}", "call_sid": self.sid, "survey": self.survey.name,
                      "question": question.id, "score": value, "queue": st.holder_name,
                      "agent": st.agent, "lang": st.lang}
            commands += self.p.alerts.raised(fields, self.now, deliver=self.p.webhook)
        return replace(self._next(st, commands), alert=alert)

    def _next(self, st: SurveyState, commands: list[Command]) -> Turn:
        if st.index + 1 < len(self.survey.questions):
            return Turn(lang=st.lang, commands=tuple(commands),
                        ask=st.later(self.now, index=st.index + 1, attempt=0))
        return self._end(st, commands)

    def _end(self, st: SurveyState, commands: Any) -> Turn:
        done = tuple(commands) + tuple(self.p.store.finished(self.sid, self.now))
        return Turn(lang=st.lang, commands=done, say=_said(self.survey.closing, st.lang))


def survey_twiml(turn: Turn, survey: Survey | None, ms: MenuSet, urls: Urls) -> str:
    """The TwiML for a turn: speech, then the next prompt's Gather or Record, or a hang-up."""
    from twilio.twiml.voice_response import VoiceResponse

    from ivr.render import speak

    response = VoiceResponse()
    st = turn.ask
    if st is None or survey is None:
        for speech in turn.say:
            speak(response, speech, turn.lang, ms, urls)
        response.hangup()
        return str(response)
    question = survey.questions[st.index] if st.index >= 0 else None
    prompt = question.prompt if question else survey.offer
    said = turn.say + _said(prompt, st.lang)
    if question is not None and question.kind == "comment":
        for speech in said:
            speak(response, speech, st.lang, ms, urls)
        _record(response, question, st, urls)
        return str(response)
    url = urls.path("/voice/survey/key", st.to_query())
    two = question is not None and question.two_digits
    gather = response.gather(input="dtmf", action=url, method="POST", timeout=survey.timeout,
                             num_digits=None if two else 1, finish_on_key="#" if two else "",
                             action_on_empty_result=False)
    for speech in said:
        speak(gather, speech, st.lang, ms, urls)
    response.redirect(url, method="POST")  # silence: the same webhook without Digits
    return str(response)


def _record(response: Any, question: Question, st: SurveyState, urls: Urls) -> None:
    """A Record for a spoken comment, transcribed; a Redirect reports an empty recording."""
    url = urls.path("/voice/survey/comment", st.to_query())
    response.record(action=url, method="POST", max_length=question.max_length, finish_on_key="#",
                    play_beep=True, timeout=5, trim="trim-silence", transcribe=True,
                    transcribe_callback=urls.path("/voice/survey/transcription", st.to_query()))
    response.redirect(url, method="POST")
