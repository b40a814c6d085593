"""Exports of survey responses, calls and voicemail as streamed CSV, JSON Lines or XLSX.

Columns are stable and documented in docs/exports.md; keep the two in step.
"""

from __future__ import annotations

import csv
import io
import json
import re
import struct
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from functools import partial
from itertools import chain
from json.encoder import encode_basestring  # type: ignore[attr-defined]
from operator import add, itemgetter
from typing import IO, Any
from zoneinfo import ZoneInfo

from ivr.metrics import Filters, call_queue, epoch, walk_path
from ivr.rollup import (
    BATCH,
    CALLS_INDEX,
    SURVEY_KEY,
    SURVEYS_INDEX,
    Columns,
    calls_between,
    field_pages,
    field_values,
    scan,
)
from ivr.surveys import CONTEXT_FIELDS, NAMES, SurveyStore, question_ids, unpack_hash
from ivr.voicemail import VoicemailStore

KINDS = ("surveys", "calls", "voicemail")
COLUMNS: dict[str, list[str]] = {
    "surveys": ["call_sid", "survey", "offered_at", "started_at", "completed_at", "updated_at",
                "disposition", "queue", "transfer", "agent", "lang", "path", "caller_hash"],
    "calls": ["call_sid", "started", "ended", "caller", "caller_hash", "to", "direction", "lang",
              "version", "path", "trail", "last_menu", "route", "routed_at", "queue",
              "queue_result", "queue_time", "left_queue_at", "leave_reason", "abandoned", "agent",
              "answered_at", "transfer", "transfer_result", "talk_time", "voicemail",
              "voicemail_id", "status", "duration"],
    "voicemail": ["id", "at", "box", "status", "call_sid", "caller", "caller_hash", "lang",
                  "duration", "url", "transcription", "transcription_status"],
}
TIME_COLUMNS = {"offered_at", "started_at", "completed_at", "updated_at", "started", "ended",
                "routed_at", "left_queue_at", "answered_at", "at"}
NUMERIC_COLUMNS = {"queue_time", "talk_time", "duration"}
ANSWER, TRANSCRIPT = "answer_", "transcript_"

# Spreadsheets run a cell starting with one of these as a formula (CWE-1236).
FORMULA_STARTS = frozenset("=+-@\t\r")
# ...but a plain number or phone number (+15551234567, -3, +1******4567) is data, kept as is.
PLAIN_NUMBER = re.compile(r"[+-]?\d+(?:\.\d+)?|\+\d{1,3}\*+\d{4}").fullmatch
RISKY_CELL = re.compile("\x00[=+\\-@\t\r]").search
JSON_VALUE = json.JSONEncoder(ensure_ascii=False).encode
SECONDS = [f"{n:02d}" for n in range(60)]
CLOCK = [f"{h:02d}:{m:02d}:" for h in range(24) for m in range(60)]  # by minute of day
EPOCH_DAY = date(1970, 1, 1).toordinal()
ILLEGAL_XML = re.compile(r"[\000-\010\013\014\016-\037]")


class Plain(list):
    """Cells made here that need no quoting, escaping or neutralising in any format (times, hex
    digits): the writers skip their checks on such a column."""


class RowStream:
    """Rows of one export, produced lazily; `columns` is known before the first row.

    Rows come as dicts, or faster as `pages()`: lists of columns (one list of cell texts per
    column, in `columns` order), which is what the writers use.  Read one way or the other.
    """

    def __init__(self, columns: list[str], rows: Iterator[dict[str, str]] | None, total: int,
                 pages: Iterator[Columns] | None = None):
        self.columns, self.total = columns, total
        if pages is None:
            pages = _pages_of(columns, rows or iter(()))
        self._pages, self._rows = pages, None

    def pages(self) -> Iterator[Columns]:
        """The rows a page at a time, as columns."""
        return self._pages

    def with_progress(self, done: Callable[[int], Any]) -> RowStream:
        """The same rows, calling `done(n)` after each page of n rows is handed on."""
        def pages() -> Iterator[Columns]:
            for page in self._pages:
                yield page
                done(len(page[0]) if page else 0)
        return RowStream(self.columns, None, self.total, pages())

    def __iter__(self) -> Iterator[dict[str, str]]:
        return self

    def __next__(self) -> dict[str, str]:
        if self._rows is None:
            self._rows = self._dicts()
        return next(self._rows)

    def _dicts(self) -> Iterator[dict[str, str]]:
        columns = self.columns
        for page in self._pages:
            for values in zip(*page, strict=True):
                yield dict(zip(columns, values, strict=True))


