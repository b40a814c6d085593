"""Counting Redis round trips as the app makes them: one packed send is one round trip."""

from __future__ import annotations

import threading
from contextlib import contextmanager

import redis.connection

from ivr.leanlink import _Link


class RoundTrips:
    """Counts what redis-py sends while `counting`: the caller's own thread in `count`, other
    threads (the batcher writing navigation events) in `background`."""

    def __init__(self) -> None:
        self.count = self.background = 0

    @contextmanager
    def counting(self):
        """Count round trips inside the block."""
        original = redis.connection.AbstractConnection.send_packed_command
        lean = _Link.round_trip
        webhook_thread = threading.current_thread()

        def tally() -> None:
            if threading.current_thread() is webhook_thread:
                self.count += 1
            else:
                self.background += 1

        def send(conn, command, check_health=True):
            tally()
            return original(conn, command, check_health)

        def lean_round_trip(link, calls):
            tally()
            return lean(link, calls)

        redis.connection.AbstractConnection.send_packed_command = send
        _Link.round_trip = lean_round_trip
        try:
            yield self
        finally:
            redis.connection.AbstractConnection.send_packed_command = original
            _Link.round_trip = lean
