"""The lean Redis link the writer uses: same replies and errors as redis-py, safe after trouble."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest
import redis
from redis import exceptions as rex
from redis_servers import RedisSentinel, RedisServer
from roundtrip_count import RoundTrips

from ivr import scripts
from ivr.leanlink import LeanLink, LinkDown
from ivr.redisconn import connect, start_embedded, stop_embedded
from ivr.spool import Spool
from ivr.writer import Command, Writer

CALLS = [
    ("HSET", "h", "a", "1", "b", "2"),
    ("HGETALL", "h"),
    ("HMGET", "h", "a", "missing"),
    ("HGET", "h", "nope"),
    ("SET", "k", "v"),
    ("EXPIRE", "h", 100),
    ("ZADD", "z", "NX", "1.5", "m"),
    ("ZRANGE", "z", 0, -1, "WITHSCORES"),
    ("INCR", "n"),
    ("EXISTS", "h", "k", "nothing"),
]


def test_replies_are_what_redis_py_gives(redis_client: redis.Redis) -> None:
    lean = LeanLink(redis_client).execute(CALLS)
    redis_client.flushall()
    pipe = redis_client.pipeline(transaction=False)
    for call in CALLS:
        pipe.execute_command(*call)
    assert lean == pipe.execute()


def test_only_the_replies_asked_for_are_parsed(redis_client: redis.Redis) -> None:
    """A write needs only to know which command failed: its replies skip redis-py's callbacks."""
    reads = [("HGETALL", "h"), ("EXISTS", "h")]
    redis_client.hset("h", "a", "1")
    replies = LeanLink(redis_client).execute([*reads, ("SET", "k", "v"), ("ZADD", "z", "1", "m")],
                                             parse=len(reads))
    assert replies == [{"a": "1"}, 1, "OK", 1]  # SET stays "OK" (redis-py makes it True)
    assert LeanLink(redis_client).execute([("SET", "k", "v")]) == [True]


def test_errors_come_back_per_command_as_redis_py_classes(redis_client: redis.Redis) -> None:
    redis_client.set("text", "x")
    replies = LeanLink(redis_client).execute([
        ("HSET", "text", "f", "v"),  # WRONGTYPE
        ("EVALSHA", "0" * 40, 0),  # NOSCRIPT
        ("SET", "after", "still written"),
    ])
    assert type(replies[0]) is rex.ResponseError and "WRONGTYPE" in str(replies[0])
    assert isinstance(replies[1], rex.NoScriptError)
    assert replies[2] is True and redis_client.get("after") == "still written"


def test_database_and_password_from_the_url_are_honoured() -> None:
    server = RedisServer().start()
    try:
        with server.client() as admin:
            admin.config_set("requirepass", "s3cret")
        url = f"redis://:s3cret@127.0.0.1:{server.port}/3"
        client = connect(url)
        assert LeanLink(client).execute([("SET", "where", "db3")]) == [True]
        assert redis.Redis.from_url(url, decode_responses=True).get("where") == "db3"
        assert redis.Redis(port=server.port, password="s3cret", db=0).get("where") is None
    finally:
        server.destroy()


def test_a_killed_connection_is_dropped_and_the_writer_retries_through_redis_py(
        redis_client: redis.Redis, tmp_path: Path) -> None:
    writer = Writer(redis_client, Spool(tmp_path))
    assert writer.write([Command("SET", "first", ("1",))])
    redis_client.client_kill_filter(_type="normal", skipme=True)  # cut every other connection
    assert writer.write([Command("SET", "second", ("2",))]) is True
    assert redis_client.get("second") == "2" and not writer.spool.pending()
    assert writer.write([Command("SET", "third", ("3",))]) is True  # a new lean link
    assert redis_client.get("third") == "3"


def test_a_link_that_cannot_connect_says_so(stoppable_redis: RedisServer) -> None:
    client = connect(stoppable_redis.url)
    stoppable_redis.stop()
    with pytest.raises(LinkDown):
        LeanLink(client).execute([("PING",)])


