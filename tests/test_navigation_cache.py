"""Steps worked out once per menu version: reused when they cannot change, never when they can."""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from ivr.navigator import Navigator
from ivr.registry import MenuRegistry
from ivr.render import Urls, render
from ivr.render_routes import RouteRenderer
from ivr.state import CallState

ROOT = Path(__file__).resolve().parent.parent
NEW_YORK = ZoneInfo("America/New_York")
OPEN = datetime(2026, 12, 22, 10, 0, tzinfo=NEW_YORK)  # a Tuesday morning
CLOSED = datetime(2026, 12, 25, 10, 0, tzinfo=NEW_YORK)  # Christmas Day


def menus():
    """The shipped menus."""
    return MenuRegistry(ROOT / "menus", ROOT / "recordings", check_every=0).current


def in_main(ms) -> CallState:
    """A caller who chose English and is in the main menu."""
    return CallState(node="main", lang="en-US", version=ms.version, step=1, heard=True)


def test_a_key_without_hours_on_its_way_gives_the_same_step_object_again():
    ms = menus()
    first = Navigator(ms, now=OPEN).press(in_main(ms), "2")  # technical support: a menu
    again = Navigator(ms, now=CLOSED).press(in_main(ms), "2")
    assert first is again and first.gather.state.node == "support"


def test_a_key_whose_queue_has_hours_follows_the_clock_every_time():
    ms = menus()
    answers = [Navigator(ms, now=when).press(in_main(ms), "1") for when in (OPEN, CLOSED, OPEN)]
    assert [a.route.kind for a in answers] == ["queue", "voicemail", "queue"]  # closed: a message
    assert "closed office" in answers[1].trail


def test_digits_a_caller_entered_are_never_kept():
    ms = menus()
    state = CallState(node="order_status", lang="en-US", version=ms.version, step=2, heard=True)
    first = Navigator(ms, now=OPEN).press(state, "123456#")
    second = Navigator(ms, now=OPEN).press(state, "123456#")
    assert first == second and first is not second
    assert first.route.state.vars["order_number"] == "123456"


def test_a_parsed_url_state_is_reused_only_without_collected_values():
    ms = menus()
    plain = in_main(ms).to_query()
    assert CallState.from_query(dict(plain)) is CallState.from_query(dict(plain))
    entered = {**plain, "x_order_number": "123456"}
    first, second = CallState.from_query(dict(entered)), CallState.from_query(dict(entered))
    assert first == second and first is not second and first.vars["order_number"] == "123456"


def test_a_single_entered_digit_is_not_kept_either(tmp_path):
    shutil.copytree(ROOT / "menus", tmp_path / "menus")
    main = tmp_path / "menus" / "main.yaml"
    main.write_text(main.read_text().replace("max_digits: 10, min_digits: 6", "max_digits: 10, min_digits: 1"))
    ms = MenuRegistry(tmp_path / "menus", ROOT / "recordings", check_every=0).current
    state = CallState(node="order_status", lang="en-US", version=ms.version, step=2, heard=True)
    first = Navigator(ms, now=OPEN).press(state, "5")
    second = Navigator(ms, now=OPEN).press(state, "5")
    assert first == second and first is not second
    assert first.gather.state.vars["order_number"] == "5"


def test_a_kept_step_renders_for_the_url_base_and_routes_it_is_asked_for():
    """Rendered TwiML is found again by the step object, but never across URL bases or versions."""
    ms = menus()
    step = Navigator(ms, now=OPEN).start()
    assert Navigator(ms, now=OPEN).start() is step  # the navigator hands out the same object
    relative = render(step, ms, Urls())
    absolute = render(step, ms, Urls(base="https://ivr.example.com"))
    assert 'action="/voice/menu?' in relative and 'action="https://ivr.example.com/voice/menu?' in absolute
    assert render(step, ms, Urls()) == relative  # asked again: the same document
    assert render(step, ms, Urls(base="https://ivr.example.com")) == absolute
    routed = Navigator(ms, now=OPEN).press(in_main(ms), "0")  # the operator transfer
    assert "<Dial" in render(routed, ms, Urls(), RouteRenderer(ms, Urls()))
    assert "<Dial" not in render(routed, ms, Urls())  # without routes rendered
