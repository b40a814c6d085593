"""The running menus: hot reload that never replaces a good version with a broken one."""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from pathlib import Path

from ivr.loader import build_menuset, menu_files, read_sources
from ivr.model import MenuSet
from ivr.problems import MenuError, Problem

log = logging.getLogger("ivr.menus")


class MenuRegistry:
    """Holds the current MenuSet and recent versions; reloads when menu files change."""

    def __init__(self, path: Path, recordings: Path, check_every: float = 1.0, keep: int = 8):
        self.path = Path(path)
        self.recordings = Path(recordings)
        self.check_every = check_every
        self.keep = max(1, keep)
        self.versions: OrderedDict[str, MenuSet] = OrderedDict()
        self.problems: list[Problem] = []
        self.error: list[Problem] = []
        self._lock = threading.Lock()
        self._next_check = 0.0
        self._fingerprint = self._files_fingerprint()
        menuset, problems = self._build()
        if menuset is None:
            raise MenuError(problems)
        self._install(menuset, problems)

    @property
    def current(self) -> MenuSet:
        """The newest good MenuSet (checking the files for changes at most every `check_every` s)."""
        if self.check_every and time.monotonic() >= self._next_check:
            self.maybe_reload()
        return next(reversed(self.versions.values()))

    def get(self, version: str) -> MenuSet | None:
        """The MenuSet of `version` if still kept in memory."""
        return self.versions.get(version)

    def for_call(self, version: str) -> MenuSet:
        """The version a call started with when kept, else the current one."""
        current = self.current
        return self.versions.get(version, current)

    def maybe_reload(self) -> bool:
        """Reload if the files changed; return True when a new version was installed."""
        with self._lock:
            self._next_check = time.monotonic() + self.check_every
            fingerprint = self._files_fingerprint()
            if fingerprint == self._fingerprint:
                return False
            self._fingerprint = fingerprint
            menuset, problems = self._build()
            if menuset is None:
                self.error = [p for p in problems if p.is_error]
                log.error("menu reload refused, still serving version %s:\n%s",
                          next(reversed(self.versions)), "\n".join(map(str, self.error)))
                return False
            if menuset.version in self.versions:
                self.error = []
                return False
            self._install(menuset, problems)
            log.info("menus reloaded: version %s", menuset.version)
            return True

    def _install(self, menuset: MenuSet, problems: list[Problem]) -> None:
        self.versions[menuset.version] = menuset
        self.versions.move_to_end(menuset.version)
        while len(self.versions) > self.keep:
            self.versions.popitem(last=False)
        self.problems = problems
        self.error = []
        for problem in problems:
            log.warning("%s", problem)

    def _build(self) -> tuple[MenuSet | None, list[Problem]]:
        sources, problems = read_sources(self.path)
        return build_menuset(sources, self.recordings, problems)

    def _files_fingerprint(self) -> tuple:
        entries = []
        for file in menu_files(self.path):
            try:
                stat = file.stat()
            except OSError:
                continue
            entries.append((str(file), stat.st_mtime_ns, stat.st_size))
        return tuple(entries)
