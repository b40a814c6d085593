"""Which callers were routed recently, and where to, known inside each process, so that an
incoming call needs no Redis read.

With `returning_callers` on, an incoming call must know whether its caller was routed within
IVR_RETURNING_HOURS before it can answer. Most callers were not, and asking Redis each time
costs a round trip on the call's first webhook. So every route also appends the caller's keyed
hash and time to a Redis stream (`CallStore.ROUTED`), and each process keeps an index of that
stream: a fixed-size table (4 MiB, whatever the number of callers) in which a caller's hash
picks two slots and each slot keeps the newest minute written to it. The index never says "not
routed" for a caller who was; it may say "maybe" for one who was not (two slots taken by other
callers), and then the call reads Redis as before. Next to the table, each process keeps the
newest route of each caller the stream told it about (language, destination, time; at most
`MAX_ROUTES`, the oldest dropped first), so that a returning caller is welcomed back without a
read either; a caller whose route it does not hold (dropped, or added by a process that wrote no
language and destination, such as an older version during a rolling upgrade) is read as before.

The index is filled once per process by a short background load (callers remembered before the
stream existed are added to it once, by whichever process gets there first), then kept up to
date in the round trip of an incoming call at most once every `SYNC_EVERY` seconds: an XRANGE
from the last entry seen rides with that call's read of the caller. A route taken in this
process is added at once. The index is trusted only for `TRUST_FOR` seconds after it last
reached the end of the stream; before it is loaded, and whenever it is older than that (a quiet
line, Redis unreachable), the incoming call reads Redis exactly as without the index.

What is left out: a caller routed by another process less than `TRUST_FOR` seconds before
calling again (finishing a call and dialling again takes longer) is treated as new, or as
routed where the stream said last.
"""

from __future__ import annotations

import hashlib
import logging
import math
import mmap
import os
import sys
import threading
import time
from typing import Any

from ivr.writer import Command

log = logging.getLogger(__name__)

SLOT_BITS = 20  # 2**20 slots of 4 bytes: 4 MiB per process, touched only where written
SYNC_EVERY = 1.0  # seconds between two catch-ups of a process's index
TRUST_FOR = 2.0  # seconds an index that reached the end of the stream is trusted
PAGE = 5000  # stream entries read per round trip
LOAD_RETRY = 10.0  # seconds before a failed load is tried again
TRIM_EVERY = 300.0  # seconds between two trims of the stream
SEEDED = "ivr:callers:routed:seeded"  # "done" once remembered callers were added to the stream
MAX_ROUTES = 50_000  # callers' newest routes kept per process: about 10 MB at most


class SlotTable:
    """Two slots per caller hash, each holding the newest minute written to it (0: never)."""

    def __init__(self, bits: int = SLOT_BITS):
        self.mask = (1 << bits) - 1
        # Anonymous and private: zero pages cost no memory until written, and a forked worker
        # gets its own copy rather than sharing writes with its siblings.
        self._memory = mmap.mmap(-1, 4 << bits, flags=mmap.MAP_PRIVATE)
        self.minutes = memoryview(self._memory).cast("I")
        self._lock = threading.Lock()

    def probes(self, caller: str) -> tuple[int, int]:
        """The two slots of a caller hash (hex from HMAC; anything else is hashed first)."""
        try:
            value = int(caller[:16], 16)
        except ValueError:
            value = int.from_bytes(hashlib.blake2b(caller.encode(), digest_size=8).digest(), "big")
        return (value >> 32) & self.mask, value & self.mask

    def add(self, caller: str, at: float) -> None:
        """Record that `caller` was routed at `at` (epoch seconds)."""
        minute = min(max(math.ceil(at / 60), 0), 0xFFFFFFFF)
        first, second = self.probes(caller)
        minutes = self.minutes
        with self._lock:  # a read-modify-write: two threads must not lose the newer minute
            if minutes[first] < minute:
                minutes[first] = minute
            if minutes[second] < minute:
                minutes[second] = minute

    def maybe_since(self, caller: str, since: float) -> bool:
        """False only when `caller` was certainly not routed at or after `since`."""
        first, second = self.probes(caller)
        return min(self.minutes[first], self.minutes[second]) >= math.floor(since / 60)


