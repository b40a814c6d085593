"""Pipelined, idempotent writes to Redis that fall back to a local spool while Redis is down."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from itertools import repeat
from typing import Any, NamedTuple, TypeVar

import redis
from redis import exceptions as rex

from ivr import scripts
from ivr.leanlink import LeanLink, LinkDown
from ivr.spool import Spool

log = logging.getLogger(__name__)
T = TypeVar("T")

# Errors meaning "Redis cannot take this now": the write is spooled, never lost.
UNAVAILABLE: tuple[type[BaseException], ...] = (
    rex.ConnectionError,  # includes BusyLoadingError and authentication failures
    rex.TimeoutError,
    rex.ClusterError,  # includes ClusterDownError and MasterDownError
    rex.RedisClusterException,  # "cannot be connected", slot not covered
    rex.TryAgainError,
    rex.ReadOnlyError,  # a replica after failover
    rex.OutOfMemoryError,  # maxmemory reached: keep the answer on disk instead
    OSError,
)
# Error replies meaning "not now" rather than "wrong": a running script (BUSY), a server that
# cannot persist (MISCONF) or lacks replicas (NOREPLICAS). Spooled like an outage.
TRANSIENT_REPLIES = ("BUSY ", "MISCONF ", "NOREPLICAS ")
# Commands that may safely run a second time after a script (see Writer._rerun_scripts).
REPEATABLE = frozenset(
    "SET SETNX HSET HSETNX HMSET HDEL DEL UNLINK SADD SREM ZADD ZREM EXPIRE PEXPIRE EXPIREAT PEXPIREAT "
    "PERSIST".split()
)
# Commands that set a key's time to live: spooled with a failed write to the same key.
EXPIRES = frozenset({"EXPIRE", "PEXPIRE", "EXPIREAT", "PEXPIREAT"})
# Command names seen not to be a Lua script (any spelling of SCRIPT): learnt as batches go out.
_PLAIN_OPS: set[str] = set()
# How many spooled batches a single write replays before its own; the rest wait their turn.
REPLAY_PER_WRITE = 200


class Command(NamedTuple):
    """One idempotent Redis write: a command name, its first key (for cluster routing), the rest.

    A named tuple rather than a frozen dataclass: a webhook builds several, and a tuple is made
    in a fraction of the time."""

    op: str
    key: str
    args: tuple = ()

    @classmethod
    def script(
        cls, name: str, key: str, more_keys: Sequence[str] = (), argv: Sequence = ()
    ) -> Command:
        """Return a command running the registered Lua script `name` on `key` and `more_keys`."""
        if name not in scripts.SCRIPTS:
            raise KeyError(f"no Lua script registered as {name!r}")
        return cls("SCRIPT", key, (name, tuple(more_keys), tuple(argv)))

    def to_json(self) -> dict[str, Any]:
        """Return a JSON-ready dict for the spool."""
        return {"op": self.op, "key": self.key, "args": _lists(self.args)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Command:
        """Rebuild a command from `to_json` output."""
        return cls(data["op"], data["key"], _tuples(data.get("args", [])))

    @property
    def script_name(self) -> str | None:
        """Return the Lua script's name for a SCRIPT command, else None."""
        return self.args[0] if self.op == "SCRIPT" or self.op.upper() == "SCRIPT" else None

    def redis_args(self, by_sha: bool = True) -> tuple:
        """Return the arguments for `execute_command`, turning SCRIPT into EVALSHA or EVAL."""
        if self.script_name is None:
            return (self.op, self.key, *self.args)
        name, more_keys, argv = self.args
        keys = (self.key, *more_keys)
        if by_sha:
            return ("EVALSHA", scripts.sha(name), len(keys), *keys, *argv)
        return ("EVAL", scripts.SCRIPTS[name], len(keys), *keys, *argv)


class WriteError(Exception):
    """Raised when Redis rejects a command as wrong: a programming error, not an outage."""


class _Unavailable(Exception):
    """Some commands of a batch could not be written because Redis is unavailable."""

    def __init__(self, failed: list[Command], cause: BaseException):
        super().__init__(str(cause))
        self.failed = failed


