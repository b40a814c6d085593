"""Call events written together every few milliseconds instead of one round trip per webhook."""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from ivr.journal import Journal
from ivr.writer import Command, WriteError, Writer

log = logging.getLogger("ivr.batcher")
T = TypeVar("T")
# How often a process that batches looks for segments left by a worker that died.
RECOVER_EVERY = 10.0
# The events thread writes a batch only once it has waited this many windows: under traffic the
# webhooks write it sooner, after their response (`after_response`), without a thread switch.
FALLBACK_WINDOWS = 2.0


class Batcher:
    """Collects idempotent call events and writes them in one pipeline per window (0: at once).

    Menu paths and call starts go through here; routes, survey answers and voicemail are written
    at once (and take the events still waiting with them). Each deferred batch is first appended
    to the process's `Journal`, so a worker killed outright loses nothing: another process
    replays what it left. A batch waiting in memory is also written at exit.

    The waiting events are written by the first webhook to finish its response once they have
    waited a window (`after_response`, called when the response has been sent), so under
    traffic the worker's own thread does it between requests; the events thread writes them
    only when no webhook came along for `FALLBACK_WINDOWS` windows (a quiet line). Handing a
    batch to a thread under load cost a worker more than writing it: each hand-over of the
    interpreter lock between two threads is a pair of context switches.
    """

    def __init__(self, writer: Writer, window_seconds: float, journal: Journal | None = None):
        self.writer = writer
        self.window = window_seconds
        self.journal = journal
        self._pending: list[Command] = []
        self._pending_since: float | None = None  # time.monotonic() of the oldest waiting event
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._serving_pid = 0  # the process whose events thread runs (it never ends)
        self._recovered_at = 0.0
        self._append_failed_at = -RECOVER_EVERY
        if self.window > 0:
            atexit.register(self.flush)

    def defer(self, commands: Sequence[Command]) -> None:
        """Write `commands` with the next batch (at once when batching is off)."""
        if self.window <= 0:
            self.write(commands)
            return
        first = False
        with self._lock:
            try:
                if self.journal is not None:
                    self.journal.append(commands)
            except OSError:  # no room on disk for the journal: this batch is written at once
                if time.monotonic() - self._append_failed_at > RECOVER_EVERY:  # not every webhook
                    self._append_failed_at = time.monotonic()
                    log.exception("journal append failed; writing call events at once meanwhile")
                journalled = False
            else:
                journalled = True
                if not self._pending:
                    first, self._pending_since = True, time.monotonic()
                self._pending.extend(commands)
        if self._serving_pid != os.getpid():
            self._serving()
        if first:
            self._wake.set()  # the events thread times its fallback from this batch
        elif not journalled:
            self.write(commands)

    def after_response(self) -> None:
        """Write the waiting events if they have waited a window (called by the web layer once
        a response has been sent, so no caller waits for it); never raises."""
        since = self._pending_since
        if since is None or time.monotonic() - since < self.window:
            return
        try:
            self.flush()
        except Exception:  # the events thread or a later webhook writes them
            log.exception("writing a batch of call events after a response failed")

    def write(self, commands: Sequence[Command]) -> bool:
        """Write `commands` now, after the events still waiting (one round trip for both)."""
        return self._send(list(commands), self.writer.write)

    def write_and_read_all(self, reads: Sequence[Command], commands: Sequence[Command],
                           default: T) -> list[Any] | T:
        """Run `reads` in the round trip that writes the waiting events and `commands` (the reads
        go first: they see Redis as it was before these writes)."""
        return self._send(list(commands),
                          lambda batch: self.writer.write_and_read_all(reads, batch, default))

    def flush(self) -> bool:
        """Write the waiting events now."""
        return self._send([], self.writer.write, serving=False)

    def recover(self) -> int:
        """Replay the journal segments of workers that died; return the batches replayed."""
        self._recovered_at = time.monotonic()
        if self.journal is None:
            return 0
        try:
            return self.journal.recover(self.writer.write)
        except Exception:  # never let recovery take the events thread down
            log.exception("recovering journalled call events failed")
            return 0

    def _send(self, commands: list[Command], send: Callable[[list[Command]], Any],
              serving: bool = True) -> Any:
        """`send` the waiting events followed by `commands`, then empty their journal segment
        (the writer has put them in Redis or in its spool, or Redis rejected them and a replay
        would not help). If anything else stops the send (the spool's disk is full, gunicorn's
        timeout exits the worker), the segment is let go and replayed by the next recovery."""
        if serving and self._serving_pid != os.getpid():
            self._serving()
        with self._lock:  # one statement: an exit signal cannot fall between the two takes
            batch, self._pending, self._pending_since, segment = self._pending, [], None, (
                self.journal.rotate() if self.journal is not None else None)
        try:
            result = send(batch + commands)
        except WriteError:
            self._settle(segment)
            if not batch:
                raise
            # Redis rejected some command: if it was another webhook's waiting event, this
            # webhook's own commands (idempotent) are sent again alone, and fail only if theirs
            log.exception("a batch of waiting call events was partly rejected by Redis")
            return send(commands)
        except BaseException:
            if segment is not None:
                self.journal.release(segment)
            raise
        self._settle(segment)
        return result

    def _settle(self, segment: Any) -> None:
        """Empty a journal segment whose events need no replay."""
        if segment is not None:
            self.journal.settle(segment)

    def _serving(self) -> None:
        """First use in this process (not at import: a gunicorn master that preloads the app
        forks workers): start the thread that writes the batches and recovers orphaned journals."""
        with self._lock:
            if self._serving_pid == os.getpid():
                return
            self._serving_pid = os.getpid()
        if self.window > 0:
            threading.Thread(target=self._run, name="ivr-events", daemon=True).start()
        elif self.journal is not None and self.journal.orphans():  # left by a run that batched
            threading.Thread(target=self.recover, name="ivr-journal-recovery", daemon=True).start()

    def _run(self) -> None:
        """Write waiting events no webhook wrote within `FALLBACK_WINDOWS` windows, and look for
        orphaned journals now and then."""
        self.recover()
        while True:
            try:
                since = self._pending_since
                if since is None:
                    if not self._wake.wait(RECOVER_EVERY):
                        self.recover()
                    self._wake.clear()
                    continue
                delay = since + self.window * FALLBACK_WINDOWS - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                    continue
                self.flush()
            except Exception:  # a bug in a command: logged, the thread keeps serving later batches
                log.exception("writing a batch of call events failed")
            if time.monotonic() - self._recovered_at > RECOVER_EVERY:
                self.recover()
