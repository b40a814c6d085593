"""A menu load leaves no reference cycles: its objects go straight to the oldest GC generation
(see ivr.loader._gc_paused), so cyclic garbage from a load would outlive it until a full collection."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


# Run in a fresh interpreter: background threads of other tests' apps (batch writers, alert
# senders) may make garbage of their own while the collector is off, which is not the load's.
LOAD_TWICE = """
import gc, sys, weakref
from pathlib import Path
from ivr.loader import check_menus
root = Path(sys.argv[1])
check_menus(root / "menus", root / "recordings")  # first-time imports make cycles of their own
gc.collect()
gc.disable()
menuset, _ = check_menus(root / "menus", root / "recordings")
assert menuset is not None
alive = weakref.ref(menuset.line)
del menuset
print(alive() is None, gc.collect())
"""


def test_a_load_makes_no_cyclic_garbage() -> None:
    done = subprocess.run([sys.executable, "-c", LOAD_TWICE, str(ROOT)], capture_output=True,
                          text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    freed, garbage = done.stdout.split()
    assert freed == "True", "the MenuSet is kept alive after its last reference went"
    assert garbage == "0"


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
