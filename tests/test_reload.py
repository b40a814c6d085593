"""Reload safety: calls keep the menu version they started with; a vanished menu apologises."""

from __future__ import annotations

from datetime import UTC, datetime

from phone import Phone

OPEN = datetime(2026, 6, 1, 14, 0, tzinfo=UTC)  # Monday 10:00 in New York


def reload(app) -> str:
    """Reload the menus now (as the next request after IVR_RELOAD_SECONDS would) and return the version."""
    registry = app.extensions["ivr"].menus
    assert registry.maybe_reload()
    return registry.current.version


def test_a_call_keeps_its_version_and_a_new_call_gets_the_new_one(make_app, menus_dir):
    app = make_app()
    app.config["IVR_CLOCK"] = lambda: OPEN
    v1 = app.extensions["ivr"].menus.current.version
    first = Phone(app.test_client(), number="+15550000001")
    first.call()
    first.press("1")  # English: now in the main menu of v1
    main_yaml = menus_dir / "main.yaml"
    main_yaml.write_text(main_yaml.read_text()
                         .replace("1: {queue: billing, label: Billing}", "1: {voicemail: general}")
                         .replace("For billing, press 1.", "To leave a message, press 1."))
    v2 = reload(app)
    assert v2 != v1
    answer = first.press("1")  # still v1: billing is a queue there
    assert answer.first("Enqueue").text == "billing"
    assert f"v={v1}" in answer.first("Enqueue").get("action")
    second = Phone(app.test_client(), number="+15550000002")
    second.call()
    assert second.press("1").speech.startswith("To leave a message, press 1.")
    assert second.press("1").has("Record")  # v2: key 1 is the general voicemail box


def test_a_call_whose_menu_vanished_hears_the_apology_and_the_main_menu(make_app, menus_dir, tmp_path):
    app = make_app(IVR_VERSIONS_KEPT=1)
    app.config["IVR_CLOCK"] = lambda: OPEN
    caller = Phone(app.test_client())
    caller.call()
    caller.press("1")
    caller.press("2")  # in the support menu of v1
    main_yaml = menus_dir / "main.yaml"
    text = main_yaml.read_text()
    start, end = text.index("  support:\n"), text.index("  order_status:\n")
    main_yaml.write_text((text[:start] + text[end:]).replace("2: {menu: support, label: Technical support}",
                                                              "2: {queue: support}"))
    reload(app)  # only one version kept in memory...
    for saved in (tmp_path / "data" / "menu-versions").glob("*.json"):
        saved.unlink()  # ...and none on disk: v1 is gone, and its support menu with it
    answer = caller.press("1")
    assert answer.said[0] == "Sorry, our menu has just changed. Returning to the main menu."
    assert answer.said[1].startswith("For billing, press 1.")
    assert "n=main" in answer.first("Gather").get("action")


def test_a_broken_edit_keeps_serving_the_last_good_version(make_app, menus_dir):
    app = make_app()
    registry = app.extensions["ivr"].menus
    v1 = registry.current.version
    (menus_dir / "main.yaml").write_text("menus:\n  main: [\n")
    assert not registry.maybe_reload()
    assert registry.current.version == v1 and registry.error
    assert Phone(app.test_client()).call().has("Gather")
