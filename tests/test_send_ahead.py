"""Batches written after a response go out without waiting for Redis's replies: they stay
journalled until the replies are read, and a lost or refused reply never loses an event."""

from __future__ import annotations

import logging
import time

from conftest import emptied_url
from phone import Phone
from test_journal import eventually, killed_worker, segments

from ivr import batcher
from ivr.calls import CallStore
from ivr.redisconn import connect

WINDOW_MS = 50
CALLS = CallStore()


def batched_app(make_app, **settings):
    """An app batching events every WINDOW_MS whose incoming calls are batched too (its index of
    recent callers is loaded)."""
    app = make_app(IVR_EVENT_BATCH_MS=WINDOW_MS, **settings)
    assert app.extensions["ivr"].recent.load()
    return app


def after_a_window() -> None:
    time.sleep(WINDOW_MS / 1000 * 1.2)


def test_a_batch_sent_after_a_response_stays_journalled_until_its_replies_are_read(
        make_app, tmp_path, redis_client, monkeypatch):
    monkeypatch.setattr(batcher, "FALLBACK_WINDOWS", 10_000.0)  # the events thread stays out of it
    app = batched_app(make_app)
    rt, data = app.extensions["ivr"], tmp_path / "data"
    phone = Phone(app.test_client())
    phone.call()
    phone.press("1")
    after_a_window()
    before = rt.writer.round_trips()
    other = Phone(app.test_client())
    assert other.call().said[0].startswith("Thank you")  # its response first, then the batch
    assert rt.writer.round_trips() == before + 1
    assert eventually(lambda: CALLS.path(redis_client, phone.sid) == [
        "menu language", "key 1 | language en-US | menu main"])
    assert CALLS.path(redis_client, other.sid) == ["menu language"]  # taken along
    [sent] = segments(data)  # Redis has the batch, but no reply was read: still journalled
    after_a_window()
    third = Phone(app.test_client())
    third.call()  # its start waits for the next batch
    after_a_window()
    third.press("1")  # reads the replies (that segment is emptied), then sends the next batch
    assert sent not in segments(data) and len(segments(data)) == 1
    assert eventually(lambda: len(CALLS.path(redis_client, third.sid)) == 2)
    assert rt.events.flush() is True  # reads the last replies too
    assert segments(data) == []
    assert rt.writer.round_trips() == before + 2


KILLED_AFTER_SENDING = """
import os, signal, sys, time
from phone import Phone
from app import create_app
from ivr import batcher
batcher.FALLBACK_WINDOWS = 10_000.0  # nothing but the next webhook would read the replies
app = create_app(dict(arg.split("=", 1) for arg in sys.argv[2:]))
assert app.extensions["ivr"].recent.load()
phone = Phone(app.test_client(), sid=sys.argv[1])
phone.call()
phone.press("1")
phone.press("2")
time.sleep(0.1)
Phone(app.test_client(), number="+15550003333").call()  # sends the batch ahead after its response
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_worker_killed_before_reading_the_replies_leaves_its_batch_to_be_replayed(
        make_app, tmp_path, redis_url, menus_dir, redis_client):
    data, sid = tmp_path / "data", "CA" + "8" * 32
    killed_worker(KILLED_AFTER_SENDING, sid, data, redis_url, menus_dir, WINDOW_MS)
    [left] = segments(data)  # the batch went out, but its replies were never read
    CALLS.purge(redis_client, time.time() + 60)  # as if Redis had never applied it
    assert CALLS.path(redis_client, sid) == []
    successor = make_app(IVR_DATA_DIR=data, IVR_EVENT_BATCH_MS=WINDOW_MS)
    Phone(successor.test_client(), number="+15550002222").call()  # its first call starts recovery
    assert eventually(lambda: len(CALLS.path(redis_client, sid)) == 3), CALLS.path(redis_client, sid)
    assert CALLS.path(redis_client, sid) == [
        "menu language", "key 1 | language en-US | menu main", "key 2 | menu support"]
    assert eventually(lambda: left not in segments(data))


def test_replies_lost_with_the_connection_get_the_batch_written_again(
        make_app, tmp_path, redis_client, monkeypatch):
    monkeypatch.setattr(batcher, "FALLBACK_WINDOWS", 10_000.0)
    app = batched_app(make_app)
    rt = app.extensions["ivr"]
    phone = Phone(app.test_client())
    phone.call()
    phone.press("2")
    after_a_window()
    admin = connect(rt.config.get("REDIS_URL"))
    admin.execute_command("CLIENT", "PAUSE", 10_000, "WRITE")  # Redis holds the batch unapplied
    try:
        other = Phone(app.test_client())
        other.call()  # sends the batch ahead; Redis queues it
        admin.execute_command("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")  # and drops it
    finally:
        admin.execute_command("CLIENT", "UNPAUSE")
    time.sleep(0.05)
    assert CALLS.path(redis_client, phone.sid) == []  # the batch was lost with the connection
    assert rt.events.flush() is True  # reading the replies fails: the batch is written again
    assert CALLS.path(redis_client, phone.sid) == ["menu language", "key 2 | language es-US | menu main"]
    assert CALLS.path(redis_client, other.sid) == ["menu language"]
    assert segments(tmp_path / "data") == []


def test_a_command_redis_refuses_in_a_batch_sent_ahead_is_logged_and_the_rest_kept(
        make_app, tmp_path, redis_client, monkeypatch, caplog):
    monkeypatch.setattr(batcher, "FALLBACK_WINDOWS", 10_000.0)
    app = batched_app(make_app)
    rt = app.extensions["ivr"]
    broken = Phone(app.test_client(), sid="CA" + "9" * 32)
    redis_client.set(CALLS.path_key(broken.sid), "not a hash")  # its path step is refused
    broken.call()
    good = Phone(app.test_client())
    good.call()
    good.press("1")
    after_a_window()
    with caplog.at_level(logging.ERROR):
        Phone(app.test_client()).call()  # sends the three calls' events ahead
        assert rt.events.flush() is True  # reads the replies: one command was refused
    assert "WRONGTYPE" in caplog.text and "partly rejected" in caplog.text
    assert CALLS.path(redis_client, good.sid) == ["menu language", "key 1 | language en-US | menu main"]
    assert CALLS.get(redis_client, broken.sid)["lang"] == "en-US"  # its other commands applied
    assert segments(tmp_path / "data") == []  # not replayed: a replay would be refused again


def test_on_a_quiet_line_the_events_thread_reads_the_replies(make_app, tmp_path, redis_client):
    app = make_app(IVR_EVENT_BATCH_MS=300)  # long enough to look before the thread does
    assert app.extensions["ivr"].recent.load()
    phone = Phone(app.test_client())
    phone.call()
    time.sleep(0.35)
    Phone(app.test_client()).call()  # sends the batch ahead; no webhook follows
    assert len(segments(tmp_path / "data")) == 1
    assert eventually(lambda: segments(tmp_path / "data") == [])
    assert CALLS.path(redis_client, phone.sid) == ["menu language"]


def test_a_cluster_writes_the_batch_after_the_response_as_before(make_app, request, tmp_path):
    cluster_url = emptied_url(request, "cluster")  # the cluster client has no link to send ahead on
    app = make_app(IVR_EVENT_BATCH_MS=WINDOW_MS, REDIS_URL=cluster_url)
    assert app.extensions["ivr"].recent.load()
    phone = Phone(app.test_client())
    phone.call()
    after_a_window()
    Phone(app.test_client()).call()
    assert CALLS.path(connect(cluster_url), phone.sid) == ["menu language"]  # no wait needed
    assert segments(tmp_path / "data") == []
