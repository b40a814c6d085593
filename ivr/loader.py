"""Loading `menus/*.yaml` into one immutable, versioned MenuSet, with every problem reported."""

from __future__ import annotations

import gc
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ivr.fields import Reader, suggest
from ivr.messages import BUILTIN, builtin_text
from ivr.model import Action, Language, Line, MenuSet, Prompt, Speech, Where
from ivr.parse_menus import Defaults, parse_defaults, parse_menu
from ivr.parse_routes import parse_box, parse_queue, parse_transfer
from ivr.problems import MenuError, Problem
from ivr.yamlsrc import YDict, load_yaml, reset_caches

SECTIONS = ("line", "languages", "defaults", "messages", "menus", "queues", "voicemail",
            "transfers", "schedules", "surveys")
SINGLE_SECTIONS = ("line", "languages", "defaults")
NAMED_SECTIONS = ("menus", "queues", "voicemail", "transfers", "schedules", "surveys")
LINE_FIELDS = ("start", "main", "hours", "closed", "returning_callers")


def menu_files(path: Path) -> list[Path]:
    """The YAML files that make up the menus: one file, or every *.yaml/*.yml in a folder."""
    if path.is_file():
        return [path]
    return sorted(p for p in path.glob("*.y*ml") if p.suffix in (".yaml", ".yml"))


def path_version(sources: dict[str, str]) -> str:
    """The version the previous release gave the same sources (it hashed the full file paths),
    so that versions it saved can still be rebuilt for the calls that carry them."""
    digest = hashlib.sha256()
    for name in sorted(sources):
        digest.update(name.encode() + b"\0" + sources[name].encode() + b"\0")
    return digest.hexdigest()[:10]


def content_version(sources: dict[str, str]) -> str:
    """A short content hash of the menus, by file name and text (not the folder's spelling)."""
    digest = hashlib.sha256()
    for name, text in sorted((Path(name).name, text) for name, text in sources.items()):
        digest.update(name.encode() + b"\0" + text.encode() + b"\0")
    return digest.hexdigest()[:10]


def read_sources(path: Path) -> tuple[dict[str, str], list[Problem]]:
    """Read every menu file as text, reporting unreadable ones."""
    sources, problems = {}, []
    files = menu_files(path)
    if not files:
        problems.append(Problem(str(path), 0, "no menu files found: add at least one .yaml file"))
    for file in files:
        try:
            sources[str(file)] = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(Problem(str(file), 1, f"cannot read file: {exc}"))
    return sources, problems


def load_menus(path: Path, recordings: Path | None = None) -> MenuSet:
    """Load and validate the menus at `path`; raise MenuError with every problem if any is an error."""
    menuset, problems = check_menus(path, recordings)
    if menuset is None:
        raise MenuError(problems)
    return menuset


def check_menus(path: Path, recordings: Path | None = None) -> tuple[MenuSet | None, list[Problem]]:
    """Load the menus and return (MenuSet or None when there are errors, all problems found)."""
    path = Path(path)
    recordings = recordings or path.parent / "recordings"
    sources, problems = read_sources(path)
    return build_menuset(sources, recordings, problems)


def build_menuset(sources: dict[str, str], recordings: Path,
                  problems: list[Problem] | None = None) -> tuple[MenuSet | None, list[Problem]]:
    """Parse and validate menu sources (file name -> YAML text)."""
    problems = list(problems or [])
    reset_caches()
    with _gc_paused():
        menuset = _load(sources, recordings, problems)
    problems = _sorted_unique(problems)
    if any(p.is_error for p in problems):
        return None, problems
    return menuset, problems


def _load(sources: dict[str, str], recordings: Path, problems: list[Problem]) -> MenuSet | None:
    """Read, build and validate; the YAML data dies on return, before the collector runs again."""
    from ivr.validator import validate

    docs = _parse_documents(sources, problems)
    sections = _merge_sections(docs, problems)
    menuset = _assemble(sections, sources, recordings, problems)
    if menuset is not None:
        declared = {section: set(entries) for section, entries in sections["named"].items()}
        problems.extend(validate(menuset, declared))
    return menuset


