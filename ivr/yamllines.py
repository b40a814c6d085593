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

from ivr.yamlsrc import (
    CACHES,
    NotPlainYaml,
    YDict,
    YList,
    new_ydict,
    new_ylist,
    plain_scalar,
    resolved_first,
)

# Only these characters (one run of them: quicker than searching for any other one).
_SAFE = re.compile("[\n -~\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]*")
_KEY = r"""[A-Za-z0-9_][\w.\-]{0,200}|"[^"\\]*"|'(?:[^']|'')*'"""
_LINE = re.compile(rf"( *)(-(?: +|$))?(?:({_KEY}):(?: +|$))?(.*)")
_QUOTED = re.compile(r"""(?:"([^"\\]*)"|'((?:[^']|'')*)')(?: *| +#.*)""")
_FLOW_PLAIN = (r"""(?:[^\s\-?:,\[\]{}#&*!|>'"%@`]|-(?=[^\s,\[\]{}]))"""
               r"(?:[^\s,\[\]{}:#?]|:(?=[^\s,\[\]{}])| +(?=[^\s,\[\]{}:#?]))*")
_FLOW_VALUE = rf"""(?:"([^"\\]*)"|'((?:[^']|'')*)'|({_FLOW_PLAIN}))"""
_FLOW_ITEM = re.compile(rf"""({_KEY}): +{_FLOW_VALUE}""")
_FLOW_MAP = re.compile(rf"""\{{ *((?:{_FLOW_ITEM.pattern}) *(?:, *(?:{_FLOW_ITEM.pattern}) *)*)?\}}(?: *| +#.*)""")
_FLOW_SEQ_ITEM = re.compile(_FLOW_VALUE)
_FLOW_ONE = re.compile(r"\{([A-Za-z_][\w-]*): ([A-Za-z_][\w-]*)\}")
# The usual lines in one match: `key:`, `key: {word: word}` and `key: text` (no `#` or `:` in the text).
_KEYED = re.compile(r"( *)([A-Za-z0-9_][\w.\-]{0,200}):(?: +(?:\{([A-Za-z_][\w-]*): ([A-Za-z_][\w-]*)\}"
                    r"|([A-Za-z0-9](?:[^#:\"'{}\[\]]*[^#:\"'{}\[\] ])?)))? *")
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
    if single := _FLOW_ONE.fullmatch(text):  # {menu: billing}: the usual action
        parsed: tuple[bool, tuple] = (True, ((plain_scalar(single[1]), plain_scalar(single[2])),))
    elif text[0] == "{" and (match := _FLOW_MAP.fullmatch(text)):
        items = tuple((_key(m[1]), _scalar(m[2], m[3], m[4]))
                      for m in _FLOW_ITEM.finditer(match[1] or ""))
        if len({key for key, _ in items}) != len(items):
            raise NotPlainYaml("duplicate key")
        parsed = (True, items)
    elif text[0] == "[" and (match := _FLOW_SEQ.fullmatch(text)):
        parsed = (False, tuple(_scalar(*m.groups()) for m in _FLOW_SEQ_ITEM.finditer(match[1] or "")))
    else:
        raise NotPlainYaml(text)
    if len(_flow_cache) >= 10_000:
        _flow_cache.clear()
    _flow_cache[text] = parsed
    return parsed


_NO_KEY = object()
_OPEN, _SCALAR, _MAP, _SEQ, _ONE, _BLANK = range(6)  # _ONE: a one-key `{key: value}`, content (key, value)
# A parsed line: (fast code, key, value kind, value content, indent, dash width). The fast code is
# the indent of a key line without a dash, else -1 (-3 for a blank or comment line): a line whose
# code equals the loop's `fast` is one more key of the open mapping, the usual line.
_SKIP = (-3, _NO_KEY, _BLANK, None, -1, 0)
_line_cache: dict[str, tuple] = {}
CACHES.extend((_flow_cache, _line_cache))


def _value(rest: str) -> tuple[int, Any]:
    """The kind and content of the value written after `key: ` or `- ` on one line."""
    first = rest[0]
    if first == '"' or first == "'":
        match = _QUOTED.fullmatch(rest)
        if match is None:
            raise NotPlainYaml(rest)
        return _SCALAR, _scalar(match[1], match[2], None)
    if first == "{" or first == "[":
        is_map, items = _flow(rest)
        return (_MAP if is_map else _SEQ), items
    if first in _PLAIN_FIRST_NOT or (first == "-" and (len(rest) == 1 or rest[1] == " ")):
        raise NotPlainYaml(rest)
    cut = rest.find(" #")
    text = (rest if cut < 0 else rest[:cut]).rstrip(" ")
    if ": " in text or text[-1] == ":":
        raise NotPlainYaml(rest)
    return _SCALAR, plain_scalar(text)


