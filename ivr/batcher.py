"""Navigation events written together every few milliseconds instead of one round trip per key press."""

from __future__ import annotations

import atexit
import logging
import threading
import time
from collections.abc import Sequence

from ivr.writer import Command, Writer

log = logging.getLogger("ivr.batcher")


class Batcher:
    """Collects idempotent navigation events and writes them in one pipeline per window (0: at once).

    Only events that can be rebuilt from the call's next steps go through here (menu paths);
    routes, survey answers and voicemail are written at once by the Writer. A batch waiting in
    memory is written at exit; a process killed outright loses at most one window of path events.
    """

    def __init__(self, writer: Writer, window_seconds: float):
        self.writer = writer
        self.window = window_seconds
        self._pending: list[Command] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        if self.window > 0:
            atexit.register(self.flush)

    def defer(self, commands: Sequence[Command]) -> None:
        """Write `commands` with the next batch (at once when batching is off)."""
        if self.window <= 0:
            self.writer.write(commands)
            return
        with self._lock:
            self._pending.extend(commands)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="ivr-events", daemon=True)
                self._thread.start()
        self._wake.set()

    def write(self, commands: Sequence[Command]) -> bool:
        """Write `commands` now, after the events still waiting (one round trip for both)."""
        return self.writer.write(self._take() + list(commands))

    def flush(self) -> bool:
        """Write the waiting events now."""
        batch = self._take()
        return self.writer.write(batch) if batch else True

    def _take(self) -> list[Command]:
        with self._lock:
            batch, self._pending = self._pending, []
        return batch

    def _run(self) -> None:
        while True:
            self._wake.wait()
            time.sleep(self.window)
            self._wake.clear()
            try:
                self.flush()
            except Exception:  # a bug in a command: logged, the thread keeps serving later batches
                log.exception("writing a batch of call events failed")
