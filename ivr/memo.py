"""Bounded in-process memos: a plain dict emptied when full, so memory stays bounded."""

from __future__ import annotations

from typing import Any, TypeVar

V = TypeVar("V")


def keep(cache: dict[Any, V], key: Any, value: V, limit: int) -> V:
    """Store `value` under `key` (emptying `cache` first when it holds `limit` entries); return it."""
    if len(cache) >= limit:
        cache.clear()  # the few hot entries are back within a few requests
    cache[key] = value
    return value