class LastRoutes:
    """The newest route (language, destination, time) of each caller the index was told about,
    at most `limit` of them (the oldest dropped first)."""

    def __init__(self, limit: int | None = None):
        self.limit = MAX_ROUTES if limit is None else limit
        self._routes: dict[str, tuple[str, str, float]] = {}  # in the order they were taken
        self._lock = threading.Lock()

    def add(self, caller: str, at: float, lang: str, dest: str) -> None:
        """Record a route; one without language or destination forgets the caller's older route
        (only Redis knows where it went). An older route than the one kept changes nothing."""
        with self._lock:
            routes = self._routes
            kept = routes.get(caller)
            if kept is not None:
                if kept[2] > at:
                    return
                del routes[caller]  # put back last: the dict stays in the order routes were taken
            if lang and dest:
                routes[caller] = (sys.intern(lang), sys.intern(dest), at)
                if len(routes) > self.limit:
                    del routes[next(iter(routes))]

    def get(self, caller: str) -> tuple[str, str, float] | None:
        """The caller's newest route held here, if any."""
        return self._routes.get(caller)

    def __len__(self) -> int:
        return len(self._routes)


class RecentCallers:
    """A process's index of the callers routed recently, and how it keeps up with Redis."""

    def __init__(self, client: Any, stream: str, caller_pattern: str, bits: int = SLOT_BITS):
        self.client, self.stream, self.caller_pattern = client, stream, caller_pattern
        self.bits = bits
        self.table: SlotTable | None = None
        self.routes = LastRoutes()  # replaced with the table's own when the table is loaded
        self.last_id = "0-0"  # the newest stream entry the table holds
        self.synced_at = -math.inf  # time.monotonic() of the last catch-up that reached the end
        self._sync_claimed_at = -math.inf
        self._trimmed_at = time.monotonic()
        self._load_started_at = -math.inf
        self._loading_pid = 0
        self._early: list[tuple[str, float, str, str]] = []  # routes taken here while loading
        self._lock = threading.Lock()

    # -- the incoming call's questions ----------------------------------------------------------
    def remembered(self, caller: str, since: float) -> dict | None:
        """What is remembered of `caller`'s route since `since` ({"lang", "dest", "at"}), {} for
        a caller certainly not routed since then, or None when only Redis can tell (the index
        is not loaded or not current, or does not hold the caller's route)."""
        table = self.table
        if table is None:
            self._start_loading()
            return None
        if time.monotonic() - self.synced_at > TRUST_FOR:
            return None
        if not table.maybe_since(caller, since):
            return {}
        route = self.routes.get(caller)
        if route is None:
            return None
        lang, dest, at = route
        return {"lang": lang, "dest": dest, "at": at} if at >= since else {}

    def catch_up(self, window: float) -> tuple[Command | None, list[Command]]:
        """The read that brings the index up to date and any trim of the stream, when due (at
        most once per SYNC_EVERY in this process); (None, []) otherwise."""
        now = time.monotonic()
        if self.table is None or not self._due(now):  # the usual answer, without the lock
            return None, []
        with self._lock:
            if not self._due(now):
                return None, []
            self._sync_claimed_at = now  # one catch-up in flight per process
            trim = self._trim_command(window) if now - self._trimmed_at >= TRIM_EVERY else None
            if trim is not None:
                self._trimmed_at = now
        read = Command("XRANGE", self.stream, ("(" + self.last_id, "+", "COUNT", PAGE))
        return read, [trim] if trim is not None else []

    def absorb(self, entries: Any) -> None:
        """Take the answer to `catch_up`'s read (None when the round trip failed)."""
        if entries is None or self.table is None:
            return
        count, newest = _add(self.table, self.routes, entries)
        if newest:
            self.last_id = newest
        if count < PAGE:  # reached the end of the stream
            self.synced_at = time.monotonic()
        else:  # more to read: the next incoming call catches up again at once
            self._sync_claimed_at = -math.inf

    def routed(self, caller: str, at: float, lang: str, dest: str) -> None:
        """A route taken in this process: known here at once, before Redis has it (kept for the
        table a load in progress is building)."""
        with self._lock:
            table, routes = self.table, self.routes
            if table is None:
                if len(self._early) < PAGE:
                    self._early.append((caller, at, lang, dest))
                return
        table.add(caller, at)
        routes.add(caller, at, lang, dest)

    def _due(self, now: float) -> bool:
        """True when a catch-up is due and none is in flight."""
        return now - self.synced_at >= SYNC_EVERY and now - self._sync_claimed_at >= SYNC_EVERY

    def _trim_command(self, window: float) -> Command | None:
        """A trim of the stream's entries older than the window and an hour of margin before the
        newest entry this index has seen (entry ids are the Redis server's clock in
        milliseconds, so no other clock is involved); None before any entry."""
        newest = int(self.last_id.partition("-")[0] or 0)
        if not newest:
            return None
        before = newest - int((window + 3600) * 1000)
        return Command("XTRIM", self.stream, ("MINID", str(max(before, 0))))

    # -- loading ---------------------------------------------------------------------------------
    def load(self) -> bool:
        """Fill a new table from the whole stream (after adding the callers remembered before the
        stream existed, once); True when the index is ready."""
        if not self._seeded():
            return False
        table, routes, last, count = SlotTable(self.bits), LastRoutes(), "-", PAGE
        while count == PAGE:
            entries = self.client.xrange(self.stream, last, "+", count=PAGE)
            count, newest = _add(table, routes, entries)
            if newest:
                last = "(" + newest
        with self._lock:
            for caller, at, lang, dest in self._early:
                table.add(caller, at)
                routes.add(caller, at, lang, dest)
            self._early.clear()
            self.last_id = last[1:] if last != "-" else "0-0"
            self.table, self.routes = table, routes
            self.synced_at = time.monotonic()
        log.info("index of recently routed callers loaded (stream up to %s)", self.last_id)
        return True

    def _start_loading(self) -> None:
        """Load in a background thread (one at a time per process, retried after LOAD_RETRY)."""
        now = time.monotonic()
        with self._lock:
            if self._loading_pid == os.getpid() and now - self._load_started_at < LOAD_RETRY:
                return
            self._loading_pid, self._load_started_at = os.getpid(), now
        threading.Thread(target=self._load_logged, name="ivr-caller-index", daemon=True).start()

    def _load_logged(self) -> None:
        try:
            self.load()
        except Exception as exc:  # Redis unreachable: calls read Redis meanwhile, retried later
            log.warning("index of recently routed callers not loaded (%s); retrying", exc)

    def _seeded(self) -> bool:
        """Add the callers remembered before the stream existed to it, once for all processes;
        False while another process is doing it."""
        if self.client.get(SEEDED) == "done":
            return True
        if not self.client.set(SEEDED, "seeding", nx=True, ex=600):
            return False
        added, keys = 0, []
        for key in self.client.scan_iter(match=self.caller_pattern, count=1000):
            keys.append(key)
            if len(keys) >= 500:
                added += self._seed(keys)
                keys = []
        added += self._seed(keys)
        self.client.set(SEEDED, "done")
        log.info("added %d remembered callers to %s", added, self.stream)
        return True

    def _seed(self, keys: list[str]) -> int:
        """Append the remembered callers `keys` to the stream; how many."""
        if not keys:
            return 0
        prefix, _, suffix = self.caller_pattern.partition("*")
        pipe = self.client.pipeline(transaction=False)
        for key in keys:
            pipe.hmget(key, "at", "lang", "dest")
        remembered = pipe.execute()
        for key, (at, lang, dest) in zip(keys, remembered, strict=True):
            caller = key[len(prefix):len(key) - len(suffix)]
            if at is not None:
                pipe.xadd(self.stream, {"h": caller, "at": at, "l": lang or "", "d": dest or ""})
        return len(pipe.execute())


def _add(table: SlotTable, routes: LastRoutes, entries: list[Any]) -> tuple[int, str | None]:
    """Add stream entries (id, fields) to a table and the routes it keeps; how many there were
    and the newest id."""
    for _, fields in entries:
        caller, at = _field(fields, "h"), _field(fields, "at")
        try:
            when = float(at)
        except ValueError:
            continue  # not an entry of ours: skipped
        if caller:
            table.add(caller, when)
            routes.add(caller, when, _field(fields, "l"), _field(fields, "d"))
    return len(entries), _text(entries[-1][0]) if entries else None


def _field(fields: dict, name: str) -> str:
    """A stream entry's field as text ("" when missing), whether the client decodes or not."""
    value = fields.get(name)
    if value is None:
        value = fields.get(name.encode())
    return "" if value is None else _text(value)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