class Writer:
    """Writes batches of idempotent commands to Redis in one pipelined round trip, spooling them when Redis is down."""

    def __init__(self, client: Any, spool: Spool, retry_after: float = 2.0):
        self.client = client
        self.spool = spool
        self.retry_after = retry_after
        self._open_until = 0.0
        self._round_trips = 0
        self._watcher: threading.Thread | None = None
        self._watch_lock = threading.Lock()
        # Scripts this writer has sent in full once; later runs send only the SHA1.
        self._sent_scripts: set[str] = set()
        # One server (or Sentinel's master): batches go over a lean per-thread connection.
        self._lean = LeanLink(client) if type(client) is redis.Redis else None

    @property
    def healthy(self) -> bool:
        """True unless a recent failure opened the circuit."""
        return time.monotonic() >= self._open_until

    def round_trips(self) -> int:
        """Return how many pipelines this writer has executed."""
        return self._round_trips

    def write(self, commands: Sequence[Command]) -> bool:
        """Write `commands` in order; return True if they reached Redis, False if they were spooled."""
        batch = list(commands)
        if not batch:
            return True
        if not self.healthy:
            self._spool(batch)
            return False
        if self.spool.pending():
            self._spool(batch)  # behind the older spooled batches, so order holds
            return self._drain(REPLAY_PER_WRITE)
        try:
            self._execute(batch)
            return True
        except _Unavailable as exc:
            self._trip(exc)
            self._spool(exc.failed)
            return False

    def write_and_read(self, read: Command, commands: Sequence[Command], default: T) -> T:
        """Run one read and write `commands` in the same round trip; the read's answer, or `default`."""
        answers = self.write_and_read_all([read], commands, None)
        return default if answers is None else answers[0]

    def write_and_read_all(self, reads: Sequence[Command], commands: Sequence[Command],
                           default: T) -> list[Any] | T:
        """Run `reads` and write `commands` in one round trip; the reads' answers, or `default`."""
        batch, reads = list(commands), list(reads)
        if not self.healthy or self.spool.pending():
            self.write(batch)  # spooled, or behind older spooled batches so order holds
            return self.read(lambda c: [c.execute_command(*r.redis_args()) for r in reads], default)
        try:
            return self._execute(reads + batch, parse=len(reads))[:len(reads)]
        except _Unavailable as exc:
            self._trip(exc)
            self._spool([c for c in exc.failed if not any(c is r for r in reads)])
            return default

    def read(self, fn: Callable[[Any], T], default: T) -> T:
        """Return `fn(client)`, or `default` when Redis is unavailable."""
        if not self.healthy:
            return default
        try:
            return fn(self.client)
        except UNAVAILABLE as exc:
            self._trip(exc)
            return default

    def replay(self) -> int:
        """Replay every spooled batch now; return how many were applied."""
        if not self.healthy:
            return 0
        try:
            return self.spool.replay(self._apply)
        except _Unavailable as exc:
            self._trip(exc)
            return 0

    def _drain(self, limit: int) -> bool:
        """Replay up to `limit` spooled batches; return True when the spool is empty afterwards."""
        try:
            self.spool.replay(self._apply, limit=limit)
        except _Unavailable as exc:
            self._trip(exc)
            return False
        return not self.spool.pending()

    def _apply(self, entry: dict[str, Any]) -> None:
        """Write one spooled batch; drop it with a logged error if Redis rejects it as wrong."""
        if not self.healthy:  # stop the replay right after a partly failed batch
            raise _Unavailable([], ConnectionError("circuit open"))
        batch = [Command.from_json(c) for c in entry["commands"]]
        try:
            self._execute(batch)
        except _Unavailable as exc:
            if len(exc.failed) == len(batch):
                raise
            # The rest was written, so this entry counts as done; the failed part waits
            # at the end of the spool rather than running the written part twice.
            self._spool(exc.failed)
            self._trip(exc)
        except WriteError:
            log.exception("dropping a spooled batch that Redis rejects")

    def _spool(self, batch: list[Command]) -> None:
        """Keep `batch` on disk until Redis is back (a background thread replays it then)."""
        self.spool.append({"commands": [c.to_json() for c in batch]})
        self._watch()

    def _watch(self) -> None:
        """Start the thread that replays the spool as soon as Redis answers again, even without traffic."""
        with self._watch_lock:
            if self._watcher is not None and self._watcher.is_alive():
                return
            self._watcher = threading.Thread(target=self._replay_when_back, name="ivr-spool-replay",
                                             daemon=True)
            self._watcher.start()

    def _replay_when_back(self) -> None:
        while self.spool.pending():
            time.sleep(max(self._open_until - time.monotonic(), 0) + self.retry_after / 4)
            try:
                self.client.ping()
                self._open_until = 0.0  # Redis answers: close the circuit at once
                self.replay()
            except UNAVAILABLE:
                continue
            except Exception:  # a bug: logged; a later spooled write starts a new watcher
                log.exception("spool replay failed")
                return

    def _trip(self, exc: BaseException) -> None:
        """Open the circuit: for `retry_after` seconds writes go to the spool without touching the network."""
        log.warning("Redis unavailable (%s); spooling writes for %.1f s", exc, self.retry_after)
        self._open_until = time.monotonic() + self.retry_after

    def _pipeline(self, calls: list[tuple], parse: int) -> list[Any]:
        """Send `calls` in one non-transactional pipeline and return the per-command results (at
        least the first `parse` of them parsed by redis-py's reply callbacks)."""
        self._round_trips += 1
        if self._lean is not None:
            try:
                return self._lean.execute(calls, parse)
            except LinkDown as exc:  # redis-py reconnects, retries as configured, or raises
                log.debug("lean Redis link down (%s); retrying through redis-py", exc)
                return self._direct(calls)
        pipe = self.client.pipeline(transaction=False)
        for call in calls:
            pipe.execute_command(*call)
        try:
            return pipe.execute(raise_on_error=False)
        finally:
            pipe.reset()

    def _direct(self, calls: list[tuple]) -> list[Any]:
        """What `_pipeline` does, on a pooled connection without the pipeline object's bookkeeping
        (a third of a webhook's time): packed once, sent once, each reply parsed as redis-py parses
        it, errors kept per command; retried as the client's retry policy says (the commands are
        idempotent)."""
        client = self.client
        pool = client.connection_pool
        conn = pool.get_connection()

        def send_and_read() -> list[Any]:
            conn.send_packed_command(conn.pack_commands(calls))
            results: list[Any] = []
            for call in calls:
                try:
                    results.append(client.parse_response(conn, call[0]))
                except rex.ResponseError as exc:
                    results.append(exc)
            return results

        try:
            return conn.retry.call_with_retry(send_and_read, lambda _error: conn.disconnect())
        except BaseException:
            conn.disconnect()  # replies may be left unread: never hand this socket out again as is
            raise
        finally:
            pool.release(conn)

    def _execute(self, batch: list[Command], parse: int = 0) -> list[Any]:
        """Write `batch` in one round trip and return the replies (the first `parse` of them
        parsed as redis-py would), raising _Unavailable or WriteError."""
        sent, names, calls, plain = self._sent_scripts, [], [], _PLAIN_OPS
        for command in batch:
            op = command[0]
            if op in plain:  # the usual case, without the script_name property's work
                calls.append((op, command[1], *command[2]))
                continue
            name = command.script_name
            if name is None:
                plain.add(op)
                calls.append((op, command[1], *command[2]))
            else:
                names.append(name)
                calls.append(command.redis_args(by_sha=name in sent))
        try:
            results = self._pipeline(calls, parse)
            if names and any(isinstance(r, rex.NoScriptError) for r in results):
                results = self._rerun_scripts(batch, results, parse)
        except UNAVAILABLE as exc:
            raise _Unavailable(batch, exc) from exc
        except rex.RedisError as exc:  # e.g. the cluster client refusing an unknown command
            log.error(
                "Redis client rejected a batch starting %s %s: %s", batch[0].op, batch[0].key, exc
            )
            raise WriteError(str(exc)) from exc
        sent.update(names)
        if any(map(isinstance, results, repeat(Exception))):  # in C: no frame per reply
            self._check(batch, results)
        return results

    def _rerun_scripts(self, batch: list[Command], results: list[Any], parse: int) -> list[Any]:
        """Run scripts the server did not know with EVAL (which also caches them), in a second trip.

        Later repeatable commands of the batch run again after them, so that, say, an EXPIRE
        meant for a hash the script creates still applies.
        """
        first = next(i for i, r in enumerate(results) if isinstance(r, rex.NoScriptError))
        rerun = [
            i
            for i in range(first, len(batch))
            if isinstance(results[i], rex.NoScriptError) or batch[i].op.upper() in REPEATABLE
        ]
        again = self._pipeline([batch[i].redis_args(by_sha=False) for i in rerun],
                               sum(1 for i in rerun if i < parse))
        merged = list(results)
        for i, result in zip(rerun, again, strict=True):
            merged[i] = result
        return merged

    def _check(self, batch: list[Command], results: list[Any]) -> None:
        """Raise for commands Redis could not take (_Unavailable) or rejected (WriteError)."""
        causes = [r for r in results if _unavailable(r)]
        if causes:
            # An expiry that went through on a key whose write did not (out of memory: the key
            # may not exist yet) waits with that write, or the replayed key would never expire.
            keys = {c.key for c, r in zip(batch, results, strict=True) if _unavailable(r)}
            failed = [c for c, r in zip(batch, results, strict=True) if _unavailable(r)
                      or (c.key in keys and c.op.upper() in EXPIRES)]
            raise _Unavailable(failed, causes[0])
        errors = [(c, r) for c, r in zip(batch, results, strict=True) if isinstance(r, Exception)]
        for command, error in errors:
            log.error("Redis rejected %s %s: %s", command.op, command.key, error)
        if errors:
            raise WriteError("; ".join(f"{c.op} {c.key}: {e}" for c, e in errors))


def _unavailable(result: Any) -> bool:
    """True for a reply meaning Redis cannot take the command now (kept and replayed later)."""
    return isinstance(result, UNAVAILABLE) or (
        isinstance(result, rex.ResponseError) and str(result).startswith(TRANSIENT_REPLIES))


def _lists(value: Any) -> Any:
    """Turn nested tuples into lists for JSON."""
    return [_lists(v) for v in value] if isinstance(value, tuple | list) else value


def _tuples(value: Any) -> Any:
    """Turn nested lists back into tuples."""
    return tuple(_tuples(v) for v in value) if isinstance(value, list | tuple) else value
