"""Bulk hash reads over a raw pool connection (ivr.hashpages) match redis-py's HMGET."""

from __future__ import annotations

import pytest
import redis

from ivr.hashpages import _Wire, sort_pages
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


@pytest.mark.parametrize("size, ahead", [(1, 1), (3, 2), (4, 4), (7, 9), (1000, 4)])
def test_sorted_pages_come_in_rank_order_with_pages_asked_for_ahead(redis_client, size, ahead):
    members = [f"M{n:03d}" for n in range(40)]
    seed(redis_client, members)
    gets = [KEY.replace("%s", "*") + "->a", KEY.replace("%s", "*") + "->missing"]
    pages = list(sort_pages(redis_client, INDEX, gets, 2, 37, size, ahead))
    assert [start for start, _ in pages] == list(range(2, 37, size))
    flat = [value for _, reply in pages for value in reply]
    assert flat[0::2] == [f"{m}-a" for m in members[2:37]] and set(flat[1::2]) == {None}
    assert redis_client.ping()


def test_an_abandoned_sort_leaves_no_reply_behind(redis_client):
    members = [f"M{n:03d}" for n in range(50)]
    seed(redis_client, members)
    pages = sort_pages(redis_client, INDEX, [KEY.replace("%s", "*") + "->a"], 0, 50, 5)
    assert next(pages) == (0, [f"{m}-a" for m in members[:5]])
    pages.close()  # later pages were asked for: that connection is closed, not reused
    for _ in range(5):
        assert redis_client.hmget(KEY % "M002", ["a"]) == ["M002-a"]


def test_push_replies_are_dropped_and_early_replies_kept(redis_client):
    wire = _Wire(redis_client)
    try:
        wire.owed = 3  # as if three commands were sent
        wire.reader.feed(b">2\r\n$7\r\nmessage\r\n$1\r\nx\r\n*1\r\n$1\r\na\r\n$1\r\nb\r\n:7\r\n")
        assert wire.read(1) == [["a"]]
        assert wire.read(2) == ["b", 7] and wire.owed == 0
    finally:
        wire.release(False)


@pytest.mark.parametrize("size", [1, 2, 3, 7])
@pytest.mark.parametrize("after", [1, 2, 3])
def test_pages_asked_for_ahead_find_their_place_again_when_ranks_shift(redis_client, size, after):
    members = [f"M{n:03d}" for n in range(40)]
    seed(redis_client, members)
    pages = field_pages(redis_client, INDEX, KEY, FIELDS, 0, 10_000, size=size)
    read = [next(pages) for _ in range(after)]
    redis_client.zrem(INDEX, *members[:size * after])  # the pages handed on are purged...
    redis_client.zadd(INDEX, {"EARLY": 0.5})  # ...and one added before it
    read += list(pages)
    assert [m for page in read for m in page[0]] == members  # each once, in order
    assert all(page[1] == [f"{m}-a" for m in page[0]] for page in read)
    assert redis_client.ping()


@pytest.mark.parametrize("members", [
    [f"CA{n:032x}" for n in range(25)],
    ["a", "bb", "ççç", "日本", "d e", "x" * 300, "CA1", "CA22"] * 3,
])
def test_raw_pages_hold_the_bytes_hmget_reads_and_members_as_text(redis_client, members):
    members = list(dict.fromkeys(m + str(i // 8) for i, m in enumerate(members)))
    seed(redis_client, members)
    want = expected(redis_client, members)
    want[1:] = [[v.encode() if v is not None else None for v in column] for column in want[1:]]
    for size in (1, 4, 1000):
        out: list[list] = [[] for _ in range(len(FIELDS) + 1)]
        for page in field_pages(redis_client, INDEX, KEY, FIELDS, 0, 10_000, size=size, raw=True):
            for column, values in zip(out, page, strict=True):
                column.extend(values)
        assert out == want
