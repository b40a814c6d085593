"""YAML reading that remembers line numbers and refuses duplicate keys, for `file:line` errors."""

from __future__ import annotations

from typing import Any

import yaml

from ivr.problems import Problem


class YDict(dict):
    """A mapping read from YAML that knows its own line and the line of each key."""

    line: int = 0
    key_lines: dict[Any, int]

    def line_of(self, key: Any) -> int:
        """Line of `key` in the file, or of the mapping itself when the key is absent."""
        return self.key_lines.get(key, self.line)


class YList(list):
    """A sequence read from YAML that knows its own line and the line of each item."""

    line: int = 0
    item_lines: list[int]

    def line_of(self, index: int) -> int:
        """Line of item `index` in the file."""
        return self.item_lines[index] if index < len(self.item_lines) else self.line


class _Loader(yaml.SafeLoader):
    """SafeLoader that builds YDict/YList and collects duplicate keys as problems."""

    def __init__(self, stream: str, filename: str):
        super().__init__(stream)
        self.filename = filename
        self.problems: list[Problem] = []


class _FastLoader(getattr(yaml, "CSafeLoader", _Loader)):  # type: ignore[misc]
    """The same loader on libyaml's parser (about 10 times faster on large menus) when available."""

    def __init__(self, stream: str, filename: str):
        super().__init__(stream)
        self.filename = filename
        self.problems: list[Problem] = []


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> YDict:
    loader.flatten_mapping(node)
    result = YDict()
    result.line = node.start_mark.line + 1
    result.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        if isinstance(key, list | dict):
            loader.problems.append(Problem(loader.filename, line, "a key must be a plain word or number"))
            continue
        if key in result:
            first = result.key_lines[key]
            loader.problems.append(Problem(
                loader.filename, line,
                f"duplicate key {key!r} (first defined on line {first}); "
                "YAML would silently keep only the last one: remove or rename one of them"))
            continue
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = line
    return result


def _construct_sequence(loader: _Loader, node: yaml.SequenceNode) -> YList:
    result = YList(loader.construct_object(child, deep=True) for child in node.value)
    result.line = node.start_mark.line + 1
    result.item_lines = [child.start_mark.line + 1 for child in node.value]
    return result


def _construct_timestamp(loader: _Loader, node: yaml.ScalarNode) -> Any:
    """A date or time; an impossible one (2026-02-30) stays text so the checks can report it."""
    try:
        return yaml.SafeLoader.construct_yaml_timestamp(loader, node)
    except ValueError:
        return loader.construct_scalar(node)


for _cls in (_Loader, _FastLoader):
    _cls.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp)
    _cls.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
    _cls.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


def _syntax_hint(problem: str) -> str:
    """Turn PyYAML's wording into advice ops staff can act on."""
    if "undefined alias" in problem or "expected alphabetic or numeric character" in problem:
        return problem + ' (the keys * and # must be written in quotes: "*" and "#", or as star and pound)'
    if "mapping values are not allowed" in problem:
        return problem + " (a text containing ': ' must be put in quotes)"
    if "found character '\\t'" in problem:
        return problem + " (indent with spaces, not tabs)"
    return problem


def load_yaml(text: str, filename: str) -> tuple[Any, list[Problem]]:
    """Parse YAML text; return the data (YDict/YList/scalars) and every problem found."""
    loader = _FastLoader(text, filename)
    try:
        return loader.get_single_data(), loader.problems
    except yaml.YAMLError:
        pass  # parse again in pure Python, whose messages and marks the hints below know
    finally:
        loader.dispose()
    loader = _Loader(text, filename)
    try:
        data = loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        return None, [*loader.problems, Problem(filename, line, "YAML syntax: " + _syntax_hint(str(exc.problem)))]
    except yaml.YAMLError as exc:
        return None, [*loader.problems, Problem(filename, 1, f"YAML syntax: {exc}")]
    finally:
        loader.dispose()
    return data, loader.problems
