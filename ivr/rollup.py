"""Reading call and survey records in bulk, and the hourly tallies cached in Redis."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from typing import Any

from redis.cluster import RedisCluster

from ivr.calls import CallStore
from ivr.hashpages import hash_pages, sort_pages
from ivr.surveys import SurveyStore

CALLS_INDEX = CallStore.BY_TIME
SURVEYS_INDEX = SurveyStore.BY_TIME
SURVEY_KEY = SurveyStore.KEY
ROLLUP_KEY = "ivr:rollup:v1:%d"
HOUR = 3600
BATCH = 1000
SEP = "\x1f"

# One page of a time index with the hashes of each member, encoded as a single JSON reply:
# one reply item per page instead of two per field, which is what makes a million-row export
# fast without a C reply parser.  ARGV: min, max, count, then (key prefix, key suffix) pairs.
PAGE_LUA = """
local page = redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[1], ARGV[2], 'WITHSCORES', 'LIMIT', 0,
                        tonumber(ARGV[3]))
local out = {}
for i = 1, #page, 2 do
  local row = {page[i], page[i + 1]}
  for j = 4, #ARGV, 2 do
    local flat = redis.call('HGETALL', ARGV[j] .. page[i] .. ARGV[j + 1])
    local h = {}
    for k = 1, #flat, 2 do h[flat[k]] = flat[k + 1] end
    row[#row + 1] = h
  end
  out[#out + 1] = row
end
if #out == 0 then return '[]' end
return cjson.encode(out)
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
Page = list[list[Any]]  # rows of [member, score, hash, hash, ...]
Columns = list[list[Any]]  # [members, values of field 1, values of field 2, ...]


def scan(client: Any, index: str, since: float, until: float, keys: tuple[str, ...],
         batch: int = BATCH) -> Iterator[Page]:
    """Pages of [member, score, *hashes] for index members scored in [since, until), in order.

    `keys` are key templates with %s for the member (e.g. "ivr:call:{%s}").
    """
    low, seen = float(since), set()
    while True:
        want = batch + len(seen)
        page = _page(client, index, repr(low), f"({until!r}", want, keys)
        fresh = [row for row in page if row[0] not in seen]
        if fresh:
            yield fresh
        if len(page) < want:
            return
        last = float(page[-1][1])
        same = {row[0] for row in page if float(row[1]) == last}
        seen = same | seen if last == low else same
        low = last


def _page(client: Any, index: str, low: str, high: str, count: int, keys: tuple[str, ...]) -> Page:
    """One page: a Lua script on a single server, a zrange plus a pipeline on a cluster."""
    if isinstance(client, RedisCluster):
        members = client.zrangebyscore(index, low, high, start=0, num=count, withscores=True)
        pipe = client.pipeline(transaction=False)
        for member, _ in members:
            for template in keys:
                pipe.hgetall(template % member)
        hashes, n = pipe.execute(), len(keys)
        return [[m, s, *hashes[i * n:(i + 1) * n]] for i, (m, s) in enumerate(members)]
    script = getattr(client, "_ivr_page_script", None)
    if script is None:
        script = client._ivr_page_script = client.register_script(PAGE_LUA)
    parts = [part for template in keys for part in template.split("%s", 1)]
    return json.loads(script(keys=[index], args=[low, high, count, *parts]))


def field_pages(client: Any, index: str, key: str, fields: list[str], since: float, until: float,
                size: int = BATCH, raw: bool = False) -> Iterator[Columns]:
    """Pages of columns [members, field 1, ...] for index members scored in [since, until), in order.

    `key` is a hash key template with %s for the member; a missing field or hash reads as None;
    with `raw`, field values are bytes. Only the named fields travel; on a single server Redis
    already reads the next page while the caller works on this one (see ivr.hashpages).
    """
    if isinstance(client, RedisCluster):
        pages = _cluster_fields(client, index, key, fields, since, until, size)
        if raw:
            encoder = client.get_encoder()
            return ([page[0], *([v.encode(encoder.encoding, encoder.encoding_errors) if isinstance(v, str)
                                 else v for v in column] for column in page[1:])] for page in pages)
        return pages
    return hash_pages(client, index, key, fields, since, until, size, _ranks, raw)


def field_values(client: Any, index: str, key: str, fields: list[str], since: float, until: float,
                 size: int = 5000, then: list[str] | None = None) -> Iterator[Columns]:
    """Pages of columns [field 1, ..., then 1, ...] (no members) for index members scored in
    [since, until); the `then` fields are only read for a page where the first field is missing
    somewhere (all None otherwise).

    For a quick look over a range (which values occur): pages are read by rank without noticing
    entries that come and go meanwhile, so one may be seen twice or missed.
    """
    then = then or []
    if isinstance(client, RedisCluster):
        for page in _cluster_fields(client, index, key, fields + then, since, until, size):
            yield page[1:]
        return
    pattern = key.replace("%s", "*", 1)
    offset, end = _ranks(client, index, since, until)

    def sort(start: int, names: list[str]) -> list[Any]:
        return ["SORT", index, "BY", "nosort", "LIMIT", start, min(size, end - start),
                *(x for f in names for x in ("GET", f"{pattern}->{f}"))]

    # a few pages asked for ahead on a raw connection: Redis never waits for this side
    for start, flat in sort_pages(client, index, [f"{pattern}->{f}" for f in fields], offset, end, size):
        page = [flat[i::len(fields)] for i in range(len(fields))]
        if then and None in page[0]:
            flat = client.execute_command(*sort(start, fields + then))
            page = [flat[i::len(fields) + len(then)] for i in range(len(fields) + len(then))]
        elif then:
            page += [[None] * len(page[0]) for _ in then]
        if page[0]:
            yield page


def _ranks(client: Any, index: str, since: float, until: float, after: str | None = None
           ) -> tuple[int, int]:
    """Rank of the first member at or after `since` (or just after member `after` while it is
    still indexed), and rank of the first member at or after `until`."""
    pipe = client.pipeline(transaction=False)
    pipe.zcount(index, "-inf", f"({since!r}")
    pipe.zcount(index, "-inf", f"({until!r}")
    pipe.zrank(index, after or "")
    first, end, rank = pipe.execute()
    return (max(first, rank + 1) if after and rank is not None else first), end


def _cluster_fields(client: Any, index: str, key: str, fields: list[str], since: float,
                    until: float, size: int) -> Iterator[Columns]:
    """Pages on a cluster (no SORT GET across slots): members by score, then pipelined HMGETs."""
    for page in scan(client, index, since, until, (), size):
        sids = [row[0] for row in page]
        pipe = client.pipeline(transaction=False)
        for sid in sids:
            pipe.hmget(key % sid, fields)
        yield [sids, *(list(values) for values in zip(*pipe.execute(), strict=True))]


def path_events(path_hash: dict[str, str]) -> list[str]:
    """A call's path events in step order ("menu main", "key 2", ...)."""
    events: list[str] = []
    for step in sorted(path_hash, key=int):
        events.extend(path_hash[step].split(" | "))
    return events


def calls_between(client: Any, since: float, until: float) -> Iterator[tuple[str, dict, list[str]]]:
    """(CallSid, record, path events) for calls started in [since, until)."""
    for page in scan(client, CALLS_INDEX, since, until, (CallStore.KEY, CallStore.PATH)):
        for sid, _score, record, path in page:
            if record:
                yield sid, record, path_events(path)


def surveys_between(client: Any, since: float, until: float) -> Iterator[dict[str, str]]:
    """Survey responses offered in [since, until), oldest first, in the contract's field names."""
    store = SurveyStore()
    for page in scan(client, SURVEYS_INDEX, since, until, (SURVEY_KEY,)):
        yield from store.read(client, [row[0] for row in page], [row[2] for row in page])


def members(client: Any, index: str, since: float, until: float, batch: int = 5000
            ) -> Iterator[list[str]]:
    """Members of a time index scored in [since, until), a batch at a time."""
    for page in scan(client, index, since, until, (), batch):
        yield [row[0] for row in page]


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


def delete_scanned(client: Any, pattern: str, wanted: Callable[[str], bool] = lambda _key: True,
                   batch: int = 500) -> int:
    """Delete the keys matching `pattern` that `wanted` accepts, a batch at a time; how many."""
    removed, keys = 0, []
    for key in client.scan_iter(match=pattern, count=batch):
        if wanted(key):
            keys.append(key)
        if len(keys) >= batch:
            removed += client.delete(*keys)
            keys = []
    return removed + (client.delete(*keys) if keys else 0)


def forget_rollups_before(client: Any, until: float) -> int:
    """Drop every cached hour that starts before `until` (after a purge); returns how many."""
    def before(key: str) -> bool:
        hour = key.rpartition(":")[2]
        return hour.isdigit() and int(hour) < until

    return delete_scanned(client, ROLLUP_KEY.replace("%d", "*"), before)


def forget_rollups(client: Any, since: float, until: float) -> int:
    """Drop the cached hours overlapping [since, until) (after late data); returns how many."""
    hours = range(int(math.floor(since / HOUR) * HOUR), int(until), HOUR)
    return sum(client.delete(ROLLUP_KEY % h) for h in hours)