def _pages_of(columns: list[str], rows: Iterator[dict], size: int = BATCH) -> Iterator[Columns]:
    """Dict rows regrouped into pages of columns ("" for a missing cell)."""
    values_of = _values(columns)
    while batch := [values_of(row) for _, row in zip(range(size), rows, strict=False)]:
        yield [list(column) for column in zip(*batch, strict=True)]


def rows(client: Any, kind: str, since: datetime, until: datetime, filters: Filters | None = None,
         tz: str = "UTC") -> RowStream:
    """Stream the rows of `kind` in [since, until) (naive times in `tz`), times as ISO-8601 in `tz`."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    start, end, filters = epoch(since, tz), epoch(until, tz), filters or Filters()
    iso = IsoTimes(tz)
    if kind == "surveys":
        layouts = _kinds_in(client, start, end)
        columns = COLUMNS["surveys"] + question_columns(_questions(layouts))
        pages = _survey_pages(client, start, end, filters, iso, columns, layouts)
        total = client.zcount(SURVEYS_INDEX, start, f"({end!r}")
        return RowStream(columns, None, total, pages)
    if kind == "calls":
        columns, stream = list(COLUMNS["calls"]), _call_rows(client, start, end, filters, iso)
        total = client.zcount(CALLS_INDEX, start, f"({end!r}")
    else:
        columns, stream = list(COLUMNS["voicemail"]), _voicemail_rows(client, start, end, filters, iso)
        total = client.zcount(VoicemailStore.INDEX, start, f"({end!r}")
    return RowStream(columns, stream, total)


def survey_questions(client: Any, start: float, end: float) -> list[tuple[str, str]]:
    """(question id, type) of every question answered in the range, in first-seen order."""
    return _questions(_kinds_in(client, start, end))


def _questions(layouts: list[str]) -> list[tuple[str, str]]:
    """(question id, type) of the questions of these `kinds` texts, in first-seen order."""
    seen: dict[str, str] = {}
    for kinds in layouts:
        for part in kinds.split(","):
            qid, _, rest = part.partition(":")
            seen.setdefault(qid, rest.partition(":")[0])
    return list(seen.items())


def _kinds_in(client: Any, start: float, end: float) -> list[str]:
    """The distinct `kinds` (question lists) of the responses offered in the range."""
    store, found = SurveyStore(), {}
    for refs, older in field_values(client, SURVEYS_INDEX, SURVEY_KEY, ["c"], start, end,
                                    then=["kinds"]):
        distinct = dict.fromkeys(refs)
        known = store.contexts(client, distinct)
        found.update(dict.fromkeys(known[r][1] for r in distinct if r in known))
        found.update(dict.fromkeys(filter(None, older)))  # responses stored in contract names
    return [kinds for kinds in found if kinds]


def question_columns(questions: list[tuple[str, str]]) -> list[str]:
    """One answer column per question, plus the transcription of comment questions."""
    out = []
    for qid, kind in questions:
        out.append(ANSWER + qid)
        if kind == "comment":
            out.append(TRANSCRIPT + qid)
    return out


class _Layouts:
    """Where each answer and transcript column comes from, per question list (`kinds`).

    Answers are stored by question position ("1", "2", ... and "x1", ... for transcriptions):
    `fields` are the hash fields to read, only the positions some column needs.
    """

    def __init__(self, columns: list[str], layouts: list[str],
                 text: Callable[[bytes], str] = bytes.decode):
        self.wanted = [(c, c.startswith(ANSWER), c.partition("_")[2]) for c in columns
                       if c.startswith((ANSWER, TRANSCRIPT))]
        needed: dict[str, None] = {}
        for layout in layouts:
            for field, _, _ in self._sources(layout):
                needed[field] = None
        answers = sorted((f for f in needed if not f.startswith("x")), key=int)
        notes = sorted((f for f in needed if f.startswith("x")), key=lambda f: int(f[1:]))
        self.fields = ["c", "o", "s", "h", *answers, *notes]
        self.index = {f: i for i, f in enumerate(self.fields, 1)}  # page column 0: the call sid
        self.plans: dict[str, list[tuple[str, int, bool]] | None] = {}
        self.text = text  # stored bytes -> text, as the client decodes
        self.states = _States(text)  # the stored states met so far, parsed
        self.answers: dict[bytes | None, str] = {None: ""}  # stored answers met so far -> answer
        self.loud: set[bytes | None] = set()  # those of them whose answer some writer must check
        self.notes: dict[bytes | None, str] = {None: ""}  # stored transcriptions met so far -> text
        self.quiet: dict[str, bool] = {}  # context facts met so far -> no writer needs to check it

    def _sources(self, layout: str) -> list[tuple[str, str, bool]]:
        """(hash field, column, is an answer) for each column a response of this layout fills."""
        order = {qid: n for n, qid in enumerate(question_ids(layout), 1)}
        return [(str(order[qid]) if is_answer else f"x{order[qid]}", column, is_answer)
                for column, is_answer, qid in self.wanted if qid in order]

    def plan(self, layout: str) -> list[tuple[str, int, bool]] | None:
        """(column, page index, is an answer) of a layout; None when a field it needs was not read
        (a question list first seen after the columns were chosen)."""
        if layout not in self.plans:
            sources = self._sources(layout)
            self.plans[layout] = None if any(f not in self.index for f, _, _ in sources) else \
                [(column, self.index[f], is_answer) for f, column, is_answer in sources]
        return self.plans[layout]


def _survey_pages(client: Any, start: float, end: float, filters: Filters, iso: IsoTimes,
                  columns: list[str], layouts: list[str]) -> Iterator[Columns]:
    """Survey rows a page at a time as columns, read field by field (no per-row dict)."""
    encoder = client.get_encoder()
    plan = _Layouts(columns, layouts, partial(bytes.decode, encoding=encoder.encoding,
                                              errors=encoder.encoding_errors))
    # values as bytes: only the few distinct ones of most fields are decoded
    for page in field_pages(client, SURVEYS_INDEX, SURVEY_KEY, plan.fields, start, end, raw=True):
        # deleted meanwhile, stored in contract names or of unforeseen questions: the slow way
        found = None if None in page[2] else _encoded_page(client, page, plan, iso, columns)
        page = found or _decoded_page(client, page[0], columns, iso)
        if filters != Filters() and page[0]:
            picks = [columns.index(c) for c in ("queue", "transfer", "lang", "agent", "path")]
            page = _keep(page, [filters.matches((q or t, lang, a, p)) for q, t, lang, a, p
                                in zip(*(page[i] for i in picks), strict=True)])
        if page[0]:
            yield page


BLANK = [""] * len(CONTEXT_FIELDS)


def _encoded_page(client: Any, page: Columns, plan: _Layouts, iso: IsoTimes,
                  columns: list[str]) -> Columns | None:
    """Columns from the stored encoding (see docs/surveys.md), context facts looked up by ref;
    None when the page holds a question list whose answers were not read."""
    sids, refs, offers, states, hashes = page[:5]
    distinct = dict.fromkeys(refs)
    names = [None if r is None else plan.text(r) for r in distinct]
    get = SurveyStore().contexts(client, names).get
    # each field of the page's few contexts, picked for every row by C-level indexing
    pick = _picker(list(map({r: n for n, r in enumerate(distinct)}.__getitem__, refs)))
    facts = zip(*(get(name, BLANK) for name in names), strict=True)  # type: ignore[arg-type]
    # a field whose few values need no quoting or escaping is marked so: the writers skip its checks
    quiet = plan.quiet
    survey, kinds, queue, transfer, agent, lang, path = (pick(f, Plain) if _all_quiet(f, quiet) else pick(f)
                                                         for f in facts)
    answers = _answer_columns(kinds, page, plan)
    if answers is None:
        return None
    offers = list(map(int, offers))
    code, started, completed, updated = plan.states.columns(states)
    completed_at = iso.plus(offers, completed)
    # usually the last change is the completion: the same times, formatted once
    updated_at = type(completed_at)(completed_at) if updated == completed else iso.plus(offers, updated)
    out = {"call_sid": sids, "survey": survey, "offered_at": iso.seconds(offers),
           "started_at": iso.plus(offers, started), "completed_at": completed_at,
           "updated_at": updated_at, "disposition": code,
           "queue": queue, "transfer": transfer, "agent": agent, "lang": lang, "path": path,
           "caller_hash": _caller_hashes(hashes, plan.text), **answers}
    return [out[c] for c in columns]


class _States:
    """The disposition and the three times (seconds after the offer, None when empty) of stored
    states ("<code>,<started>,<completed>,<updated>"): states repeat, so each distinct one is
    parsed once per export and a row costs one lookup."""

    KEPT = 50_000

    def __init__(self, text: Callable[[bytes], str] = bytes.decode) -> None:
        self.text = text  # stored bytes -> text
        self.index: dict[bytes, int] = {}  # stored state -> its place in the parts
        self.parts: list[list[Any]] = [[], [], [], []]  # dispositions; started, completed, updated
        self.quiet = True  # no disposition needs checking by a writer: the column is Plain

    def columns(self, states: list[bytes]) -> list[list[Any]]:
        """The four parts of each state, as columns."""
        index, parts = self.index, self.parts
        missing = set(states).difference(index)
        if missing:
            if len(index) + len(missing) > self.KEPT:
                index.clear()
                for part in parts:
                    part.clear()
                self.quiet = True
            names, started, completed, updated = parts
            for state in missing:
                code, begun, done, last = self.text(state).split(",")
                index[state] = len(names)
                names.append(name := NAMES.get(code, code))
                self.quiet = self.quiet and _plain_texts((name,))
                started.append(int(begun) if begun else None)
                completed.append(int(done) if done else None)
                updated.append(int(last) if last else None)
        pick = _picker(list(map(index.__getitem__, states)))
        names, *times = parts
        return [pick(names, Plain if self.quiet else list), *map(pick, times)]


def _picker(places: list[int]) -> Callable[..., list[Any]]:
    """A function giving the items of a sequence at these places, as a list or the list type given
    second (in C)."""
    if len(places) == 1:
        return lambda values, kind=list: kind([values[places[0]]])
    if not places:
        return lambda values, kind=list: kind()
    get = itemgetter(*places)
    return lambda values, kind=list: kind(get(values))


def _caller_hashes(stored: list[bytes | None], text: Callable[[bytes], str] = bytes.decode) -> list[str]:
    """Caller hashes (16 hex digits) of stored values: a page of 64-bit integers in one go."""
    try:
        if stored:  # 16 hex digits a value: the bytes of big-endian signed 64-bit integers
            return Plain(struct.pack(f">{len(stored)}q", *map(int, stored)).hex(" ", 8).split(" "))  # type: ignore
    except (TypeError, ValueError, struct.error):  # empty, "~" + text, or out of range
        return [unpack_hash(text(h)) if h else "" for h in stored]
    return []


def _answer_columns(kinds: list[str], page: Columns, plan: _Layouts) -> dict[str, list[str]] | None:
    """Answer and transcript columns by column name, from answers stored by question position."""
    out = {c: [""] * len(kinds) for c, _, _ in plan.wanted}
    layouts = dict.fromkeys(kinds)
    for layout in layouts:
        sources = plan.plan(layout)
        if sources is None:
            return None
        mine = [i for i, k in enumerate(kinds) if k == layout] if len(layouts) > 1 else None
        for column, at, is_answer in sources:
            source = page[at]
            if mine is not None:
                source = [source[i] for i in mine]
            cells = _answers(source, plan.answers, plan.loud, plan.text) if is_answer else \
                _texts(source, plan.notes, plan.text)
            if mine is None:
                out[column] = cells
            else:
                into = out[column]
                for i, v in zip(mine, cells, strict=True):
                    into[i] = v
    return out


FIRST = itemgetter(0)
ANSWERS_KEPT = 50_000


def _answers(stored: list[bytes | None], known: dict[bytes | None, str], loud: set[bytes | None],
             text: Callable[[bytes], str] = bytes.decode) -> list[str]:
    """The answers of stored "<value>@<asked>" cells ("" for a missing or skipped one); `known`
    holds answers already split (the same few values asked at the same moments repeat) and None,
    `loud` those of them a writer must check; a column of only quiet ones is Plain."""
    try:
        cells = list(map(known.__getitem__, stored))  # usually all met already
    except KeyError:
        missing = set(stored).difference(known)
        if 2 * len(missing) > len(stored) - stored.count(None):  # mostly new (recording links)
            return [text(v).rpartition("@")[0] if v else "" for v in stored]
        if len(known) > ANSWERS_KEPT:
            known.clear()
            loud.clear()
            known[None] = ""
            missing = set(stored)
            missing.discard(None)
        for value in missing:
            answer = known[value] = text(value).rpartition("@")[0]  # type: ignore[arg-type]
            if not _plain_texts((answer,)):
                loud.add(value)
        cells = list(map(known.__getitem__, stored))
    return Plain(cells) if not loud or loud.isdisjoint(stored) else cells


def _texts(stored: list[bytes | None], known: dict[bytes | None, str],
           text: Callable[[bytes], str] = bytes.decode) -> list[str]:
    """Stored texts decoded ("" for a missing one); `known` holds those met already, and None."""
    try:
        return list(map(known.__getitem__, stored))  # usually all met already
    except KeyError:
        missing = set(stored).difference(known)
    if 2 * len(missing) > len(stored) - stored.count(None):  # mostly new: not worth keeping
        return [text(v) if v is not None else "" for v in stored]
    if len(known) > ANSWERS_KEPT:
        known.clear()
        known[None] = ""
        missing = set(stored)
        missing.discard(None)
    for value in missing:
        known[value] = text(value)  # type: ignore[arg-type]
    return list(map(known.__getitem__, stored))


def _all_quiet(texts: Sequence[str], quiet: dict[str, bool]) -> bool:
    """True when no writer needs to check any of these texts; `quiet` holds the texts met so far."""
    try:
        return all(map(quiet.__getitem__, texts))
    except KeyError:
        if len(quiet) > ANSWERS_KEPT:
            quiet.clear()
        for text in texts:
            quiet[text] = _plain_texts((text,))
        return all(map(quiet.__getitem__, texts))


def _plain_texts(texts: Sequence[str]) -> bool:
    """True when none of these texts needs quoting, escaping or neutralising in CSV or JSON Lines
    (a few C-level searches over them joined, as the writers check a column)."""
    joined = "\x00" + "\x00".join(texts)
    return '"' not in joined and "," not in joined and "\\" not in joined and not RISKY_CELL(joined) \
        and joined.replace("\x00", "").isprintable()


def _decoded_page(client: Any, sids: list[str], columns: list[str], iso: IsoTimes) -> Columns:
    """Columns from whole responses read and decoded one by one (none when all are gone)."""
    pipe = client.pipeline(transaction=False)
    for sid in sids:
        pipe.hgetall(SURVEY_KEY % sid)
    found = SurveyStore().read(client, sids, pipe.execute())
    fields = ["a:" + c[len(ANSWER):] if c.startswith(ANSWER) else
              "x:" + c[len(TRANSCRIPT):] if c.startswith(TRANSCRIPT) else c for c in columns]
    rows = [[record.get(f) or "" for f in fields] for record in found]
    if not rows:
        return [[] for _ in columns]
    return [iso.column(list(c)) if name in TIME_COLUMNS else list(c)
            for name, c in zip(columns, zip(*rows, strict=True), strict=True)]


def _keep(page: Columns, wanted: list[bool]) -> Columns:
    """The page without the rows not wanted."""
    return [[v for v, keep in zip(column, wanted, strict=True) if keep] for column in page]


def _call_rows(client: Any, start: float, end: float, filters: Filters,
               iso: IsoTimes) -> Iterator[dict[str, str]]:
    columns = COLUMNS["calls"]
    for sid, rec, events in calls_between(client, start, end):
        menus, _ = walk_path(events)
        path = ">".join(menus)
        if not filters.matches((call_queue(rec), rec.get("lang", ""), rec.get("agent", ""), path)):
            continue
        row = {c: rec.get(c, "") for c in columns}
        row.update(call_sid=sid, path=path, trail=" | ".join(events))
        for c in ("started", "ended", "routed_at", "left_queue_at", "answered_at"):
            row[c] = iso(row[c])
        yield row


def _voicemail_rows(client: Any, start: float, end: float, filters: Filters,
                    iso: IsoTimes) -> Iterator[dict[str, str]]:
    """Voicemail messages (the --queue filter selects a box)."""
    columns = COLUMNS["voicemail"]
    for page in scan(client, VoicemailStore.INDEX, start, end, (VoicemailStore.KEY,)):
        for rid, _score, rec in page:
            if not rec or (filters.queue and rec.get("box") != filters.queue) or \
                    (filters.language and rec.get("lang") != filters.language):
                continue
            row = {c: rec.get(c, "") for c in columns}
            row["id"], row["at"] = rid, iso(row["at"])
            yield row


class IsoTimes:
    """Formats epoch seconds as ISO-8601 local time with offset, fast: the UTC offset of each quarter
    hour and, by offset, the `date T hh:mm:` of each minute and the 60 `ss+hh:mm` endings are cached."""

    KEPT = 5_000  # quarter hours (52 days: ~7 MB of minute heads) and days cached, at most

    def __init__(self, tz: str):
        self.zone = ZoneInfo(tz)
        self._offsets: dict[int, int | None] = {}  # quarter hour -> UTC offset in s (None: has seconds)
        # by UTC offset: (`date T hh:mm:` by UTC minute of the known quarters, the 60 `ss+hh:mm` endings)
        self._minutes: dict[int, tuple[dict[int, str], list[str]]] = {}
        self._days: dict[int, str] = {}

    def __call__(self, text: str) -> str:
        """`2026-03-08T01:59:59-05:00` for an epoch given as text ("" stays "")."""
        return self.column([text])[0]

    def column(self, texts: list[str | None]) -> list[str]:
        """Each epoch text formatted (text that is not a number is kept; None becomes "")."""
        out = []
        for text in texts:
            try:
                out.append(self.seconds([int(float(text))])[0])  # type: ignore[arg-type]
            except (TypeError, ValueError, OverflowError):
                out.append(text or "")
        return out

    def seconds(self, times: list[int | None]) -> list[str]:
        """Each epoch (whole seconds) formatted; None becomes ""."""
        return self._format(times, None in times)

    def after(self, starts: list[int], seconds: Sequence[str]) -> list[str]:
        """Each start plus its whole `seconds` (as text) formatted; empty seconds stay empty."""
        return self.plus(starts, [int(s) if s else None for s in seconds])

    def plus(self, starts: list[int], seconds: Sequence[int | None]) -> list[str]:
        """Each start plus its `seconds` formatted; None seconds give ""."""
        if len(starts) != len(seconds):
            raise ValueError("as many starts as seconds are needed")
        if None in seconds:
            return self._format([o + s if s is not None else None
                                 for o, s in zip(starts, seconds, strict=True)], True)
        return self._format(list(map(add, starts, seconds)), False)

    def _format(self, times: list[int | None], blanks: bool) -> list[str]:
        """`seconds`, told whether there is None among the times."""
        if blanks:
            known = [at for at in times if at is not None]
            found = iter(self._format(known, False)) if known else iter(())
            return Plain([next(found) if at is not None else "" for at in times])
        if not times or (done := self._in_one_offset(times)) is not None:  # type: ignore[arg-type]
            return done or Plain()
        offsets = self._offsets
        first, last = min(times) // 900, max(times) // 900  # type: ignore[type-var,operator]
        # near one another (the usual): the quarters between them all, else theirs
        seen = set(range(first, last + 1)) if last - first < 2 * len(times) else \
            {at // 900 for at in times}  # type: ignore[operator]
        if not offsets.keys() >= seen:
            self._learn(seen)
            if (done := self._in_one_offset(times)) is not None:  # type: ignore[arg-type]
                return done
        if None in map(offsets.__getitem__, seen):
            return [self._one(at) for at in times]  # a quarter of an offset with seconds
        # times on both sides of an offset change
        minutes = self._minutes
        return Plain([(m := minutes[offsets[at // 900]])[0][at // 60] + m[1][at % 60]  # type: ignore
                      for at in times])

    def _in_one_offset(self, times: list[int]) -> Plain | None:
        """The times formatted when all are in known minutes of the first one's UTC offset (one
        lookup a time), else None."""
        offset = self._offsets.get(times[0] // 900)
        if offset is None:
            return None
        heads, ends = self._minutes[offset]
        try:
            return Plain([heads[at // 60] + ends[at % 60] for at in times])
        except KeyError:
            return None

    def _one(self, at: int | None) -> str:
        """One time formatted (None as "")."""
        if at is None:
            return ""
        quarter = at // 900
        if quarter not in self._offsets:
            self._learn({quarter})
        offset = self._offsets[quarter]
        if offset is None:  # an offset with seconds (local mean time, before 1900 or so)
            return datetime.fromtimestamp(at, UTC).astimezone(self.zone).isoformat()
        heads, ends = self._minutes[offset]
        return heads[at // 60] + ends[at % 60]

    def _learn(self, quarters: set[int]) -> None:
        """Cache the offsets of these quarter hours and the heads of their minutes (a run of quarters
        in one offset a day at a time); afterwards all of them are known."""
        offsets, minutes, zone = self._offsets, self._minutes, self.zone
        if len(offsets) + len(quarters) > self.KEPT:  # emptied first: then all these are known
            offsets.clear()
            minutes.clear()
        quarters = quarters.difference(offsets)
        runs: list[list[int]] = []  # [first quarter, end quarter, offset] of consecutive quarters
        for quarter in sorted(quarters):
            found = datetime.fromtimestamp(quarter * 900, zone).utcoffset() or timedelta()
            seconds = found.days * 86400 + found.seconds
            offset = offsets[quarter] = None if seconds % 60 else seconds
            if offset is None:
                continue
            if runs and runs[-1][1] == quarter and runs[-1][2] == offset:
                runs[-1][1] += 1
            else:
                runs.append([quarter, quarter + 1, offset])
        for first, end, offset in runs:
            self._heads(first * 15, end * 15, offset)

    def _heads(self, first: int, stop: int, offset: int) -> None:
        """Cache the `date T hh:mm:` of UTC minutes [first, stop), all in this UTC offset."""
        found = self._minutes.get(offset)
        if found is None:
            suffix = f"{'-' if offset < 0 else '+'}{abs(offset) // 3600:02d}:{abs(offset) // 60 % 60:02d}"
            found = self._minutes[offset] = ({}, [s + suffix for s in SECONDS])
        heads, shift = found[0], offset // 60
        while first < stop:
            day, clock = divmod(first + shift, 1440)
            count = min(stop - first, 1440 - clock)
            date_t = self._days.get(day) or self._day(day)
            heads.update(zip(range(first, first + count), [date_t + hhmm for hhmm in CLOCK[clock:clock + count]],
                             strict=True))
            first += count

    def _day(self, day: int) -> str:
        """`2026-03-08T` for a day counted from 1970-01-01."""
        if len(self._days) > self.KEPT:
            self._days.clear()
        text = self._days[day] = date.fromordinal(EPOCH_DAY + day).isoformat() + "T"
        return text


# -- writers -----------------------------------------------------------------------------------
def neutralise(value: str) -> str:
    """A cell value a spreadsheet will not run as a formula (plain numbers kept intact)."""
    if value and value[0] in FORMULA_STARTS and not PLAIN_NUMBER(value):
        return "'" + value
    return value


def _columns(rows: Iterable[dict], columns: list[str] | None) -> list[str]:
    found = columns or getattr(rows, "columns", None)
    if not found:
        raise ValueError("columns are needed (pass them, or rows from ivr.export.rows)")
    return list(found)


def _pages(rows: Iterable[dict], columns: list[str]) -> Iterator[Columns]:
    """The rows as pages of columns: straight from a RowStream, else regrouped from dicts."""
    if isinstance(rows, RowStream) and rows.columns == columns:
        return rows.pages()
    return _pages_of(columns, iter(rows))


def write_csv(rows: Iterable[dict], out: IO[bytes], columns: list[str] | None = None,
              bom: bool = False) -> int:
    """Write rows as UTF-8 CSV (with a BOM for Excel when asked); returns the row count.

    Bytes are those of csv.writer (excel dialect), with cells neutralised against formulas.
    """
    columns = _columns(rows, columns)
    head = io.StringIO()
    if bom:
        head.write("\ufeff")
    csv.writer(head).writerow(columns)
    out.write(head.getvalue().encode())
    count = 0
    for page in _pages(rows, columns):
        if len(page) == 1:  # a lone empty cell is written "" by csv: not joined by hand
            text = io.StringIO()
            csv.writer(text).writerows((neutralise(v) if isinstance(v, str) else v,) for v in page[0])
            out.write(text.getvalue().encode())
        elif page[0]:
            lines = map(",".join, zip(*map(_csv_cells, page), strict=True))
            out.write("\r\n".join(chain(lines, ("",))).encode())  # the page's lines, each ended
        count += len(page[0])
    return count


def _csv_cells(column: list[Any]) -> list[str]:
    """A column's cells as CSV text: neutralised, quoted where csv.writer quotes (QUOTE_MINIMAL)."""
    if type(column) is Plain:
        return column
    try:
        joined = "\x00" + "\x00".join(column)  # a few C-level searches per column, not per cell
    except TypeError:  # not all text (dict rows): as csv.writer has it
        column = ["" if v is None else str(v) for v in column]
        joined = "\x00" + "\x00".join(column)
    if '"' in joined or "," in joined or "\n" in joined or "\r" in joined or RISKY_CELL(joined):
        distinct = dict.fromkeys(column)
        if len(distinct) * 4 > len(column):
            return [_csv_cell(v) if v and (v[0] in FORMULA_STARTS or '"' in v or "," in v or "\n" in v
                                           or "\r" in v) else v for v in column]
        for v in distinct:  # few values, repeated: each one handled once
            distinct[v] = _csv_cell(v) if v else v
        return list(map(distinct.__getitem__, column))
    return column


