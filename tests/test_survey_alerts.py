"""Low-score alerts: stored once for supervisors, POSTed to a local webhook, retried after a 500, never twice."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import time_machine
from conftest import emptied_url
from phone import Phone
from test_survey_flow import OPEN, sid_sampled, to_survey

from ivr.alerts import AlertStore


@pytest.fixture(params=["single", "cluster"])
def redis_url(request: pytest.FixtureRequest) -> str:
    """Every survey test here runs on a single server and on a three-master cluster."""
    return emptied_url(request, request.param)


@pytest.fixture(autouse=True)
def office_open():
    """Support is open; the clock runs, since retries are scheduled on it."""
    with time_machine.travel(OPEN, tick=True) as traveller:
        yield traveller


class Receiver:
    """A local HTTP server standing in for a Slack incoming webhook: answers 500 first, then 200."""

    def __init__(self, failures: int = 1):
        self.bodies: list[dict] = []
        self.statuses: list[int] = []
        self.failures = failures
        self.got = threading.Condition()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                status = 500 if len(owner.statuses) < owner.failures else 200
                self.send_response(status)
                self.end_headers()
                with owner.got:
                    owner.bodies.append(body)
                    owner.statuses.append(status)
                    owner.got.notify_all()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, count: int, seconds: float = 20) -> None:
        """Wait until `count` POSTs arrived (fails the test when they never do)."""
        with self.got:
            assert self.got.wait_for(lambda: len(self.statuses) >= count, timeout=seconds), self.statuses


@pytest.fixture
def receiver():
    found = Receiver()
    yield found
    found.server.shutdown()


def answer_low(phone: Phone) -> list[str]:
    """Take the survey answering CSAT 1; return the answer URL of that question."""
    to_survey(phone)
    phone.press("1")
    url = phone.last.first("Gather").get("action")
    phone.press("1")
    return url


def test_low_score_alert_is_stored_and_delivered_after_a_retry(make_app, receiver, redis_client):
    app = make_app(IVR_ALERT_WEBHOOK_URL=receiver.url, IVR_ALERT_RETRY_SECONDS="0.2")
    phone = Phone(app.test_client(), sid=sid_sampled())
    url = answer_low(phone)
    alert_id = f"{phone.sid}:csat"
    stored = AlertStore().get(redis_client, alert_id)
    assert {k: stored[k] for k in ("id", "call_sid", "survey", "question", "score", "queue", "agent",
                                   "lang", "status")} == {
        "id": alert_id, "call_sid": phone.sid, "survey": "csat", "question": "csat", "score": "1",
        "queue": "support", "agent": "alice", "lang": "en-US", "status": "open"}
    receiver.wait_for(2)
    assert receiver.statuses == [500, 200]
    body = receiver.bodies[1]
    assert "Low survey score: csat = 1" in body["text"] and "support" in body["text"]
    assert "5551234567" not in json.dumps(body)
    sender = app.extensions["ivr"].__dict__["_survey_parts"].sender
    while redis_client.zcard(AlertStore.OUTBOX):  # the sender marks delivery right after the 200
        time.sleep(0.02)
    assert AlertStore().get(redis_client, alert_id)["delivered_at"]
    phone.post(url, {"Digits": "1"})  # the answer webhook delivered again
    phone.post(url, {"Digits": "2"})  # or a late one with another low score
    assert sender.deliver_due(time.time() + 3600) == 0
    assert receiver.statuses == [500, 200]
    assert redis_client.zrange("ivr:alerts:by_time", 0, -1) == [alert_id]
    assert AlertStore().get(redis_client, alert_id)["score"] == "1"


def test_no_alert_above_the_threshold_and_none_posted_without_a_webhook(phone, redis_client):
    phone.sid = sid_sampled()
    answer_low(phone)
    assert AlertStore().list(redis_client) and redis_client.zcard(AlertStore.OUTBOX) == 0
    other = Phone(phone.client, number="+15550009999", sid=sid_sampled())
    to_survey(other)
    other.press("1")
    other.press("3")
    assert AlertStore().get(redis_client, f"{other.sid}:csat") == {}


def test_supervisors_list_and_acknowledge_alerts(phone, redis_client):
    phone.sid = sid_sampled()
    answer_low(phone)
    store = AlertStore()
    alert_id = f"{phone.sid}:csat"
    assert [a["id"] for a in store.list(redis_client, status="open")] == [alert_id]
    assert store.acknowledge(redis_client, alert_id, "sam")
    assert store.list(redis_client, status="open") == []
    acked = store.list(redis_client, status="acknowledged")[0]
    assert acked["acknowledged_by"] == "sam" and float(acked["acknowledged_at"]) > 0
    assert not store.acknowledge(redis_client, "CAnope:csat", "sam")
    with pytest.raises(ValueError):
        store.list(redis_client, status="closed")


def test_a_webhook_that_keeps_failing_is_given_up(make_app, redis_client):
    failing = Receiver(failures=99)
    try:
        app = make_app(IVR_ALERT_WEBHOOK_URL=failing.url, IVR_ALERT_RETRY_SECONDS="0.05",
                       IVR_ALERT_ATTEMPTS="3")
        phone = Phone(app.test_client(), sid=sid_sampled())
        answer_low(phone)
        failing.wait_for(3)
        alert_id = f"{phone.sid}:csat"
        while AlertStore().get(redis_client, alert_id).get("delivery") != "failed":
            time.sleep(0.02)
        assert redis_client.zcard(AlertStore.OUTBOX) == 0
        assert AlertStore().get(redis_client, alert_id)["status"] == "open"  # still listed for supervisors
    finally:
        failing.server.shutdown()


def test_a_stopped_sender_thread_ends_and_stays_stopped(redis_client):
    from ivr.alerts import AlertSender

    store = AlertStore()
    sender = AlertSender(redis_client, "http://127.0.0.1:9/unused", store, retry_after=0.05)
    sender.kick()
    thread = sender._thread
    sender.stop()
    thread.join(timeout=10)
    assert not thread.is_alive()
    sender.kick()  # stays stopped: no new thread
    assert sender._thread is thread
