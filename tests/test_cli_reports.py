"""`ivr export` and `ivr report` through click's CliRunner against the test Redis."""

from __future__ import annotations

import csv
import io
import json

import openpyxl
import pytest
from click.testing import CliRunner
from test_metrics import BILLING, SUPPORT, T, bridged, put_call, put_survey

from ivr.cli import main


@pytest.fixture
def run(redis_client, redis_url):
    """Invoke `ivr ...` with REDIS_URL pointing at the seeded test server."""
    put_call(redis_client, "C1", T, BILLING, route="queue:billing", queue="billing", agent="ann",
             duration=200, **bridged(10, 100))
    put_call(redis_client, "C2", T + 60, SUPPORT, route="queue:support", queue="support",
             queue_result="hangup", queue_time=30, abandoned="queue", duration=50)
    put_survey(redis_client, "C1", T + 300, "completed", {"csat": "4", "nps": "9"},
               queue="billing", agent="ann", lang="+15551234567")
    put_survey(redis_client, "C2", T + 400, "declined", queue="support")

    def invoke(*args: str):
        return CliRunner().invoke(main, list(args), env={"REDIS_URL": redis_url,
                                                         "IVR_REPORT_TZ": "UTC"})
    return invoke


def test_export_csv_to_stdout_with_bom(run):
    result = run("export", "surveys", "--since", "2026-03-02", "--until", "2026-03-02", "--bom")
    assert result.exit_code == 0, result.output
    parsed = list(csv.DictReader(io.StringIO(result.stdout_bytes.decode("utf-8-sig"))))
    assert [r["call_sid"] for r in parsed] == ["C1", "C2"]  # --until date includes that day
    assert parsed[0]["lang"] == "+15551234567" and parsed[0]["answer_nps"] == "9"


def test_export_filters_zone_and_jsonl_file(run, tmp_path):
    target = tmp_path / "out.jsonl"
    result = run("export", "surveys", "--since", "2026-03-02", "--until", "2026-03-03",
                 "--queue", "billing", "--tz", "Europe/Paris", "--format", "jsonl", "-o", str(target))
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in target.read_text().splitlines()]
    assert [r["call_sid"] for r in lines] == ["C1"]
    assert lines[0]["offered_at"] == "2026-03-02T11:05:00+01:00"
    assert "1 surveys row(s) written" in result.stderr and "Europe/Paris" in result.stderr


def test_export_xlsx_needs_a_file_and_shows_progress(run, tmp_path):
    refused = run("export", "calls", "--since", "2026-03-02", "--format", "xlsx")
    assert refused.exit_code == 2 and "-o" in refused.output
    target = tmp_path / "calls.xlsx"
    result = run("export", "calls", "--since", "2026-03-02", "--until", "2026-03-03",
                 "--format", "xlsx", "-o", str(target), "--progress")
    assert result.exit_code == 0, result.output
    assert "exporting" in result.stderr
    sheet = openpyxl.load_workbook(target).active
    values = list(sheet.iter_rows(values_only=True))
    assert values[0][0] == "call_sid" and [v[0] for v in values[1:]] == ["C1", "C2"]


def test_report_states_the_zone_and_prints_kpis(run):
    result = run("report", "--since", "2026-03-02", "--until", "2026-03-02",
                 "--tz", "America/New_York")
    assert result.exit_code == 0, result.output
    assert "time zone America/New_York" in result.output
    total = next(line for line in result.output.splitlines() if line.startswith("total"))
    cells = total.split()
    assert cells[1:3] == ["2", "1"]  # calls, answered
    assert "+100" in cells and "100.0" in cells  # NPS of one promoter, CSAT 4 of 5
    assert "billing:" not in result.output and "main:1  1" in result.output


def test_report_by_queue_has_a_row_per_queue(run):
    result = run("report", "--since", "2026-03-02", "--until", "2026-03-03", "--by", "queue")
    assert result.exit_code == 0, result.output
    rows = {line.split()[0]: line.split() for line in result.output.splitlines()[3:]}
    assert set(rows) == {"billing", "support", "total"}
    assert rows["support"][1:3] == ["1", "0"] and rows["support"][11] == "1"  # one queue abandon


def test_bad_zone_and_dates_are_usage_errors(run):
    zone = run("report", "--since", "2026-03-02", "--tz", "Mars/Olympus")
    assert zone.exit_code == 2 and "unknown time zone" in zone.output
    date = run("export", "calls", "--since", "yesterday")
    assert date.exit_code == 2 and "is not a date" in date.output


def test_report_rebuild_drops_the_cached_hours_and_days(run, redis_client):
    from ivr.daily import DAY_KEY
    from ivr.rollup import ROLLUP_KEY

    hour = int(T // 3600 * 3600)
    redis_client.set(ROLLUP_KEY % hour, "stale")
    redis_client.set(DAY_KEY % "stale-day", "stale")
    result = run("report", "--since", "2026-03-02", "--until", "2026-03-02", "--tz", "UTC",
                 "--rebuild")
    assert result.exit_code == 0, result.output
    assert redis_client.get(DAY_KEY % "stale-day") is None
    assert redis_client.get(ROLLUP_KEY % hour) != "stale"  # rebuilt from the records, or gone
