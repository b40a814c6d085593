"""YAML reading that remembers line numbers and refuses duplicate keys, for `file:line` errors.

Three readers give the same result. Files in the plain block style that menus are written in
(keys, scalars, quoted texts, one-line `{...}` and `[...]`) are read line by line here, about ten
times faster than PyYAML. Anything else (anchors, tags, block scalars, multi-line values,
duplicate keys) is composed by libyaml and built by `_Builder`. A syntax error is composed
again by PyYAML's pure-Python parser, whose messages `_syntax_hint` knows.
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from ivr.problems import Problem

STR_TAG = "tag:yaml.org,2002:str"
MAP_TAG = yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG
SEQ_TAG = yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG
CACHED_TAGS = frozenset(f"tag:yaml.org,2002:{t}" for t in ("null", "bool", "int", "float", "timestamp"))


class YDict(dict):
    """A mapping read from YAML that knows its own line and the line of each key."""

    __slots__ = ("line", "key_lines")  # no attribute dict per mapping: a load makes tens of thousands
    line: int
    key_lines: dict[Any, int]

    def line_of(self, key: Any) -> int:
        """Line of `key` in the file, or of the mapping itself when the key is absent."""
        return self.key_lines.get(key, self.line)


class YList(list):
    """A sequence read from YAML that knows its own line and the line of each item."""

    __slots__ = ("line", "item_lines")
    line: int
    item_lines: list[int]

    def line_of(self, index: int) -> int:
        """Line of item `index` in the file."""
        return self.item_lines[index] if index < len(self.item_lines) else self.line


def new_ydict(line: int) -> YDict:
    """An empty YDict starting at `line`."""
    result = YDict()
    result.line, result.key_lines = line, {}
    return result


def new_ylist(line: int) -> YList:
    """An empty YList starting at `line`."""
    result = YList()
    result.line, result.item_lines = line, []
    return result


# -- scalars ---------------------------------------------------------------------------------
def _construct_timestamp(loader: yaml.SafeLoader, node: ScalarNode) -> Any:
    """A date or time; an impossible one (2026-02-30) stays text so the checks can report it."""
    try:
        return yaml.SafeLoader.construct_yaml_timestamp(loader, node)
    except ValueError:
        return loader.construct_scalar(node)


class _Constructor(yaml.SafeLoader):
    """PyYAML's safe constructors for scalars and rare tags; mappings and lists go to `builder`."""

    builder: _Builder


_Constructor.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp)


def _collection(kind: type[Node], name: str) -> Any:
    def construct(constructor: _Constructor, node: Node) -> Any:
        if not isinstance(node, kind):
            raise ConstructorError(None, None, f"expected a {name} node, but found {node.id}",
                                   node.start_mark)
        return constructor.builder.build(node)
    return construct


_Constructor.add_constructor(MAP_TAG, _collection(MappingNode, "mapping"))
_Constructor.add_constructor(SEQ_TAG, _collection(SequenceNode, "sequence"))
_SCALARS = _Constructor("")
_CACHE_LIMIT = 100_000
_plain_cache: dict[str, Any] = {}
_tagged_cache: dict[tuple[str, str], Any] = {}
_resolved_tags: dict[str, str] = {}
CACHES: list[dict] = [_plain_cache, _tagged_cache, _resolved_tags]


def reset_caches() -> None:
    """Forget the scalars, lines and tags memoised by earlier reads (each load starts cold)."""
    global _RESOLVED_FIRST, _WORDS_FIRST
    for cache in CACHES:
        cache.clear()
    _RESOLVED_FIRST = _resolved_first()
    _WORDS_FIRST = _words_first()


def _tagged_scalar(tag: str, text: str) -> Any:
    """The value of a scalar of a standard tag (int, bool, null, float, timestamp), cached."""
    key = (tag, text)
    try:
        return _tagged_cache[key]
    except KeyError:
        pass
    value = _Constructor.yaml_constructors[tag](_SCALARS, ScalarNode(tag, text))
    if len(_tagged_cache) >= _CACHE_LIMIT:
        _tagged_cache.clear()
    _tagged_cache[key] = value
    return value


