"""Frozen dataclasses that are quick to build: the loader makes hundreds of thousands of them."""

from __future__ import annotations

from dataclasses import MISSING, dataclass, fields
from typing import Any, TypeVar

T = TypeVar("T", bound=type)


def frozen(cls: T | None = None, /, **options: Any) -> Any:
    """`@dataclass(frozen=True)` whose `__init__` stores every field at once, with the same signature."""
    def wrap(klass: T) -> T:
        return _fast_init(dataclass(klass, frozen=True, **options))
    return wrap if cls is None else wrap(cls)


def _fast_init(cls: T) -> T:
    """Replace the generated `__init__` (one `object.__setattr__` per field) by one dict assignment."""
    params, items = [], []
    env: dict[str, Any] = {"_set": object.__setattr__}
    for f in fields(cls):
        if f.default_factory is not MISSING or not f.init:
            return cls  # not needed by the model: keep the generated __init__
        if f.default is MISSING:
            params.append(f.name)
        else:
            env[f"_default_{f.name}"] = f.default
            params.append(f"{f.name}=_default_{f.name}")
        items.append(f"{f.name!r}: {f.name}")
    exec(f"def __init__(self, {', '.join(params)}):\n"  # noqa: S102 - built from field names only
         f"    _set(self, '__dict__', {{{', '.join(items)}}})\n", env)
    init = env["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__doc__ = cls.__init__.__doc__
    cls.__init__ = init  # type: ignore[misc]
    return cls