def _csv_cell(value: str) -> str:
    """One cell as CSV text (see _csv_cells)."""
    if value[0] in FORMULA_STARTS and not PLAIN_NUMBER(value):
        value = "'" + value
    if '"' in value or "," in value or "\n" in value or "\r" in value:
        return '"' + value.replace('"', '""') + '"'
    return value


def _values(columns: list[str]) -> Callable[[dict], list[str]]:
    """A fast function from a row to its cell texts in column order ("" for missing or None)."""
    pick = itemgetter(*columns) if len(columns) > 1 else (lambda row: (row[columns[0]],))

    def values(row: dict) -> list[str]:
        try:
            found = pick(row)
            if None not in found:
                return list(found)
        except KeyError:
            pass
        return [str(v) if (v := row.get(c)) is not None else "" for c in columns]

    return values


def write_jsonl(rows: Iterable[dict], out: IO[bytes], columns: list[str] | None = None) -> int:
    """Write one JSON object per line (UTF-8, keys in column order); returns the row count.

    Bytes are those of json's encoder (ensure_ascii=False) for a dict of the row.
    """
    columns = _columns(rows, columns)
    keys = [encode_basestring(c).replace("%", "%%") + ": " for c in columns]
    lines: dict[tuple[bool, ...], str] = {}  # "%" templates of a line, by which columns are plain
    count = 0
    for page in _pages(rows, columns):
        if page[0]:
            plain = tuple(map(_json_plain, page))
            line = lines.get(plain) or lines.setdefault(plain, "{" + ", ".join(
                key + ('"%s"' if bare else "%s") for key, bare in zip(keys, plain, strict=True)) + "}")
            cells = [c if bare else _json_cells(c) for c, bare in zip(page, plain, strict=True)]
            out.write(("\n".join(map(line.__mod__, zip(*cells, strict=True))) + "\n").encode())
        count += len(page[0])
    return count


