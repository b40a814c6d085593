"""A per-process journal that keeps batched call events on local disk until they are in Redis.

Events batched by `ivr.batcher` wait in memory for up to one window before their pipeline is
sent. So that a worker killed outright (out of memory, a gunicorn timeout, SIGKILL) loses none
of them, each deferred batch is first appended to one of this process's segment files with a
single write(2): once the call returns the bytes belong to the kernel, so they outlive the
process (not a power cut: the same promise as Redis's own `appendfsync everysec`). When the
window's pipeline has been written (or spooled by the writer), the segment is emptied and used
again, so a busy worker touches no directory. Segments left behind by a process that died are
replayed by any other process and then deleted; the commands are idempotent, so replaying a
batch that was in fact written is harmless.

A record is a 4-byte length and the batch in `marshal` form (a quarter of JSON's cost on the
webhook's path). The files are this process's own, under the private data folder, like the
spool; one written by another Python version that cannot be read is kept as `.failed`.
"""

from __future__ import annotations

import logging
import marshal
import os
import struct
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple

from ivr.writer import Command, WriteError

log = logging.getLogger(__name__)

# A segment with events that has not changed for this long is replayed even though a process
# with its pid runs (the pid was reused after a restart).
STALE_SECONDS = 60.0
OPEN_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_CLOEXEC", 0)
LENGTH = struct.Struct("<I")


class Segment(NamedTuple):
    """An open segment file of this process."""

    fd: int
    path: Path


class Journal:
    """Segment files `events-<pid>-<n>.journal` under a folder: one record per deferred batch."""

    PREFIX, SUFFIX = "events-", ".journal"

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._pid = 0  # the process the segments below belong to (a forked child opens its own)
        self._active: Segment | None = None
        self._free: list[Segment] = []
        self._count = 0

    def append(self, commands: Sequence[Command]) -> None:
        """Append one batch as one record of the active segment (raises OSError, e.g. disk full)."""
        data = marshal.dumps(tuple(map(tuple, commands)))
        if self._pid != os.getpid():
            self._pid, self._active, self._free = os.getpid(), None, []
        segment = self._active or self._next()
        record = LENGTH.pack(len(data)) + data
        written = os.write(segment.fd, record)
        if written != len(record):  # a regular file only writes short when the disk is full
            raise OSError(f"journal {segment.path}: wrote {written} of {len(record)} bytes")

    def rotate(self) -> Segment | None:
        """Hand over the active segment (None when nothing was appended); later batches go to another."""
        segment, self._active = self._active, None
        return segment if self._pid == os.getpid() else None

    def settle(self, segment: Segment | None) -> None:
        """Empty a segment whose batches are now in Redis or in the writer's spool, for reuse."""
        if segment is None:
            return
        try:
            os.ftruncate(segment.fd, 0)
            if os.fstat(segment.fd).st_nlink:
                self._free.append(segment)
                return
        except OSError:
            log.exception("emptying journal segment %s failed", segment.path.name)
        os.close(segment.fd)  # taken over by a recovering process meanwhile: start a new file

    def orphans(self) -> list[Path]:
        """Segments no running process will settle: their owner is gone, or a stale file holds events."""
        found, now = [], time.time()
        for path in self.folder.glob(f"{self.PREFIX}*{self.SUFFIX}"):
            try:
                info = path.stat()
            except FileNotFoundError:
                continue  # recovered meanwhile
            if not _alive(_owner(path)) or (info.st_size and now - info.st_mtime > STALE_SECONDS):
                found.append((info.st_mtime, path.name, path))
        return [path for _, _, path in sorted(found)]

    def recover(self, write: Callable[[list[Command]], bool]) -> int:
        """Replay the orphaned segments through `write`, oldest first; return the batches replayed."""
        replayed = 0
        for path in self.orphans():
            claimed = self._claim(path)
            if claimed is None:
                continue  # another process took it first
            try:
                for batch in batches_in(claimed):
                    try:
                        write(batch)
                    except WriteError:  # partly rejected by Redis: the rest is written, as at first
                        log.exception("a journalled batch was partly rejected by Redis")
                    replayed += 1
            except Exception:  # unreadable, or a bug: kept for a person to look at, not retried
                log.exception("replaying journal segment %s failed; kept as %s", path.name,
                              claimed.with_suffix(".failed").name)
                claimed.rename(claimed.with_suffix(".failed"))
                continue
            claimed.unlink(missing_ok=True)
        if replayed:
            log.warning("replayed %d batches of call events left by stopped workers", replayed)
        return replayed

    def _next(self) -> Segment:
        """A free segment of this process, or a new file."""
        try:
            self._active = self._free.pop()
        except IndexError:
            path = self._name()
            self._count += 1
            self._active = Segment(os.open(path, OPEN_FLAGS, 0o600), path)
        return self._active

    def _name(self, kind: str = "") -> Path:
        """The path of this process's next segment."""
        return self.folder / f"{self.PREFIX}{os.getpid()}-{kind}{self._count}{self.SUFFIX}"

    def _claim(self, path: Path) -> Path | None:
        """Rename an orphan to a name of ours (so it is recovered again if we die too)."""
        self._count += 1
        claimed = self._name("r")
        try:
            path.rename(claimed)
        except FileNotFoundError:
            return None
        os.utime(claimed)
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


def batches_in(path: Path) -> list[list[Command]]:
    """The batches of a segment; a record cut short (the disk filled up mid-write) ends it."""
    data, batches, at = path.read_bytes(), [], 0
    while at + LENGTH.size <= len(data):
        (size,) = LENGTH.unpack_from(data, at)
        at += LENGTH.size
        if at + size > len(data):
            log.warning("journal segment %s ends with a torn record; skipped", path.name)
            break
        batches.append([Command(*c) for c in marshal.loads(data[at:at + size])])
        at += size
    return batches
