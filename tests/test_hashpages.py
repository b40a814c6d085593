"""Bulk hash reads over a raw pool connection (ivr.hashpages) match redis-py's HMGET."""

from __future__ import annotations

import pytest
import redis

from ivr.rollup import field_pages

INDEX, KEY = "test:by_time", "test:h:{%s}"
FIELDS = ["a", "b", "missing"]


def seed(client: redis.Redis, members: list[str]) -> None:
    for n, member in enumerate(members):
        client.hset(KEY % member, mapping={"a": f"{member}-a", "b": "x\r\n,\"é" * (n % 3)})
        client.zadd(INDEX, {member: n})


def expected(client: redis.Redis, members: list[str]) -> list[list]:
    rows = [client.hmget(KEY % m, FIELDS) for m in members]
    return [members, *(list(column) for column in zip(*rows, strict=True))]


def read_all(client: redis.Redis, size: int) -> list[list]:
    out: list[list] = [[] for _ in range(len(FIELDS) + 1)]
    for page in field_pages(client, INDEX, KEY, FIELDS, 0, 10_000, size=size):
        for column, values in zip(out, page, strict=True):
            column.extend(values)
    return out


@pytest.mark.parametrize("members", [
    [f"CA{n:032x}" for n in range(25)],  # one length, ASCII: packed with one join a page
    ["a", "bb", "ççç", "日本", "d e", "x" * 300, "CA1", "CA22"] * 3,  # the general packing
])
def test_pages_hold_what_hmget_reads(redis_client, members):
    members = list(dict.fromkeys(m + str(i // 8) for i, m in enumerate(members)))
    seed(redis_client, members)
    for size in (1, 4, 1000):
        assert read_all(redis_client, size) == expected(redis_client, members)


def test_a_member_whose_key_is_not_a_hash_raises_and_the_pool_stays_usable(redis_client):
    members = [f"M{n:03d}" for n in range(10)]
    seed(redis_client, members)
    redis_client.delete(KEY % "M005")
    redis_client.set(KEY % "M005", "text")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        read_all(redis_client, 3)
    assert redis_client.hmget(KEY % "M001", FIELDS) == ["M001-a", "x\r\n,\"é", None]
    assert redis_client.ping()


def test_an_abandoned_read_leaves_no_reply_behind(redis_client):
    members = [f"M{n:03d}" for n in range(50)]
    seed(redis_client, members)
    pages = field_pages(redis_client, INDEX, KEY, FIELDS, 0, 10_000, size=5)
    assert next(pages)[0] == members[:5]
    pages.close()  # the next page was asked for: that connection is closed, not reused
    for _ in range(5):
        assert redis_client.hmget(KEY % "M002", ["a"]) == ["M002-a"]
    assert read_all(redis_client, 7) == expected(redis_client, members)
