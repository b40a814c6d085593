"""Dashboard pages on seeded data: KPI cards, charts, responses, call records, alerts, voicemail."""

from __future__ import annotations

import csv
import io
import json
import re
import xml.etree.ElementTree as ET

import pytest
from admin_seed import EXPECTED_ALL, EXPECTED_BILLING, USERS, csrf_of, seed, sign_in
from openpyxl import load_workbook

from ivr import charts

RANGE = "since=2024-03-04&until=2024-03-06"
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def alice(make_app, redis_client):
    """A test client signed in as the supervisor, on the seeded data."""
    seed(redis_client)
    client = make_app(IVR_ADMIN_USERS=USERS).test_client()
    sign_in(client, "alice")
    return client


def kpi_cards(html: str) -> dict[str, str]:
    """The dashboard's card values by key."""
    return dict(re.findall(r'data-kpi="(\w+)">\s*<div class="label">[^<]*</div>\s*'
                           r'<div class="value">([^<]*)<', html))


def text(answer) -> str:
    assert answer.status_code == 200, answer.get_data(as_text=True)[:300]
    return answer.get_data(as_text=True)


def test_cards_show_the_hand_computed_figures(alice):
    assert kpi_cards(text(alice.get(f"/admin/?{RANGE}"))) == EXPECTED_ALL
    billing = kpi_cards(text(alice.get(f"/admin/?{RANGE}&queue=billing")))
    assert {k: billing[k] for k in EXPECTED_BILLING} == EXPECTED_BILLING


def test_an_empty_range_shows_dashes_not_zeros(alice):
    cards = kpi_cards(text(alice.get("/admin/?since=2023-01-01&until=2023-01-02")))
    assert cards["calls"] == "0" and cards["csat"] == "—" and cards["asa"] == "—"


def test_days_follow_the_chosen_time_zone(alice):
    # 2024-03-04 in Honolulu (UTC-10) is 03-04 10:00 to 03-05 10:00 UTC: CA01, CA02, CA03, CA04.
    day = "since=2024-03-04&until=2024-03-04"
    assert kpi_cards(text(alice.get(f"/admin/?{day}")))["calls"] == "2"
    html = text(alice.get(f"/admin/?{day}&tz=Pacific/Honolulu"))
    assert kpi_cards(html)["calls"] == "4" and "Pacific/Honolulu" in html
    assert alice.get(f"/admin/?{RANGE}&tz=Mars/Olympus").status_code == 400


def test_bad_ranges_are_refused_with_a_reason(alice):
    for query, reason in (("since=2024-03-06&until=2024-03-04", "swap them"),
                          ("since=2020-01-01&until=2024-03-04", "at most 731 days"),
                          ("since=yesterday", "must be a date like")):
        answer = alice.get(f"/admin/?{query}")
        assert answer.status_code == 400 and reason in answer.get_data(as_text=True), query


def test_charts_are_inline_svg_with_one_point_per_day(alice):
    html = text(alice.get(f"/admin/?{RANGE}"))
    svgs = re.findall(r"<svg .*?</svg>", html, re.S)
    assert len(svgs) == 7 and "<script" not in html and "http" not in "".join(
        re.findall(r'(?:src|href)="([^"]+)"', html)).replace("http://www.w3.org", "")
    volume = ET.fromstring(next(s for s in svgs if "Calls per day" in s))
    tips = [t.text for t in volume.iter(f"{SVG}title")]
    assert tips == ["calls 03-04: 2", "calls 03-05: 2", "calls 03-06: 1",
                    "answered 03-04: 2", "answered 03-05: 0", "answered 03-06: 1"]


def test_line_chart_breaks_where_values_are_missing():
    svg = ET.fromstring(charts.line_chart("CSAT", ["a", "b", "c", "d"], [("csat", [50, None, 80, 90])],
                                          " %", top=100))
    assert svg.find(f"{SVG}path").get("d").count("M") == 2  # a gap at b
    assert len(list(svg.iter(f"{SVG}circle"))) == 3
    empty = charts.line_chart("none", ["a"], [("x", [None])])
    assert "no data in this range" in empty
    bars = ET.fromstring(charts.bar_chart("<queues>", [("billing", 2), ("support", None)]))
    assert bars.get("aria-label") == "<queues>" and len(list(bars.iter(f"{SVG}rect"))) == 1


def test_nice_axis_tops():
    assert [charts.nice_max(v) for v in (0, 0.4, 3, 18.3, 87, 120, 2600)] == [1, 1, 5, 20, 100, 200, 5000]


def test_responses_table_filters_and_links_to_calls(alice):
    html = text(alice.get(f"/admin/responses?{RANGE}&language=es"))
    rows = re.findall(r'href="/admin/calls/(\w+)', html)
    assert rows == ["CA05", "CA03"]  # newest first
    html = text(alice.get(f"/admin/responses?{RANGE}&queue=billing&agent=bob"))
    assert re.findall(r'href="/admin/calls/(\w+)', html) == ["CA02"]
    assert "No responses match." in text(alice.get(f"/admin/responses?{RANGE}&agent=nobody"))


