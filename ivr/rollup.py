"""Reading call and survey records in bulk, and the hourly tallies cached in Redis."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from typing import Any

from redis.cluster import RedisCluster

from ivr.calls import CallStore

CALLS_INDEX = CallStore.BY_TIME
SURVEYS_INDEX = "ivr:surveys:by_time"
SURVEY_KEY = "ivr:survey:{%s}"
ROLLUP_KEY = "ivr:rollup:v1:%d"
HOUR = 3600
BATCH = 1000
SEP = "\x1f"

# Returns each hash as one JSON string: one reply item per record instead of two per field,
# which is what makes a million-row export fast without a C reply parser.
FETCH_LUA = """
local out = {}
for i, key in ipairs(KEYS) do
  local flat = redis.call('HGETALL', key)
  if #flat == 0 then out[i] = '' else
    local h = {}
    for j = 1, #flat, 2 do h[flat[j]] = flat[j + 1] end
    out[i] = cjson.encode(h)
  end
end
return out
"""


class Tally:
    """Counters by name and key (a histogram per name) that add up across hours and cells."""

    __slots__ = ("counts",)

    def __init__(self, counts: dict[str, dict[str, float]] | None = None):
        self.counts: dict[str, dict[str, float]] = counts if counts is not None else {}

    def add(self, name: str, key: str = "", n: float = 1) -> None:
        """Add `n` to the counter `name` under `key`."""
        bucket = self.counts.setdefault(name, {})
        bucket[key] = bucket.get(key, 0) + n

    def get(self, name: str) -> dict[str, float]:
        """The histogram `name` (key -> count)."""
        return self.counts.get(name, {})

    def total(self, name: str) -> float:
        """The sum of the counter `name` over all keys."""
        return sum(self.counts.get(name, {}).values())

    def merge(self, other: Tally) -> Tally:
        """Add another tally into this one."""
        for name, bucket in other.counts.items():
            mine = self.counts.setdefault(name, {})
            for key, n in bucket.items():
                mine[key] = mine.get(key, 0) + n
        return self


Cells = dict[str, Tally]
CallFold = Callable[[dict, list[str]], tuple[tuple[str, ...], Tally]]
SurveyFold = Callable[[dict], tuple[tuple[str, ...], Tally]]


def merge_cells(into: Cells, more: Cells) -> Cells:
    """Merge cells (cell key -> tally) into `into`."""
    for key, tally in more.items():
        if key in into:
            into[key].merge(tally)
        else:
            into[key] = Tally({n: dict(b) for n, b in tally.counts.items()})
    return into


# -- bulk reads --------------------------------------------------------------------------------
def id_batches(client: Any, index: str, since: float, until: float, batch: int = BATCH
               ) -> Iterator[list[str]]:
    """Members of a time index with score in [since, until), in score order, a batch at a time."""
    low, seen_at_low = float(since), set()
    while True:
        want = batch + len(seen_at_low)
        page = client.zrangebyscore(index, repr(low), f"({until!r}", start=0, num=want,
                                    withscores=True)
        fresh = [m for m, _ in page if m not in seen_at_low]
        if fresh:
            yield fresh
        if len(page) < want:
            return
        last = float(page[-1][1])
        same = {m for m, s in page if s == last}
        seen_at_low = same | seen_at_low if last == low else same
        low = last


def fetch_hashes(client: Any, keys: list[str]) -> list[dict[str, str]]:
    """The hashes at `keys` in one round trip (empty dict for a missing key)."""
    if not keys:
        return []
    if isinstance(client, RedisCluster):
        pipe = client.pipeline(transaction=False)
        for key in keys:
            pipe.hgetall(key)
        return pipe.execute()
    script = getattr(client, "_ivr_fetch_script", None)
    if script is None:
        script = client.register_script(FETCH_LUA)
        client._ivr_fetch_script = script
    return [json.loads(raw) if raw else {} for raw in script(keys=keys)]


def path_events(path_hash: dict[str, str]) -> list[str]:
    """A call's path events in step order ("menu main", "key 2", ...)."""
    events: list[str] = []
    for step in sorted(path_hash, key=int):
        events.extend(path_hash[step].split(" | "))
    return events


