"""A per-process journal that keeps batched call events on local disk until they are in Redis.

Events batched by `ivr.batcher` wait in memory for up to one window before their pipeline is
sent. So that a worker killed outright (out of memory, a gunicorn timeout, SIGKILL) loses none
of them, each deferred batch is first appended to one of this process's segment files with a
single write(2): once the call returns the bytes belong to the kernel, so they outlive the
process (not a power cut: the same promise as Redis's own `appendfsync everysec`). When the
window's pipeline has been written (or spooled by the writer), the segment is emptied and used
again, so a busy worker touches no directory.

Each segment is created under a name no other process can have chosen (O_EXCL) and held with an
exclusive `flock` for as long as its process lives; the kernel drops the lock when the process
dies, however it dies. A segment nobody holds is an orphan: any process that can lock it replays
its batches and deletes it. This works whatever the pids (a restarted container reuses them)
and between containers sharing the folder on one machine. The commands are idempotent, so
replaying a batch that was in fact written is harmless.

A record is a 4-byte length and the batch in `marshal` form (a quarter of JSON's cost on the
webhook's path). The files are this process's own, under the private data folder, like the
spool; one that cannot be read (written by another Python version) is kept as `.failed`.
"""

from __future__ import annotations

import fcntl
import itertools
import logging
import marshal
import os
import secrets
import struct
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from ivr.writer import Command, WriteError

log = logging.getLogger(__name__)

CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | getattr(os, "O_CLOEXEC", 0)
LENGTH = struct.Struct("<I")


class Segment:
    """An open, locked segment file of this process and how many bytes it holds."""

    __slots__ = ("fd", "path", "size")

    def __init__(self, fd: int, path: Path):
        self.fd, self.path, self.size = fd, path, 0