def _resolved_first() -> frozenset[str]:
    """First characters for which PyYAML tries an implicit resolver (all of them with a catch-all)."""
    resolvers = _Constructor.yaml_implicit_resolvers
    return _ANY_CHARACTER if None in resolvers else frozenset(resolvers)


class _AnyCharacter(frozenset):
    def __contains__(self, item: object) -> bool:
        return True


_ANY_CHARACTER = _AnyCharacter()
_RESOLVED_FIRST = _resolved_first()


def _only_words(regexp: Any) -> bool:
    """True for a resolver regex that is `^(?:word|word...)$` of letters and `~` (bool, null): no space matches."""
    pattern = regexp.pattern
    if regexp.flags & re.VERBOSE:
        pattern = "".join(pattern.split())
    return (pattern.startswith("^(?:") and pattern.endswith(")$")
            and all(c.isalpha() or c in "|~" for c in pattern[4:-2]))


def _words_first() -> frozenset[str]:
    """First characters whose implicit resolvers all match single words only (bool, null).

    An unquoted scalar starting with one of them and containing a space is a string, as PyYAML
    resolves it: "This is menu 4" needs no resolver run.
    """
    if _SCALARS.yaml_path_resolvers or None in _Constructor.yaml_implicit_resolvers:
        return frozenset()
    return frozenset(first for first, entries in _Constructor.yaml_implicit_resolvers.items()
                     if all(_only_words(regexp) for _, regexp in entries))


_WORDS_FIRST = _words_first()


def resolved_first() -> frozenset[str]:
    """First characters of unquoted scalars that may not be plain strings (see `plain_scalar`)."""
    return _RESOLVED_FIRST


class NotPlainYaml(Exception):
    """The line reader met something outside its subset: the file is read by libyaml instead."""


def _resolve_plain(text: str) -> str:
    """The tag of an unquoted scalar, as `BaseResolver.resolve` gives it, without its generic steps."""
    if _SCALARS.yaml_path_resolvers:
        return _SCALARS.resolve(ScalarNode, text, (True, False))
    implicit = _SCALARS.yaml_implicit_resolvers
    for tag, regexp in (*implicit.get(text[0] if text else "", ()), *implicit.get(None, ())):
        if regexp.match(text):
            return tag
    return _SCALARS.DEFAULT_SCALAR_TAG


def plain_scalar(text: str) -> Any:
    """The value of an unquoted scalar, resolved exactly as PyYAML's SafeLoader resolves it."""
    if text and (text[0] not in _RESOLVED_FIRST or (" " in text and text[0] in _WORDS_FIRST)):
        return text  # no implicit resolver starts with this character or can match it: a string
    try:
        return _plain_cache[text]
    except KeyError:
        pass
    tag = _resolve_plain(text)
    if tag == STR_TAG:
        value: Any = text
    elif tag in CACHED_TAGS:
        value = _tagged_scalar(tag, text)
    else:
        raise NotPlainYaml(tag)  # `<<` merge keys, `=`: leave them to the full reader
    if len(_plain_cache) >= _CACHE_LIMIT:
        _plain_cache.clear()
    _plain_cache[text] = value
    return value


# -- libyaml (or pure-Python) composer + builder ---------------------------------------------
class _CachedResolver:
    """Scalar tag resolution memoised by text (PyYAML runs several regexes per scalar)."""

    def resolve(self, kind: type, value: Any, implicit: Any) -> str:
        """The tag of a node, as PyYAML's resolver gives it."""
        if kind is not ScalarNode or implicit is None or not implicit[0]:
            return super().resolve(kind, value, implicit)  # type: ignore[misc]
        try:
            return _resolved_tags[value]
        except KeyError:
            pass
        if len(_resolved_tags) >= _CACHE_LIMIT:
            _resolved_tags.clear()
        tag = _resolved_tags[value] = super().resolve(kind, value, implicit)  # type: ignore[misc]
        return tag



