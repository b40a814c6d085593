"""A small, hand-checked data set for the dashboard tests, written in the data-contract format.

Three days (2024-03-04..06 UTC), five calls, four surveys, one alert, two voicemails. The expected
figures below were worked out by hand from these records (see each comment).
"""

from __future__ import annotations

from datetime import UTC, datetime

from ivr.accounts import hash_password

DAY = datetime(2024, 3, 4, tzinfo=UTC).timestamp()
HOUR = 3600.0
KINDS = "csat:scale:1-5,resolved:yes_no,nps:nps:0-10,comment:comment"
PASSWORDS = {"alice": "alice-secret-1", "victor": "victor-secret-1"}
USERS = (f"alice:supervisor:{hash_password(PASSWORDS['alice'])},"
         f"victor:viewer:{hash_password(PASSWORDS['victor'])}")

# sid: (start, fields, path events)
CALLS = {
    "CA01": (DAY + 10 * HOUR, dict(queue="billing", route="queue:billing", queue_result="bridged",
             queue_time="10", answered="40", left="160", agent="alice", lang="en", duration="200",
             caller="+1******4567"), ["menu main", "key 1", "route queue billing"]),
    "CA02": (DAY + 11 * HOUR, dict(queue="billing", route="queue:billing", queue_result="bridged",
             queue_time="30", answered="50", left="110", agent="bob", lang="en", duration="130",
             caller="+1******1111"), ["menu main", "key 1", "route queue billing"]),
    "CA03": (DAY + 33 * HOUR, dict(queue="support", route="queue:support", queue_result="hangup",
             abandoned="queue", queue_time="40", lang="es", duration="60", caller="+1******2222"),
             ["menu main", "key 2", "route queue support"]),
    "CA04": (DAY + 33.5 * HOUR, dict(lang="en", duration="15", caller="+1******3333"), ["menu main"]),
    "CA05": (DAY + 62 * HOUR, dict(queue="support", route="queue:support", queue_result="bridged",
             queue_time="15", answered="20", left="110", agent="alice", lang="es", duration="150",
             caller="+1******4444"), ["menu main", "key 2", "route queue support"]),
}
# sid: (disposition, csat, resolved, nps)
SURVEYS = {"CA01": ("completed", "5", "yes", "10"), "CA02": ("completed", "2", "no", "3"),
           "CA05": ("completed", "4", "yes", "8"), "CA03": ("declined", None, None, None)}

EXPECTED_ALL = {  # 2024-03-04..06, no filter
    "calls": "5",           # five call records
    "csat": "66.7 %",       # answers 5, 2, 4: two of three are 4 or 5
    "nps": "0",             # 10 promoter, 3 detractor, 8 passive: (1 - 1) / 3
    "fcr": "66.7 %",        # yes, no, yes
    "response_rate": "75 %",  # 3 completed of 4 offered
    "asa": "18.3 s",        # bridged waits 10, 30, 15
    "service_level": "50 %",  # 10 and 15 within 20 s, of 4 queued
    "aht": "90 s",          # talk 120, 60, 90
    "abandon_menu": "1",    # CA04 ended in the menus
    "abandon_queue": "1",   # CA03 hung up after 40 s in the queue
}
EXPECTED_BILLING = {"calls": "2", "csat": "50 %", "asa": "20 s", "service_level": "50 %"}


def seed(client) -> None:
    """Write the calls, paths, surveys, alert and voicemail of this data set."""
    pipe = client.pipeline(transaction=False)
    for sid, (start, f, events) in CALLS.items():
        record = {"started": repr(start), "caller_hash": f"h{sid}", "to": "+15550000000",
                  "status": "completed", "ended": repr(start + float(f["duration"])),
                  **{k: v for k, v in f.items() if k not in ("answered", "left")}}
        if "answered" in f:
            record["answered_at"] = repr(start + float(f["answered"]))
            record["left_queue_at"] = repr(start + float(f["left"]))
        pipe.hset(f"ivr:call:{{{sid}}}", mapping=record)
        pipe.hset(f"ivr:call:{{{sid}}}:path", mapping={str(i): e for i, e in enumerate(events, 1)})
        pipe.zadd("ivr:calls:by_time", {sid: start})
    for sid, answers in SURVEYS.items():
        _survey(pipe, sid, *answers)
    _alert(pipe, "CA02", "csat", "2")
    _voicemail(pipe, "RE01", DAY + 12 * HOUR, "new", "I was charged twice")
    _voicemail(pipe, "RE02", DAY + 13 * HOUR, "heard", "")
    pipe.execute()


def _survey(pipe, sid: str, disposition: str, csat, resolved, nps) -> None:
    start, f, _ = CALLS[sid]
    at = start + float(f["duration"]) - 5
    record = {"survey": "after_call", "call_sid": sid, "queue": f["queue"], "agent": f.get("agent", ""),
              "lang": f["lang"], "path": "main", "caller_hash": f"h{sid}", "offered_at": f"{at:.1f}",
              "disposition": disposition, "kinds": KINDS, "updated_at": f"{at + 30:.1f}"}
    if csat:
        record.update({"a:csat": csat, "a:resolved": resolved, "a:nps": nps, "a:comment": "",
                       "started_at": f"{at + 2:.1f}", "completed_at": f"{at + 30:.1f}"})
    pipe.hset(f"ivr:survey:{{{sid}}}", mapping={k: v for k, v in record.items() if v != "" or k[:2] == "a:"})
    pipe.zadd("ivr:surveys:by_time", {sid: float(f"{at:.1f}")})
    pipe.zadd(f"ivr:surveys:queue:{f['queue']}", {sid: float(f"{at:.1f}")})


def _alert(pipe, sid: str, question: str, score: str) -> None:
    start, f, _ = CALLS[sid]
    alert_id = f"{sid}:{question}"
    pipe.hset(f"ivr:alert:{{{alert_id}}}", mapping={
        "id": alert_id, "call_sid": sid, "survey": "after_call", "question": question, "score": score,
        "queue": f["queue"], "agent": f["agent"], "lang": f["lang"], "at": f"{start + 200:.1f}",
        "status": "open"})
    pipe.zadd("ivr:alerts:by_time", {alert_id: start + 200})


def _voicemail(pipe, rid: str, at: float, status: str, text: str) -> None:
    pipe.hset(f"ivr:vm:{{{rid}}}", mapping={
        "id": rid, "box": "general", "call_sid": "CA04", "caller": "+1******3333", "lang": "en",
        "url": f"https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/{rid}", "duration": "21",
        "status": status, "at": repr(at), "transcription": text})
    pipe.zadd("ivr:vm:index", {rid: at})


def csrf_of(html: str) -> str:
    """The CSRF token a page's forms carry."""
    import re

    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page has no CSRF field"
    return found.group(1)


def sign_in(client, name: str = "alice", password: str | None = None):
    """Sign a Flask test client in through the login form; return the login POST's response."""
    token = csrf_of(client.get("/admin/login").get_data(as_text=True))
    return client.post("/admin/login", data={"csrf_token": token, "name": name,
                                             "password": PASSWORDS.get(name, "") if password is None
                                             else password})
