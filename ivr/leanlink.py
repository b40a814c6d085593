"""A per-thread Redis connection for the webhook hot path: one send and one read per batch.

redis-py 8 wraps every command in pool checkout and release, event dispatch, observability
records and retry bookkeeping: about 120 microseconds of CPU a round trip on a small shared
core, half of what serving a whole key press costs otherwise. A webhook's writes are one
small batch of idempotent commands, so this link sends the batch packed by hiredis on a
connection of its own (opened, authenticated and configured by redis-py, exactly as the
client's pool would open it), reads the replies with a hiredis reader that raises the same
exception classes redis-py raises, and applies the client's response callbacks. Any socket or
protocol trouble closes the link and raises; the caller then retries through redis-py, whose
retry policy and error handling stay the single authority.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from itertools import repeat
from typing import Any

import hiredis
import redis
from redis._parsers.base import BaseParser
from redis.exceptions import InvalidResponse, ReadOnlyError

log = logging.getLogger(__name__)
READ_SIZE = 65536
_forks = [0]  # bumped in a forked child, whose inherited links belong to the parent
os.register_at_fork(after_in_child=lambda: _forks.__setitem__(0, _forks[0] + 1))


class LinkDown(ConnectionError):
    """The lean link could not complete a round trip; nothing about what Redis applied is known."""


# What a reader's `gets()` returns when it needs more bytes (RESP3 has a `false` reply of its own).
NOT_ENOUGH_DATA = object()
_UNKNOWN = object()
# Out-of-band RESP3 messages (server maintenance notices...) that answer no command.
PUSH = getattr(hiredis, "PushNotification", ())


def reply_reader(conn: Any, decode: bool = True) -> hiredis.Reader:
    """A hiredis reader decoding replies as `conn` does (bytes throughout unless `decode`), error
    replies as redis-py's exceptions; `gets()` gives NOT_ENOUGH_DATA when it needs more bytes."""
    encoder = conn.encoder
    options: dict[str, Any] = {"protocolError": InvalidResponse,
                               "replyError": BaseParser.parse_error,
                               "errors": encoder.encoding_errors,
                               "notEnoughData": NOT_ENOUGH_DATA}
    if encoder.decode_responses and decode:
        options["encoding"] = encoder.encoding
    return hiredis.Reader(**options)


class _Link:
    """One open connection with its own reply reader (owned by a single thread)."""

    def __init__(self, client: redis.Redis):
        pool = client.connection_pool
        self.conn = pool.connection_class(**pool.connection_kwargs)
        self.conn.connect()  # AUTH, SELECT, HELLO, TLS: as redis-py does for its pool
        self.sock = self.conn._sock
        self.reader = reply_reader(self.conn)
        self.buffer = bytearray(READ_SIZE)
        self.fork = _forks[0]

    def round_trip(self, calls: Sequence[tuple]) -> list[Any]:
        """Send `calls` at once and return one raw reply per call (errors as exception objects)."""
        pack = hiredis.pack_command
        self.sock.sendall(b"".join([pack(call) for call in calls]))
        replies: list[Any] = []
        reader, sock, buffer = self.reader, self.sock, self.buffer
        while len(replies) < len(calls):
            reply = reader.gets()
            if reply is NOT_ENOUGH_DATA:
                size = sock.recv_into(buffer)
                if not size:
                    raise LinkDown("Redis closed the connection")
                reader.feed(buffer, 0, size)
            elif not isinstance(reply, PUSH):  # a push message answers no command
                replies.append(reply)
        if reader.has_data():
            raise LinkDown("Redis sent more replies than commands")
        return replies

    def close(self) -> None:
        """Drop the connection (its state is unknown after a failure)."""
        try:
            self.conn.disconnect()
        except Exception:  # closing a broken socket must not raise over the real error
            pass


class LeanLink:
    """Per-thread lean connections to the server a plain `redis.Redis` client points at."""

    def __init__(self, client: redis.Redis):
        self.client = client
        # redis-py's reply callbacks by upper-case command name (a plain dict: a hot lookup)
        self.callbacks = {name.upper(): fn for name, fn in client.response_callbacks.items()}
        self._local = threading.local()
        self.usable = True  # False once a link cannot even be built for this client: redis-py only

    def execute(self, calls: Sequence[tuple], parse: int | None = None) -> list[Any]:
        """The replies to `calls`, the first `parse` of them (all by default) parsed as redis-py
        parses them and the rest raw (a write only needs to know which failed); raise LinkDown
        on any trouble."""
        link = getattr(self._local, "link", None)
        if link is None or link.fork != _forks[0]:  # never share a socket with a forked parent
            if not self.usable:
                raise LinkDown("no lean link for this client")
            try:
                link = self._local.link = _Link(self.client)
            except (redis.RedisError, OSError) as exc:
                raise LinkDown(f"cannot connect: {exc}") from exc
            except Exception as exc:  # a connection class this link does not know how to build
                self.usable = False
                log.warning("lean Redis link unavailable (%s); writing through redis-py", exc)
                raise LinkDown(f"cannot build a link: {exc}") from exc
        try:
            replies = link.round_trip(calls)
        except Exception as exc:  # socket, timeout or protocol trouble: the link's state is unknown
            self._drop(link)
            raise LinkDown(str(exc) or type(exc).__name__) from exc
        except BaseException:  # a worker being stopped mid-read: never reuse half-read replies
            self._drop(link)
            raise
        callbacks = self.callbacks
        for i in range(len(calls) if parse is None else min(parse, len(calls))):
            reply = replies[i]
            if isinstance(reply, Exception):
                continue
            name = calls[i][0]
            callback = callbacks.get(name, _UNKNOWN)
            if callback is _UNKNOWN:  # a spelling not seen yet: resolved once, kept as given
                callback = callbacks[name] = callbacks.get(name.upper())
            if callback is not None:
                replies[i] = callback(reply)
        if any(map(isinstance, replies, repeat(ReadOnlyError))):  # in C: no frame per reply
            # A replica answered (a Sentinel failover demoted the server), so no write was
            # applied: drop the link and let redis-py run the batch, which on READONLY reconnects
            # to the master Sentinel names now; the next batch opens a new link there too.
            self._drop(link)
            raise LinkDown("the server is a read-only replica")
        return replies

    def close(self) -> None:
        """Close this thread's connection, if any."""
        link = getattr(self._local, "link", None)
        if link is not None:
            self._drop(link)

    def _drop(self, link: _Link) -> None:
        self._local.link = None
        link.close()