def calls_between(client: Any, since: float, until: float) -> Iterator[tuple[str, dict, list[str]]]:
    """(CallSid, record, path events) for calls started in [since, until)."""
    store = CallStore()
    for sids in id_batches(client, CALLS_INDEX, since, until):
        keys = [k for sid in sids for k in (store.key(sid), store.path_key(sid))]
        hashes = fetch_hashes(client, keys)
        for i, sid in enumerate(sids):
            record = hashes[2 * i]
            if record:
                yield sid, record, path_events(hashes[2 * i + 1])


def surveys_between(client: Any, since: float, until: float) -> Iterator[dict[str, str]]:
    """Survey responses offered in [since, until), oldest first."""
    for sids in id_batches(client, SURVEYS_INDEX, since, until):
        for sid, record in zip(sids, fetch_hashes(client, [SURVEY_KEY % s for s in sids]),
                               strict=True):
            if record:
                record.setdefault("call_sid", sid)
                yield record


# -- hourly tallies ----------------------------------------------------------------------------
def tally_raw(client: Any, since: float, until: float, fold_call: CallFold,
              fold_survey: SurveyFold) -> Cells:
    """Cells computed from the raw records of [since, until)."""
    cells: Cells = {}

    def put(cell: tuple[str, ...], tally: Tally) -> None:
        key = SEP.join(cell)
        if key in cells:
            cells[key].merge(tally)
        else:
            cells[key] = tally

    for _sid, record, events in calls_between(client, since, until):
        put(*fold_call(record, events))
    for record in surveys_between(client, since, until):
        put(*fold_survey(record))
    return cells


def tally_range(client: Any, since: float, until: float, fold_call: CallFold,
                fold_survey: SurveyFold, now: float, settled_after: float = 6 * HOUR,
                ttl: int = 395 * 86400) -> Cells:
    """Cells for [since, until): whole settled hours from the cache (filled on a miss), the rest raw."""
    first = math.ceil(since / HOUR) * HOUR
    last = min(math.floor(until / HOUR) * HOUR, math.floor((now - settled_after) / HOUR) * HOUR)
    if last <= first:
        return tally_raw(client, since, until, fold_call, fold_survey)
    cells = tally_raw(client, since, first, fold_call, fold_survey) if since < first else {}
    hours = list(range(int(first), int(last), HOUR))
    for hour, cached in zip(hours, _read_hours(client, hours), strict=True):
        if cached is None:
            cached = tally_raw(client, hour, hour + HOUR, fold_call, fold_survey)
            client.set(ROLLUP_KEY % hour, json.dumps({k: t.counts for k, t in cached.items()}),
                       ex=ttl)
        merge_cells(cells, cached)
    if last < until:
        merge_cells(cells, tally_raw(client, last, until, fold_call, fold_survey))
    return cells


def _read_hours(client: Any, hours: list[int]) -> list[Cells | None]:
    """The cached cells of each hour (None where not cached yet)."""
    out: list[Cells | None] = []
    for start in range(0, len(hours), BATCH):
        pipe = client.pipeline(transaction=False)
        for hour in hours[start:start + BATCH]:
            pipe.get(ROLLUP_KEY % hour)
        for raw in pipe.execute():
            out.append(None if raw is None else
                       {k: Tally(v) for k, v in json.loads(raw).items()})
    return out


def forget_rollups(client: Any, since: float, until: float) -> int:
    """Drop the cached hours overlapping [since, until) (after late data); returns how many."""
    hours = range(int(math.floor(since / HOUR) * HOUR), int(until), HOUR)
    return sum(client.delete(ROLLUP_KEY % h) for h in hours)
