"""The dashboard in a real browser (system Chromium via Playwright): sign in, filter, check the
figures against the seeded data, download an export, acknowledge an alert, save a screenshot."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from admin_seed import EXPECTED_ALL, EXPECTED_BILLING, PASSWORDS, USERS, seed
from browser import chromium, serving, sign_in_page

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


@pytest.fixture
def site(make_app, redis_client):
    """The real app on the seeded data, served over HTTP on a free local port."""
    seed(redis_client)
    with serving(make_app(IVR_ADMIN_USERS=USERS)) as base:
        yield base


def cards(page) -> dict[str, str]:
    """The KPI cards as the browser shows them."""
    return {card.get_attribute("data-kpi"): card.locator(".value").inner_text().strip()
            for card in page.locator("[data-kpi]").all()}


def apply_filters(page, **fields: str) -> None:
    """Fill the range and filter form and submit it."""
    for name, value in fields.items():
        page.fill(f"form.filters input[name={name}]", value)
    with page.expect_navigation():
        page.click("form.filters button:has-text('Apply')")


def test_supervisor_flow_in_chromium(site, redis_client, tmp_path):
    with chromium() as browser:
        context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
        page = context.new_page()
        page.goto(site + "/admin/")
        assert "/admin/login" in page.url
        sign_in_page(page, site + "/admin/", "alice", PASSWORDS["alice"])
        assert page.locator("h1").inner_text().startswith("Dashboard")

        apply_filters(page, since="2024-03-04", until="2024-03-06", tz="UTC")
        assert cards(page) == EXPECTED_ALL
        apply_filters(page, queue="billing")
        shown = cards(page)
        assert {k: shown[k] for k in EXPECTED_BILLING} == EXPECTED_BILLING

        page.select_option("#export select[name=kind]", "surveys")
        with page.expect_download() as download:
            page.click("#export button:has-text('Download CSV')")
        saved = tmp_path / download.value.suggested_filename
        download.value.save_as(saved)
        assert saved.name == "surveys_2024-03-04_2024-03-06.csv"
        with saved.open(encoding="utf-8") as exported:
            rows = list(csv.DictReader(exported))
        assert sorted((r["call_sid"], r["queue"], r["answer_csat"]) for r in rows) == \
            [("CA01", "billing", "5"), ("CA02", "billing", "2")]

        page.click("nav a:has-text('Alerts')")
        row = page.locator("#alert-CA02\\:csat")
        assert row.locator("td").nth(2).inner_text() == "2"
        with page.expect_navigation():
            row.locator("button:has-text('Acknowledge')").click()
        assert "Alert CA02:csat acknowledged." in page.locator(".flash").inner_text()
        assert redis_client.hget("ivr:alert:{CA02:csat}", "acknowledged_by") == "alice"

        page.click("nav a:has-text('Menus')")
        graph = page.locator("#menu-graph svg")
        assert graph.is_visible() and graph.bounding_box()["width"] > 100
        assert graph.locator("text", has_text="billing").count() >= 1

        page.click("nav a:has-text('Dashboard')")
        apply_filters(page, since="2024-03-04", until="2024-03-06", queue="")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)
        context.close()
    assert (ARTIFACTS / "dashboard.png").stat().st_size > 20_000


def test_viewer_in_chromium_has_no_buttons_that_change_things(site):
    with chromium() as browser:
        page = browser.new_page()
        sign_in_page(page, site + "/admin/alerts", "victor", PASSWORDS["victor"])
        assert page.url.endswith("/admin/alerts")
        assert page.locator("#alert-CA02\\:csat").count() == 1
        assert page.locator("button:has-text('Acknowledge')").count() == 0
        page.click("nav a:has-text('Voicemail')")
        assert page.locator("#vm-RE01").count() == 1 and page.locator("button:has-text('Set')").count() == 0
