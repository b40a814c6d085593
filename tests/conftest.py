"""Shared fixtures: real Redis servers (single, cluster, stoppable), emptied before each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from redis_servers import RedisCluster, RedisServer

from ivr.redisconn import connect

pytest_plugins = ["appfixtures"]


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One real redis-server for the whole session."""
    server = RedisServer().start()
    yield server
    server.destroy()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """The session server's URL, emptied before the test."""
    with redis_server.client() as client:
        client.flushall()
    return redis_server.url


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    """A client (made by `connect`) on the emptied session server."""
    client = connect(redis_url)
    yield client
    client.close()


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[RedisCluster]:
    """A real three-master Redis Cluster, started only when a test asks for it."""
    cluster = RedisCluster().start()
    yield cluster
    cluster.destroy()


@pytest.fixture
def stoppable_redis() -> Iterator[RedisServer]:
    """A server of the test's own, which it may stop and start again (data survives)."""
    server = RedisServer().start()
    yield server
    server.destroy()


def emptied_url(request: pytest.FixtureRequest, kind: str) -> str:
    """The URL of the emptied session single server or cluster."""
    if kind == "cluster":
        cluster: RedisCluster = request.getfixturevalue("redis_cluster")
        cluster.flushall()
        return cluster.url
    server: RedisServer = request.getfixturevalue("redis_server")
    with server.client() as client:
        client.flushall()
    return server.url


@pytest.fixture(params=["single", "cluster"])
def any_redis_url(request: pytest.FixtureRequest) -> str:
    """The URL of an emptied single server, then of an emptied cluster: storage tests run on both."""
    return emptied_url(request, request.param)
