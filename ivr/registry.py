"""The running menus: hot reload that never replaces a good version with a broken one."""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
from collections import OrderedDict
from pathlib import Path

from ivr.loader import build_menuset, menu_files, path_version, read_sources
from ivr.memo import keep
from ivr.model import MenuSet
from ivr.problems import MenuError, Problem

log = logging.getLogger("ivr.menus")
_VERSION = re.compile(r"^[0-9a-f]{6,64}$")


class VersionStore:
    """Good menu versions kept on disk by content hash, so any worker can rebuild any of them."""

    LAST_GOOD = "last_good"

    def __init__(self, folder: Path):
        self.folder = Path(folder)

    def save(self, menuset: MenuSet) -> None:
        """Keep the sources of a good version (atomically) and mark it as the last good one."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self._write(self.folder / f"{menuset.version}.json", json.dumps(dict(menuset.sources)))
        self._write(self.folder / self.LAST_GOOD, menuset.version)

    def sources(self, version: str) -> dict[str, str] | None:
        """The sources of a saved version, or None."""
        if not _VERSION.match(version):
            return None
        try:
            return json.loads((self.folder / f"{version}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def last_good(self) -> str | None:
        """The version last installed by any process."""
        try:
            return (self.folder / self.LAST_GOOD).read_text().strip() or None
        except OSError:
            return None

    @staticmethod
    def _write(path: Path, text: str) -> None:
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)


class MenuRegistry:
    """Holds the current MenuSet and recent versions; reloads when menu files change."""

    MISSING_RETRY = 5.0  # seconds before the store is asked again for a version it lacked
    MISSING_KEPT = 256

    def __init__(self, path: Path, recordings: Path, check_every: float = 1.0, keep: int = 8,
                 store: VersionStore | None = None):
        self.path = Path(path)
        self.recordings = Path(recordings)
        self.check_every = check_every
        self.keep = max(1, keep)
        self.store = store
        self.versions: OrderedDict[str, MenuSet] = OrderedDict()
        self.problems: list[Problem] = []
        self.error: list[Problem] = []
        self._current = ""
        self._lock = threading.Lock()
        self._next_check = 0.0
        self._missing: dict[str, float] = {}  # version -> when the store may be asked again
        self._fingerprint = self._files_fingerprint()
        menuset, problems = self._build()
        if menuset is None:
            menuset = self._last_good()
            if menuset is None:
                raise MenuError(problems)
            self.error = [p for p in problems if p.is_error]
            log.error("menu files are broken; serving the last good version %s:\n%s",
                      menuset.version, "\n".join(map(str, self.error)))
        self._install(menuset, problems if not self.error else [])

    @property
    def current(self) -> MenuSet:
        """The newest good MenuSet (checking the files for changes at most every `check_every` s)."""
        if self.check_every and time.monotonic() >= self._next_check:
            self.maybe_reload()
        return self.versions[self._current]

    def get(self, version: str) -> MenuSet | None:
        """The MenuSet of `version` if kept in memory, or rebuilt from the version store."""
        found = self.versions.get(version)
        if found is None and self.store is not None:
            now = time.monotonic()
            if self._missing.get(version, 0.0) > now:  # asked lately: no disk read per request
                return None
            found = self._rebuild(version)
            if found is None:
                keep(self._missing, version, now + self.MISSING_RETRY, self.MISSING_KEPT)
        return found

    def for_call(self, version: str) -> MenuSet:
        """The version a call started with when it can be had, else the current one."""
        current = self.current
        return current if version == current.version else (self.get(version) or current)

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
                          self._current, "\n".join(map(str, self.error)))
                return False
            if menuset.version == self._current:
                self.error = []
                return False
            self._install(menuset, problems)
            log.info("menus reloaded: version %s", menuset.version)
            return True

    def _install(self, menuset: MenuSet, problems: list[Problem]) -> None:
        self._current = menuset.version
        self._remember(menuset)
        if not self.error or problems:
            self.error = []
        self.problems = problems
        for problem in problems:
            log.warning("%s", problem)
        if self.store is not None:
            try:
                self.store.save(menuset)
            except OSError as exc:  # a full disk must not stop the line
                log.warning("could not save menu version %s: %s", menuset.version, exc)

    def _remember(self, menuset: MenuSet) -> None:
        self.versions[menuset.version] = menuset
        self.versions.move_to_end(menuset.version)
        while len(self.versions) > self.keep:
            oldest = next(iter(self.versions))
            if oldest == self._current and len(self.versions) > 1:
                self.versions.move_to_end(oldest)
                oldest = next(iter(self.versions))
            self.versions.pop(oldest)

    def _rebuild(self, version: str) -> MenuSet | None:
        sources = self.store.sources(version)
        if sources is None:
            return None
        menuset, _ = build_menuset(sources, self.recordings)
        if menuset is None or version not in (menuset.version, path_version(sources)):
            return None
        with self._lock:
            self._remember(menuset)
            if menuset.version != version:  # saved by the previous release: known by both names
                self.versions[version] = menuset
        return menuset

    def _last_good(self) -> MenuSet | None:
        version = self.store.last_good() if self.store is not None else None
        return self._rebuild(version) if version else None

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
