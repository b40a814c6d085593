"""The writer and its spool against real Redis servers: one round trip, outages, replay in order."""

from __future__ import annotations

import json
import multiprocessing
import os
import time
from pathlib import Path

import pytest
import redis
from redis.connection import AbstractConnection
from redis_servers import RedisServer
from roundtrip_count import RoundTrips

from ivr.calls import CallStore
from ivr.redisconn import connect
from ivr.spool import Spool
from ivr.writer import Command, WriteError, Writer


@pytest.fixture
def connects(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count every attempt to open a connection to Redis."""
    calls: list[int] = []
    original = AbstractConnection.connect

    def counting(self: AbstractConnection) -> None:
        calls.append(1)
        original(self)

    monkeypatch.setattr(AbstractConnection, "connect", counting)
    return calls


def answer(key: str, question: str, value: str, ts: int) -> Command:
    """A survey answer that only overwrites an older one."""
    return Command.script("set_if_newer", key, argv=(question, value, f"{question}:ts", ts))


def test_command_survives_json() -> None:
    for command in (Command("HSET", "k", ("f", "v", "n", 3)), answer("{c}:a", "q1", "5", 7)):
        assert Command.from_json(json.loads(json.dumps(command.to_json()))) == command


def test_batch_is_one_round_trip(
    redis_client: redis.Redis, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = Writer(redis_client, Spool(tmp_path))
    writer.write([Command("SET", "warm", ("up",))])  # open the connection
    batch = [
        Command("HSET", "call:1", ("from", "+15550100")),
        Command("SADD", "calls", ("1",)),
        Command("ZADD", "by_time", (1700000000, "1")),
        Command("EXPIRE", "call:1", (3600,)),
        Command("HINCRBY", "kpi", ("calls", 1)),
        answer("call:1", "q1", "5", 1),
    ]
    before = redis_client.info("stats")["total_commands_processed"]
    with RoundTrips().counting() as trips:
        assert writer.write(batch) is True
    assert trips.count == 1
    after = redis_client.info("stats")["total_commands_processed"]
    assert writer.round_trips() == 2
    # The batch, the HGET and HSET inside the script, and the first INFO itself.
    assert after - before == len(batch) + 2 + 1
    assert redis_client.hgetall("call:1") == {"from": "+15550100", "q1": "5", "q1:ts": "1"}
    assert 0 < redis_client.ttl("call:1") <= 3600


def test_writes_reach_every_master_and_hash_tags_stay_together(
    any_redis_url: str, tmp_path: Path
) -> None:
    client = connect(any_redis_url)
    writer = Writer(client, Spool(tmp_path))
    keys = ["survey:a", "survey:b", "survey:c", "{call:9}:events", "{call:9}:answers"]
    assert writer.write([Command("HSET", k, ("n", i)) for i, k in enumerate(keys)])
    assert writer.write(
        [Command.script("set_if_newer", "{call:9}:answers", argv=("q", "y", "ts", 1))]
    )
    assert writer.round_trips() == 2
    assert [client.hget(k, "n") for k in keys] == ["0", "1", "2", "3", "4"]
    assert client.hget("{call:9}:answers", "q") == "y"
    assert not writer.spool.pending()


def test_set_if_newer_ignores_an_older_answer(any_redis_url: str, tmp_path: Path) -> None:
    client = connect(any_redis_url)
    writer = Writer(client, Spool(tmp_path))
    writer.write([answer("{c}:a", "q1", "late", 20)])
    writer.write([answer("{c}:a", "q1", "stale duplicate", 10)])
    assert client.hget("{c}:a", "q1") == "late"
    writer.write([answer("{c}:a", "q1", "same time", 20), answer("{c}:a", "q2", "x", 1)])
    assert client.hgetall("{c}:a") == {"q1": "same time", "q1:ts": "20", "q2": "x", "q2:ts": "1"}


def test_scripts_unknown_to_the_server_still_run_in_order(
    any_redis_url: str, tmp_path: Path
) -> None:
    client = connect(any_redis_url)
    writer = Writer(client, Spool(tmp_path))
    assert writer.write([answer("{c}:b", "q1", "4", 1)])  # sent in full once, then by SHA1
    client.script_flush()  # the server forgets scripts, as after a restart or failover
    batch = [
        answer("{c}:a", "q1", "5", 1),
        Command("EXPIRE", "{c}:a", (60,)),
        Command("HINCRBY", "{c}:n", ("calls", 1)),
    ]
    assert writer.write(batch)
    assert client.hget("{c}:a", "q1") == "5"
    assert client.ttl("{c}:a") > 0  # the EXPIRE ran after the hash existed
    assert client.hget("{c}:n", "calls") == "1"  # not repeated
    assert writer.round_trips() == 3  # one extra trip to run the script in full
    assert writer.write([answer("{c}:a", "q1", "6", 2)])
    assert writer.round_trips() == 4


def test_a_wrong_command_raises_and_is_logged(
    redis_client: redis.Redis, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    writer = Writer(redis_client, Spool(tmp_path))
    with pytest.raises(WriteError):
        writer.write([Command("SET", "a", ("1",)), Command("HINCRBY", "a", ("f", 1))])
    assert "WRONGTYPE" in caplog.text
    assert redis_client.get("a") == "1"
    assert writer.healthy and not writer.spool.pending()


def test_outage_spools_then_replays_in_order_exactly_once(
    stoppable_redis: RedisServer, tmp_path: Path, connects: list[int]
) -> None:
    spool = Spool(tmp_path)
    writer = Writer(connect(stoppable_redis.url), spool, retry_after=0.3)
    assert writer.write([Command("RPUSH", "log", ("1",))])
    stoppable_redis.stop()

    assert writer.write([Command("RPUSH", "log", ("2",)), answer("{c}:a", "q1", "new", 2)]) is False
    assert not writer.healthy
    lines = spool.file.read_text().splitlines()  # on disk already, not in a buffer
    assert [json.loads(line)["entry"]["commands"][0]["args"] for line in lines] == [["2"]]

    attempts, trips = len(connects), writer.round_trips()
    assert attempts > 0  # the counter does see real connection attempts
    assert writer.write([Command("RPUSH", "log", ("3",))]) is False
    assert writer.read(lambda c: c.llen("log"), default=-1) == -1
    assert (len(connects), writer.round_trips()) == (attempts, trips)  # circuit open: no network
    assert spool.pending() == 2

    stoppable_redis.start()
    # Redis is back: the first write either drains the spool itself or, when the background
    # watcher is replaying at that moment, waits on disk behind the batches being replayed.
    deadline = time.monotonic() + 30
    while not writer.healthy and time.monotonic() < deadline:
        time.sleep(0.05)
    written = writer.write([Command("RPUSH", "log", ("4",)), answer("{c}:a", "q1", "old dup", 1)])
    while spool.pending() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert written or writer.healthy
    with stoppable_redis.client() as client:
        assert client.lrange("log", 0, -1) == ["1", "2", "3", "4"]
        assert client.hget("{c}:a", "q1") == "new"
    assert writer.healthy and spool.pending() == 0
    assert not list(tmp_path.glob("spool-*.jsonl"))


def test_only_the_rejected_part_of_a_batch_is_spooled(
    stoppable_redis: RedisServer, tmp_path: Path
) -> None:
    writer = Writer(connect(stoppable_redis.url), Spool(tmp_path), retry_after=0.2)
    with stoppable_redis.client() as admin:
        admin.set("old", "x")
        admin.config_set("maxmemory", 1)  # full: writes that add data fail with OOM
        batch = [Command("DEL", "old"), Command("HINCRBY", "kpi", ("calls", 1))]
        assert writer.write(batch) is False
        assert admin.exists("old") == 0  # DEL needs no memory and went through
        assert [c["op"] for c in next(writer.spool.entries())["commands"]] == ["HINCRBY"]
        admin.config_set("maxmemory", 0)
        time.sleep(0.25)  # let the circuit close
        # Written at once, or spooled behind the first while the replay thread drains it.
        writer.write([Command("HINCRBY", "kpi", ("calls", 1))])
        deadline = time.monotonic() + 10
        while writer.spool.pending() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not writer.spool.pending()
        assert admin.hget("kpi", "calls") == "2"  # counted once each, never twice


def test_read_returns_default_when_redis_is_down(
    stoppable_redis: RedisServer, tmp_path: Path
) -> None:
    writer = Writer(connect(stoppable_redis.url), Spool(tmp_path))
    assert writer.read(lambda c: c.ping(), default=False) is True
    stoppable_redis.stop()
    assert writer.read(lambda c: c.ping(), default=False) is False
    assert not writer.healthy


def test_replay_skips_a_batch_redis_rejects(redis_client: redis.Redis, tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    bad = [Command("SET", "a", ("x",)), Command("HSET", "a", ("f", "v"))]
    spool.append({"commands": [c.to_json() for c in bad]})
    spool.append({"commands": [Command("SET", "b", ("y",)).to_json()]})
    assert Writer(redis_client, spool).replay() == 2
    assert redis_client.mget("a", "b") == ["x", "y"] and not spool.pending()


def _append_in_turn(path: Path, counter, lock, count: int) -> None:
    """Append entries numbered in one global order shared by all processes."""
    spool = Spool(path)
    for _ in range(count):
        with lock:
            spool.append({"n": counter.value})
            counter.value += 1


def test_spools_of_several_processes_replay_in_global_order(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    counter, lock = ctx.Value("i", 0), ctx.Lock()
    procs = [
        ctx.Process(target=_append_in_turn, args=(tmp_path, counter, lock, 40)) for _ in range(3)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    assert len(list(tmp_path.glob("spool-*.jsonl"))) == 3
    spool = Spool(tmp_path)
    assert spool.pending() == 120
    seen: list[int] = []
    assert spool.replay(lambda e: seen.append(e["n"])) == 120
    assert seen == list(range(120))
    assert spool.pending() == 0 and not list(tmp_path.glob("spool-*.jsonl"))


def test_a_spool_file_another_process_creates_is_seen_at_once(tmp_path: Path) -> None:
    watching = Spool(tmp_path)
    old = time.time() - 60
    os.utime(tmp_path, (old, old))  # a folder left unchanged for a while: "empty" is remembered
    assert watching.pending() == 0 and watching.pending() == 0
    ctx = multiprocessing.get_context("fork")
    other = ctx.Process(target=_append_one, args=(tmp_path,))
    other.start()
    other.join()
    assert watching.pending() == 1
    assert watching.replay(lambda e: None) == 1 and watching.pending() == 0


def _append_one(folder: Path) -> None:
    Spool(folder).append({"n": 1})


def test_interrupted_replay_resumes_without_repeating(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    for n in range(5):
        spool.append({"n": n})
    applied: list[int] = []
    failures = [RuntimeError("redis went away")]

    def flaky(entry: dict) -> None:
        if entry["n"] == 2 and failures:
            raise failures.pop()
        applied.append(entry["n"])

    with pytest.raises(RuntimeError):
        spool.replay(flaky)
    assert applied == [0, 1] and spool.pending() == 3
    assert Spool(tmp_path).replay(flaky) == 3
    assert applied == [0, 1, 2, 3, 4]


def test_only_one_replay_runs_at_a_time(tmp_path: Path) -> None:
    first, second = Spool(tmp_path), Spool(tmp_path)
    first.append({"n": 1})
    inner: list[int] = []
    assert first.replay(lambda e: inner.append(second.replay(lambda e: None))) == 1
    assert inner == [0]


def test_replay_limit_keeps_the_rest_in_order(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    for n in range(5):
        spool.append({"n": n})
    seen: list[int] = []
    assert spool.replay(lambda e: seen.append(e["n"]), limit=2) == 2
    spool.append({"n": 5})
    assert spool.replay(lambda e: seen.append(e["n"])) == 4
    assert seen == list(range(6))


def test_a_torn_line_from_a_crash_is_skipped(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.append({"n": 1})
    with open(spool.file, "ab") as f:
        f.write(b'{"seq": 9, "pid": 1, "ent')  # the process died mid-write
    spool.append({"n": 2})
    assert list(spool.entries()) == [{"n": 1}, {"n": 2}]


def test_write_and_read_share_one_round_trip(any_redis_url: str, tmp_path: Path) -> None:
    client = connect(any_redis_url)
    client.hset("ivr:caller:{abc}", mapping={"lang": "es-US"})
    writer = Writer(client, Spool(tmp_path / "spool"))
    before = writer.round_trips()
    got = writer.write_and_read(Command("HGETALL", "ivr:caller:{abc}"),
                                [Command("HSET", "ivr:call:{CA1}", ("lang", "es-US"))], {})
    assert got == {"lang": "es-US"}
    assert writer.round_trips() - before == 1
    assert client.hget("ivr:call:{CA1}", "lang") == "es-US"


def test_write_and_read_when_redis_is_down(stoppable_redis: RedisServer, tmp_path: Path) -> None:
    writer = Writer(connect(stoppable_redis.url), Spool(tmp_path / "spool"))
    stoppable_redis.stop()
    got = writer.write_and_read(Command("HGETALL", "ivr:caller:{abc}"),
                                [Command("HSET", "ivr:call:{CA2}", ("lang", "en-US"))], {"none": "1"})
    assert got == {"none": "1"}
    entries = list(writer.spool.entries())
    assert [c["op"] for e in entries for c in e["commands"]] == ["HSET"]
    stoppable_redis.start()
    writer._open_until = 0
    assert writer.replay() == 1
    with stoppable_redis.client() as client:
        assert client.hget("ivr:call:{CA2}", "lang") == "en-US"


def test_spool_is_replayed_when_redis_returns_without_more_traffic(stoppable_redis: RedisServer,
                                                                   tmp_path: Path) -> None:
    writer = Writer(connect(stoppable_redis.url), Spool(tmp_path / "spool"), retry_after=0.2)
    stoppable_redis.stop()
    assert writer.write([Command("HSET", "ivr:call:{CA3}", ("status", "completed"))]) is False
    stoppable_redis.start()
    deadline = time.monotonic() + 30  # a bound for a hung test, not a speed requirement
    while writer.spool.pending() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert writer.spool.pending() == 0
    with stoppable_redis.client() as client:
        assert client.hget("ivr:call:{CA3}", "status") == "completed"


def test_an_expiry_waits_with_the_write_redis_could_not_take(
        stoppable_redis: RedisServer, tmp_path: Path) -> None:
    calls = CallStore()
    writer = Writer(connect(stoppable_redis.url), Spool(tmp_path), retry_after=0.2)
    with stoppable_redis.client() as admin:
        admin.config_set("maxmemory-policy", "noeviction")
        admin.config_set("maxmemory", str(int(admin.info("memory")["used_memory"]) - 1000))
        start = calls.started("CA1", 1_700_000_000.0, {"lang": "en-US"}) \
            + calls.step("CA1", 0, ("menu main",))
        assert writer.write(start) is False  # out of memory: spooled
        admin.config_set("maxmemory", 0)
        deadline = time.monotonic() + 10
        while writer.spool.pending() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not writer.spool.pending()
        for key in (calls.key("CA1"), calls.path_key("CA1")):
            assert admin.exists(key) and 0 < admin.ttl(key) <= calls.retention_seconds
