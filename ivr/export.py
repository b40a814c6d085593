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

from redis.cluster import RedisCluster

from ivr.metrics import Filters, call_queue, epoch, walk_path
from ivr.rollup import (
    CALLS_INDEX,
    SURVEY_KEY,
    SURVEYS_INDEX,
    calls_between,
    members,
    scan,
    surveys_between,
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
ILLEGAL_XML = re.compile(r"[\000-\010\013\014\016-\037]")

# Distinct `kinds` of a batch of survey hashes, worked out in Redis (no per-record reply).
KINDS_LUA = """
local seen, out = {}, {}
for _, key in ipairs(KEYS) do
  local k = redis.call('HGET', key, 'kinds')
  if k and not seen[k] then seen[k] = true; out[#out + 1] = k end
end
return out
"""


class RowStream:
    """Rows of one export, produced lazily; `columns` is known before the first row."""

    def __init__(self, columns: list[str], rows: Iterator[dict[str, str]], total: int):
        self.columns, self.total, self._rows = columns, total, rows

    def __iter__(self) -> Iterator[dict[str, str]]:
        return self._rows

    def __next__(self) -> dict[str, str]:
        return next(self._rows)


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
        stream = _survey_rows(client, start, end, filters, iso, questions)
        total = client.zcount(SURVEYS_INDEX, start, f"({end!r}")
    elif kind == "calls":
        columns, stream = list(COLUMNS["calls"]), _call_rows(client, start, end, filters, iso)
        total = client.zcount(CALLS_INDEX, start, f"({end!r}")
    else:
        columns, stream = list(COLUMNS["voicemail"]), _voicemail_rows(client, start, end, filters, iso)
        total = client.zcount(VoicemailStore.INDEX, start, f"({end!r}")
    return RowStream(columns, stream, total)


def survey_questions(client: Any, start: float, end: float) -> list[tuple[str, str]]:
    """(question id, type) of every question answered in the range, in first-seen order."""
    seen: dict[str, str] = {}
    script = None if isinstance(client, RedisCluster) else client.register_script(KINDS_LUA)
    for sids in members(client, SURVEYS_INDEX, start, end):
        keys = [SURVEY_KEY % s for s in sids]
        if script is not None:
            found = script(keys=keys)
        else:
            pipe = client.pipeline(transaction=False)
            for key in keys:
                pipe.hget(key, "kinds")
            found = pipe.execute()
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


def _survey_rows(client: Any, start: float, end: float, filters: Filters, iso: IsoTimes,
                 questions: list[tuple[str, str]]) -> Iterator[dict[str, str]]:
    base = COLUMNS["surveys"]
    answers = [(ANSWER + q, "a:" + q) for q, _ in questions]
    answers += [(TRANSCRIPT + q, "x:" + q) for q, kind in questions if kind == "comment"]
    check = filters != Filters()
    for rec in surveys_between(client, start, end):
        if check and not filters.matches((rec.get("queue") or rec.get("transfer", ""),
                                          rec.get("lang", ""), rec.get("agent", ""),
                                          rec.get("path", ""))):
            continue
        row = {c: rec.get(c, "") for c in base}
        for c in ("offered_at", "started_at", "completed_at", "updated_at"):
            row[c] = iso(row[c])
        for column, field in answers:
            row[column] = rec.get(field, "")
        yield row


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
        self._quarters: dict[int, tuple[str, int, str]] = {}

    def __call__(self, text: str) -> str:
        """`2026-03-08T01:59:59-05:00` for an epoch given as text ("" stays "")."""
        try:
            whole = int(float(text))
        except ValueError:
            return text
        quarter, offset = divmod(whole, 900)
        parts = self._quarters.get(quarter)
        if parts is None:
            parts = self._quarters[quarter] = self._quarter(quarter * 900)
        minutes, seconds = divmod(offset, 60)
        return f"{parts[0]}{parts[1] + minutes:02d}:{seconds:02d}{parts[2]}"

    def _quarter(self, at: int) -> tuple[str, int, str]:
        """Date-and-hour prefix, first minute and offset suffix of a quarter hour starting at `at`."""
        local = datetime.fromtimestamp(at, UTC).astimezone(self.zone)
        suffix = local.isoformat()[19:] or "+00:00"
        return local.strftime("%Y-%m-%dT%H:"), local.minute, suffix


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
        values_of = _values(columns)
        for row in rows:
            values = values_of(row)
            # One C-level search per row; the per-cell work only for rows that need it.
            if RISKY_CELL("\x00" + "\x00".join(values)):
                values = [neutralise(v) for v in values]
            writer.writerow(values)
            count += 1
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
    encode, count, buffer = json.JSONEncoder(ensure_ascii=False).encode, 0, []
    for row in rows:
        buffer.append(encode({c: row.get(c) or "" for c in columns}))
        count += 1
        if len(buffer) >= 1000:
            out.write(("\n".join(buffer) + "\n").encode())
            buffer.clear()
    if buffer:
        out.write(("\n".join(buffer) + "\n").encode())
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
    for row in rows:
        cells: list[Any] = []
        for column, is_number in zip(columns, numeric, strict=True):
            value = ILLEGAL_XML.sub("", row.get(column) or "")
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
