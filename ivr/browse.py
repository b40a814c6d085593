"""Newest-first pages of survey responses with filters, read from the time indexes in small batches."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ivr.surveys import SurveyStore

BATCH = 200
MAX_SCAN = 5000  # one page never reads more than this many responses, however selective the filters


@dataclass
class ResponsePage:
    """Up to `size` responses, and the cursor (an offered_at bound) where the next page starts."""

    rows: list[dict[str, str]] = field(default_factory=list)
    next_before: float | None = None
    questions: list[str] = field(default_factory=list)


def response_page(client: Any, since: float, until: float, filters: dict[str, str],
                  before: float | None = None, size: int = 50) -> ResponsePage:
    """Responses offered in [since, min(until, before)), newest first, matching language/agent/queue."""
    store = SurveyStore()
    index = store.BY_QUEUE % filters["queue"] if filters.get("queue") else store.BY_TIME
    high = min(until, before) if before is not None else until
    page, scanned = ResponsePage(), 0
    while len(page.rows) < size and scanned < MAX_SCAN:
        batch = client.zrevrangebyscore(index, f"({high}", since, start=0, num=BATCH, withscores=True)
        if not batch:
            return _with_questions(page, None)
        pipe = client.pipeline(transaction=False)
        for sid, _ in batch:
            pipe.hgetall(store.key(sid))
        sids = [sid for sid, _ in batch]
        found = {r["call_sid"]: r for r in store.read(client, sids, pipe.execute())}
        for sid, score in batch:
            scanned += 1
            high = score
            row = found.get(sid)
            if row and _matches(row, filters):
                page.rows.append(row)
                if len(page.rows) == size:
                    break
    return _with_questions(page, high)


def _matches(row: dict[str, str], filters: dict[str, str]) -> bool:
    """True when the response has the filtered language and agent."""
    return ((not filters.get("language") or row.get("lang") == filters["language"])
            and (not filters.get("agent") or row.get("agent") == filters["agent"]))


def _with_questions(page: ResponsePage, next_before: float | None) -> ResponsePage:
    """Fill in the cursor and the question ids the page's responses have, in question order."""
    page.next_before = next_before
    seen: dict[str, None] = {}
    for row in page.rows:
        for spec in filter(None, (row.get("kinds") or "").split(",")):
            seen.setdefault(spec.split(":", 1)[0])
    page.questions = list(seen)
    return page