def _sorted_unique(problems: list[Problem]) -> list[Problem]:
    """Problems without repeats, in Problem order: keyed by their fields, so hashed and sorted in C."""
    by_fields = {(p.file, p.line, p.message, p.severity): p for p in problems}
    return [by_fields[fields] for fields in sorted(by_fields)]


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Hold off the cycle collector while a load builds its (acyclic) objects.

    A large load allocates hundreds of thousands of objects that all stay alive; without this the
    collector walks them over and over (a third of the load time for 5,000 menus). Afterwards they
    go straight to the oldest generation (freeze + unfreeze), as if they had survived the young
    collections, rather than being walked once more by each of them. So a load must make no
    reference cycles: cyclic garbage would wait for a full collection (tests/test_load_memory.py).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if gc.get_freeze_count() == 0:  # nobody else froze objects (a pre-fork server may)
            gc.freeze()
            gc.unfreeze()
        if was_enabled:
            gc.enable()


def _parse_documents(sources: dict[str, str], problems: list[Problem]) -> dict[str, YDict]:
    docs = {}
    for file, text in sources.items():
        data, found = load_yaml(text, file)
        problems.extend(found)
        if data is None and not found:
            problems.append(Problem(file, 1, "file is empty"))
        elif data is not None and not isinstance(data, YDict):
            problems.append(Problem(file, 1, f"a menu file must be a mapping of sections ({', '.join(SECTIONS)})"))
        elif data is not None:
            docs[file] = data
    return docs


def _merge_sections(docs: dict[str, YDict], problems: list[Problem]) -> dict[str, Any]:
    """Gather sections across files: single sections once, named entries unique across files."""
    single: dict[str, tuple[str, Any, int]] = {}
    named: dict[str, dict[str, tuple[str, Any, int]]] = {s: {} for s in NAMED_SECTIONS + ("messages",)}
    for file, doc in docs.items():
        for key, value in doc.items():
            line = doc.line_of(key)
            if key not in SECTIONS:
                problems.append(Problem(file, line, f"unknown section '{key}'{suggest(key, SECTIONS)}; "
                                        f"sections are: {', '.join(SECTIONS)}"))
            elif key in SINGLE_SECTIONS:
                if key in single:
                    other = single[key]
                    problems.append(Problem(file, line, f"section '{key}' is also defined in "
                                            f"{other[0]}:{other[2]}; keep only one"))
                else:
                    single[key] = (file, value, line)
            else:
                _merge_named(file, key, value, line, named[key], problems)
    return {"single": single, "named": named}


def _merge_named(file: str, section: str, value: Any, line: int, into: dict, problems: list[Problem]) -> None:
    if not isinstance(value, YDict):
        problems.append(Problem(file, line, f"section '{section}' must be a mapping of name: definition"))
        return
    for name, body in value.items():
        name_line = value.line_of(name)
        if name in into:
            other = into[name]
            problems.append(Problem(file, name_line, f"{section} entry '{name}' is already defined in "
                                    f"{other[0]}:{other[2]}; names must be unique across files"))
        else:
            into[name] = (file, body, name_line)


def _languages(single: dict, problems: list[Problem]) -> dict[str, Language]:
    if "languages" not in single:
        problems.append(Problem("menus", 0, "no `languages:` section: declare at least one, e.g.\n"
                                "languages:\n  en-US: {voice: Polly.Joanna}"))
        return {}
    file, raw, line = single["languages"]
    if not isinstance(raw, YDict) or not raw:
        problems.append(Problem(file, line, "languages must map a code such as en-US to {voice: ..., name: ...}"))
        return {}
    langs = {}
    for code, spec in raw.items():
        code_line = raw.line_of(code)
        if isinstance(spec, str):
            spec = {"voice": spec}
        if not isinstance(spec, dict) or not set(spec) <= {"voice", "name"} or "voice" not in spec:
            problems.append(Problem(file, code_line, f"language '{code}' must be {{voice: <TTS voice>, "
                                    "name: <display name>}, e.g. {voice: Polly.Joanna, name: English}"))
            continue
        langs[str(code)] = Language(str(code), str(spec["voice"]), str(spec.get("name", code)))
    return langs