class Journal:
    """Segment files `events-<pid>-<token>-<n>.journal` under a folder: one record per batch."""

    PREFIX, SUFFIX = "events-", ".journal"

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._pid = 0  # the process the segments below belong to (a forked child opens its own)
        self._active: Segment | None = None
        self._free: list[Segment] = []
        self._token = ""
        self._numbers = itertools.count()
        self._recovering = threading.Lock()

    def append(self, commands: Sequence[Command]) -> None:
        """Append one batch as one record of the active segment; on OSError (a full disk) the
        segment is left as it was before and the error raised."""
        record = marshal.dumps(tuple(map(tuple, commands)))
        record = LENGTH.pack(len(record)) + record
        if self._pid != os.getpid():
            self._forked()
        segment = self._active or self._next()
        try:
            written = os.write(segment.fd, record)
            if written != len(record):  # a regular file only writes short when the disk is full
                raise OSError(f"journal {segment.path.name}: wrote {written} of {len(record)} bytes")
        except OSError:
            self._active = None
            self._cut(segment)
            raise
        segment.size += written

    def rotate(self) -> Segment | None:
        """Hand over the active segment (None when nothing was appended); later batches go to another."""
        if self._pid != os.getpid():
            self._forked()
        segment, self._active = self._active, None
        return segment

    def settle(self, segment: Segment | None) -> None:
        """Empty a segment whose batches are now in Redis or in the writer's spool, for reuse."""
        if segment is None:
            return
        segment.size = 0
        self._cut(segment)

    def release(self, segment: Segment | None) -> None:
        """Give up a segment whose batches may not have been written: unlocked, it is an orphan
        that the next recovery (ours or another process's) replays."""
        if segment is not None:
            os.close(segment.fd)

    def set_aside(self) -> list[str]:
        """Names of segments that could not be read and wait for a person (see `_replay`)."""
        return sorted(p.name for p in self.folder.glob(f"{self.PREFIX}*.failed"))

    def orphans(self) -> list[Path]:
        """Segment files that may hold events and that no running process holds, oldest first."""
        found = []
        for path in self.folder.glob(f"{self.PREFIX}*{self.SUFFIX}"):
            try:
                fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
            except FileNotFoundError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # held: its process lives and will settle it
            else:
                info = os.fstat(fd)
                if info.st_nlink:
                    found.append((info.st_mtime, path.name, path))
            finally:
                os.close(fd)  # also unlocks: `recover` locks again before reading
        return [path for _, _, path in sorted(found)]

    def recover(self, write: Callable[[list[Command]], bool]) -> int:
        """Replay the orphaned segments through `write`, oldest first; return the batches replayed.
        One recovery at a time per process; other processes skip the segments being replayed.
        If writing fails (other than Redis rejecting a command), the round stops and the segment
        waits for the next one."""
        if not self._recovering.acquire(blocking=False):
            return 0
        replayed = 0
        try:
            for path in self.orphans():
                replayed += self._replay(path, write)
        except Exception:
            log.exception("replaying journalled call events failed; retrying in the next round")
        finally:
            self._recovering.release()
        return replayed

    def _replay(self, path: Path, write: Callable[[list[Command]], bool]) -> int:
        """Lock one orphan, write its batches, delete it; the batches replayed. A segment that
        cannot be read is kept as `.failed`; one whose writing fails (say the spool's disk is
        full) stays for the next round."""
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        except FileNotFoundError:
            return 0
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return 0  # another process is replaying it
            if not os.fstat(fd).st_nlink:
                return 0  # replayed and deleted meanwhile
            try:
                batches = parse_records(_read_all(fd), path.name)
            except (ValueError, EOFError, TypeError):  # not ours to read: kept for a person
                log.exception("journal segment %s cannot be read; kept as .failed", path.name)
                path.rename(path.with_suffix(".failed"))
                return 0
            for batch in batches:
                try:
                    write(batch)
                except WriteError:  # partly rejected by Redis: the rest is written, as at first
                    log.exception("a journalled batch was partly rejected by Redis")
            path.unlink()
            if batches:
                log.warning("replayed %d batches of call events from %s", len(batches), path.name)
            return len(batches)
        finally:
            os.close(fd)

    def _next(self) -> Segment:
        """A free segment of this process, or a new file created and locked."""
        if self._free:
            self._active = self._free.pop()
            return self._active
        while True:
            path = self.folder / f"{self.PREFIX}{self._pid}-{self._token}-{next(self._numbers)}{self.SUFFIX}"
            fd = os.open(path, CREATE_FLAGS, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:  # a recovering process locked it first (it deletes it)
                os.close(fd)
                continue
            except BaseException:  # no locks here (some network filesystems): no journal
                os.close(fd)
                path.unlink(missing_ok=True)
                raise
            self._active = Segment(fd, path)
            return self._active

    def _cut(self, segment: Segment) -> None:
        """Drop what a segment holds past its recorded size; reuse it if that works and no other
        process took it over, else let it go."""
        try:
            os.ftruncate(segment.fd, segment.size)
            if os.fstat(segment.fd).st_nlink:
                if segment.size == 0:
                    self._free.append(segment)
                    return
                self._active = segment  # a failed append: the records before it stay active
                return
        except OSError:
            log.exception("trimming journal segment %s failed", segment.path.name)
        os.close(segment.fd)

    def _forked(self) -> None:
        """In a new process: leave the parent's segments to the parent, start our own."""
        for segment in [*self._free, *([self._active] if self._active else [])]:
            os.close(segment.fd)  # our copy only: the parent keeps its lock
        self._pid, self._active, self._free = os.getpid(), None, []
        self._token, self._numbers = secrets.token_hex(4), itertools.count()


def batches_in(path: Path) -> list[list[Command]]:
    """The batches of a segment file."""
    return parse_records(path.read_bytes(), path.name)


def parse_records(data: bytes, name: str) -> list[list[Command]]:
    """The batches of a segment's bytes; a record cut short (the disk filled up mid-write) ends them."""
    batches, at = [], 0
    while at + LENGTH.size <= len(data):
        (size,) = LENGTH.unpack_from(data, at)
        at += LENGTH.size
        if at + size > len(data):
            log.warning("journal segment %s ends with a torn record; skipped", name)
            break
        batches.append([Command(*c) for c in marshal.loads(data[at:at + size])])
        at += size
    return batches


def _read_all(fd: int) -> bytes:
    """Everything an open file holds, read from its start."""
    chunks, at = [], 0
    while chunk := os.pread(fd, 1 << 20, at):
        chunks.append(chunk)
        at += len(chunk)
    return b"".join(chunks)