def test_responses_page_through_with_the_cursor(make_app, redis_client):
    from ivr.browse import response_page

    seed(redis_client)
    first = response_page(redis_client, 0, 2e9, {}, size=3)
    assert [r["call_sid"] for r in first.rows] == ["CA05", "CA03", "CA02"]
    second = response_page(redis_client, 0, 2e9, {}, before=first.next_before, size=3)
    assert [r["call_sid"] for r in second.rows] == ["CA01"] and second.next_before is None
    assert first.questions == ["csat", "resolved", "nps", "comment"]


def test_call_record_shows_path_and_survey(alice):
    html = text(alice.get("/admin/calls/CA02"))
    assert re.findall(r"<li>([^<]+)</li>", html) == ["menu main", "key 1", "route queue billing"]
    assert "2024-03-04 11:00:00 UTC" in html and "+1******1111" in html
    assert re.search(r"<td>csat</td><td>scale:1-5</td>\s*<td>2</td>", html)
    assert alice.get("/admin/calls/CA99").status_code == 404


def test_supervisor_acknowledges_an_alert(alice, redis_client):
    page = text(alice.get("/admin/alerts"))
    assert "CA02:csat" in page and "Acknowledge" in page
    answer = alice.post("/admin/alerts/CA02:csat/acknowledge",
                        data={"csrf_token": csrf_of(page), "back": "/admin/alerts"})
    assert answer.status_code == 302 and answer.location == "/admin/alerts"
    alert = redis_client.hgetall("ivr:alert:{CA02:csat}")
    assert alert["status"] == "acknowledged" and alert["acknowledged_by"] == "alice"
    assert "No alerts." in text(alice.get("/admin/alerts"))
    assert "by alice" in text(alice.get("/admin/alerts?status=acknowledged"))
    assert alice.post("/admin/alerts/CA77:csat/acknowledge",
                      data={"csrf_token": csrf_of(page)}).status_code == 404


def test_voicemail_list_plays_and_changes_status(alice, redis_client):
    page = text(alice.get("/admin/voicemail"))
    assert page.index("vm-RE02") < page.index("vm-RE01")  # newest first
    assert 'href="https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE01.mp3"' in page
    assert "I was charged twice" in page
    answer = alice.post("/admin/voicemail/RE01/status", data={"csrf_token": csrf_of(page),
                                                              "status": "handled"})
    assert answer.status_code == 302
    assert redis_client.hget("ivr:vm:{RE01}", "status") == "handled"
    assert "vm-RE01" not in text(alice.get("/admin/voicemail?status=new"))
    assert alice.post("/admin/voicemail/RE01/status", data={"csrf_token": csrf_of(page),
                                                            "status": "lost"}).status_code == 400


def test_exports_carry_the_filters_in_every_format(alice):
    answer = alice.get(f"/admin/export?{RANGE}&kind=surveys&format=csv&queue=billing&bom=1")
    assert answer.status_code == 200 and "surveys_2024-03-04_2024-03-06.csv" in \
        answer.headers["Content-Disposition"]
    body = answer.get_data()
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
    assert sorted(r["call_sid"] for r in rows) == ["CA01", "CA02"]
    lines = alice.get(f"/admin/export?{RANGE}&kind=calls&format=jsonl&language=es").get_data()
    calls = [json.loads(line) for line in lines.splitlines()]
    assert sorted(c["call_sid"] for c in calls) == ["CA03", "CA05"]
    xlsx = alice.get(f"/admin/export?{RANGE}&kind=voicemail&format=xlsx").get_data()
    sheet = load_workbook(io.BytesIO(xlsx), read_only=True).active
    table = list(sheet.values)
    assert table[0][0] == "id" and sorted(r[0] for r in table[1:]) == ["RE01", "RE02"]
    assert alice.get(f"/admin/export?{RANGE}&kind=secrets&format=csv").status_code == 400
    assert alice.get(f"/admin/export?{RANGE}&kind=calls&format=pdf").status_code == 400


def test_menus_page_draws_the_serving_version_like_ivr_graph(make_app, redis_client):
    from ivr.graph import build_graph
    from ivr.graph_render import to_svg

    app = make_app(IVR_ADMIN_USERS=USERS)
    client = app.test_client()
    assert client.get("/admin/menus").status_code == 302  # sign-in first
    sign_in(client, "victor")  # a viewer may look at the drawing
    html = text(client.get("/admin/menus"))
    ms = app.extensions["ivr"].menus.current
    assert f'<code id="menu-version">{ms.version}</code>' in html
    drawing = re.search(r'<figure id="menu-graph" class="graph">(.*?)</figure>', html, re.S).group(1)
    svg = ET.fromstring(drawing)
    assert svg.tag == f"{SVG}svg"
    expected = ET.fromstring(to_svg(build_graph(ms)))
    labels = sorted(t.text for t in svg.iter(f"{SVG}text") if t.text)
    assert labels == sorted(t.text for t in expected.iter(f"{SVG}text") if t.text)
    assert any("billing" in label.lower() for label in labels)
    assert 'href="/admin/menus"' in html  # in the navigation
