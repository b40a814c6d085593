"""Parsing of the `menus:` and `defaults:` sections into Menu objects."""

from __future__ import annotations

import re
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from ivr.fields import _KEYWORD_SET, DTMF_BY_WORD, TARGET_KINDS, Reader, dtmf_key
from ivr.model import Action, Branch, Collect, Menu, Prompt, Where
from ivr.yamlsrc import YDict, YList

MENU_FIELDS = ("title", "all_languages", "prompt", "short_prompt", "options", "timeout", "attempts", "no_input",
               "invalid", "fallback", "collect", "branches", "otherwise")
DEFAULT_FIELDS = ("timeout", "attempts", "no_input", "invalid", "fallback")
COLLECT_FIELDS = ("name", "digits", "max_digits", "min_digits", "finish_on")
BRANCH_FIELDS = ("prefix", "pattern", "action")


@dataclass(frozen=True)
class Defaults:
    """Values every menu inherits unless it sets its own."""

    timeout: int
    attempts: int
    no_input: tuple[Prompt, ...]
    invalid: tuple[Prompt, ...]
    fallback: Action


def parse_defaults(reader: Reader, node: Any, line: int, builtin: Defaults) -> Defaults:
    """Read the `defaults:` section over the built-in defaults."""
    node = reader.mapping(node, "defaults", line, DEFAULT_FIELDS)
    if node is None:
        return builtin
    fallback = builtin.fallback
    if "fallback" in node:
        fallback = reader.action(node["fallback"], node.line_of("fallback"), "default fallback") or fallback
    return Defaults(
        timeout=reader.integer(node, "timeout", builtin.timeout, 1, 60),
        attempts=reader.integer(node, "attempts", builtin.attempts, 1, 10),
        no_input=_prompts(reader, node, "no_input", builtin.no_input),
        invalid=_prompts(reader, node, "invalid", builtin.invalid),
        fallback=fallback,
    )


def _prompts(reader: Reader, node: YDict, key: str, default: tuple[Prompt, ...]) -> tuple[Prompt, ...]:
    if key not in node:
        return default
    return reader.prompt_list(node[key], node.line_of(key), f"'{key}'") or default


def parse_menu(reader: Reader, menu_id: str, node: Any, line: int, defaults: Defaults) -> Menu | None:
    """Read one menu or input node."""
    what = f"menu '{menu_id}'"
    node = reader.mapping(node, what, line, MENU_FIELDS)
    if node is None:
        return None
    prompt = None
    if "prompt" not in node:
        reader.problem(line, f"{what} has no prompt: add `prompt:` with a text per language")
    else:
        prompt = reader.prompt(node["prompt"], node.line_of("prompt"), f"prompt of {what}")
    short = None
    if "short_prompt" in node:
        short = reader.prompt(node["short_prompt"], node.line_of("short_prompt"), f"short_prompt of {what}")
    collect = _collect(reader, node, what) if "collect" in node else None
    options = _options(reader, node, what)
    branches, otherwise = _branches(reader, node, what) if "branches" in node or "otherwise" in node else ([], None)
    _check_shape(reader, node, what, collect, options, branches, otherwise)
    fallback = defaults.fallback
    if "fallback" in node:
        fallback = reader.action(node["fallback"], node.line_of("fallback"), f"fallback of {what}") or fallback
    # in the order Menu's fields were read before (each may add a problem); positional, as quicker
    timeout = reader.integer(node, "timeout", defaults.timeout, 1, 60) if "timeout" in node else defaults.timeout
    attempts = reader.integer(node, "attempts", defaults.attempts, 1, 10) if "attempts" in node \
        else defaults.attempts
    no_input = _prompts(reader, node, "no_input", defaults.no_input) if "no_input" in node else defaults.no_input
    invalid = _prompts(reader, node, "invalid", defaults.invalid) if "invalid" in node else defaults.invalid
    return Menu(
        menu_id, prompt or Prompt(MappingProxyType({})), short, MappingProxyType(options), timeout, attempts,
        no_input, invalid, fallback, Where(reader.file, line), reader.text(node, "title"), collect,
        tuple(branches) if branches else (), otherwise,
        reader.flag(node, "all_languages", False) if "all_languages" in node else False,
    )


def _check_shape(reader: Reader, node: YDict, what: str, collect: Collect | None,
                 options: dict, branches: list, otherwise: Action | None) -> None:
    if collect is None and (branches or otherwise):
        reader.problem(node.line_of("branches" if branches else "otherwise"),
                       f"{what} has branches but no `collect:`; add collect: {{name: ..., digits: ...}}")
    if collect is not None and not (branches or otherwise):
        reader.problem(node.line_of("collect"), f"{what} collects digits but has no `branches:` "
                       "or `otherwise:` saying where the caller goes next")
    if collect is None and not options and "options" not in node:
        reader.problem(node.line, f"{what} has no options: add `options:` keyed by 0-9, * or #")


