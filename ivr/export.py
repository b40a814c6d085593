"""Exports of survey responses, calls and voicemail as streamed CSV, JSON Lines or XLSX.

Columns are stable and documented in docs/exports.md; keep the two in step.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from operator import itemgetter
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
SECONDS = [f"{n:02d}" for n in range(60)]
ILLEGAL_XML = re.compile(r"[\000-\010\013\014\016-\037]")

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
        questions = survey_questions(client, start, end)
        columns = COLUMNS["surveys"] + question_columns(questions)
        pages = _survey_pages(client, start, end, filters, iso, columns)
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
    seen: dict[str, str] = {}
    for kinds in _kinds_in(client, start, end):
        for part in kinds.split(","):
            qid, _, rest = part.partition(":")
            seen.setdefault(qid, rest.partition(":")[0])
    return list(seen.items())


def _kinds_in(client: Any, start: float, end: float) -> list[str]:
    """The distinct `kinds` (question lists) of the responses offered in the range."""
    store, found = SurveyStore(), {}
    for _sids, refs, older in field_pages(client, SURVEYS_INDEX, SURVEY_KEY, ["c", "kinds"], start,
                                          end, size=5000):
        known = store.contexts(client, set(refs))
        found.update(dict.fromkeys(known[r][1] for r in dict.fromkeys(refs) if r in known))
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


def _survey_pages(client: Any, start: float, end: float, filters: Filters, iso: IsoTimes,
                  columns: list[str]) -> Iterator[Columns]:
    """Survey rows a page at a time as columns, read field by field (no per-row dict)."""
    width = max((len(k.split(",")) for k in _kinds_in(client, start, end)), default=0)
    positions = [str(n) for n in range(1, width + 1)]
    fields = ["c", "o", "s", "h", *positions, *("x" + n for n in positions)]
    for page in field_pages(client, SURVEYS_INDEX, SURVEY_KEY, fields, start, end):
        if None in page[2]:  # deleted meanwhile, or stored in contract names: the slow way
            page = _decoded_page(client, page[0], columns)
        else:
            page = _encoded_page(client, page, width, iso, columns)
        if filters != Filters() and page[0]:
            picks = [columns.index(c) for c in ("queue", "transfer", "lang", "agent", "path")]
            page = _keep(page, [filters.matches((q or t, lang, a, p)) for q, t, lang, a, p
                                in zip(*(page[i] for i in picks), strict=True)])
        if page[0]:
            yield page


def _encoded_page(client: Any, page: Columns, width: int, iso: IsoTimes,
                  columns: list[str]) -> Columns:
    """Columns from the stored encoding (see docs/surveys.md), context facts looked up by ref."""
    sids, refs, offers, states, hashes = page[:5]
    answers, notes = page[5:5 + width], page[5 + width:]
    known = SurveyStore().contexts(client, set(refs))
    blank = [""] * len(CONTEXT_FIELDS)
    facts = list(zip(*[known.get(r, blank) for r in refs], strict=True))
    survey, kinds, queue, transfer, agent, lang, path = (list(c) for c in facts)
    offers = list(map(int, offers))
    code, *after = zip(*[s.split(",") for s in states], strict=True)
    started, completed, updated = ([o + int(v) if v else None for o, v in zip(offers, c, strict=True)]
                                   for c in after)
    out = {"call_sid": sids, "survey": survey, "offered_at": iso.seconds(offers),
           "started_at": iso.seconds(started), "completed_at": iso.seconds(completed),
           "updated_at": iso.seconds(updated), "disposition": [NAMES.get(c, c) for c in code],
           "queue": queue, "transfer": transfer, "agent": agent, "lang": lang, "path": path,
           "caller_hash": [unpack_hash(h) if h else "" for h in hashes]}
    out.update(_answer_columns(kinds, answers, notes, columns))
    return [out[c] for c in columns]


def _answer_columns(kinds: list[str], answers: Columns, notes: Columns,
                    columns: list[str]) -> dict[str, list[str]]:
    """Answer and transcript columns by question id, from answers stored by question position."""
    wanted = [(c, c.startswith(ANSWER), c.partition("_")[2]) for c in columns
              if c.startswith((ANSWER, TRANSCRIPT))]
    out = {c: [""] * len(kinds) for c, _, _ in wanted}
    layouts = dict.fromkeys(kinds)
    for layout in layouts:
        order = {qid: n for n, qid in enumerate(question_ids(layout))}
        mine = [i for i, k in enumerate(kinds) if k == layout] if len(layouts) > 1 else None
        for column, is_answer, qid in wanted:
            if qid not in order:
                continue
            source = (answers if is_answer else notes)[order[qid]]
            cells = [v.rpartition("@")[0] if v else "" for v in source] if is_answer else \
                [v or "" for v in source]
            if mine is None:
                out[column] = cells
            else:
                for i in mine:
                    out[column][i] = cells[i]
    return out


def _decoded_page(client: Any, sids: list[str], columns: list[str]) -> Columns:
    """Columns from whole responses read and decoded one by one (none when all are gone)."""
    pipe = client.pipeline(transaction=False)
    for sid in sids:
        pipe.hgetall(SURVEY_KEY % sid)
    found = SurveyStore().read(client, sids, pipe.execute())
    fields = ["a:" + c[len(ANSWER):] if c.startswith(ANSWER) else
              "x:" + c[len(TRANSCRIPT):] if c.startswith(TRANSCRIPT) else c for c in columns]
    rows = [[record.get(f) or "" for f in fields] for record in found]
    return [list(c) for c in zip(*rows, strict=True)] if rows else [[] for _ in columns]


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
    """Formats epoch seconds as ISO-8601 local time with offset, fast (a cache per 15 minutes)."""

    def __init__(self, tz: str):
        self.zone = ZoneInfo(tz)
        self._quarters: dict[int, tuple[list[str], str]] = {}

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
        quarters, out = self._quarters, []
        for at in times:
            if at is None:
                out.append("")
                continue
            quarter, offset = divmod(at, 900)
            minutes, suffix = quarters.get(quarter) or self._quarter(quarter)
            out.append(minutes[offset // 60] + SECONDS[offset % 60] + suffix)
        return out

    def _quarter(self, quarter: int) -> tuple[list[str], str]:
        """The 15 `date T hh:mm:` prefixes of a quarter hour and its offset (a small cache)."""
        if len(self._quarters) > 50_000:
            self._quarters.clear()
        local = datetime.fromtimestamp(quarter * 900, UTC).astimezone(self.zone)
        head = local.strftime("%Y-%m-%dT%H:")
        parts = self._quarters[quarter] = ([f"{head}{local.minute + m:02d}:" for m in range(15)],
                                           local.isoformat()[19:] or "+00:00")
        return parts


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
    """Write rows as UTF-8 CSV (with a BOM for Excel when asked); returns the row count."""
    columns = _columns(rows, columns)
    text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=False)
    try:
        if bom:
            text.write("\ufeff")
        writer = csv.writer(text)
        writer.writerow(columns)
        count = 0
        for page in _pages(rows, columns):
            for i, column in enumerate(page):
                # One C-level search per column; the per-cell work only for columns that need it.
                if RISKY_CELL("\x00" + "\x00".join(column)):
                    page[i] = [neutralise(v) for v in column]
            writer.writerows(zip(*page, strict=True))
            count += len(page[0])
        text.flush()
    finally:
        text.detach()
    return count


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
    """Write one JSON object per line (UTF-8, keys in column order); returns the row count."""
    columns = _columns(rows, columns)
    encode, count = json.JSONEncoder(ensure_ascii=False).encode, 0
    for page in _pages(rows, columns):
        lines = [encode(dict(zip(columns, values, strict=True))) for values in zip(*page, strict=True)]
        out.write(("\n".join(lines) + "\n").encode())
        count += len(lines)
    return count


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
