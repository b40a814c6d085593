"""A local append-only spool that keeps writes safe on disk while Redis is down."""

from __future__ import annotations

import fcntl
import heapq
import json
import logging
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

log = logging.getLogger(__name__)

# Enough of a file's end to find its last line, which holds the newest seq.
TAIL_BYTES = 8192
# How old a folder's mtime must be before "no spool file" is remembered against it.
SETTLED_NS = 1_000_000_000
# A replayer keeps draining while other processes append, but not forever.
MAX_PASSES = 100


class Record(NamedTuple):
    """One line of a spool file: its order key, where it ends, and the entry (None if unreadable)."""

    seq: int
    pid: int
    name: str
    end: int
    entry: dict[str, Any] | None


class Spool:
    """A directory of per-process JSON-lines files, fsynced on append and replayed in order."""

    PATTERN = "spool-*.jsonl"
    CURSOR = "replay.cursor"
    LOCK = "replay.lock"

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self._empty_mtime: int | None = None  # the folder's mtime when a look last found no file

    @property
    def file(self) -> Path:
        """Return this process's own spool file."""
        return self.path / f"spool-{os.getpid()}.jsonl"

    def append(self, entry: dict[str, Any]) -> None:
        """Append `entry` to this process's file and fsync it before returning."""
        fd = self._open_locked()
        try:
            size = os.fstat(fd).st_size
            torn, last_seq = self._tail(fd, size)
            seq = max(time.time_ns(), last_seq + 1)
            record = {"seq": seq, "pid": os.getpid(), "entry": entry}
            line = json.dumps(record, separators=(",", ":")).encode() + b"\n"
            _write_all(fd, (b"\n" if torn else b"") + line)
            os.fsync(fd)
            if size == 0:
                _fsync_dir(self.path)  # so a new file survives a power cut too
        finally:
            os.close(fd)  # also releases the lock

    def entries(self) -> Iterator[dict[str, Any]]:
        """Yield every entry not yet replayed, across all processes' files, oldest first."""
        if not self._any_file():
            return  # the usual case: nothing spooled, no need to read the cursor
        for record in self._records(self._read_cursor()):
            if record.entry is not None:
                yield record.entry

    def _any_file(self) -> bool:
        """True when a spool file may exist; a folder unchanged since a look found none is not
        listed again (one stat instead of a listing on every write)."""
        try:
            mtime = os.stat(self.path).st_mtime_ns
        except OSError:
            return True
        if mtime == self._empty_mtime:
            return False
        found = any(self.path.glob(self.PATTERN))
        # Trust the mtime only once it is clearly in the past: a file created later then
        # changes it even on filesystems with coarse timestamps.
        settled = time.time_ns() - mtime > SETTLED_NS
        self._empty_mtime = mtime if not found and settled else None
        return found

    def pending(self) -> int:
        """Return how many entries wait to be replayed."""
        return sum(1 for _ in self.entries())

    def replay(self, apply: Callable[[dict[str, Any]], None], limit: int | None = None) -> int:
        """Apply pending entries in order (at most `limit`) and drop them; return 0 if another replay runs."""
        total = 0
        for _ in range(MAX_PASSES):
            lock = self._try_lock()
            if lock is None:
                return total
            try:
                total += self._replay_locked(apply, None if limit is None else limit - total)
            finally:
                os.close(lock)
            # An append that found the lock taken relies on us to look again after releasing it.
            if total == limit or not self.pending():
                break
        return total

    def _replay_locked(self, apply: Callable[[dict[str, Any]], None], limit: int | None) -> int:
        """Apply pending records, advancing the cursor after each one."""
        cursor = self._read_cursor()
        applied = 0
        try:
            for record in self._records(cursor):
                if applied == limit:
                    break
                if record.entry is not None:
                    apply(record.entry)
                    applied += 1
                cursor[record.name] = record.end
                self._write_cursor(cursor, durable=False)
        finally:
            self._write_cursor(cursor, durable=True)
        self._remove_finished(cursor)
        return applied

    def _records(self, cursor: dict[str, int]) -> Iterator[Record]:
        """Merge the unreplayed records of all files by (seq, pid)."""
        files = sorted(self.path.glob(self.PATTERN))
        readers = [_read_file(f, cursor.get(f.name, 0)) for f in files]
        return heapq.merge(*readers, key=lambda r: (r.seq, r.pid))

    def _open_locked(self) -> int:
        """Open this process's file for appending under an exclusive lock."""
        while True:
            fd = os.open(self.file, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                if os.fstat(fd).st_ino == os.stat(self.file).st_ino:
                    return fd
            except FileNotFoundError:
                pass
            os.close(fd)  # a replayer removed the file while we waited: open the new one

    @staticmethod
    def _tail(fd: int, size: int) -> tuple[bool, int]:
        """Return whether the file ends in a torn line, and the seq of its last whole line."""
        if size == 0:
            return False, 0
        tail = os.pread(fd, min(size, TAIL_BYTES), max(0, size - TAIL_BYTES))
        torn = not tail.endswith(b"\n")
        whole = tail[: tail.rfind(b"\n") + 1] if torn else tail
        last = whole[:-1].rpartition(b"\n")[2]
        try:
            return torn, int(json.loads(last)["seq"])
        except (ValueError, KeyError, TypeError):
            return torn, 0

    def _try_lock(self) -> int | None:
        """Take the replay lock without waiting; return its fd, or None if another replay holds it."""
        fd = os.open(self.path / self.LOCK, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            os.close(fd)
            return None

    def _read_cursor(self) -> dict[str, int]:
        """Return how many bytes of each file have been replayed."""
        try:
            return {k: int(v) for k, v in json.loads((self.path / self.CURSOR).read_text()).items()}
        except FileNotFoundError:
            return {}
        except (ValueError, TypeError, AttributeError):
            log.warning("spool cursor %s is unreadable; replaying from the start", self.path)
            return {}

    def _write_cursor(self, cursor: dict[str, int], durable: bool) -> None:
        """Replace the cursor file atomically; fsync it when `durable`."""
        tmp = self.path / (self.CURSOR + ".tmp")
        with open(tmp, "w") as f:
            json.dump(cursor, f)
            if durable:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, self.path / self.CURSOR)
        if durable:
            _fsync_dir(self.path)

    def _remove_finished(self, cursor: dict[str, int]) -> None:
        """Delete files whose every byte was replayed, forgetting them in the cursor first."""
        for name in list(cursor):
            try:
                fd = os.open(self.path / name, os.O_RDONLY)
            except FileNotFoundError:
                del cursor[name]
                self._write_cursor(cursor, durable=True)
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)  # no append may be half done
                if os.fstat(fd).st_size == cursor[name]:
                    # Cursor first: a crash between the two steps replays the file again
                    # (entries are idempotent) instead of skipping a future file of that name.
                    del cursor[name]
                    self._write_cursor(cursor, durable=True)
                    os.unlink(self.path / name)
            finally:
                os.close(fd)


def _read_file(path: Path, offset: int) -> Iterator[Record]:
    """Yield the whole lines of one spool file from `offset` on."""
    try:
        f = open(path, "rb")
    except FileNotFoundError:
        return
    with f:
        if offset > os.fstat(f.fileno()).st_size:
            offset = 0  # the file was replaced behind the cursor's back
        f.seek(offset)
        for line in f:
            if not line.endswith(b"\n"):
                return  # still being written, or torn by a crash
            offset += len(line)
            yield _parse(path, line, offset)


def _parse(path: Path, line: bytes, end: int) -> Record:
    """Turn one line into a Record; an unreadable line becomes a Record without entry."""
    try:
        data = json.loads(line)
        return Record(int(data["seq"]), int(data["pid"]), path.name, end, data["entry"])
    except (ValueError, KeyError, TypeError):
        log.error("skipping unreadable line in spool file %s ending at byte %d", path, end)
        return Record(0, 0, path.name, end, None)


def _write_all(fd: int, data: bytes) -> None:
    """Write all of `data`, looping over short writes."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _fsync_dir(path: Path) -> None:
    """Fsync a directory so new or renamed entries in it are durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
