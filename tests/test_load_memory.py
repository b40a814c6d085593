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
