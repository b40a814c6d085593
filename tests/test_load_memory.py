"""A menu load leaves no reference cycles: its objects go straight to the oldest GC generation
(see ivr.loader._gc_paused), so cyclic garbage from a load would outlive it until a full collection."""

from __future__ import annotations

import gc
import weakref
from pathlib import Path

from ivr.loader import check_menus

ROOT = Path(__file__).resolve().parent.parent


def test_a_load_makes_no_cyclic_garbage() -> None:
    check_menus(ROOT / "menus", ROOT / "recordings")  # first-time imports make cycles of their own
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        menuset, _ = check_menus(ROOT / "menus", ROOT / "recordings")
        assert menuset is not None
        alive = weakref.ref(menuset.line)
        del menuset
        assert alive() is None, "the MenuSet is kept alive after its last reference went"
        assert gc.collect() == 0
    finally:
        if was_enabled:
            gc.enable()


def test_an_action_placed_by_a_tuple_reads_as_the_same_where() -> None:
    """The loader's (file, line) place reads as a Where: same value, repr, hash and equality."""
    import pickle
    from dataclasses import FrozenInstanceError, replace

    import pytest

    from ivr.model import Action, Where

    lazy = Action("queue", "billing", None, None, None, None, None, ("menus/a.yaml", 7))
    eager = Action(kind="queue", target="billing", where=Where("menus/a.yaml", 7))
    assert repr(lazy) == repr(eager) and hash(lazy) == hash(eager) and lazy == eager
    assert lazy.where == Where("menus/a.yaml", 7) and lazy.where is lazy.where
    assert pickle.loads(pickle.dumps(lazy)) == eager and replace(lazy, label="x").where == eager.where
    assert Action.where == Where("", 0) and Action(kind="hangup").where == Where("", 0)
    with pytest.raises(FrozenInstanceError):
        lazy.where = Where("b", 1)  # type: ignore[misc]