class _CComposer(_CachedResolver, getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """libyaml's parser and composer (PyYAML's own when libyaml is missing)."""


class _Builder:
    """Builds YDict/YList/scalars from a composed node tree, noting duplicate keys as problems."""

    def __init__(self, filename: str):
        self.filename = filename
        self.problems: list[Problem] = []
        self.made: dict[Node, Any] = {}
        self.building: set[Node] = set()

    def build(self, node: Node) -> Any:
        """The value of `node` (an alias gives the very same object as its anchor)."""
        if isinstance(node, ScalarNode):
            tag = node.tag
            if tag == STR_TAG:
                return node.value
            if tag in CACHED_TAGS:
                return _tagged_scalar(tag, node.value)
        elif node in self.made:
            return self.made[node]
        elif node in self.building:
            raise ConstructorError(None, None, "found unconstructable recursive node", node.start_mark)
        if isinstance(node, MappingNode) and node.tag == MAP_TAG:
            return self._guarded(node, self._mapping)
        if isinstance(node, SequenceNode) and node.tag == SEQ_TAG:
            return self._guarded(node, self._sequence)
        constructor = _Constructor("")
        constructor.builder = self
        return constructor.construct_object(node, deep=True)

    def _guarded(self, node: Node, make: Any) -> Any:
        self.building.add(node)
        result = self.made[node] = make(node)
        self.building.discard(node)
        return result

    def _mapping(self, node: MappingNode) -> YDict:
        _SCALARS.flatten_mapping(node)
        result = new_ydict(node.start_mark.line + 1)
        for key_node, value_node in node.value:
            key = self.build(key_node)
            line = key_node.start_mark.line + 1
            if isinstance(key, list | dict):
                self.problems.append(Problem(self.filename, line, "a key must be a plain word or number"))
            elif key in result:
                first = result.key_lines[key]
                self.problems.append(Problem(
                    self.filename, line,
                    f"duplicate key {key!r} (first defined on line {first}); "
                    "YAML would silently keep only the last one: remove or rename one of them"))
            else:
                result[key] = self.build(value_node)
                result.key_lines[key] = line
        return result

    def _sequence(self, node: SequenceNode) -> YList:
        result = YList(self.build(child) for child in node.value)
        result.line = node.start_mark.line + 1
        result.item_lines = [child.start_mark.line + 1 for child in node.value]
        return result


def _compose_and_build(loader_class: type, text: str, builder: _Builder) -> Any:
    loader = loader_class(text)
    try:
        node = loader.get_single_node()
    finally:
        loader.dispose()
    return None if node is None else builder.build(node)


# -- errors ----------------------------------------------------------------------------------
def _syntax_hint(problem: str) -> str:
    """Turn PyYAML's wording into advice ops staff can act on."""
    if "undefined alias" in problem or "expected alphabetic or numeric character" in problem:
        return problem + ' (the keys * and # must be written in quotes: "*" and "#", or as star and pound)'
    if "mapping values are not allowed" in problem:
        return problem + " (a text containing ': ' must be put in quotes)"
    if "found character '\\t'" in problem:
        return problem + " (indent with spaces, not tabs)"
    return problem


def _reported(text: str, filename: str) -> tuple[Any, list[Problem]]:
    """Read with PyYAML's pure-Python parser, whose messages and marks the hints above know."""
    builder = _Builder(filename)
    try:
        data = _compose_and_build(yaml.SafeLoader, text, builder)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        return None, [*builder.problems,
                      Problem(filename, line, "YAML syntax: " + _syntax_hint(str(exc.problem)))]
    except yaml.YAMLError as exc:
        return None, [*builder.problems, Problem(filename, 1, f"YAML syntax: {exc}")]
    return data, builder.problems


def load_yaml(text: str, filename: str) -> tuple[Any, list[Problem]]:
    """Parse YAML text; return the data (YDict/YList/scalars) and every problem found."""
    from ivr.yamllines import read_lines

    try:
        return read_lines(text), []
    except NotPlainYaml:
        pass
    builder = _Builder(filename)
    try:
        return _compose_and_build(_CComposer, text, builder), builder.problems
    except yaml.YAMLError:
        return _reported(text, filename)
