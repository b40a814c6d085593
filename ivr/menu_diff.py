"""`ivr check --diff OLD NEW`: what changes for callers between two versions of the menus."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from dataclasses import fields, is_dataclass
from pathlib import Path

from ivr.loader import build_menuset, read_sources
from ivr.model import Action, Menu, MenuSet
from ivr.problems import MenuError
from ivr.timing import Speaker, time_to_destinations


class DiffSourceError(Exception):
    """Raised when a side of the diff is neither a menu file or folder nor a git revision."""


def describe(action: Action | None) -> str:
    """An action in words, with what it says, its hours test and what follows."""
    if action is None:
        return "nothing"
    text = action.describe()
    if action.kind == "say" and action.message is not None:
        words = (next(iter(action.message.by_lang.values())).text or "").split()
        text = f'say "{" ".join(words[:6])}{"…" if len(words) > 6 else ""}"'
    if action.hours:
        text += f" (when {action.hours} is open; else {describe(action.closed)})"
    if action.then is not None and action.kind in ("say", "language"):
        text += f", then {describe(action.then)}"
    return text


def git_sources(revision: str, menus: Path, cwd: Path | None = None) -> dict[str, str]:
    """Menu files (name -> text) of `menus` at a git revision (`REV` or `REV:path`)."""
    revision, _, path = revision.partition(":")
    path = (path or str(menus)).rstrip("/")

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], capture_output=True, text=True, cwd=cwd, check=False)
        if done.returncode:
            raise DiffSourceError(f"{revision}:{path}: not a menu file or folder, nor a git revision "
                                  f"holding it ({done.stderr.strip() or 'git failed'})")
        return done.stdout

    names = [n for n in git("ls-tree", "--full-name", "--name-only", revision, path + "/", path).splitlines()
             if n.endswith((".yaml", ".yml")) and n.count("/") <= path.count("/") + 1]
    if not names:
        raise DiffSourceError(f"{revision}:{path}: no menu files at this git revision")
    return {name: git("show", f"{revision}:{name}") for name in names}


def load_side(spec: str, menus: Path, recordings: Path) -> MenuSet:
    """A MenuSet from a file or folder path, else from a git revision; MenuError when invalid."""
    path = Path(spec)
    if path.exists():
        sources, problems = read_sources(path)
    else:
        sources, problems = git_sources(spec, menus), []
    menuset, problems = build_menuset(sources, recordings, problems)
    if menuset is None:
        raise MenuError(problems)
    return menuset


def diff_menus(old: MenuSet, new: MenuSet, recordings: Path) -> list[str]:
    """Every change a caller would notice, one line each (empty: nothing changes for callers)."""
    lines = _named_changes("menu", old.menus, new.menus)
    for menu_id in old.menus.keys() & new.menus.keys():
        lines += menu_changes(old.menus[menu_id], new.menus[menu_id])
    for section in ("queues", "voicemail", "transfers", "schedules"):
        lines += _named_changes(section.rstrip("s"), getattr(old, section), getattr(new, section))
        for name in getattr(old, section).keys() & getattr(new, section).keys():
            before, after = getattr(old, section)[name], getattr(new, section)[name]
            if _comparable(before) != _comparable(after):
                lines.append(f"{section.rstrip('s')} {name}: settings changed")
    return sorted(lines) + moved_destinations(old, new, recordings)


def menu_changes(old: Menu, new: Menu) -> list[str]:
    """Options added, removed or leading elsewhere, and prompts that changed, in one menu."""
    lines, where = [], f"menu {new.id}"
    for key in sorted(old.options.keys() | new.options.keys()):
        before, after = old.options.get(key), new.options.get(key)
        if before is None:
            lines.append(f"{where}: option {key} added: {describe(after)}")
        elif after is None:
            lines.append(f"{where}: option {key} removed (was {describe(before)})")
        elif describe(before) != describe(after):
            lines.append(f"{where}: option {key} now goes to {describe(after)} (was {describe(before)})")
    for name in ("prompt", "short_prompt"):
        before, after = getattr(old, name), getattr(new, name)
        for lang in sorted(set(_texts(before)) | set(_texts(after))):
            if _texts(before).get(lang) != _texts(after).get(lang):
                lines.append(f'{where}: {name.replace("_", " ")} ({lang}) changed: '
                             f'"{_texts(before).get(lang, "")}" -> "{_texts(after).get(lang, "")}"')
    if describe(old.fallback) != describe(new.fallback):
        lines.append(f"{where}: fallback now {describe(new.fallback)} (was {describe(old.fallback)})")
    if [describe(b.action) for b in old.branches] != [describe(b.action) for b in new.branches] \
            or [(b.prefix, b.pattern) for b in old.branches] != [(b.prefix, b.pattern) for b in new.branches]:
        lines.append(f"{where}: entry rules changed")
    for name in ("timeout", "attempts"):
        if getattr(old, name) != getattr(new, name):
            lines.append(f"{where}: {name} {getattr(new, name)} (was {getattr(old, name)})")
    return lines


def moved_destinations(old: MenuSet, new: MenuSet, recordings: Path) -> list[str]:
    """Destinations whose quickest key sequence changed, appeared or became unreachable."""
    speaker = Speaker(recordings)
    before = {(r.destination, r.lang): r.keys for r in time_to_destinations(old, speaker)}
    after = {(r.destination, r.lang): r.keys for r in time_to_destinations(new, speaker)}
    lines = []
    for dest, lang in sorted(before.keys() | after.keys()):
        was, now = before.get((dest, lang)), after.get((dest, lang))
        if was == now:
            continue
        if now is None:
            lines.append(f"{dest} [{lang}]: no longer reachable (was keys {' '.join(was)})")
        elif was is None:
            lines.append(f"{dest} [{lang}]: newly reachable with keys {' '.join(now)}")
        else:
            lines.append(f"{dest} [{lang}]: now keys {' '.join(now)} (was {' '.join(was)})")
    return lines


def _named_changes(kind: str, old, new) -> list[str]:
    return [f"{kind} {name}: added" for name in sorted(new.keys() - old.keys())] + \
        [f"{kind} {name}: removed" for name in sorted(old.keys() - new.keys())]


def _texts(prompt) -> dict[str, str]:
    if prompt is None:
        return {}
    return {lang: " ".join((s.text or s.play or "").split()) for lang, s in prompt.by_lang.items()}


def _comparable(value):
    """A value without places in files (moving lines is not a change for callers)."""
    if is_dataclass(value):
        return tuple((f.name, _comparable(getattr(value, f.name))) for f in fields(value) if f.name != "where")
    if isinstance(value, Mapping):
        return tuple(sorted((repr(k), _comparable(v)) for k, v in value.items()))
    if isinstance(value, tuple | list):
        return tuple(_comparable(v) for v in value)
    return repr(value)
