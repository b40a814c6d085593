"""Pages of hash fields for the members of a time index, read in bulk over one raw connection.

`SORT ... GET pattern->field` costs Redis about a microsecond a field (a key built and looked up
for each), and redis-py costs tens of microseconds a command to parse replies one by one. So a
page is one ZRANGE by rank and one HMGET per member (one key lookup each), packed here by string
joins and read by a hiredis reader on a connection taken from the client's pool; the next page
is asked for before this one is read, so Redis reads it on the other core while this one is
parsed and handed on.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

import hiredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ivr.leanlink import NOT_ENOUGH_DATA, PUSH, reply_reader

READ_SIZE = 1 << 18
Columns = list[list[Any]]
Ranks = Callable[..., tuple[int, int]]  # (client, index, since, until, after=None) -> (first, end)


class _Wire:
    """A pool connection used raw: packed commands sent as they are, replies read by our reader."""

    def __init__(self, client: Any, raw: bool = False):
        self.pool = client.connection_pool
        self.conn = self.pool.get_connection()
        self.sock = self.conn._sock
        self.reader = reply_reader(self.conn, decode=not raw)  # raw: bulk strings stay bytes
        self.encoding = self.conn.encoder.encoding
        self.errors = self.conn.encoder.encoding_errors
        self.decodes = bool(self.conn.encoder.decode_responses)
        self.buffer = bytearray(READ_SIZE)
        self.owed = 0  # replies asked for and not read yet
        self.early: list[Any] = []  # replies read before they were asked for by `read`

    def send(self, data: bytes, replies: int) -> None:
        """Send packed commands that will give `replies` replies."""
        try:
            self.sock.sendall(data)
        except TimeoutError as exc:
            raise RedisTimeoutError(f"Timeout writing to socket: {exc}") from exc
        except OSError as exc:
            raise RedisConnectionError(f"Error writing to socket: {exc}") from exc
        self.owed += replies

    def read(self, count: int) -> list[Any]:
        """The next `count` replies (error replies as exception objects, not raised)."""
        out, self.early = self.early, []
        gets = self.reader.gets
        while True:
            out.extend(iter(gets, NOT_ENOUGH_DATA))
            if len(out) >= count:
                if PUSH and PUSH in set(map(type, out)):  # one C-level pass over the types
                    out = [reply for reply in out if type(reply) is not PUSH]  # answer no command
                if len(out) >= count:
                    break
            self._fill()
        if len(out) > count:
            if len(out) > self.owed:
                raise RedisConnectionError("Redis sent more replies than were asked for")
            out, self.early = out[:count], out[count:]  # replies to later commands, kept
        self.owed -= count
        return out

    def _fill(self) -> None:
        """Feed the reader what the socket has (waiting for it)."""
        try:
            size = self.sock.recv_into(self.buffer)
        except TimeoutError as exc:
            raise RedisTimeoutError(f"Timeout reading from socket: {exc}") from exc
        except OSError as exc:
            raise RedisConnectionError(f"Error while reading from socket: {exc}") from exc
        if not size:
            raise RedisConnectionError("Connection closed by server.")
        self.reader.feed(self.buffer, 0, size)

    def text(self, members: list[bytes]) -> list[str]:
        """Members decoded as the client decodes them (in one go when they can be joined)."""
        joined = b"\x00".join(members)
        if self.errors == "strict" and self.encoding.replace("-", "").lower() == "utf8" \
                and joined.count(b"\x00") == len(members) - 1:  # no member holds a NUL
            try:
                return joined.decode(self.encoding).split("\x00")
            except UnicodeDecodeError:
                pass  # raised again below for the member at fault
        return [m.decode(self.encoding, self.errors) for m in members]

    def unread(self, replies: list[Any]) -> None:
        """Put replies back, to be read again before any other."""
        self.early[:0] = replies
        self.owed += len(replies)

    def release(self, clean: bool) -> None:
        """Give the connection back, closed first unless every reply was read."""
        if not clean or self.owed:
            self.conn.disconnect()
        self.pool.release(self.conn)


class _Packer:
    """HMGET commands of the same fields for many members, packed a page at a time."""

    def __init__(self, key: str, fields: list[str], encoding: str):
        self.prefix, self.suffix = key.split("%s", 1)
        self.encoding = encoding
        self.head = f"*{len(fields) + 2}\r\n$5\r\nHMGET\r\n"
        self.tail = "".join(f"${len(f.encode(encoding))}\r\n{f}\r\n" for f in fields)
        self.fields = fields
        self.key_bytes = len(self.prefix.encode(encoding)) + len(self.suffix.encode(encoding))

    def pack(self, members: list[str] | list[bytes]) -> bytes:
        """One HMGET per member, as bytes."""
        lengths = set(map(len, members))
        if members and type(members[0]) is bytes:
            return self.pack_bytes(members, lengths)  # type: ignore[arg-type]
        joined = "".join(members)
        if len(lengths) == 1 and joined.isascii():  # one join for the page (sids share a length)
            size = self.key_bytes + lengths.pop()
            start = f"{self.head}${size}\r\n{self.prefix}"
            end = f"{self.suffix}\r\n{self.tail}"
            return (start + (end + start).join(members) + end).encode(self.encoding)
        key = self.prefix + "%s" + self.suffix
        return b"".join([hiredis.pack_command(("HMGET", key % m, *self.fields)) for m in members])

    def pack_bytes(self, members: list[bytes], lengths: set[int]) -> bytes:
        """One HMGET per member given as bytes, as bytes."""
        prefix, suffix = self.prefix.encode(self.encoding), self.suffix.encode(self.encoding)
        if len(lengths) == 1:  # one join for the page (sids share a length)
            start = f"{self.head}${self.key_bytes + lengths.pop()}\r\n".encode(self.encoding) + prefix
            end = suffix + f"\r\n{self.tail}".encode(self.encoding)
            return start + (end + start).join(members) + end
        return b"".join([hiredis.pack_command(("HMGET", prefix + m + suffix, *self.fields)) for m in members])


def hash_pages(client: Any, index: str, key: str, fields: list[str], since: float, until: float,
               size: int, ranks: Ranks, raw: bool = False) -> Iterator[Columns]:
    """Pages of columns [members, field 1, ...] for index members scored in [since, until), in order
    (with `raw`, field values are bytes: decoding a value costs more than reading it).

    A page starts by re-reading the last member of the page before, to notice entries added or
    removed before it meanwhile (then the place is found again by rank with `ranks`).
    """
    wire, clean = _Wire(client, raw), False
    packer = _Packer(key, fields, wire.encoding)
    offset = end = 0
    last: str | bytes | None = None
    decode = raw and wire.decodes  # members as the client gives them

    def ask() -> int:
        """Send the ZRANGE of the next page; 1 when it re-reads the last member before it."""
        nonlocal offset
        back, count = (0 if last is None else 1), min(size, end - offset)
        wire.send(hiredis.pack_command(("ZRANGE", index, offset - back, offset + count - 1)), 1)
        offset += count
        return back

    def settle(reply: Any, back: int) -> list[str]:
        """The members of a ZRANGE reply, after finding the place again if it moved."""
        nonlocal offset, end, last
        while True:
            if isinstance(reply, Exception):
                raise reply
            if back and (not reply or reply[0] != last):  # ranks shifted: find the place again
                held = wire.read(wire.owed)  # the page before's replies, sent after this ZRANGE
                offset, end = ranks(client, index, since, until, after=last)
                last = None
                if offset >= end:
                    wire.unread(held)
                    return []
                back = ask()
                reply = wire.read(1)[0]
                wire.unread(held)
                continue
            members = reply[back:]
            if members:
                last = members[-1]
            return members

    try:
        offset, end = ranks(client, index, since, until)
        members: list[str] = []
        if offset < end:
            back = ask()
            members = settle(wire.read(1)[0], back)
        # The next page's ZRANGE is sent before this page's HMGETs, so its members are known (and
        # their HMGETs sent) before this page's replies are read: Redis reads the next page while
        # this one is parsed and handed on.
        more = offset < end
        if members:
            back = ask() if more else 0
            wire.send(packer.pack(members), len(members))
        while members:
            following = settle(wire.read(1)[0], back) if more else []
            if following:
                more = offset < end
                back = ask() if more else 0
                wire.send(packer.pack(following), len(following))
            replies = wire.read(len(members))
            yield [wire.text(members) if decode else members, *_columns(replies, len(fields))]
            members = following
        clean = True
    finally:
        wire.release(clean)


def sort_pages(client: Any, index: str, gets: list[str], first: int, end: int, size: int,
               ahead: int = 4) -> Iterator[tuple[int, list[Any]]]:
    """(first rank, flat reply) of `SORT index BY nosort LIMIT rank size GET pattern...` for the rank
    pages of [first, end), in order, with `ahead` pages asked for before the one handed on."""
    wire, clean = _Wire(client), False
    tail = [word for pattern in gets for word in ("GET", pattern)]
    starts = iter(range(first, end, size))
    asked: deque[int] = deque()

    def ask() -> None:
        """Send the SORT of the next page, if any."""
        start = next(starts, None)
        if start is not None:
            wire.send(hiredis.pack_command(("SORT", index, "BY", "nosort", "LIMIT", start,
                                            min(size, end - start), *tail)), 1)
            asked.append(start)

    try:
        for _ in range(ahead):
            ask()
        while asked:
            reply = wire.read(1)[0]
            if isinstance(reply, Exception):
                raise reply
            ask()  # keep Redis `ahead` pages busy while this one is handed on
            yield asked.popleft(), reply
        clean = True
    finally:
        wire.release(clean)


def _columns(replies: list[Any], width: int) -> list[list[Any]]:
    """HMGET replies (one list of values per member) as one list per field."""
    try:
        return [list(column) for column in zip(*replies, strict=True)] if replies else \
            [[] for _ in range(width)]
    except (TypeError, ValueError):
        for reply in replies:
            if isinstance(reply, Exception):
                raise reply from None
        raise
