"""Call navigation state, carried in the signed webhook URL so any instance can serve any request."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from urllib.parse import urlencode

from ivr.memo import keep

_SAFE = re.compile(r"^[A-Za-z0-9_.-]{0,64}$")
_DIGITS = re.compile(r"^[0-9*#]{0,30}$")
_RETURN = re.compile(r"^((queue|voicemail|transfer|menu):[A-Za-z0-9_-]{1,64})?$")
MAX_STACK = 12


class BadState(ValueError):
    """Raised when URL state is malformed (a hand-made or truncated URL)."""


@dataclass(frozen=True)
class CallState:
    """Where a call is: menu, language, failed attempts, menu version, back stack, collected digits."""

    node: str
    lang: str
    version: str
    attempt: int = 0
    heard: bool = False
    stack: tuple[str, ...] = ()
    # Left out of the hash (a mapping has none) but compared for equality, so states can key a cache.
    vars: MappingProxyType = field(default_factory=lambda: MappingProxyType({}), hash=False)
    step: int = 0
    ret: str = ""  # a returning caller's last destination, offered on the welcome-back menu

    def evolve(self, **changes) -> CallState:
        """A copy with `changes` (dataclasses.replace without its per-field checks: a hot path)."""
        unknown = changes.keys() - _FIELDS
        if unknown:
            raise TypeError(f"CallState has no field {sorted(unknown)}")
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__, **changes)
        return new

    def enter(self, node: str, push: bool = True) -> CallState:
        """State for entering `node` anew: counters reset, current menu pushed for `back`."""
        stack = (self.stack + (self.node,))[-MAX_STACK:] if push and node != self.node else self.stack
        return self.evolve(node=node, attempt=0, heard=False, stack=stack)

    def with_var(self, name: str, value: str) -> CallState:
        """State with one more collected value."""
        return self.evolve(vars=MappingProxyType({**self.vars, name: value}))

    def to_query(self) -> dict[str, str]:
        """The URL query parameters that carry this state."""
        query = {"n": self.node, "l": self.lang, "v": self.version, "s": str(self.step)}
        if self.attempt:
            query["a"] = str(self.attempt)
        if self.heard:
            query["h"] = "1"
        if self.stack:
            query["b"] = ".".join(self.stack)
        if self.ret:
            query["r"] = self.ret
        for name, value in self.vars.items():
            query[f"x_{name}"] = value
        return query

    def query_string(self) -> str:
        """The state as an encoded query string."""
        return urlencode(self.to_query())

    @classmethod
    def from_query(cls, args: Mapping[str, str]) -> CallState:
        """Parse state from URL query parameters; raise BadState when it is not well formed."""
        key = tuple(args.items())
        state = _PARSED.get(key)
        if state is None:
            state = cls._parse(args)
            if not state.vars:  # the same few hundred menu states come back call after call
                keep(_PARSED, key, state, _PARSED_KEPT)
        return state

    @classmethod
    def _parse(cls, args: Mapping[str, str]) -> CallState:
        try:
            node, lang, version = args["n"], args["l"], args["v"]
            attempt, step = int(args.get("a", "0")), int(args.get("s", "0"))
        except (KeyError, ValueError) as exc:
            raise BadState(f"missing or bad call state in the URL: {exc}") from None
        stack = tuple(s for s in args.get("b", "").split(".") if s)
        values = {k[2:]: v for k, v in args.items() if k.startswith("x_")}
        if not all(_SAFE.match(x) for x in (node, lang, version, *stack, *values)) \
                or not all(_DIGITS.match(v) for v in values.values()) \
                or not _RETURN.match(args.get("r", "")) \
                or not 0 <= attempt < 100 or not 0 <= step < 10_000 or len(stack) > MAX_STACK:
            raise BadState("call state in the URL is not valid")
        return cls(node=node, lang=lang, version=version, attempt=attempt, heard=args.get("h") == "1",
                   stack=stack, vars=MappingProxyType(values), step=step, ret=args.get("r", ""))


_FIELDS = frozenset(f.name for f in fields(CallState))
_PARSED: dict[tuple, CallState] = {}
_PARSED_KEPT = 4096
