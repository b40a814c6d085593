"""Batched call events are journalled on disk first: a worker killed outright loses none of them."""

from __future__ import annotations

import marshal
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from phone import TOKEN, Phone

from ivr.calls import CallStore
from ivr.journal import LENGTH, Journal, batches_in
from ivr.spool import Spool
from ivr.writer import Command, Writer

ROOT = Path(__file__).resolve().parent.parent
NOBODY = 999_999_999  # above any pid the kernel hands out (pid_max is at most 2**22)
LONG = 600_000  # a batch window no test outlives: only our own flushes write the batch

KILLED_WORKER = """
import os, signal, sys
from phone import Phone
from app import create_app
app = create_app(dict(arg.split("=", 1) for arg in sys.argv[2:]))
phone = Phone(app.test_client(), sid=sys.argv[1])
phone.call()
phone.press("1")
phone.press("2")
print(len(app.extensions["ivr"].events._pending), flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def segments(folder: Path) -> list[Path]:
    """The journal segments holding events in a data folder (settled ones are emptied for reuse)."""
    return sorted(p for p in (folder / "journal").glob("events-*.journal") if p.stat().st_size)


def record(batch: list[Command]) -> bytes:
    """One journal record, as `Journal.append` writes it."""
    data = marshal.dumps(tuple(map(tuple, batch)))
    return LENGTH.pack(len(data)) + data


class Replayed(list):
    """A stand-in for `Writer.write` that keeps the batches a recovery writes (all accepted)."""

    def __call__(self, batch: list[Command]) -> bool:
        self.append(batch)
        return True


def eventually(check, seconds: float = 15.0):
    """Wait for `check()` to be true (a background thread writes the batch); return its value."""
    deadline = time.monotonic() + seconds
    while not (value := check()) and time.monotonic() < deadline:
        time.sleep(0.02)
    return value


def test_events_wait_in_the_journal_until_their_batch_is_written(make_app, tmp_path, redis_client):
    app = make_app(IVR_EVENT_BATCH_MS=LONG)
    phone = Phone(app.test_client())
    phone.call()  # the start rides with the returning-caller read; the key presses wait
    phone.press("1")
    phone.press("2")
    calls = CallStore()
    assert calls.path(redis_client, phone.sid) == ["menu language"]
    [segment] = segments(tmp_path / "data")
    assert [[c.op for c in batch] for batch in batches_in(segment)] == [["SCRIPT"], ["SCRIPT"]]
    events = app.extensions["ivr"].events
    assert events.flush() is True
    assert segment.stat().st_size == 0 and not segments(tmp_path / "data")
    assert calls.path(redis_client, phone.sid) == [
        "menu language", "key 1 | language en-US | menu main", "key 2 | menu support"]
    for keys in ("*", "3", "*"):  # more windows: the emptied segment is used again, no new file
        phone.press(keys)
        assert segments(tmp_path / "data") == [segment]
        events.flush()
    assert list((tmp_path / "data" / "journal").iterdir()) == [segment]


def test_a_worker_killed_outright_loses_no_event(make_app, tmp_path, redis_url, menus_dir, redis_client):
    data, sid = tmp_path / "data", "CA" + "7" * 32
    settings = {"TWILIO_AUTH_TOKEN": TOKEN, "REDIS_URL": redis_url, "IVR_MENUS": menus_dir,
                "IVR_RECORDINGS": ROOT / "recordings", "IVR_DATA_DIR": data,
                "IVR_RELOAD_SECONDS": 0, "IVR_WARM_SECONDS": 0, "IVR_LOG_LEVEL": "WARNING",
                "IVR_EVENT_BATCH_MS": LONG}
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")])}
    killed = subprocess.run([sys.executable, "-c", KILLED_WORKER, sid,
                             *(f"{k}={v}" for k, v in settings.items())],
                            capture_output=True, text=True, env=env, timeout=120)
    assert killed.returncode == -9, killed.stderr
    assert int(killed.stdout) == 2  # two navigation steps were waiting when it died
    calls = CallStore()
    assert calls.path(redis_client, sid) == ["menu language"]
    assert len(segments(data)) == 1
    successor = make_app(IVR_DATA_DIR=data, IVR_EVENT_BATCH_MS=20)
    Phone(successor.test_client(), number="+15550002222").call()  # its first call starts recovery
    assert eventually(lambda: len(calls.path(redis_client, sid)) == 3), calls.path(redis_client, sid)
    assert calls.path(redis_client, sid)[1:] == ["key 1 | language en-US | menu main",
                                                 "key 2 | menu support"]
    assert calls.get(redis_client, sid)["last_menu"] == "main"
    assert eventually(lambda: not segments(data))


def test_recovery_skips_a_torn_line_and_replays_the_rest(tmp_path, redis_client, redis_url):
    from ivr.redisconn import connect

    journal, calls = Journal(tmp_path / "journal"), CallStore()
    torn = record(calls.step("CAtorn", 3, ("menu billing",)))[:-5]  # the disk filled up mid-write
    (tmp_path / "journal" / f"events-{NOBODY}-1.journal").write_bytes(
        record(calls.step("CAtorn", 1, ("menu main",)))
        + record(calls.step("CAtorn", 2, ("menu support",), {"last_menu": "main"})) + torn)
    writer = Writer(connect(redis_url), Spool(tmp_path / "spool"))
    assert journal.recover(writer.write) == 2
    assert calls.path(redis_client, "CAtorn") == ["menu main", "menu support"]
    assert calls.get(redis_client, "CAtorn")["last_menu"] == "main"
    assert not list((tmp_path / "journal").iterdir())


def test_orphans_are_the_segments_no_living_process_holds_whatever_their_pid(tmp_path):
    journal = Journal(tmp_path)
    journal.append([Command("HSET", "k", ("f", "v"))])  # our active segment: locked by us
    dead = tmp_path / f"events-{NOBODY}-ab12cd34-0.journal"
    reused = tmp_path / f"events-{os.getpid()}-00000000-0.journal"  # a restart reused our pid
    idle = tmp_path / f"events-{NOBODY}-ab12cd34-1.journal"  # emptied, then its process died
    for path in (dead, reused):
        path.write_bytes(record([Command("HSET", "k", ("f", "v"))]))
    idle.write_bytes(b"")
    for age, path in ((60, dead), (30, idle), (10, reused)):
        os.utime(path, (time.time() - age, time.time() - age))
    assert journal.orphans() == [dead, idle, reused]  # oldest first
    replayed = Replayed()
    assert journal.recover(replayed) == 2
    assert replayed == [[Command("HSET", "k", ("f", "v"))]] * 2
    assert [p.name for p in tmp_path.iterdir()] == [journal._active.path.name]  # ours stays


def test_a_send_cut_short_leaves_the_events_to_recovery(make_app, tmp_path, redis_client):
    app = make_app(IVR_EVENT_BATCH_MS=LONG)
    events = app.extensions["ivr"].events
    phone = Phone(app.test_client())
    phone.call()
    phone.press("1")

    def timed_out(batch):  # gunicorn's timeout exits the worker in the middle of the send
        raise SystemExit(1)

    events.writer.write = timed_out
    with pytest.raises(SystemExit):
        events.flush()
    del events.writer.write
    [segment] = segments(tmp_path / "data")  # not emptied: the batch never reached Redis
    assert events.recover() == 1
    assert CallStore().path(redis_client, phone.sid)[-1] == "key 1 | language en-US | menu main"
    assert not segment.exists()


def test_a_short_write_leaves_no_torn_record_behind(tmp_path, monkeypatch):
    journal, real_write = Journal(tmp_path), os.write
    first, second = [Command("HSET", "k", ("n", "1"))], [Command("HSET", "k", ("n", "2"))]
    journal.append(first)
    monkeypatch.setattr("ivr.journal.os.write", lambda fd, data: real_write(fd, data[:7]))
    with pytest.raises(OSError):
        journal.append([Command("HSET", "k", ("n", "full disk"))])
    monkeypatch.undo()
    journal.append(second)
    assert batches_in(journal.rotate().path) == [first, second]


def test_events_are_written_at_once_when_the_journal_cannot_take_them(make_app, tmp_path, redis_client):
    app = make_app(IVR_EVENT_BATCH_MS=LONG)
    phone = Phone(app.test_client())
    phone.call()
    shutil.rmtree(tmp_path / "data" / "journal")  # as if the disk refused the write
    phone.press("2")
    assert CallStore().path(redis_client, phone.sid) == ["menu language",
                                                         "key 2 | language es-US | menu main"]


def test_a_start_written_after_a_later_step_keeps_that_steps_language(app, redis_client):
    calls, writer = CallStore(), app.extensions["ivr"].writer
    writer.write(calls.step("CAlate", 1, ("key 2 | menu main",), {"lang": "es-US", "last_menu": "main"}))
    writer.write(calls.started("CAlate", time.time(), {"lang": "en-US", "version": "v1"})
                 + calls.step("CAlate", 0, ("menu language",)))  # another worker's batch, late
    record = calls.get(redis_client, "CAlate")
    assert record["lang"] == "es-US" and record["version"] == "v1" and "started" in record
    assert calls.path(redis_client, "CAlate") == ["menu language", "key 2 | menu main"]


def test_a_new_callers_incoming_call_costs_no_round_trip_when_batched(make_app, menus_dir, redis_client):
    line = menus_dir / "line.yaml"
    line.write_text(line.read_text().replace("returning_callers: true", "returning_callers: false"))
    app = make_app(IVR_EVENT_BATCH_MS=LONG)
    writer = app.extensions["ivr"].writer
    phone = Phone(app.test_client())
    before = writer.round_trips()
    assert phone.call().verbs == ["Gather", "Redirect"]
    assert writer.round_trips() == before
    assert CallStore().get(redis_client, phone.sid) == {}
    app.extensions["ivr"].events.flush()
    record = CallStore().get(redis_client, phone.sid)
    assert record["lang"] == "en-US" and float(record["started"]) > 0
    assert redis_client.zscore(CallStore.BY_TIME, phone.sid) is not None


def test_commands_come_back_from_the_journal_as_they_went_in(tmp_path):
    journal = Journal(tmp_path)
    batch = [Command.script("call_step", "ivr:call:{CA1}", ("ivr:call:{CA1}:path",), ("1", "x", 60)),
             Command("HSET", "ivr:call:{CA1}", ("lang", "es-US"))]
    journal.append(batch)
    segment = journal.rotate()
    (tmp_path / f"events-{NOBODY}-1.journal").write_bytes(segment.path.read_bytes())
    journal.settle(segment)
    replayed = Replayed()
    assert journal.recover(replayed) == 1
    assert replayed == [batch]


def test_a_segment_taken_over_while_in_use_is_not_used_again(tmp_path):
    journal = Journal(tmp_path)
    journal.append([Command("HSET", "k", ("f", "v"))])
    segment = journal.rotate()
    segment.path.unlink()  # deleted meanwhile (by a person tidying the folder)
    journal.settle(segment)
    journal.append([Command("HSET", "k", ("f", "w"))])
    assert journal.rotate().path != segment.path
    assert len(list(tmp_path.iterdir())) == 1


def test_a_segment_whose_replay_fails_waits_for_the_next_round(tmp_path):
    journal, batch = Journal(tmp_path), [Command("HSET", "k", ("f", "v"))]
    orphan = tmp_path / f"events-{NOBODY}-ab12cd34-0.journal"
    orphan.write_bytes(record(batch))

    def disk_full(commands):  # Redis down and the spool's disk full
        raise OSError(28, "No space left on device")

    assert journal.recover(disk_full) == 0
    assert orphan.exists()  # not given up, not renamed
    replayed = Replayed()
    assert journal.recover(replayed) == 1
    assert replayed == [batch] and not orphan.exists()


def test_an_unreadable_segment_is_set_aside_and_reported_by_healthz(app, tmp_path):
    journal = app.extensions["ivr"].events.journal
    assert app.test_client().get("/healthz").get_json()["journal_set_aside"] == []
    (journal.folder / f"events-{NOBODY}-ab12cd34-0.journal").write_bytes(LENGTH.pack(3) + b"\x00\x01\x02")
    assert journal.recover(lambda commands: True) == 0
    assert [p.name for p in journal.folder.iterdir()] == [f"events-{NOBODY}-ab12cd34-0.failed"]
    health = app.test_client().get("/healthz").get_json()
    assert health["journal_set_aside"] == [f"events-{NOBODY}-ab12cd34-0.failed"]
    assert health["status"] == "degraded"


def test_no_file_is_left_open_where_locks_are_not_supported(tmp_path, monkeypatch):
    journal = Journal(tmp_path)

    def no_locks(fd, operation):
        raise OSError(37, "No locks available")

    monkeypatch.setattr("ivr.journal.fcntl.flock", no_locks)
    for _ in range(3):
        with pytest.raises(OSError):
            journal.append([Command("HSET", "k", ("f", "v"))])
    assert list(tmp_path.iterdir()) == []


def test_a_rejected_waiting_event_does_not_fail_another_callers_webhook(make_app, redis_client):
    app = make_app(IVR_EVENT_BATCH_MS=LONG)
    events = app.extensions["ivr"].events
    redis_client.set("ivr:call:{CAwrong}", "a string, not a hash")
    events.defer([Command("HSET", "ivr:call:{CAwrong}", ("lang", "en-US"))])  # Redis will refuse it
    assert events.write([Command("HSET", "ivr:call:{CAright}", ("route", "queue:support"))]) is True
    assert redis_client.hget("ivr:call:{CAright}", "route") == "queue:support"


def test_redis_busy_with_a_script_is_an_outage_not_a_rejection(app, redis_client, tmp_path):
    writer = app.extensions["ivr"].writer
    limit = redis_client.config_get("lua-time-limit")["lua-time-limit"]
    redis_client.config_set("lua-time-limit", 10)
    spin = "local t = redis.call('TIME')[1] while redis.call('TIME')[1] - t < 2 do end return 1"
    from ivr.redisconn import connect

    busy = threading.Thread(target=lambda: connect(app.extensions["ivr"].redis_url,
                                                   socket_timeout=10).eval(spin, 0))
    busy.start()
    try:
        time.sleep(0.3)  # past lua-time-limit: Redis now answers BUSY to everyone else
        assert writer.write([Command("HSET", "ivr:call:{CAbusy}", ("lang", "es-US"))]) is False
        assert writer.spool.pending() == 1  # kept, to be replayed
    finally:
        busy.join()
        redis_client.config_set("lua-time-limit", limit)
    writer._open_until = 0
    assert writer.replay() == 1
    assert redis_client.hget("ivr:call:{CAbusy}", "lang") == "es-US"