def _json_plain(column: list[Any]) -> bool:
    """True when every cell is text json writes as is, between quotes (checked per column)."""
    if type(column) is Plain:
        return True
    try:
        joined = "".join(column)
    except TypeError:
        return False
    return joined.isprintable() and '"' not in joined and "\\" not in joined


def _json_cells(column: list[Any]) -> list[str]:
    """Each cell of a column as json writes it."""
    try:
        return list(map(encode_basestring, column))
    except TypeError:  # not all text (dict rows)
        return list(map(JSON_VALUE, column))


def write_xlsx(rows: Iterable[dict], path_or_binary: Any, columns: list[str] | None = None,
               title: str = "export") -> int:
    """Write an XLSX workbook in write-only mode (flat memory); text stays text, never a formula."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    columns = _columns(rows, columns)
    book = Workbook(write_only=True)
    sheet = book.create_sheet(title[:31])
    sheet.append(columns)
    numeric = [c in NUMERIC_COLUMNS or c.startswith(ANSWER) for c in columns]
    count = 0
    for values in (v for page in _pages(rows, columns) for v in zip(*page, strict=True)):
        cells: list[Any] = []
        for text, is_number in zip(values, numeric, strict=True):
            value = ILLEGAL_XML.sub("", text)
            if is_number and PLAIN_NUMBER(value) and value[0] != "+":
                cells.append(float(value) if "." in value else int(value))
            elif value.startswith("="):
                cell = WriteOnlyCell(sheet, value)
                cell.data_type = "s"
                cells.append(cell)
            else:
                cells.append(value)
        sheet.append(cells)
        count += 1
    book.save(path_or_binary)
    return count
