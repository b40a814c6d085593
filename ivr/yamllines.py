"""A line-by-line reader for the plain block YAML that menu files are written in (the fast path).

It accepts a strict subset: block mappings and sequences whose siblings share one indent, keys
that are words, numbers or one-line quoted texts, one-line values (plain, quoted without escapes,
`{key: value, ...}` and `[value, ...]` of such scalars) and comments. Scalars are resolved by
PyYAML's own resolver and constructors, so the data and lines equal what PyYAML gives. Anything
else raises NotPlainYaml and the file is read in full by libyaml.
"""

from __future__ import annotations

import re
from typing import Any

from ivr.yamlsrc import NotPlainYaml, YDict, YList, new_ydict, new_ylist, plain_scalar

_UNSAFE = re.compile("[^\n -~\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]")
_KEY = r"""[A-Za-z0-9_][\w.\-]{0,200}|"[^"\\]*"|'(?:[^']|'')*'"""
_LINE = re.compile(rf"( *)(-(?: +|$))?(?:({_KEY}):(?: +|$))?(.*)")
_QUOTED = re.compile(r"""(?:"([^"\\]*)"|'((?:[^']|'')*)')(?: *| +#.*)""")
_FLOW_PLAIN = (r"""(?:[^\s\-?:,\[\]{}#&*!|>'"%@`]|-(?=[^\s,\[\]{}]))"""
               r"(?:[^\s,\[\]{}:#?]|:(?=[^\s,\[\]{}])| +(?=[^\s,\[\]{}:#?]))*")
_FLOW_VALUE = rf"""(?:"([^"\\]*)"|'((?:[^']|'')*)'|({_FLOW_PLAIN}))"""
_FLOW_ITEM = re.compile(rf"""({_KEY}): +{_FLOW_VALUE}""")
_FLOW_MAP = re.compile(rf"""\{{ *((?:{_FLOW_ITEM.pattern}) *(?:, *(?:{_FLOW_ITEM.pattern}) *)*)?\}}(?: *| +#.*)""")
_FLOW_SEQ_ITEM = re.compile(_FLOW_VALUE)
_FLOW_SEQ = re.compile(rf"""\[ *({_FLOW_VALUE} *(?:, *{_FLOW_VALUE} *)*)?\](?: *| +#.*)""")
_PLAIN_FIRST_NOT = frozenset("?:,[]{}#&*!|>'\"%@`")
_flow_cache: dict[str, tuple[bool, tuple]] = {}


def _scalar(double: str | None, single: str | None, plain: str | None) -> Any:
    if double is not None:
        return double
    if single is not None:
        return single.replace("''", "'")
    return plain_scalar(plain.rstrip(" "))  # type: ignore[union-attr]


def _key(text: str) -> Any:
    if text[0] == '"':
        return text[1:-1]
    if text[0] == "'":
        return text[1:-1].replace("''", "'")
    return plain_scalar(text)


def _flow(text: str) -> tuple[bool, tuple]:
    """A one-line `{...}` (True, ((key, value), ...)) or `[...]` (False, (value, ...)), cached."""
    cached = _flow_cache.get(text)
    if cached is not None:
        return cached
    if text[0] == "{" and (match := _FLOW_MAP.fullmatch(text)):
        items = tuple((_key(m[1]), _scalar(m[2], m[3], m[4]))
                      for m in _FLOW_ITEM.finditer(match[1] or ""))
        if len({key for key, _ in items}) != len(items):
            raise NotPlainYaml("duplicate key")
        parsed: tuple[bool, tuple] = (True, items)
    elif text[0] == "[" and (match := _FLOW_SEQ.fullmatch(text)):
        parsed = (False, tuple(_scalar(*m.groups()) for m in _FLOW_SEQ_ITEM.finditer(match[1] or "")))
    else:
        raise NotPlainYaml(text)
    if len(_flow_cache) >= 10_000:
        _flow_cache.clear()
    _flow_cache[text] = parsed
    return parsed


def _value(rest: str, line: int) -> Any:
    """The value written after `key: ` or `- ` on one line."""
    first = rest[0]
    if first == '"' or first == "'":
        match = _QUOTED.fullmatch(rest)
        if match is None:
            raise NotPlainYaml(rest)
        return _scalar(match[1], match[2], None)
    if first == "{" or first == "[":
        is_map, items = _flow(rest)
        if is_map:
            result = new_ydict(line)
            result.update(items)
            result.key_lines = dict.fromkeys(result, line)
            return result
        seq = YList(items)
        seq.line, seq.item_lines = line, [line] * len(items)
        return seq
    if first in _PLAIN_FIRST_NOT or (first == "-" and (len(rest) == 1 or rest[1] == " ")):
        raise NotPlainYaml(rest)
    cut = rest.find(" #")
    text = (rest if cut < 0 else rest[:cut]).rstrip(" ")
    if ": " in text or text[-1] == ":":
        raise NotPlainYaml(rest)
    return plain_scalar(text)


def read_lines(text: str) -> Any:
    """The data of a plain block-style YAML text, or NotPlainYaml when it is not one."""
    if _UNSAFE.search(text):
        raise NotPlainYaml("character outside the fast subset")
    root: Any = None
    stack: list[tuple[int, Any]] = []  # open blocks: (indent, YDict or YList)
    pending: tuple[YDict, Any, int] | None = None  # a key whose value starts on a later line
    number = 0
    for line in text.split("\n"):
        number += 1
        stripped = line.lstrip(" ")
        if not stripped or stripped[0] == "#":
            continue
        spaces, dash, key_text, rest = _LINE.match(line).groups()  # type: ignore[union-attr]
        indent = len(spaces)
        if pending is not None:
            parent, key, parent_indent = pending
            pending = None
            if indent > parent_indent or (dash and indent == parent_indent):
                parent[key] = child = new_ylist(number) if dash else new_ydict(number)
                stack.append((indent, child))
        while stack and (stack[-1][0] > indent
                         or (stack[-1][0] == indent and not dash and type(stack[-1][1]) is YList)):
            stack.pop()
        if not stack:
            if root is not None:
                raise NotPlainYaml("content after the document")
            root = new_ylist(number) if dash else new_ydict(number)
            stack.append((indent, root))
        top_indent, top = stack[-1]
        if top_indent != indent:
            raise NotPlainYaml("indentation")
        if type(top) is YList:
            if not dash or (key_text is None and (not rest or rest[0] == "#")):
                raise NotPlainYaml("nested sequence item")
            if key_text is None:
                top.append(_value(rest.rstrip(" "), number))
                top.item_lines.append(number)
                continue
            top.append(item := new_ydict(number))
            top.item_lines.append(number)
            indent += len(dash)
            stack.append((indent, item))
            top = item
        elif dash or key_text is None:
            raise NotPlainYaml("not a key")
        key = _key(key_text)
        if key in top:
            raise NotPlainYaml("duplicate key")
        top.key_lines[key] = number
        if not rest or rest[0] == "#":
            top[key] = None
            pending = (top, key, indent)
        else:
            top[key] = _value(rest.rstrip(" "), number)
    return root

