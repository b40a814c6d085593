"""The fast YAML readers give exactly the data, lines and problems of PyYAML's constructor path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from ivr.problems import Problem
from ivr.yamllines import read_lines
from ivr.yamlsrc import NotPlainYaml, YDict, YList, load_yaml

ROOT = Path(__file__).resolve().parent.parent


# -- reference: the constructor-based reader these fast paths replaced ------------------------
class _Reference(yaml.SafeLoader):
    """PyYAML's own construction, with the line-keeping mapping and list of the menus."""

    def __init__(self, stream: str, filename: str):
        super().__init__(stream)
        self.filename, self.problems = filename, []


def _ref_mapping(loader: _Reference, node: yaml.MappingNode) -> YDict:
    loader.flatten_mapping(node)
    result = YDict()
    result.line, result.key_lines = node.start_mark.line + 1, {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        if isinstance(key, list | dict):
            loader.problems.append(Problem(loader.filename, line, "a key must be a plain word or number"))
            continue
        if key in result:
            loader.problems.append(Problem(
                loader.filename, line,
                f"duplicate key {key!r} (first defined on line {result.key_lines[key]}); "
                "YAML would silently keep only the last one: remove or rename one of them"))
            continue
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = line
    return result


def _ref_sequence(loader: _Reference, node: yaml.SequenceNode) -> YList:
    result = YList(loader.construct_object(child, deep=True) for child in node.value)
    result.line = node.start_mark.line + 1
    result.item_lines = [child.start_mark.line + 1 for child in node.value]
    return result


def _ref_timestamp(loader: _Reference, node: yaml.ScalarNode) -> Any:
    try:
        return yaml.SafeLoader.construct_yaml_timestamp(loader, node)
    except ValueError:
        return loader.construct_scalar(node)


_Reference.add_constructor("tag:yaml.org,2002:timestamp", _ref_timestamp)
_Reference.add_constructor("tag:yaml.org,2002:map", _ref_mapping)
_Reference.add_constructor("tag:yaml.org,2002:seq", _ref_sequence)


def reference_load(text: str) -> tuple[Any, list[str]]:
    """Data and problem texts as the old reader gave them (syntax errors: first line only)."""
    loader = _Reference(text, "f.yaml")
    try:
        return loader.get_single_data(), [str(p) for p in loader.problems]
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        return None, [*map(str, loader.problems), f"f.yaml:{mark.line + 1 if mark else 1}: YAML syntax"]
    finally:
        loader.dispose()


def shape(value: Any) -> Any:
    """Everything a check can see: types, values, order, the line of every mapping, key and item."""
    if isinstance(value, dict):
        return ("map", type(value).__name__, getattr(value, "line", None),
                [(shape(k), shape(v), getattr(value, "key_lines", {}).get(k)) for k, v in value.items()])
    if isinstance(value, list):
        return ("seq", type(value).__name__, getattr(value, "line", None),
                getattr(value, "item_lines", None), [shape(v) for v in value])
    return (type(value).__name__, repr(value))


def ours(text: str) -> tuple[Any, list[str]]:
    data, problems = load_yaml(text, "f.yaml")
    texts = [str(p) for p in problems]
    return shape(data), [t.split(": YAML syntax")[0] + ": YAML syntax" if ": YAML syntax" in t else t
                         for t in texts]


def theirs(text: str) -> tuple[Any, list[str]]:
    data, problems = reference_load(text)
    return shape(data), problems


# -- texts -----------------------------------------------------------------------------------
PLAIN = {
    "scalars": "a: 1\nb: yes\nc: ~\nd: 2026-02-30\ne: 2026-01-05\nf: 1.5\ng: 0x1F\nh: '007'\n"
               "i: \"x y\"\nj: it's\nk: 1_000\nl: -5\nm: -x\nn: --\no: .inf\np: null\nq: 12:30\n",
    "keys": "\"*\": back\n'#': x\n0: main\n1: a\nnull: b\n2026-01-01: c\n'it''s': d\nen-US: e\n",
    "nested": "menus:\n  main:\n    title: Main\n    prompt:\n      en-US: Hello there.\n"
              "    options:\n      1: {menu: billing, label: Bills and more}\n      \"*\": repeat\n",
    "indentless list": "a:\n- x\n- y: 1\n  z: 2\nb: 3\n",
    "list of mappings": "a:\n  - prefix: \"9\"\n    action: {queue: orders}\n  - pattern: '[0-8]'\n",
    "pending in item": "- a:\n    b: 1\n  c: 2\n- d\n",
    "comments": "# c\na: b # c\n    # deeper comment\nc: 'd' # e\nf:   # g\n  h: i\n",
    "empty values": "a:\nb:\nc:\n  d:\n",
    "flow": "q: [a, 'b', \"c\", 1, yes]\nr: {}\ns: []\nt: {a: x y, 'b': \"c, d\"}\n"
            "u: {play: https://x.example/a.mp3}\n",
    "spaces in values": "a: x   y  \nb:    z\n",
    "indented root": "  a: 1\n  b:\n    c: 2\n",
    "unicode": "es: Este es el menú. Oprima ñ\nja: 日本語\n",
    "root list": "- 1\n- two\n- {a: b}\n",
    "empty": "",
    "only comments": "# nothing\n\n   # here\n",
    "no final newline": "a: 1\nb: 2",
}
OTHER = {
    "duplicate": "a: 1\nb: 2\na: 3\n",
    "nested duplicate": "m:\n  x: 1\n  x: {y: 1}\n",
    "duplicate in flow": "a: {x: 1, x: 2}\n",
    "1 and true": "1: a\ntrue: b\n",
    "duplicate holding duplicate": "a: {x: 1}\na: {y: 1, y: 2}\n",
    "multi-line plain": "a: b\n  c\nd: e\n",
    "block scalar": "a: >-\n  x\n  y\nb: |\n  z\n",
    "anchors and merge": "base: &b {x: 1}\nm:\n  <<: *b\n  y: 2\nn: *b\n",
    "tags": "a: !!str 5\nb: !!set {x, y}\nc: !!omap [{k: {z: 1}}]\n",
    "complex key": "? [a, b]\n: c\n",
    "multi-line flow": "a: {x: 1,\n  y: 2}\n",
    "escapes": "a: \"tab\\there\"\n",
    "crlf": "a: 1\r\nb: 2\r\n",
    "tab": "a:\n\tb: 1\n",
    "bom": "\ufeffa: 1\n",
    "document markers": "---\na: 1\n...\n",
    "mapping value": "a: b: c\n",
    "unquoted star": "options:\n  *: x\n",
    "unclosed flow": "a: [1, 2\n",
    "bad dedent": "a:\n    b: 1\n  c: 2\n",
    "value tag": "a: =\n",
    "recursive": "a: &x [*x]\n",
    "nested list item": "-\n  - x\n",
    "key after list": "a:\n- x\nb\n",
}


@pytest.mark.parametrize("name", PLAIN)
def test_plain_block_yaml_is_read_line_by_line_with_the_same_result(name: str) -> None:
    text = PLAIN[name]
    assert shape(read_lines(text)) == theirs(text)[0]
    assert ours(text) == theirs(text)


@pytest.mark.parametrize("name", OTHER)
def test_other_yaml_is_left_to_libyaml_with_the_same_result(name: str) -> None:
    text = OTHER[name]
    with pytest.raises(NotPlainYaml):
        read_lines(text)
    assert ours(text) == theirs(text)


def test_duplicate_keys_are_reported_with_both_lines() -> None:
    data, problems = load_yaml("a: 1\nb:\n  c: 2\n  c: 3\na: 4\n", "x.yaml")
    assert data == {"a": 1, "b": {"c": 2}}
    assert [str(p) for p in problems] == [
        "x.yaml:4: duplicate key 'c' (first defined on line 3); "
        "YAML would silently keep only the last one: remove or rename one of them",
        "x.yaml:5: duplicate key 'a' (first defined on line 1); "
        "YAML would silently keep only the last one: remove or rename one of them"]


def test_syntax_errors_keep_their_line_and_hint() -> None:
    _, problems = load_yaml("options:\n  1: main\n  *: back\n", "x.yaml")
    assert len(problems) == 1 and problems[0].line == 3
    assert 'written in quotes: "*" and "#"' in problems[0].message


def test_an_alias_is_the_same_object_as_its_anchor() -> None:
    data, _ = load_yaml("a: &x {k: 1}\nb: *x\n", "x.yaml")
    assert data["a"] is data["b"] and data["b"].line_of("k") == 1


def _generated_tree(count: int) -> str:
    lines = ["menus:"]
    for i in range(count):
        lines += [f"  m{i}:", f"    title: Menu {i}", "    prompt:", f"      en-US: Menu {i}, press 1.",
                  f"      es-US: Menú {i}.", "    options:", f"      1: {{menu: m{i + 1}}}",
                  "      2: {queue: support, label: Help}", '      "*": back', "      0: main", ""]
    return "\n".join(lines)


@pytest.mark.parametrize("path", sorted(ROOT.glob("menus/**/*.yaml")), ids=lambda p: p.name)
def test_shipped_menus_read_the_same(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert ours(text) == theirs(text)


def test_a_generated_tree_is_read_on_the_fast_path_with_the_same_result() -> None:
    text = _generated_tree(300)
    assert shape(read_lines(text)) == theirs(text)[0]
    assert ours(text) == theirs(text)


def test_texts_with_a_space_after_a_bool_or_null_letter_resolve_as_pyyaml_does() -> None:
    """The no-resolver shortcut for `Yes please`, `No way`, `null value` gives PyYAML's values."""
    from ivr.yamlsrc import plain_scalar, reset_caches

    reset_caches()
    for text in ("This is menu 4", "Yes please", "No way", "null value", "On hold", "off peak", "~ x",
                 "yes", "No", "null", "~", "True", "off", "Menu 5", "1 2", "2026-01-02 10:00"):
        assert plain_scalar(text) == yaml.safe_load(text), text