def _line(single: dict, reader_for, problems: list[Problem]) -> Line:
    if "line" not in single:
        return Line(start="main", main="main", where=Where("menus", 0))
    file, raw, line = single["line"]
    reader: Reader = reader_for(file)
    node = reader.mapping(raw, "line", line, LINE_FIELDS)
    if node is None:
        return Line(start="main", main="main", where=Where(file, line))
    start = reader.text(node, "start", "main") or "main"
    closed = reader.action(node["closed"], node.line_of("closed"), "'closed' of line") if "closed" in node else None
    return Line(start=start, main=reader.text(node, "main", start) or start, where=Where(file, line),
                hours=reader.text(node, "hours"), closed=closed,
                returning=reader.flag(node, "returning_callers", True))


def _messages(named: dict, reader_for, langs: list[str], problems: list[Problem]) -> dict[str, Prompt]:
    messages: dict[str, Prompt] = {}
    for name, (file, raw, line) in named.items():
        reader: Reader = reader_for(file)
        if name not in BUILTIN:
            reader.problem(line, f"unknown message '{name}'{suggest(name, BUILTIN)}")
            continue
        prompt = reader.prompt(raw, line, f"message '{name}'")
        if prompt:
            messages[name] = prompt
    for name in BUILTIN:
        if name in messages:
            continue
        by_lang = {lang: Speech(text=text) for lang in langs if (text := builtin_text(name, lang))}
        missing = [lang for lang in langs if lang not in by_lang]
        if missing:
            problems.append(Problem("menus", 0, f"message '{name}' has no built-in text in "
                                    f"{', '.join(missing)}: add it under `messages: {name}:`"))
        messages[name] = Prompt(MappingProxyType(by_lang))
    return messages


def _builtin_defaults(messages: dict[str, Prompt]) -> Defaults:
    goodbye = Action(kind="say", message=messages["goodbye"], then=Action(kind="hangup"))
    return Defaults(timeout=5, attempts=3, no_input=(messages["no_input"],),
                    invalid=(messages["invalid"],), fallback=goodbye)


def _assemble(sections: dict, sources: dict[str, str], recordings: Path,
              problems: list[Problem]) -> MenuSet | None:
    single, named = sections["single"], sections["named"]
    langs = _languages(single, problems)
    if not langs:
        return None
    readers: dict[str, Reader] = {}

    def reader_for(file: str) -> Reader:
        reader = readers.get(file)
        if reader is None:
            reader = readers[file] = Reader(file, list(langs), recordings, problems)
        return reader

    messages = _messages(named["messages"], reader_for, list(langs), problems)
    defaults = _builtin_defaults(messages)
    if "defaults" in single:
        file, raw, line = single["defaults"]
        defaults = parse_defaults(reader_for(file), raw, line, defaults)
    parts: dict[str, dict] = {}
    parsers = {"menus": lambda r, n, b, ln: parse_menu(r, n, b, ln, defaults), "queues": parse_queue,
               "voicemail": parse_box, "transfers": parse_transfer, "schedules": _parse_schedule,
               "surveys": _parse_survey}
    for section, parse in parsers.items():
        what, made = section.rstrip("s"), parts.setdefault(section, {})
        for name, (file, body, line) in named[section].items():
            reader = readers.get(file) or reader_for(file)
            if reader.name(name, line, what) and (item := parse(reader, name, body, line)):
                made[name] = item
    return MenuSet(
        version=content_version(sources), languages=MappingProxyType(langs),
        line=_line(single, reader_for, problems), messages=MappingProxyType(messages),
        sources=MappingProxyType(dict(sources)),
        **{k: MappingProxyType(v) for k, v in parts.items()},
    )


def _parse_schedule(reader: Reader, name: str, body: Any, line: int):
    from ivr.schedule import parse_schedule

    schedule, found = parse_schedule(name, body, reader.file, line=line)
    reader.problems.extend(found)
    return schedule


def _parse_survey(reader: Reader, name: str, body: Any, line: int):
    from ivr.survey_def import parse_survey

    return parse_survey(reader, name, body, line)