def _parse_line(line: str, first: frozenset[str]) -> tuple:
    """(fast code, key, value kind, value content, indent, dash width) of one line, or _SKIP.

    `first`: the characters a scalar must start with to be more than a string (`resolved_first`).
    """
    if keyed := _KEYED.fullmatch(line):
        spaces, key_text, inner_key, inner_value, text = keyed.groups()
        indent = len(spaces)
        key = key_text if key_text[0] not in first else plain_scalar(key_text)  # as plain_scalar, inline
        if inner_key is not None:
            if inner_key[0] in first:
                inner_key = plain_scalar(inner_key)
            if inner_value[0] in first:
                inner_value = plain_scalar(inner_value)
            return indent, key, _ONE, (inner_key, inner_value), indent, 0
        if text is None:
            return indent, key, _OPEN, None, indent, 0
        return indent, key, _SCALAR, text if text[0] not in first else plain_scalar(text), indent, 0
    spaces, dash, key_text, rest = _LINE.match(line).groups()  # type: ignore[union-attr]
    rest = rest.rstrip(" ")
    is_open = not rest or rest[0] == "#"
    if key_text is None:
        if dash is None and is_open:
            return _SKIP
        if dash is None or is_open:
            raise NotPlainYaml("neither a key nor a list item")
    kind, content = (_OPEN, None) if is_open else _value(rest)
    key = _NO_KEY if key_text is None else _key(key_text)
    indent = len(spaces)
    return (-1 if dash else indent), key, kind, content, indent, len(dash or "")


def _made(kind: int, content: Any, line: int) -> Any:
    """A fresh YDict or YList for a one-line `{...}` or `[...]`; a scalar as it is."""
    if kind == _ONE:
        result = YDict()
        result[content[0]] = content[1]
        result.line, result.key_lines = line, {content[0]: line}
        return result
    if kind == _MAP:
        result = new_ydict(line)
        result.update(content)
        result.key_lines = dict.fromkeys(result, line)
        return result
    if kind == _SEQ:
        seq = YList(content)
        seq.line, seq.item_lines = line, [line] * len(content)
        return seq
    return content


def read_lines(text: str) -> Any:
    """The data of a plain block-style YAML text, or NotPlainYaml when it is not one."""
    if _SAFE.fullmatch(text) is None:
        raise NotPlainYaml("character outside the fast subset")
    root = top = pending = None  # top: the innermost open block; pending: its key awaiting a value
    top_lines: dict = {}  # top.key_lines while top is a mapping
    top_indent, stack = -1, []  # stack: the blocks around top, as (indent, YDict or YList)
    fast = -2  # top_indent while top is a mapping with no key awaiting a value, else never a code
    cache, first = _line_cache, resolved_first()
    for number, line in enumerate(text.split("\n"), 1):
        parsed = cache.get(line)
        if parsed is None:
            if len(cache) >= 50_000:
                cache.clear()
            parsed = cache[line] = _parse_line(line, first)
        code, key, kind, content, indent, dash = parsed
        if code != fast:
            # anything but one more key of the open mapping: a block opens, closes or starts a list item
            if kind == _BLANK:
                continue
            if pending is not None and indent > top_indent and not dash and key is not _NO_KEY:
                # the usual opening: the first key of a mapping under the key awaiting a value
                top[pending] = child = YDict()
                child.line, child.key_lines = number, {}
                stack.append((top_indent, top))
                top_indent, top, pending = indent, child, None
                top_lines, fast = child.key_lines, indent
            else:
                if pending is not None:
                    if indent > top_indent or (dash and indent == top_indent):
                        top[pending] = child = new_ylist(number) if dash else new_ydict(number)
                        stack.append((top_indent, top))
                        top_indent, top = indent, child
                    pending = None
                while indent < top_indent or (indent == top_indent and not dash and type(top) is YList):
                    if not stack:
                        raise NotPlainYaml("content after the document")
                    top_indent, top = stack.pop()
                if top is None:
                    root = top = new_ylist(number) if dash else new_ydict(number)
                    top_indent = indent
                elif indent != top_indent:
                    raise NotPlainYaml("indentation")
                if type(top) is YList:
                    if not dash:
                        raise NotPlainYaml("not a list item")
                    top.item_lines.append(number)
                    if key is _NO_KEY:
                        top.append(content if kind == _SCALAR else _made(kind, content, number))
                        fast = -2
                        continue
                    top.append(item := new_ydict(number))
                    stack.append((top_indent, top))
                    top_indent, top = indent + dash, item
                elif dash or key is _NO_KEY:
                    raise NotPlainYaml("not a key")
                top_lines, fast = top.key_lines, top_indent
        if key in top_lines:
            raise NotPlainYaml("duplicate key")
        top_lines[key] = number
        if kind == _SCALAR:
            top[key] = content
        elif kind == _ONE:  # {menu: billing}: made here, it is most of the mappings
            inner_key, inner_value = content
            top[key] = child = YDict()  # empty, then one item: quicker than from a tuple of pairs
            child[inner_key] = inner_value
            child.line, child.key_lines = number, {inner_key: number}
        elif kind == _OPEN:
            top[key] = None
            pending, fast = key, -2
        else:
            top[key] = _made(kind, content, number)
    return root