def _options(reader: Reader, node: YDict, what: str) -> dict[str, Action]:
    raw = node.get("options")
    if raw is None:
        return {}
    if not isinstance(raw, YDict):
        reader.problem(node.line_of("options"), f"options of {what} must be a mapping of key: action")
        return {}
    options: dict[str, Action] = {}
    key_lines, file = raw.key_lines, reader.file
    for raw_key, value in raw.items():
        key_line = key_lines[raw_key]
        key = DTMF_BY_WORD.get(raw_key) if type(raw_key) is int or type(raw_key) is str else None
        if key is None:
            key = dtmf_key(raw_key)  # the general rules (a bool or 1.0 hashes like 1: never looked up)
        if key is None:
            reader.problem(key_line, f"invalid key {raw_key!r} in {what}: a caller can only press "
                           "one of 0-9, * and # (write \"*\" and \"#\" in quotes, or star and pound)")
            continue
        if key in options:
            reader.problem(key_line, f"key {key} is given twice in {what}")
            continue
        # the usual actions, as Reader.plain_action reads them (inline: this is the hottest loop of a load)
        if type(value) is YDict and len(value) == 1:
            for kind, target in value.items():
                if kind in TARGET_KINDS and type(target) is str:
                    options[key] = Action(kind, target, None, None, None, None, None,
                                          (file, value.key_lines[kind]))  # a Where when read
                    break
            else:
                if action := reader.action(value, key_line, f"option {key} of {what}"):
                    options[key] = action
            continue
        if type(value) is str:  # a word: as Reader.plain_action reads it
            word = value.strip()
            if word in _KEYWORD_SET:
                options[key] = Action(word, None, None, None, None, None, None, (file, key_line))
            else:
                options[key] = Action("menu", word, None, None, None, None, None, (file, key_line))
            continue
        action = reader.plain_action(value, key_line) or reader.action(value, key_line, f"option {key} of {what}")
        if action:
            options[key] = action
    return options


def _collect(reader: Reader, node: YDict, what: str) -> Collect | None:
    raw = reader.mapping(node["collect"], f"collect of {what}", node.line_of("collect"), COLLECT_FIELDS)
    if raw is None:
        return None
    name = reader.name(raw.get("name"), raw.line_of("name"), "collected value")
    finish = dtmf_key(raw.get("finish_on", "#"))
    if finish not in ("#", "*"):
        reader.problem(raw.line_of("finish_on"), "finish_on must be \"#\" or \"*\"")
        finish = "#"
    digits = reader.integer(raw, "digits", 0, 1, 30) if "digits" in raw else None
    collect = Collect(name=name or "digits", digits=digits or None,
                      max_digits=reader.integer(raw, "max_digits", 20, 1, 30),
                      min_digits=reader.integer(raw, "min_digits", 1, 1, 30), finish_on=finish)
    if collect.min_digits > (collect.digits or collect.max_digits):
        reader.problem(raw.line_of("min_digits"), "min_digits is larger than the number of digits allowed")
    return collect


def _branches(reader: Reader, node: YDict, what: str) -> tuple[list[Branch], Action | None]:
    otherwise = None
    if "otherwise" in node:
        otherwise = reader.action(node["otherwise"], node.line_of("otherwise"), f"otherwise of {what}")
    raw = node.get("branches")
    if raw is None:
        return [], otherwise
    if not isinstance(raw, YList):
        reader.problem(node.line_of("branches"), f"branches of {what} must be a list of "
                       "{prefix: ..., action: ...} or {pattern: ..., action: ...}")
        return [], otherwise
    branches = [b for i, item in enumerate(raw)
                if (b := _branch(reader, item, raw.line_of(i), f"branch #{i + 1} of {what}"))]
    return branches, otherwise


def _branch(reader: Reader, raw: Any, line: int, what: str) -> Branch | None:
    raw = reader.mapping(raw, what, line, BRANCH_FIELDS)
    if raw is None:
        return None
    if ("prefix" in raw) == ("pattern" in raw) or "action" not in raw:
        reader.problem(line, f"{what} needs `action:` and exactly one of `prefix:` or `pattern:`")
        return None
    action = reader.action(raw["action"], raw.line_of("action"), f"action of {what}")
    if action is None:
        return None
    if "prefix" in raw:
        prefix = str(raw["prefix"])
        if not re.fullmatch(r"[0-9*#]+", prefix):
            reader.problem(raw.line_of("prefix"), f"prefix {prefix!r} in {what} must be digits; "
                           "write it in quotes to keep leading zeros, e.g. \"007\"")
            return None
        return Branch(action=action, prefix=prefix)
    try:
        regex = re.compile(str(raw["pattern"]))
    except re.error as exc:
        reader.problem(raw.line_of("pattern"), f"pattern in {what} is not a valid regular expression: {exc}")
        return None
    return Branch(action=action, pattern=str(raw["pattern"]), regex=regex)
