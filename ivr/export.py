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
    for _sids, found in field_pages(client, SURVEYS_INDEX, SURVEY_KEY, ["kinds"], start, end,
                                    size=5000):
        for kinds in dict.fromkeys(filter(None, found)):
            for part in kinds.split(","):
                qid, _, rest = part.partition(":")
                seen.setdefault(qid, rest.partition(":")[0])
    return list(seen.items())


def question_columns(questions: list[tuple[str, str]]) -> list[str]:
    """One answer column per question, plus the transcription of comment questions."""
    out = []
    for qid, kind in questions:
        out.append(ANSWER + qid)
        if kind == "comment":
            out.append(TRANSCRIPT + qid)
    return out


def _survey_field(column: str) -> str:
    """The response hash field behind an export column."""
    if column.startswith(ANSWER):
        return "a:" + column[len(ANSWER):]
    if column.startswith(TRANSCRIPT):
        return "x:" + column[len(TRANSCRIPT):]
    return column


def _survey_pages(client: Any, start: float, end: float, filters: Filters, iso: IsoTimes,
                  columns: list[str]) -> Iterator[Columns]:
    """Survey rows a page at a time as columns, read field by field (no per-row dict)."""
    fields = [_survey_field(c) for c in columns[1:]]
    times = [i for i, c in enumerate(columns) if c in TIME_COLUMNS]
    alive = columns.index("disposition")
    picks = [columns.index(c) for c in ("queue", "transfer", "lang", "agent", "path")]
    for page in field_pages(client, SURVEYS_INDEX, SURVEY_KEY, fields, start, end):
        if None in page[alive]:  # responses deleted since they were indexed
            page = _keep(page, [v is not None for v in page[alive]])
        if filters != Filters():
            page = _keep(page, [filters.matches(((q or t or ""), lang or "", a or "", p or ""))
                                for q, t, lang, a, p in zip(*(page[i] for i in picks), strict=True)])
        for i, column in enumerate(page):
            page[i] = iso.column(column) if i in times else \
                [v or "" for v in column] if None in column else column
        if page[0]:
            yield page


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
        quarters, out = self._quarters, []
        for text in texts:
            try:
                quarter, offset = divmod(int(float(text)), 900)  # type: ignore[arg-type]
            except (TypeError, ValueError, OverflowError):
                out.append(text or "")
                continue
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
