"""Exports parsed back: CSV (csv module), JSON Lines (json) and XLSX (openpyxl)."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

import openpyxl
import pytest
from test_metrics import BILLING, T, bridged, put_call, put_survey

from ivr.export import COLUMNS, IsoTimes, neutralise, rows, write_csv, write_jsonl, write_xlsx
from ivr.metrics import Filters
from ivr.redisconn import connect
from ivr.rollup import field_pages

DAY = (datetime(2026, 3, 2), datetime(2026, 3, 3))
ATTACK = "=HYPERLINK(\"http://evil\",\"x\")"


@pytest.fixture
def data(redis_client):
    """Two responses (one with cells that look like formulas), one call, one voicemail."""
    c = redis_client
    put_survey(c, "CA1", T, "completed", {"csat": "5", "resolved": "yes", "nps": "10",
                                          "comment": "https://rec/1"}, queue="billing",
               agent="ann", caller_hash="h1", completed_at=repr(T + 42), **{"x:comment": "très bien"})
    put_survey(c, "CA2", T + 60, "partial", {"csat": "2"}, queue="support", agent=ATTACK,
               path="-main", lang="+15551234567")
    put_call(c, "CA1", T - 300, BILLING, route="queue:billing", queue="billing", agent="ann",
             caller="+1******4567", duration=300, **bridged(12, 100, T - 300))
    c.hset("ivr:vm:{RE1}", mapping={"id": "RE1", "at": repr(T), "box": "general", "status": "new",
                                    "call_sid": "CA9", "caller": "+1******0000", "duration": "7",
                                    "url": "https://rec/RE1", "transcription": "@call me"})
    c.zadd("ivr:vm:index", {"RE1": T})
    return c


def csv_rows(data, kind: str, tz: str = "UTC", **filters) -> tuple[bytes, list[dict]]:
    out = io.BytesIO()
    write_csv(rows(data, kind, *DAY, Filters(**filters), tz), out, bom=True)
    raw = out.getvalue()
    return raw, list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))


def test_survey_csv_has_stable_columns_answers_and_local_times(data):
    raw, parsed = csv_rows(data, "surveys", "America/New_York")
    assert raw.startswith(b"\xef\xbb\xbf")
    header = list(parsed[0])
    assert header[:len(COLUMNS["surveys"])] == COLUMNS["surveys"]
    assert header[len(COLUMNS["surveys"]):] == ["answer_csat", "answer_resolved", "answer_nps",
                                                 "answer_comment", "transcript_comment"]
    first = parsed[0]
    assert first["offered_at"] == "2026-03-02T05:00:00-05:00"
    assert first["completed_at"] == "2026-03-02T05:00:42-05:00"
    assert (first["answer_csat"], first["answer_nps"], first["transcript_comment"]) == \
        ("5", "10", "très bien")
    assert parsed[1]["answer_nps"] == "" and parsed[1]["disposition"] == "partial"


def test_csv_neutralises_formulas_but_keeps_numbers_and_phone_numbers(data):
    _, parsed = csv_rows(data, "surveys")
    attack = parsed[1]
    assert attack["agent"] == "'" + ATTACK
    assert attack["path"] == "'-main"
    assert attack["lang"] == "+15551234567"
    _, vm = csv_rows(data, "voicemail")
    assert vm[0]["transcription"] == "'@call me" and vm[0]["caller"] == "+1******0000"
    assert [neutralise(v) for v in ("-3", "+15551234567", "-2.5", "\tx", "\rx", "+1+cmd", "=1", "")] \
        == ["-3", "+15551234567", "-2.5", "'\tx", "'\rx", "'+1+cmd", "'=1", ""]


def test_jsonl_parses_back_with_raw_values(data):
    out = io.BytesIO()
    count = write_jsonl(rows(data, "surveys", *DAY), out)
    lines = [json.loads(line) for line in out.getvalue().decode().splitlines()]
    assert count == 2 and len(lines) == 2
    assert lines[1]["agent"] == ATTACK  # JSON is data, not a spreadsheet: kept as is
    assert lines[0]["answer_comment"] == "https://rec/1"
    assert lines[0]["offered_at"] == "2026-03-02T10:00:00+00:00"
    assert list(lines[0]) == COLUMNS["surveys"] + ["answer_csat", "answer_resolved", "answer_nps",
                                                   "answer_comment", "transcript_comment"]


def test_xlsx_keeps_text_as_text_and_numbers_as_numbers(data, tmp_path):
    target = tmp_path / "surveys.xlsx"
    assert write_xlsx(rows(data, "surveys", *DAY), target) == 2
    sheet = openpyxl.load_workbook(target).active
    header, first, second = ([cell for cell in row] for row in sheet.iter_rows(max_row=3))
    names = [c.value for c in header]
    attack = second[names.index("agent")]
    assert attack.value == ATTACK and attack.data_type == "s"  # text, never a formula
    phone = second[names.index("lang")]
    assert phone.value == "+15551234567" and phone.data_type == "s"
    assert first[names.index("answer_csat")].value == 5
    assert first[names.index("offered_at")].value == "2026-03-02T10:00:00+00:00"


def test_calls_and_voicemail_exports(data):
    _, calls = csv_rows(data, "calls")
    assert len(calls) == 1 and list(calls[0]) == COLUMNS["calls"]
    call = calls[0]
    assert (call["call_sid"], call["path"], call["queue_time"], call["caller"]) == \
        ("CA1", "main", "12", "+1******4567")
    assert call["trail"] == "menu main | key 1 | route queue billing"
    assert call["started"] == "2026-03-02T09:55:00+00:00"
    _, vm = csv_rows(data, "voicemail", queue="general")
    assert [r["id"] for r in vm] == ["RE1"] and vm[0]["at"] == "2026-03-02T10:00:00+00:00"
    assert csv_rows(data, "voicemail", queue="sales")[1] == []


def test_filters_select_rows(data):
    assert [r["call_sid"] for r in csv_rows(data, "surveys", queue="support")[1]] == ["CA2"]
    assert [r["call_sid"] for r in csv_rows(data, "surveys", agent="ann")[1]] == ["CA1"]
    assert csv_rows(data, "calls", language="fr")[1] == []


def test_rows_stream_lazily_in_batches(redis_client):
    for n in range(2500):
        put_survey(redis_client, f"S{n}", T + n, "offered")
    stream = rows(redis_client, "surveys", *DAY)
    assert stream.total == 2500 and "answer_csat" in stream.columns
    first = next(iter(stream))
    redis_client.delete("ivr:survey:{S2499}")  # not read yet: at most the next batch is
    assert first["call_sid"] == "S0" and sum(1 for _ in stream) == 2498


def test_empty_range_writes_only_the_header(redis_client):
    out = io.BytesIO()
    assert write_csv(rows(redis_client, "calls", *DAY), out) == 0
    assert out.getvalue().decode().strip().split(",") == COLUMNS["calls"]


def test_exports_read_a_cluster_too(any_redis_url):
    client = connect(any_redis_url)
    put_survey(client, "CA1", T, "completed", {"csat": "4"})
    out = io.BytesIO()
    write_jsonl(rows(client, "surveys", *DAY, tz="UTC"), out)
    assert json.loads(out.getvalue())["answer_csat"] == "4"
    assert datetime.fromisoformat(json.loads(out.getvalue())["offered_at"]).timestamp() == T
    assert datetime.fromtimestamp(T, UTC).hour == 10


def test_pages_keep_their_place_when_earlier_entries_come_and_go(any_redis_url):
    client = connect(any_redis_url)
    for n in range(2500):
        put_survey(client, f"S{n:04d}", T + n, "offered")
    pages = field_pages(client, "ivr:surveys:by_time", "ivr:survey:{%s}", ["s", "nope"],
                        T, T + 10_000, size=1000)
    first = next(pages)
    assert first[0][:2] == ["S0000", "S0001"] and first[1][0] == "o,,," and first[2][0] is None
    client.zrem("ivr:surveys:by_time", *[f"S{n:04d}" for n in range(300)])  # purged meanwhile
    put_survey(client, "EARLY", T - 5, "offered")  # and one added before the place reached
    rest = [sid for page in pages for sid in page[0]]
    assert first[0] + rest == [f"S{n:04d}" for n in range(2500)]


def test_iso_times_cross_a_daylight_saving_change():
    iso = IsoTimes("America/New_York")
    change = datetime(2026, 3, 8, 7, 0, tzinfo=UTC).timestamp()  # 02:00 EST becomes 03:00 EDT
    assert iso.column([repr(change - 1), str(int(change)), "", None, "soon"]) == \
        ["2026-03-08T01:59:59-05:00", "2026-03-08T03:00:00-04:00", "", "", "soon"]


def test_progress_is_reported_per_page_and_rows_are_unchanged(data):
    done: list[int] = []
    stream = rows(data, "surveys", *DAY).with_progress(done.append)
    out = io.BytesIO()
    assert write_csv(stream, out) == 2 and done == [2]
    assert out.getvalue().decode().splitlines()[1].startswith("CA1,csat,")


def test_plain_dict_rows_are_written_too():
    out = io.BytesIO()
    assert write_csv([{"a": "=1", "b": None}, {"a": "x"}], out, ["a", "b"]) == 2
    assert out.getvalue().decode().splitlines() == ["a,b", "'=1,", "x,"]


TRICKY = ["", "plain", "a,b", 'say "hi"', "line1\nline2", "cr\rhere", "crlf\r\n", "=1+1", "+15551234567",
          "-3", "-2.5", "2.5", "-main", "@call", "\tx", "\rx", "+1******4567", "+1+cmd", "très bien", "日本語",
          "😀", " lead", "trail,", '"', "x\x00y", "\u2028", "back\\slash", "a@b@c", ATTACK, "-", "+", "@", "=",
          "%s %d", "'quoted'", "\x7f", "\x1f"]


def test_csv_writer_gives_the_bytes_of_the_csv_module_on_tricky_cells():
    columns = ["a", "b", "c"]
    data = [{"a": x, "b": y, "c": "z"} for x in TRICKY for y in ("", "=x", "ok", "a,b")] + \
        [{"a": None, "b": "1", "c": None}]
    out = io.BytesIO()
    assert write_csv(data, out, columns, bom=True) == len(data)
    expected = io.StringIO()
    expected.write("\ufeff")
    writer = csv.writer(expected)
    writer.writerow(columns)
    writer.writerows([neutralise(row[c] or "") for c in columns] for row in data)
    assert out.getvalue() == expected.getvalue().encode()
    lone = io.BytesIO()  # one column: csv writes an empty cell as ""
    write_csv([{"a": v} for v in TRICKY], lone, ["a"])
    expected = io.StringIO()
    csv.writer(expected).writerows([["a"]] + [[neutralise(v)] for v in TRICKY])
    assert lone.getvalue() == expected.getvalue().encode()


def test_jsonl_writer_gives_the_bytes_of_the_json_module_on_tricky_cells():
    columns = ["a", "b%s", 'c"']
    data = [{"a": x, "b%s": "plain", 'c"': x[::-1]} for x in TRICKY]
    out = io.BytesIO()
    assert write_jsonl(data, out, columns) == len(data)
    encode = json.JSONEncoder(ensure_ascii=False).encode
    assert out.getvalue() == "".join(encode(row) + "\n" for row in data).encode()


def test_iso_times_match_datetime_in_many_zones():
    import random
    from zoneinfo import ZoneInfo
    pick = random.Random(5)
    times = [pick.randrange(-2_500_000_000, 4_000_000_000) for _ in range(3000)] + \
        list(range(1772900000, 1773000000, 997))
    for tz in ("America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu", "Europe/Amsterdam", "UTC",
               "America/St_Johns", "Pacific/Chatham", "Africa/Casablanca"):
        iso, zone = IsoTimes(tz), ZoneInfo(tz)
        assert iso.seconds(times + [None]) == \
            [datetime.fromtimestamp(t, zone).isoformat() for t in times] + [""]
        gaps = [pick.choice(["", "0", "59", "3600"]) for _ in times]
        assert iso.after(times, gaps) == [datetime.fromtimestamp(t + int(g), zone).isoformat() if g else ""
                                          for t, g in zip(times, gaps, strict=True)]


def test_survey_pages_the_stored_encoding_cannot_serve_are_decoded(redis_client):
    c = redis_client
    put_survey(c, "NEW", T, "completed", {"csat": "4"}, caller_hash="ab" * 8)
    c.hset("ivr:survey:{OLD}", mapping={"call_sid": "OLD", "survey": "csat", "offered_at": repr(T + 5),
                                        "disposition": "completed", "kinds": "csat:scale:1-5",
                                        "a:csat": "2", "caller_hash": "cd" * 8})
    c.zadd("ivr:surveys:by_time", {"OLD": T + 5, "GONE": T + 6})  # in contract names; deleted
    found = {r["call_sid"]: r for r in rows(c, "surveys", *DAY, tz="America/New_York")}
    assert list(found) == ["NEW", "OLD"]
    assert [found[s]["offered_at"] for s in found] == ["2026-03-02T05:00:00-05:00",
                                                       "2026-03-02T05:00:05-05:00"]
    assert [found[s]["answer_csat"] for s in found] == ["4", "2"]
    assert (found["NEW"]["caller_hash"], found["OLD"]["caller_hash"]) == ("ab" * 8, "cd" * 8)


def test_questions_first_seen_after_the_columns_were_chosen(redis_client, monkeypatch):
    from ivr import export
    decoded = []
    monkeypatch.setattr(export, "_decoded_page", lambda *a, _real=export._decoded_page:
                        decoded.append(a[1]) or _real(*a))
    put_survey(redis_client, "A", T, "completed", {"csat": "4"})
    stream = rows(redis_client, "surveys", *DAY)
    layout = "q1:yes_no,q2:yes_no,q3:yes_no,q4:yes_no,q5:yes_no,csat:scale:1-5"  # csat 6th
    put_survey(redis_client, "B", T + 1, "completed", {"csat": "5", "q1": "yes"}, kinds=layout)
    assert [(r["call_sid"], r["answer_csat"]) for r in stream] == [("A", "4"), ("B", "5")]
    assert decoded == [["A", "B"]] and "answer_q1" not in stream.columns


def test_iso_times_stay_right_when_their_caches_are_emptied(monkeypatch):
    from zoneinfo import ZoneInfo
    monkeypatch.setattr(IsoTimes, "KEPT", 3)
    iso, zone = IsoTimes("America/New_York"), ZoneInfo("America/New_York")
    change = int(datetime(2026, 3, 8, 7, 0, tzinfo=UTC).timestamp())
    for page in range(40):
        times = [change + (page * 37 + n) * 311 - 20_000 for n in range(30)]
        assert iso.seconds(times) == [datetime.fromtimestamp(t, zone).isoformat() for t in times]
        assert iso.after(times, ["7"] * 30) == \
            [datetime.fromtimestamp(t + 7, zone).isoformat() for t in times]


def test_survey_cells_with_commas_quotes_or_formulas_are_still_quoted_and_escaped(redis_client):
    loud = ['Smith, J', 'say "hi"', "=cmd|' /C calc'!A0", "back\\slash", "tab\there", "-main", "@x"]
    for n in range(30):  # plain and loud values on one page, several times each
        value = loud[n % len(loud)] if n % 3 == 0 else f"agent{n % 4}"
        put_survey(redis_client, f"CA{n:03d}", T + n, "completed", {"csat": str(n % 5 + 1)},
                   agent=value, queue=value if n % 2 else "billing", path=value, lang="en")
    redis_client.hset("ivr:survey:{CA004}", "s", "=x,1,2,3")  # a disposition code of its own
    stream = rows(redis_client, "surveys", *DAY)
    columns = stream.columns
    dicts = list(rows(redis_client, "surveys", *DAY))
    out = io.BytesIO()
    assert write_csv(rows(redis_client, "surveys", *DAY), out) == 30
    expected = io.StringIO()
    writer = csv.writer(expected)
    writer.writerow(columns)
    writer.writerows([neutralise(row[c]) for c in columns] for row in dicts)
    assert out.getvalue() == expected.getvalue().encode()
    lines = io.BytesIO()
    write_jsonl(rows(redis_client, "surveys", *DAY), lines)
    encode = json.JSONEncoder(ensure_ascii=False).encode
    assert lines.getvalue() == "".join(encode(row) + "\n" for row in dicts).encode()
    assert {row["agent"] for row in dicts} >= set(loud) and dicts[4]["disposition"] == "=x"


def test_iso_times_across_a_change_right_when_the_cache_is_emptied(monkeypatch):
    from zoneinfo import ZoneInfo
    monkeypatch.setattr(IsoTimes, "KEPT", 4)
    iso, zone = IsoTimes("America/New_York"), ZoneInfo("America/New_York")
    change = int(datetime(2026, 3, 8, 7, 0, tzinfo=UTC).timestamp())
    assert iso.seconds([change - 1]) == ["2026-03-08T01:59:59-05:00"]  # its quarter is known...
    times = [change - 1] + [change + n * 900 for n in range(6)]  # ...then emptied to learn these
    assert iso.seconds(times) == [datetime.fromtimestamp(t, zone).isoformat() for t in times]
    far = [change - 10**6, change, change + 10**6]  # far apart: only their own quarters
    assert iso.seconds(far) == [datetime.fromtimestamp(t, zone).isoformat() for t in far]
