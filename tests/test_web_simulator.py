"""The web simulator at /admin/simulator in a real browser (system Chromium via Playwright)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from admin_seed import PASSWORDS, USERS, csrf_of, sign_in
from browser import chromium, serving, sign_in_page

OPEN = datetime(2026, 6, 1, 14, 0, tzinfo=UTC)  # Monday 10:00 in New York: billing is open


@pytest.fixture
def sim_app(make_app):
    """The real app with a supervisor, its clock on office hours."""
    app = make_app(IVR_ADMIN_USERS=USERS)
    app.config["IVR_CLOCK"] = lambda: OPEN
    return app


def test_keypad_call_to_the_billing_queue_in_chromium(sim_app, redis_client):
    with serving(sim_app) as base, chromium() as browser:
        page = browser.new_page()
        sign_in_page(page, base + "/admin/simulator", "alice", PASSWORDS["alice"])
        assert page.url.endswith("/admin/simulator")
        version = sim_app.extensions["ivr"].menus.current.version
        assert page.inner_text("#version") == version
        page.click("#call")
        page.wait_for_selector("text=Thank you for calling Acme. For English, press 1.")
        page.click(".key[data-key='1']")
        page.wait_for_selector("text=For billing, press 1.")
        page.click(".key[data-key='1']")
        page.wait_for_selector("text=You are caller number 1.")
        assert page.inner_text("#place") == "at queue billing"
        steps = page.locator("#transcript > li.step")
        assert "<Enqueue" in steps.nth(2).locator("pre.twiml").text_content()
        assert "Digits=1" in steps.nth(2).locator(".request").inner_text()
        spoken = page.evaluate("window.spoken")
        assert {"text": "Para español, oprima 2.", "lang": "es-US"} in spoken
        assert spoken[-1]["text"].startswith("To leave a message instead of waiting")
        page.click("#other-side button[data-event=answer]")
        page.wait_for_function("!document.querySelector('#place').textContent.includes('queue billing')"
                               " || document.querySelector('#place').textContent.includes('ended')")
        if "survey" in page.inner_text("#place"):  # the post-call survey samples some calls
            page.click("#hangup")
        page.wait_for_selector("#place:has-text('call ended')")
        assert page.inner_text("#place") == "call ended (reached queue billing)"
        assert page.is_disabled(".key[data-key='1']")
    sids = [k for k in redis_client.scan_iter("ivr:call:{*}") if not k.endswith(":path")]
    assert [redis_client.hget(k, "queue_result") for k in sids] == ["bridged"]


def test_order_number_is_collected_until_pound_and_silence_reprompts(sim_app):
    with serving(sim_app) as base, chromium() as browser:
        page = browser.new_page()
        sign_in_page(page, base + "/admin/simulator", "alice", PASSWORDS["alice"])
        page.click("#call")
        page.wait_for_selector("text=For English, press 1.")
        page.click("#silence")
        page.wait_for_selector("text=Sorry, I did not hear a choice.")
        for key in "13":
            page.click(f".key[data-key='{key}']")
        page.wait_for_selector("text=Please enter your order number, then press pound.")
        for key in "123456#":
            page.click(f".key[data-key='{key}']")
        page.wait_for_selector("#place:has-text('at queue orders')")


def test_strangers_are_sent_to_sign_in_and_forged_state_is_refused(sim_app):
    client = sim_app.test_client()
    answer = client.get("/admin/simulator")
    assert answer.status_code == 302 and "/admin/login" in answer.location
    sign_in(client, "alice")
    token = csrf_of(client.get("/admin/simulator").get_data(as_text=True))
    started = client.post("/admin/simulator/call", json={}, headers={"X-CSRF-Token": token}).get_json()
    assert started["waiting"] == "Gather" and started["place"] == "menu language"
    forged = client.post("/admin/simulator/step", json={"state": started["state"] + "x", "event": "1"},
                         headers={"X-CSRF-Token": token})
    assert forged.status_code == 400 and b"place a new call" in forged.data
    wrong = client.post("/admin/simulator/step", json={"state": started["state"], "event": "answer"},
                        headers={"X-CSRF-Token": token}).get_json()
    assert "is not keys" in wrong["error"] and wrong["place"] == "menu language"