def test_scripts_sent_by_sha_run_after_the_server_forgot_them(
        redis_client: redis.Redis, tmp_path: Path) -> None:
    writer = Writer(redis_client, Spool(tmp_path))
    step = Command.script("set_if_newer", "{c}:a", argv=("q1", "5", "q1:ts", 1))
    assert writer.write([step])
    redis_client.script_flush()
    again = Command.script("set_if_newer", "{c}:a", argv=("q1", "4", "q1:ts", 2))
    assert writer.write([again]) is True
    assert redis_client.hget("{c}:a", "q1") == "4"
    assert redis_client.script_exists(scripts.sha("set_if_newer")) == [True]


def _client_id_in_child(link: LeanLink, done) -> None:
    done.put(link.execute([("CLIENT", "ID")])[0])


def test_a_forked_child_opens_its_own_connection(redis_client: redis.Redis) -> None:
    link = LeanLink(redis_client)
    parent = link.execute([("CLIENT", "ID")])[0]
    ctx = multiprocessing.get_context("fork")
    done = ctx.Queue()
    child = ctx.Process(target=_client_id_in_child, args=(link, done))
    child.start()
    in_child = done.get(timeout=20)
    child.join(timeout=20)
    assert in_child != parent  # the child connected anew rather than writing on our socket
    assert link.execute([("CLIENT", "ID")])[0] == parent  # and ours is undisturbed


def test_a_replica_answering_read_only_makes_the_next_batch_connect_anew(
        redis_client: redis.Redis) -> None:
    primary = RedisServer().start()
    try:
        link = LeanLink(redis_client)
        before = link.execute([("CLIENT", "ID")])[0]
        redis_client.replicaof("127.0.0.1", primary.port)  # demoted, as by a Sentinel failover
        with pytest.raises(LinkDown):  # the writer then runs the batch through redis-py
            link.execute([("SET", "k", "v")])
        redis_client.replicaof("NO", "ONE")
        assert link.execute([("CLIENT", "ID")])[0] != before
    finally:
        redis_client.replicaof("NO", "ONE")
        primary.destroy()


def test_writes_through_sentinel_take_the_lean_link(stoppable_redis: RedisServer, tmp_path: Path) -> None:
    sentinel = RedisSentinel(stoppable_redis).start()
    try:
        writer = Writer(connect(sentinel.url), Spool(tmp_path))
        assert writer.write([Command("SET", "warm", ("up",))])  # asks Sentinel, then connects
        with RoundTrips().counting() as trips:
            assert writer.write([Command("SET", "via", ("sentinel",))]) is True
        assert trips.count == 1 and writer._lean is not None and writer._lean.usable
        with stoppable_redis.client() as direct:
            assert direct.get("via") == "sentinel"
    finally:
        sentinel.destroy()


def test_the_embedded_server_is_written_over_its_unix_socket_on_the_lean_link(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    url = start_embedded(data_dir)
    try:
        client = connect(url)
        writer = Writer(client, Spool(tmp_path / "spool"))
        assert writer.write([Command("SET", "warm", ("up",))])
        with RoundTrips().counting() as trips:
            assert writer.write([Command("HSET", "h", ("a", "1")), Command("EXPIRE", "h", (60,))])
        assert trips.count == 1 and writer._lean.usable
        assert client.hgetall("h") == {"a": "1"} and 0 < client.ttl("h") <= 60
    finally:
        stop_embedded(data_dir)


def test_a_resp3_false_reply_is_a_reply_not_a_wait(redis_client: redis.Redis) -> None:
    calls = [("EVAL", "redis.setresp(3); return false", 0), ("INCR", "after")]
    assert LeanLink(redis_client).execute(calls)[1] == 1  # at once, and the INCR ran once
    assert redis_client.get("after") == "1"

