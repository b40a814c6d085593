"""A per-process journal that keeps batched call events on local disk until they are in Redis.

Events batched by `ivr.batcher` wait in memory for up to one window before their pipeline is
sent. So that a worker killed outright (out of memory, a gunicorn timeout, SIGKILL) loses none
of them, each deferred batch is first appended to this process's current segment file with a
single write(2): once the call returns the bytes belong to the kernel, so they outlive the
process (not a power cut: the same promise as Redis's own `appendfsync everysec`). When the
window's pipeline has been written (or spooled by the writer), the segment is deleted. Segments
left behind by a process that died are replayed by any other process and then deleted; the
commands are idempotent, so replaying a segment that was in fact written is harmless.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from ivr.writer import Command, WriteError

log = logging.getLogger(__name__)

# A segment untouched for this long is replayed even if a process with its pid is running
# (pid reused after a restart, or a batch stuck longer than any Redis timeout).
STALE_SECONDS = 60.0
OPEN_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_CLOEXEC", 0)


class Journal:
    """Segment files `events-<pid>-<n>.jsonl` under a folder: one JSON line per deferred batch."""

    PREFIX = "events-"

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._pid = 0  # the process that opened `_fd` (a forked child opens its own)
        self._fd: int | None = None
        self._path: Path | None = None
        self._count = 0

    def append(self, commands: Sequence[Command]) -> None:
        """Append one batch as one line of the current segment (raises OSError, e.g. disk full)."""
        line = json.dumps(commands, separators=(",", ":")).encode() + b"\n"
        if self._fd is None or self._pid != os.getpid():
            self._open()
        written = os.write(self._fd, line)
        if written != len(line):  # a regular file only writes short when the disk is full
            raise OSError(f"journal {self._path}: wrote {written} of {len(line)} bytes")

    def rotate(self) -> Path | None:
        """Close the current segment and return its path (None when nothing was appended)."""
        if self._fd is None or self._pid != os.getpid():
            self._fd = None
            return None
        fd, path, self._fd, self._path = self._fd, self._path, None, None
        os.close(fd)
        return path

    @staticmethod
    def settle(path: Path | None) -> None:
        """Delete a segment whose batch is now in Redis or in the writer's spool."""
        if path is not None:
            path.unlink(missing_ok=True)

    def orphans(self) -> list[Path]:
        """Segments no running process will settle: their owner is gone, or they went stale."""
        found, now, me = [], time.time(), os.getpid()
        for path in self.folder.glob(self.PREFIX + "*.jsonl"):
            pid = _owner(path)
            try:
                mtime = path.stat().st_mtime
            except FileNotFoundError:
                continue  # settled meanwhile
            if now - mtime > STALE_SECONDS or (pid != me and not _alive(pid)):
                found.append((mtime, path.name, path))
        return [path for _, _, path in sorted(found)]

    def recover(self, write: Callable[[list[Command]], bool]) -> int:
        """Replay the orphaned segments through `write`, oldest first; return the batches replayed."""
        replayed = 0
        for path in self.orphans():
            claimed = self._claim(path)
            if claimed is None:
                continue  # another process took it first
            batches = _read(claimed)
            try:
                for batch in batches:
                    write(batch)
                    replayed += 1
            except WriteError:  # Redis rejected some command: the rest was written, as at first
                log.exception("a journalled batch was partly rejected by Redis")
            except Exception:  # a bug: keep the file for a person to look at, never retry forever
                log.exception("replaying journal segment %s failed; kept as %s", path.name,
                              claimed.with_suffix(".failed"))
                claimed.rename(claimed.with_suffix(".failed"))
                continue
            claimed.unlink(missing_ok=True)
        if replayed:
            log.warning("replayed %d batches of call events left by stopped workers", replayed)
        return replayed

    def _open(self) -> None:
        """Start a new segment owned by this process."""
        self._pid, self._count = os.getpid(), self._count + 1
        self._path = self.folder / f"{self.PREFIX}{self._pid}-{self._count}.jsonl"
        self._fd = os.open(self._path, OPEN_FLAGS, 0o600)

    def _claim(self, path: Path) -> Path | None:
        """Rename an orphan to a segment of ours (so it is recovered again if we die too)."""
        self._count += 1
        claimed = self.folder / f"{self.PREFIX}{os.getpid()}-r{self._count}.jsonl"
        try:
            path.rename(claimed)
        except FileNotFoundError:
            return None
        os.utime(claimed)  # fresh: not stale for the other processes while we replay it
        return claimed


def _owner(path: Path) -> int:
    """The pid in a segment's name (0 when the name is not ours)."""
    pid = path.name[len(Journal.PREFIX):].partition("-")[0]
    return int(pid) if pid.isdigit() else 0


def _alive(pid: int) -> bool:
    """True when a process with this pid runs (on this machine)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def _read(path: Path) -> list[list[Command]]:
    """The batches of a segment; a line torn by a crash mid-write is skipped (its webhook never
    answered, so Twilio already treated that request as failed)."""
    batches = []
    with open(path, "rb") as handle:
        for number, line in enumerate(handle, 1):
            try:
                batches.append([Command.from_list(c) for c in json.loads(line)])
            except (ValueError, TypeError):
                log.warning("journal segment %s line %d is torn; skipped", path.name, number)
    return batches
